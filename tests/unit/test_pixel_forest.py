"""The trained pixel classifier as a model (workers/runners/pixel_forest.py): pixel sampling, splits, the
uncertainty score and map, and pre-labels from a classifier trained on two easy classes."""

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from workers.runners import pixel_classifier
from workers.runners.pixel_forest import (
    PixelForestRunner,
    class_index_map,
    fit_samples,
    image_samples,
    manifest_problems,
    resample_nearest,
    sample_pixels,
    train_val_split,
    uncertainty_map,
    uncertainty_png,
    uncertainty_score,
    working_scale,
)

# ---- sampling


def test_sample_pixels_caps_each_class_and_keeps_small_classes_whole():
    labels = np.zeros((40, 50), dtype=np.uint8)
    labels[:, :30] = 1  # 1200 pixels
    labels[:10, 30:] = 2  # 200 pixels
    labels[39, 49] = 3  # 1 pixel
    index = sample_pixels(labels, per_class=100, rng=np.random.default_rng(0))
    picked = labels.reshape(-1)[index]
    assert np.all(np.diff(index) > 0)  # ascending, no pixel twice
    assert {k: int((picked == k).sum()) for k in (0, 1, 2, 3)} == {0: 0, 1: 100, 2: 100, 3: 1}


def test_sample_pixels_is_seeded_and_takes_everything_under_the_cap():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, size=(30, 30)).astype(np.uint8)
    first = sample_pixels(labels, per_class=50, rng=np.random.default_rng(7))
    again = sample_pixels(labels, per_class=50, rng=np.random.default_rng(7))
    other = sample_pixels(labels, per_class=50, rng=np.random.default_rng(8))
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    everything = sample_pixels(labels, per_class=10_000, rng=np.random.default_rng(0))
    assert np.array_equal(everything, np.flatnonzero(labels.reshape(-1) > 0))
    assert sample_pixels(np.zeros((4, 4), np.uint8), per_class=5, rng=np.random.default_rng(0)).size == 0


def test_resample_nearest_samples_pixel_centres():
    array = np.arange(16).reshape(4, 4)
    assert np.array_equal(resample_nearest(array, (4, 4)), array)
    assert resample_nearest(array, (2, 2)).tolist() == [[5, 7], [13, 15]]  # centres of the 2x2 blocks
    assert resample_nearest(array, (8, 8))[::2, ::2].tolist() == array.tolist()
    assert resample_nearest(array, (1, 3)).tolist() == [[8, 10, 11]]  # centres x = 2/3, 2, 10/3


def test_class_index_map_for_small_and_huge_segment_ids():
    label_map = np.array([[0, 1, 2], [7, 1, 0]], dtype=np.uint32)
    assert class_index_map(label_map, {1: 2, 2: 1}).tolist() == [[0, 2, 1], [0, 2, 0]]  # 7: no class
    huge = label_map.copy()
    huge[huge == 2] = 2**32 - 1
    assert class_index_map(huge, {1: 2, 2**32 - 1: 1}).tolist() == [[0, 2, 1], [0, 2, 0]]


def test_train_val_split_is_seeded_order_independent_and_disjoint():
    ids = [14, 3, 9, 27, 5, 11, 8, 2, 30, 21]
    train, val = train_val_split(ids, seed=4, val_share=0.2)
    assert len(val) == 2 and sorted(train + val) == sorted(ids) and not set(train) & set(val)
    assert train_val_split(list(reversed(ids)), seed=4, val_share=0.2) == (train, val)
    assert train_val_split([5], seed=0, val_share=0.2) == ([5], [])
    assert train_val_split([5, 6], seed=0, val_share=0.2)[1] != []  # at least one to validate on
    assert train_val_split(ids, seed=0, val_share=0.0) == (sorted(ids), [])


def test_working_scale_never_enlarges():
    assert working_scale(100, 50, 512) == 1.0
    assert working_scale(2000, 1000, 500) == 0.25


# ---- uncertainty


