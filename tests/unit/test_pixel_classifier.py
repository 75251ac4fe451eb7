"""The scribble classifier's pure core: features, stroke rasterising, training, prediction, storage."""

import pickle

import numpy as np
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression
from skops.io.exceptions import UntrustedTypesFoundException

from workers.runners import pixel_classifier as pc


def two_region_image(height=160, width=200, seed=0):
    """A disk of textured blue (stripes) on a noisy, smooth orange background, and its truth (1 outside, 2 in)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    inside = (ys - height / 2) ** 2 + (xs - width / 2) ** 2 < (min(height, width) / 3) ** 2
    background = np.array([200, 120, 40], dtype=np.float64)
    disk = np.array([50, 90, 200], dtype=np.float64)
    stripes = 40 * np.sin(xs / 2.0)[..., None]
    rgb = np.where(inside[..., None], disk + stripes, background) + rng.normal(0, 12, (height, width, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8), np.where(inside, 2, 1).astype(np.uint8)


def same_colour_textures(size=128, seed=1):
    """Left: flat grey with faint noise; right: a checkerboard of the same mean. Truth 1 left, 2 right."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:size, 0:size]
    checker = np.where(((ys // 4) + (xs // 4)) % 2 == 0, 80.0, 176.0)
    grey = np.where(xs < size // 2, 128.0, checker) + rng.normal(0, 4, (size, size))
    rgb = np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    return rgb, np.where(xs < size // 2, 1, 2).astype(np.uint8)


def iou(prediction, truth, label):
    a, b = prediction == label, truth == label
    return (a & b).sum() / (a | b).sum()


def stroke(label, radius, *points):
    return pc.Stroke(label=label, radius=radius, points=np.array(points, dtype=np.float64))


def test_features_shape_dtype_and_determinism():
    rgb, _ = two_region_image(40, 60)
    full = pc.pixel_features(rgb, scale=1.0)
    assert full.shape == (40, 60, pc.FEATURE_COUNT) and full.dtype == np.float32
    assert np.array_equal(full, pc.pixel_features(rgb, scale=1.0))
    assert np.isfinite(full).all()
    half = pc.pixel_features(rgb, scale=0.5)
    assert half.shape == (20, 30, pc.FEATURE_COUNT) == (*pc.working_size(40, 60, 0.5), pc.FEATURE_COUNT)
    assert pc.pixel_features(rgb[:1, :1], scale=0.1).shape == (1, 1, pc.FEATURE_COUNT)


def test_features_refuse_other_inputs():
    with pytest.raises(ValueError):
        pc.pixel_features(np.zeros((4, 4), np.uint8), scale=1)
    with pytest.raises(ValueError):
        pc.pixel_features(np.zeros((4, 4, 3), np.float32), scale=1)
    with pytest.raises(ValueError):
        pc.pixel_features(np.zeros((4, 4, 3), np.uint8), scale=0)


def test_a_stroke_paints_the_pixels_within_its_radius():
    labels = pc.strokes_to_labels([stroke(3, 2.5, [5.5, 10.5], [25.5, 10.5])], shape=(20, 40))
    rows, cols = np.nonzero(labels)
    assert set(np.unique(labels)) == {0, 3}
    # Pixel centres closer than 2.5 to the segment from column 5 to 25 on row 10 (ends rounded).
    ys, xs = np.mgrid[0:20, 0:40]
    along = np.clip(xs, 5, 25)
    expected = (ys - 10) ** 2 + (xs - along) ** 2 < 2.5 ** 2
    assert np.array_equal(labels > 0, expected)


def test_strokes_paint_in_order_clip_to_the_map_and_stay_connected():
    first = stroke(1, 4, [0.5, 5.5], [30.5, 5.5])
    second = stroke(2, 1, [10.5, -3.0], [10.5, 60.0])  # crosses the first and leaves the map
    labels = pc.strokes_to_labels([first, second], shape=(12, 32))
    assert labels[5, 10] == 2 and labels[5, 20] == 1
    assert (labels[:, 10] == 2).all()  # a thin, long stroke leaves no gaps
    diagonal = pc.strokes_to_labels([stroke(1, 0.5, [0.2, 0.2], [31.9, 11.9])], shape=(12, 32))
    assert diagonal[0, 0] == 1 and diagonal[11, 31] == 1
    assert all(diagonal[:, c].any() for c in range(32))


def test_rasterising_refuses_strokes_that_would_take_too_much_work(monkeypatch):
    monkeypatch.setattr(pc, "MAX_STAMPED_PIXELS", 1000)
    with pytest.raises(pc.StrokesTooLarge):
        pc.strokes_to_labels([stroke(1, 20, [0, 0], [300, 0])], shape=(100, 400))
    monkeypatch.setattr(pc, "MAX_STROKE_CENTRES", 10)
    with pytest.raises(pc.StrokesTooLarge):
        pc.strokes_to_labels([stroke(1, 1, [0, 0], [300, 0])], shape=(100, 400))


def _scribbles_two_regions():
    return [stroke(1, 3, [10, 10], [190, 12], [185, 150]), stroke(1, 3, [8, 150], [40, 120]),
            stroke(2, 3, [80, 80], [120, 80]), stroke(2, 3, [100, 60], [100, 100])]


def test_a_few_scribbles_label_two_regions():
    rgb, truth = two_region_image()
    features = pc.pixel_features(rgb, scale=1.0)
    labels = pc.strokes_to_labels(_scribbles_two_regions(), shape=truth.shape)
    assert 0 < (labels > 0).mean() < 0.1  # a few strokes, not a label map
    classifier = pc.fit(features, labels)
    probabilities = pc.predict(classifier, features)
    assert probabilities.shape == (*truth.shape, 2) and probabilities.dtype == np.float32
    assert np.allclose(probabilities.sum(axis=-1), 1, atol=1e-5)
    proposal, confidence = pc.to_proposal(probabilities, size=truth.shape)
    assert proposal.dtype == np.uint8 and confidence.dtype == np.uint8
    assert iou(proposal, truth, 1) >= 0.9 and iou(proposal, truth, 2) >= 0.9
    # Confident far from the boundary: the median pixel has its label at >= 90%.
    assert np.median(confidence) >= 0.9 * 255 and confidence.min() >= 127


def test_texture_alone_separates_regions_of_the_same_colour():
    rgb, truth = same_colour_textures()
    features = pc.pixel_features(rgb, scale=1.0)
    labels = pc.strokes_to_labels([stroke(1, 3, [20, 10], [30, 110]), stroke(2, 3, [100, 10], [90, 110])],
                                  shape=truth.shape)
    proposal, _ = pc.to_proposal(pc.predict(pc.fit(features, labels), features), size=truth.shape)
    assert iou(proposal, truth, 1) >= 0.9 and iou(proposal, truth, 2) >= 0.9


def test_a_coarse_proposal_upsampled_to_full_size():
    rgb, truth = two_region_image(320, 400)
    features = pc.pixel_features(rgb, scale=0.5)
    assert features.shape[:2] == (160, 200)
    # The strokes in the full image's pixels (twice those of the 160 x 200 picture), drawn at half scale.
    in_image = [pc.Stroke(label=s.label, radius=2 * s.radius, points=2 * s.points) for s in _scribbles_two_regions()]
    scaled = [pc.Stroke(label=s.label, radius=s.radius * 0.5, points=s.points * 0.5) for s in in_image]
    labels = pc.strokes_to_labels(scaled, shape=features.shape[:2])
    proposal, confidence = pc.to_proposal(pc.predict(pc.fit(features, labels), features), size=truth.shape)
    assert proposal.shape == confidence.shape == truth.shape
    assert iou(proposal, truth, 1) >= 0.9 and iou(proposal, truth, 2) >= 0.9


def test_three_labels_and_a_label_the_classifier_never_saw():
    rgb, truth = two_region_image()
    truth, rgb = truth.copy(), rgb.copy()
    truth[:, :40] = 4  # a third region: the left band
    rgb[:, :40] = [30, 160, 30]
    features = pc.pixel_features(rgb, scale=1.0)
    strokes = [stroke(1, 3, [50, 10], [150, 12]), stroke(1, 3, [175, 10], [190, 150]),
               stroke(2, 3, [80, 80], [120, 80]), stroke(4, 3, [15, 20], [15, 140])]
    classifier = pc.fit(features, pc.strokes_to_labels(strokes, shape=truth.shape))  # label 3 is never painted
    probabilities = pc.predict(classifier, features)
    assert probabilities.shape[-1] == 4 and (probabilities[..., 2] == 0).all()
    proposal, _ = pc.to_proposal(probabilities, size=truth.shape)
    assert set(np.unique(proposal)) <= {1, 2, 4}
    for label in (1, 2, 4):
        assert iou(proposal, truth, label) >= 0.9, label


def test_fit_is_deterministic_and_bounded_per_class():
    rgb, truth = two_region_image(80, 100)
    features = pc.pixel_features(rgb, scale=1.0)
    labels = truth.copy()  # every pixel labelled: a whole approved image
    one = pc.fit(features, labels, max_samples_per_class=200)
    two = pc.fit(features, labels, max_samples_per_class=200)
    assert np.array_equal(pc.predict(one, features), pc.predict(two, features))
    assert sum(tree.tree_.n_node_samples[0] for tree in one.estimators_) <= 400 * len(one.estimators_)
    other_seed = pc.fit(features, labels, max_samples_per_class=200, seed=1)
    assert not np.array_equal(pc.predict(one, features), pc.predict(other_seed, features))


def test_fit_needs_two_labels():
    features = np.zeros((10, 10, pc.FEATURE_COUNT), np.float32)
    labels = np.zeros((10, 10), np.uint8)
    with pytest.raises(pc.NeedTwoLabels):
        pc.fit(features, labels)
    labels[2:4, 2:4] = 1
    with pytest.raises(pc.NeedTwoLabels):
        pc.fit(features, labels)
    with pytest.raises(ValueError):
        pc.fit(features, np.zeros((9, 10), np.uint8))


def test_save_and_load_round_trip_gives_identical_predictions():
    rgb, truth = two_region_image(80, 100)
    features = pc.pixel_features(rgb, scale=1.0)
    classifier = pc.fit(features, pc.strokes_to_labels(
        [stroke(1, 3, [5, 5], [95, 5]), stroke(2, 3, [40, 40], [60, 40])], shape=truth.shape))
    data = pc.save(classifier)
    assert isinstance(data, bytes) and data[:2] == b"PK"  # a zip archive, not a pickle
    loaded = pc.load(data)
    assert np.array_equal(pc.predict(loaded, features), pc.predict(classifier, features))


def test_load_refuses_pickles_and_untrusted_types():
    rgb, truth = two_region_image(40, 50)
    features = pc.pixel_features(rgb, scale=1.0)
    labels = np.zeros(truth.shape, np.uint8)
    labels[:5], labels[-5:] = 1, 2
    classifier = pc.fit(features, labels)
    with pytest.raises(ValueError, match="not a skops archive"):
        pc.load(pickle.dumps(classifier))
    with pytest.raises(UntrustedTypesFoundException):
        pc.load(skops.io.dumps(Unexpected()))
    other = LogisticRegression().fit(np.array([[0.0], [1.0]]), [1, 2])
    with pytest.raises(ValueError, match="expected a RandomForestClassifier"):
        pc.load(skops.io.dumps(other))


class Unexpected:
    """A type no stored classifier may contain."""

    def __init__(self):
        self.value = 1
