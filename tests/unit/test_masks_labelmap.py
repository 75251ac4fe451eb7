"""Label map <-> per-segment masks: exact round trips, overlap policy, stats consistent with the tiles."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from labeling.masks.labelmap import (
    MAX_SEGMENT_ID,
    OverlapError,
    iter_segment_masks,
    map_to_masks,
    masks_to_map,
    segment_stats,
)
from labeling.masks.tiles import merge_stats, split_map, tile_stats

fast = settings(max_examples=200, deadline=None)
ids = st.one_of(st.integers(0, MAX_SEGMENT_ID), st.sampled_from([0, 0, 1, 2, 2**24 + 3, 2**31, MAX_SEGMENT_ID]))
label_maps = st.integers(1, 6).flatmap(
    lambda k: st.lists(ids, min_size=k, max_size=k).flatmap(
        lambda palette: arrays(
            np.uint32, st.tuples(st.integers(1, 24), st.integers(1, 24)), elements=st.sampled_from(palette)
        )
    )
)


@fast
@given(label_map=label_maps)
def test_map_to_masks_and_back_is_exact(label_map):
    masks = map_to_masks(label_map)
    present = set(np.unique(label_map).tolist()) - {0}
    assert list(masks) == sorted(present)
    total = np.zeros(label_map.shape, dtype=int)
    for segment_id, mask in masks.items():
        assert mask.dtype == bool and mask.shape == label_map.shape
        np.testing.assert_array_equal(mask, label_map == segment_id)
        total += mask
    assert total.max(initial=0) <= 1
    height, width = label_map.shape
    rebuilt = masks_to_map(masks, height=height, width=width)
    assert rebuilt.dtype == np.uint32
    np.testing.assert_array_equal(rebuilt, label_map)


@fast
@given(label_map=label_maps)
def test_cropped_segment_masks_are_tight_and_rebuild_the_map(label_map):
    rebuilt = np.zeros_like(label_map)
    seen = []
    for segment_id, (x, y, w, h), crop in iter_segment_masks(label_map):
        seen.append(segment_id)
        assert crop.shape == (h, w) and crop.dtype == bool
        # Tight bbox: every border row and column of the crop holds a pixel of the segment.
        assert crop[0].any() and crop[-1].any() and crop[:, 0].any() and crop[:, -1].any()
        rebuilt[y : y + h, x : x + w][crop] = segment_id
    assert seen == sorted(set(np.unique(label_map).tolist()) - {0})
    np.testing.assert_array_equal(rebuilt, label_map)


@fast
@given(label_map=label_maps, tile_size=st.integers(1, 9))
def test_segment_stats_agree_with_tile_stats_and_masks(label_map, tile_size):
    stats = segment_stats(label_map)
    per_tile = (
        tile_stats(tile, x0=tx * tile_size, y0=ty * tile_size)
        for (tx, ty), tile in split_map(label_map, tile_size=tile_size).items()
    )
    assert merge_stats(per_tile) == stats
    for segment_id, (x, y, w, h), crop in iter_segment_masks(label_map):
        assert stats[segment_id] == (int(crop.sum()), x, y, x + w - 1, y + h - 1)


def test_segment_stats_by_hand():
    label_map = np.array([[0, 3, 3], [9, 0, 3]], dtype=np.uint32)
    assert segment_stats(label_map) == {3: (3, 1, 0, 2, 1), 9: (1, 0, 1, 0, 1)}
    assert segment_stats(np.zeros((2, 2), dtype=np.uint32)) == {}
    assert map_to_masks(np.zeros((2, 2), dtype=np.uint32)) == {}


def test_overlap_is_an_error_naming_the_ids():
    a = np.zeros((3, 3), dtype=bool)
    a[0:2, 0:2] = True
    b = np.zeros((3, 3), dtype=bool)
    b[1:3, 1:3] = True
    c = np.zeros((3, 3), dtype=bool)
    c[2, 0] = True
    with pytest.raises(OverlapError, match=r"5 and 7") as caught:
        masks_to_map({5: a, 7: b, 8: c}, height=3, width=3)
    assert caught.value.pairs == [(5, 7)]
    assert isinstance(caught.value, ValueError)
    with pytest.raises(OverlapError) as caught:
        masks_to_map({5: a, 7: b, 9: a | c}, height=3, width=3)
    assert caught.value.pairs == [(5, 7), (5, 9), (7, 9)]


def test_later_wins_takes_the_pixels_in_mapping_order():
    a = np.zeros((2, 3), dtype=bool)
    a[:, :2] = True
    b = np.zeros((2, 3), dtype=bool)
    b[:, 1:] = True
    np.testing.assert_array_equal(
        masks_to_map({5: a, 7: b}, height=2, width=3, overlap="later_wins"), [[5, 7, 7], [5, 7, 7]]
    )
    np.testing.assert_array_equal(
        masks_to_map({7: b, 5: a}, height=2, width=3, overlap="later_wins"), [[5, 5, 7], [5, 5, 7]]
    )


def test_disjoint_masks_and_extreme_ids():
    a = np.array([[True, False]])
    b = np.array([[False, True]])
    result = masks_to_map({np.uint32(MAX_SEGMENT_ID): a, 2**24 + 1: b}, height=1, width=2)
    np.testing.assert_array_equal(result, [[MAX_SEGMENT_ID, 2**24 + 1]])
    assert not masks_to_map({}, height=2, width=4).any()


@pytest.mark.parametrize("bad_id", [0, -1, 2**32, True, "3", 1.0])
def test_bad_segment_ids_are_rejected(bad_id):
    with pytest.raises(ValueError, match="segment id"):
        masks_to_map({bad_id: np.ones((1, 1), dtype=bool)}, height=1, width=1)


@pytest.mark.parametrize(
    "mask", [np.ones((2, 2), dtype=bool), np.ones((1, 1), dtype=np.uint8), np.ones((1, 1, 1), dtype=bool)]
)
def test_bad_masks_are_rejected(mask):
    with pytest.raises(ValueError, match="mask of segment 4"):
        masks_to_map({4: mask}, height=1, width=1)


def test_bad_overlap_mode_is_rejected():
    with pytest.raises(ValueError, match="overlap"):
        masks_to_map({}, height=1, width=1, overlap="first_wins")


def test_label_maps_must_be_uint32():
    with pytest.raises(ValueError):
        segment_stats(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError):
        map_to_masks(np.zeros((2, 2, 1), dtype=np.uint32))