def test_uncertainty_is_one_minus_the_top_probability_averaged():
    probabilities = np.array([[[1.0, 0.0], [0.5, 0.5]], [[0.9, 0.1], [0.2, 0.8]]], dtype=np.float32)
    u = uncertainty_map(probabilities)
    assert u == pytest.approx(np.array([[0.0, 0.5], [0.1, 0.2]]), abs=1e-6)
    assert uncertainty_score(u) == pytest.approx(0.2)
    png = PILImage.open(io.BytesIO(uncertainty_png(u)))
    assert png.mode == "L" and png.size == (2, 2)
    assert np.asarray(png).tolist() == [[0, 128], [26, 51]]  # round(255 u)


def test_uncertainty_of_three_even_classes_is_two_thirds():
    u = uncertainty_map(np.full((3, 4, 3), 1 / 3, dtype=np.float32))
    assert uncertainty_score(u) == pytest.approx(2 / 3, abs=1e-6)


# ---- training and pre-labels on an easy picture


def _two_colour_image(seed: int, width=96, height=64):
    """Left: noisy red; right: noisy blue, split at a random column; labels 1 (red) and 2 (blue)."""
    rng = np.random.default_rng(seed)
    split = int(rng.integers(width // 3, 2 * width // 3))
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[:, :split] = (200, 40, 40)
    rgb[:, split:] = (40, 60, 210)
    rgb = np.clip(rgb.astype(np.int16) + rng.integers(-20, 21, size=rgb.shape), 0, 255).astype(np.uint8)
    labels = np.ones((height, width), dtype=np.uint8)
    labels[:, split:] = 2
    return rgb, labels


def _trained_runner():
    rng = np.random.default_rng(0)
    samples = [image_samples(*_two_colour_image(seed), max_side=64, per_class=300, rng=rng) for seed in range(3)]
    classifier, metrics = fit_samples(samples, n_estimators=8, max_depth=8, max_samples_per_class=2000, seed=0)
    assert metrics["train_pixel_accuracy"] > 0.95 and metrics["sampled_pixels"] == 3 * 600
    return PixelForestRunner.load(pixel_classifier.save(classifier))


def test_image_samples_work_at_the_reduced_size():
    rgb, labels = _two_colour_image(1)
    sample = image_samples(rgb, labels, max_side=48, per_class=10_000, rng=np.random.default_rng(0))
    assert sample.features.shape == (32 * 48, pixel_classifier.FEATURE_COUNT)  # 96x64 at scale 0.5
    assert np.array_equal(sample.labels, resample_nearest(labels, (32, 48)).reshape(-1))


def test_a_trained_forest_prelabels_with_scores_instances_and_uncertainty():
    runner = _trained_runner()
    rgb, labels = _two_colour_image(11)
    rgb[20:30, 5:15] = (40, 60, 210)  # a blue island inside the red part: a second blue instance
    manifest = {"class_map": {"1": "red", "2": "blue"}, "max_side": 64}
    prediction = runner.predict(rgb, manifest=manifest, class_kinds={"red": "stuff", "blue": "thing"})
    assert prediction.label_map.shape == labels.shape
    by_class = {}
    for segment in prediction.segments:
        by_class.setdefault(segment.class_name, []).append(segment)
        assert 0.5 < segment.score <= 1.0
    assert len(by_class["red"]) == 1 and by_class["red"][0].instance is None
    assert sorted(s.instance for s in by_class["blue"]) == [1, 2]
    red = prediction.label_map == by_class["red"][0].segment_id
    assert (red == (labels == 1)).mean() > 0.9
    assert 0.0 <= prediction.uncertainty < 0.3
    png = PILImage.open(io.BytesIO(prediction.uncertainty_png))
    assert png.size == (64, 43)  # the working size: 96x64 scaled to a longest side of 64


def test_manifest_problems_names_classes_that_left_the_project():
    manifest = {"class_map": {"1": "red", "2": "blue"}, "max_side": 64}
    assert manifest_problems(manifest, classes={"red": "stuff", "blue": "thing"}) is None
    assert "'blue'" in manifest_problems(manifest, classes={"red": "stuff"})
