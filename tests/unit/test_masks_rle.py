"""COCO RLE through pycocotools: exact round trips, standard output, and strict validation of input."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as coco_mask

from labeling.masks.rle import mask_to_rle, rle_area, rle_bbox, rle_to_crop, rle_to_mask

shapes = st.one_of(
    st.tuples(st.integers(1, 30), st.integers(1, 30)),
    st.tuples(st.just(1), st.integers(1, 60)),
    st.tuples(st.integers(1, 60), st.just(1)),
)
masks = arrays(bool, shapes)
# Sparse and dense masks give long runs, which need multi-character counts.
biased_masks = st.floats(0, 1).flatmap(
    lambda p: arrays(bool, shapes, elements=st.booleans() if 0.2 < p < 0.8 else st.just(p > 0.5))
    | arrays(bool, shapes, elements=st.sampled_from([False] * 9 + [True]))
)
fast = settings(max_examples=200, deadline=None)
# pycocotools 2.0.11 builds its arrays the numpy-1 way; harmless, but not this suite's concern.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def column_major_runs(mask):
    """Uncompressed COCO counts, computed independently: alternating run lengths, starting with zeros."""
    flat = mask.ravel(order="F")
    runs, current, length = [], False, 0
    for value in flat.tolist():
        if value == current:
            length += 1
        else:
            runs.append(length)
            current, length = value, 1
    runs.append(length)
    return runs


@fast
@given(mask=st.one_of(masks, biased_masks))
def test_round_trip_is_exact(mask):
    rle = mask_to_rle(mask)
    assert rle["size"] == list(mask.shape)
    assert isinstance(rle["counts"], str)
    assert json.loads(json.dumps(rle)) == rle
    decoded = rle_to_mask(rle)
    assert decoded.dtype == bool and decoded.flags.c_contiguous
    np.testing.assert_array_equal(decoded, mask)
    np.testing.assert_array_equal(rle_to_mask({**rle, "counts": rle["counts"].encode()}), mask)
    assert rle_area(rle) == int(mask.sum())


@fast
@given(mask=masks)
def test_output_is_standard_coco(mask):
    rle = mask_to_rle(mask)
    reference = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    assert rle["counts"] == reference["counts"].decode()
    uncompressed = {"size": list(mask.shape), "counts": column_major_runs(mask)}
    np.testing.assert_array_equal(rle_to_mask(uncompressed), mask)
    assert rle_to_mask({"size": list(mask.shape), "counts": tuple(uncompressed["counts"])}).shape == mask.shape


@fast
@given(mask=masks)
def test_bbox_matches_brute_force(mask):
    ys, xs = np.nonzero(mask)
    expected = (0, 0, 0, 0) if xs.size == 0 else (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    assert rle_bbox(mask_to_rle(mask)) == expected


def test_known_encodings():
    mask = np.array([[0, 1, 1], [0, 1, 0]], dtype=bool)  # column-major: 0 0 1 1 1 0
    assert mask_to_rle(mask) == {"size": [2, 3], "counts": "231"}
    assert mask_to_rle(np.ones((3, 4), dtype=bool)) == {"size": [3, 4], "counts": "0<"}
    np.testing.assert_array_equal(rle_to_mask({"size": [2, 3], "counts": [2, 3, 1]}), mask)


def test_shape_check():
    rle = mask_to_rle(np.zeros((3, 4), dtype=bool))
    assert rle_to_mask(rle, shape=(3, 4)).shape == (3, 4)
    with pytest.raises(ValueError, match="shape"):
        rle_to_mask(rle, shape=(4, 3))


@pytest.mark.parametrize(
    "rle",
    [
        {"size": [3, 4], "counts": "0;"},  # runs cover 11 of 12 pixels: pycocotools returns garbage
        {"size": [3, 4], "counts": ""},  # no runs at all: pycocotools returns uninitialised memory
        {"size": [3, 4], "counts": "0="},  # runs cover 13 pixels
        {"size": [3, 4], "counts": b"0<1"},  # one run too many
        {"size": [3, 4], "counts": "0\x7f"},  # invalid character
        {"size": [3, 4], "counts": "0<é"},  # not ASCII
        {"size": [3, 4], "counts": "0P"},  # ends inside a multi-character run
        {"size": [3, 4], "counts": "0<O"},  # negative run
        {"size": [4, 3], "counts": "040@"},  # a delta-coded run turns negative
        {"size": [3, 4], "counts": [0, 5, 6]},  # uncompressed, 11 pixels
        {"size": [3, 4], "counts": [0, 5, 8]},  # uncompressed, 13 pixels
        {"size": [3, 4], "counts": [0, -1, 13]},  # negative run
        {"size": [3, 4], "counts": [0, 5.0, 7]},  # not integers
        {"size": [3, 4], "counts": {"a": 1}},
        {"size": [3, 4], "counts": None},
        {"size": [3], "counts": "0<"},
        {"size": [3, 4, 1], "counts": "0<"},
        {"size": ["3", 4], "counts": "0<"},
        {"size": [0, 4], "counts": ""},
        {"size": [-3, -4], "counts": "0<"},
        {"size": 12, "counts": "0<"},
        {"counts": "0<"},
        {"size": [3, 4]},
        "0<",
    ],
)
def test_malformed_rle_is_rejected(rle):
    with pytest.raises(ValueError):
        rle_to_mask(rle)
    with pytest.raises(ValueError):
        rle_area(rle)
    with pytest.raises(ValueError):
        rle_bbox(rle)


def test_multi_character_and_delta_coded_runs_are_validated_not_misread():
    mask = np.zeros((50, 40), dtype=bool)
    mask[10:45, 5:33] = True
    mask[20, 20] = False
    rle = mask_to_rle(mask)
    assert len(rle["counts"]) > 6
    np.testing.assert_array_equal(rle_to_mask(rle), mask)
    # A well-formed string whose runs stop short (last run dropped) must be caught: pycocotools would not.
    runs = column_major_runs(mask)
    short = coco_mask.frPyObjects({"size": [50, 40], "counts": runs[:-1]}, 50, 40)
    with pytest.raises(ValueError, match="cover"):
        rle_to_mask(short)
    with pytest.raises(ValueError, match="cover"):
        rle_to_mask({**rle, "counts": rle["counts"] + "1"})


@pytest.mark.parametrize(
    "mask", [np.zeros((3, 3), dtype=np.uint8), np.zeros((2, 2, 1), dtype=bool), np.zeros((0, 4), dtype=bool)]
)
def test_mask_to_rle_rejects_non_masks(mask):
    with pytest.raises(ValueError):
        mask_to_rle(mask)


def test_crop_to_rle_equals_the_rle_of_the_whole_mask():
    from labeling.masks.rle import crop_to_rle

    rng = np.random.default_rng(3)
    for _ in range(300):
        height, width = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        h, w = int(rng.integers(1, height + 1)), int(rng.integers(1, width + 1))
        y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        crop = rng.random((h, w)) < rng.choice([0.0, 0.1, 0.5, 0.9, 1.0])
        full = np.zeros((height, width), dtype=bool)
        full[y:y + h, x:x + w] = crop
        assert crop_to_rle(crop, x=x, y=y, height=height, width=width) == mask_to_rle(full)
    with pytest.raises(ValueError, match="does not fit"):
        crop_to_rle(np.ones((3, 3), bool), x=2, y=0, height=3, width=4)


@pytest.mark.parametrize("seed", range(6))
def test_rle_to_crop_is_the_bounding_box_crop_of_the_decoded_mask(seed):
    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    mask = rng.random((h, w)) < [0.0, 0.02, 0.3, 0.97, 1.0, 0.5][seed]
    rle = mask_to_rle(mask)
    got = rle_to_crop(rle, shape=(h, w))
    if not mask.any():
        assert got is None
        return
    crop, x, y = got
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    assert (x, y) == (cols[0], rows[0])
    assert np.array_equal(crop, mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
    uncompressed = {"size": [h, w], "counts": coco_mask_runs(mask)}
    assert np.array_equal(rle_to_crop(uncompressed, shape=(h, w))[0], crop)
    with pytest.raises(ValueError, match="does not match"):
        rle_to_crop(rle, shape=(h + 1, w))


def coco_mask_runs(mask: np.ndarray) -> list[int]:
    flat = mask.ravel(order="F")
    bounds = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]))
    runs = np.diff(bounds).tolist()
    return [0, *runs] if flat[0] else runs
