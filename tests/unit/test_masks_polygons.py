"""Polygon rings <-> raster: the exact rasterisation rule, and pixel-exact boundary tracing."""

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage.measure import label

from labeling.masks.polygons import mask_to_rings, polygon_area, rasterize_rings

fast = settings(max_examples=200, deadline=None)
small_masks = arrays(bool, st.tuples(st.integers(1, 24), st.integers(1, 24)))
sparse_masks = arrays(
    bool, st.tuples(st.integers(1, 24), st.integers(1, 24)), elements=st.sampled_from([True, False, False, False])
)
dense_masks = arrays(
    bool, st.tuples(st.integers(1, 24), st.integers(1, 24)), elements=st.sampled_from([True, True, True, False])
)


def grid(rows):
    return np.array([[c == "#" for c in row] for row in rows], dtype=bool)


def reference_rasterize(rings, height, width):
    """The documented rule, literally: per row, sort the crossings, pair them, fill x_2k <= cx < x_2k+1."""
    edges = []
    for ring in rings:
        for i in range(len(ring)):
            (x0, y0), (x1, y1) = ring[i], ring[(i + 1) % len(ring)]
            if y0 > y1:
                x0, y0, x1, y1 = x1, y1, x0, y0
            if y0 != y1:
                edges.append((float(x0), float(y0), float(x1), float(y1)))
    out = np.zeros((height, width), dtype=bool)
    for r in range(height):
        yc = r + 0.5
        xs = sorted(x0 + (yc - y0) * (x1 - x0) / (y1 - y0) for x0, y0, x1, y1 in edges if y0 <= yc < y1)
        assert len(xs) % 2 == 0
        for left, right in zip(xs[0::2], xs[1::2]):
            for c in range(width):
                if left <= c + 0.5 < right:
                    out[r, c] = True
    return out


# --- the rasterisation rule on hand-computed cases ---------------------------------------------------------


@pytest.mark.parametrize("reverse", [False, True])
def test_square_on_pixel_corners(reverse):
    square = [(1, 1), (3, 1), (3, 3), (1, 3)]
    result = rasterize_rings([square[::-1] if reverse else square], height=5, width=5)
    expected = np.zeros((5, 5), dtype=bool)
    expected[1:3, 1:3] = True
    np.testing.assert_array_equal(result, expected)


def test_edges_through_pixel_centres_left_and_top_inside_right_and_bottom_outside():
    # Square from centre (1.5, 0.5) to centre (3.5, 2.5): every edge passes exactly through pixel centres.
    result = rasterize_rings([[(1.5, 0.5), (3.5, 0.5), (3.5, 2.5), (1.5, 2.5)]], height=4, width=5)
    np.testing.assert_array_equal(
        result, grid([".##..",
                      ".##..",
                      ".....",
                      "....."])
    )


def test_triangle_with_centres_on_the_hypotenuse():
    # Hypotenuse x + y = 4 passes through the centres with c + r = 3: a right edge, so they stay outside.
    result = rasterize_rings([[(0, 0), (4, 0), (0, 4)]], height=4, width=4)
    np.testing.assert_array_equal(result, grid(["###.",
                                                "##..",
                                                "#...",
                                                "...."]))


def test_diamond():
    result = rasterize_rings([[(2, 0), (4, 2), (2, 4), (0, 2)]], height=4, width=4)
    np.testing.assert_array_equal(result, grid([".#..",
                                                "###.",
                                                "###.",
                                                ".#.."]))


def test_vertices_exactly_on_scanlines():
    # Top vertex on row 0's scanline: two equal crossings, nothing filled; bottom vertex on row 3's: none.
    result = rasterize_rings([[(2, 0.5), (3.5, 2), (2, 3.5), (0.5, 2)]], height=4, width=4)
    np.testing.assert_array_equal(result, grid(["....",
                                                ".##.",
                                                ".##.",
                                                "...."]))
    # A ring passing through a vertex on a scanline counts it once (half-open edges).
    straight = rasterize_rings([[(0, 0), (3, 0), (3, 1.5), (3, 3), (0, 3)]], height=3, width=3)
    assert straight.all()
    notch = rasterize_rings([[(0, 0), (3, 0), (2, 1.5), (3, 3), (0, 3)]], height=3, width=3)
    np.testing.assert_array_equal(notch, grid(["###",
                                               "##.",
                                               "###"]))


@pytest.mark.parametrize("hole_reversed", [False, True])
def test_hole_is_just_another_ring(hole_reversed):
    hole = [(2, 2), (4, 2), (4, 4), (2, 4)]
    rings = [[(0, 0), (6, 0), (6, 6), (0, 6)], hole[::-1] if hole_reversed else hole]
    expected = np.ones((6, 6), dtype=bool)
    expected[2:4, 2:4] = False
    np.testing.assert_array_equal(rasterize_rings(rings, height=6, width=6), expected)


def test_overlapping_rings_cancel_even_odd():
    rings = [[(0, 0), (3, 0), (3, 2), (0, 2)], [(2, 0), (4, 0), (4, 2), (2, 2)]]
    np.testing.assert_array_equal(rasterize_rings(rings, height=2, width=4), grid(["##.#", "##.#"]))


def test_polygon_partly_outside_is_clipped():
    np.testing.assert_array_equal(
        rasterize_rings([[(-2, -2), (2, -2), (2, 2), (-2, 2)]], height=4, width=4),
        grid(["##..", "##..", "....", "...."]),
    )
    np.testing.assert_array_equal(
        rasterize_rings([[(2.5, 1), (9, 1), (9, 9), (2.5, 9)]], height=4, width=4),
        grid(["....", "..##", "..##", "..##"]),  # centres at x = 2.5 lie on the left edge: inside
    )
    # A hole reaching past the left border still flips parity inside the image.
    rings = [[(-5, 0), (4, 0), (4, 4), (-5, 4)], [(-3, 1), (2, 1), (2, 3), (-3, 3)]]
    np.testing.assert_array_equal(rasterize_rings(rings, height=4, width=4), grid(["####", "..##", "..##", "####"]))
    assert not rasterize_rings([[(10, 10), (20, 10), (20, 20)]], height=4, width=4).any()
    assert rasterize_rings([[(-1e6, -1e6), (1e6, -1e6), (0, 1e6)]], height=4, width=4).all()


def test_non_integer_polygon():
    # Row 0: centre y 0.5 < 0.6, no edge crosses it. Rows 1-2: 0.9 <= cx < 3.1 keeps columns 1 and 2.
    result = rasterize_rings([[(0.9, 0.6), (3.1, 0.6), (3.1, 2.7), (0.9, 2.7)]], height=4, width=4)
    np.testing.assert_array_equal(result, grid(["....", ".##.", ".##.", "...."]))


def test_rings_accept_arrays_and_sequences():
    as_array = np.array([[1, 1], [3, 1], [3, 3], [1, 3]], dtype=np.int32)
    np.testing.assert_array_equal(
        rasterize_rings([as_array], height=4, width=4),
        rasterize_rings([[(1.0, 1.0), (3.0, 1.0), (3.0, 3.0), (1.0, 3.0)]], height=4, width=4),
    )
    assert rasterize_rings([], height=3, width=2).shape == (3, 2)
    assert not rasterize_rings([], height=3, width=2).any()
    assert rasterize_rings([as_array], height=0, width=0).shape == (0, 0)


@pytest.mark.parametrize(
    "ring",
    [
        [(0, 0), (1, 1)],
        [],
        [(0, 0, 0), (1, 0, 0), (1, 1, 0)],
        [(0, 0), (float("nan"), 1), (1, 1)],
        [(0, 0), (float("inf"), 1), (1, 1)],
        [(0, 0), (1e300, 1), (1, 1)],
    ],
)
def test_bad_rings_are_rejected(ring):
    with pytest.raises(ValueError):
        rasterize_rings([[(0, 0), (1, 0), (1, 1)], ring], height=4, width=4)


def test_negative_size_is_rejected():
    with pytest.raises(ValueError):
        rasterize_rings([], height=-1, width=4)


coordinate = st.one_of(
    st.floats(-3, 12, allow_nan=False),
    st.integers(-3, 12).map(float),
    st.integers(-6, 24).map(lambda v: v / 2),  # pixel centres and corners: the tie cases
)
rings = st.lists(st.tuples(coordinate, coordinate), min_size=3, max_size=8)


@fast
@given(polygon=st.lists(rings, min_size=1, max_size=3), height=st.integers(1, 10), width=st.integers(1, 10))
def test_rasterize_matches_the_documented_sort_and_pair_rule(polygon, height, width):
    np.testing.assert_array_equal(
        rasterize_rings(polygon, height=height, width=width), reference_rasterize(polygon, height, width)
    )


# --- tracing -----------------------------------------------------------------------------------------------


def assert_traces_exactly(mask):
    height, width = mask.shape
    rings = mask_to_rings(mask)
    np.testing.assert_array_equal(rasterize_rings(rings, height=height, width=width), mask)
    for ring in rings:
        assert ring.ndim == 2 and ring.shape[1] == 2 and ring.shape[0] >= 4
        assert np.issubdtype(ring.dtype, np.integer)
        assert (ring[:, 0] >= 0).all() and (ring[:, 0] <= width).all()
        assert (ring[:, 1] >= 0).all() and (ring[:, 1] <= height).all()
        steps = np.diff(np.vstack([ring, ring[:1]]), axis=0)
        # Axis-aligned steps (pixel edges), closed without repeating the first point, and every vertex a
        # real turn: consecutive steps are never collinear.
        assert ((steps[:, 0] == 0) != (steps[:, 1] == 0)).all()
        turns = steps[:, 0] * np.roll(steps[:, 1], -1) - steps[:, 1] * np.roll(steps[:, 0], -1)
        assert (turns != 0).all()
        first = tuple(ring[0])
        assert first == min(map(tuple, ring.tolist()), key=lambda p: (p[1], p[0]))
    areas = [polygon_area(ring) for ring in rings]
    assert math.isclose(sum(areas), mask.sum())
    # Outer rings (positive) are the 4-connected components; holes (negative) the enclosed 8-connected
    # background components.
    assert sum(a > 0 for a in areas) == label(mask, connectivity=1).max()
    background = np.pad(~mask, 1, constant_values=True)
    assert sum(a < 0 for a in areas) == label(background, connectivity=2).max() - 1
    return rings


@fast
@given(mask=st.one_of(small_masks, sparse_masks, dense_masks))
def test_rasterize_of_traced_rings_is_exact(mask):
    assert_traces_exactly(mask)


CRAFTED = {
    "single": ["...", ".#.", "..."],
    "checkerboard": ["#.#.#", ".#.#.", "#.#.#", ".#.#."],
    "diagonal_touch": ["#.", ".#"],
    "anti_diagonal_touch": [".#", "#."],
    "ring_with_island": ["#######", "#.....#", "#.###.#", "#.#.#.#", "#.###.#", "#.....#", "#######"],
    "hole_touching_itself": ["####.", "#..#.", "#.#..", "####."],
    "self_touching_spiral": [".###", ".#.#", "#..#", "####"],
    "border_touching": ["##..#", "#...#", "....#", "#####"],
    "full": ["####", "####", "####"],
    "one_row": ["##.#.##"],
    "one_column": ["#", "#", ".", "#"],
    "diagonal_holes": ["#####", "#.###", "##.##", "###.#", "#####"],
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_masks_trace_exactly(name):
    assert_traces_exactly(grid(CRAFTED[name]))


def test_empty_mask_has_no_rings():
    assert mask_to_rings(np.zeros((5, 7), dtype=bool)) == []
    assert mask_to_rings(np.zeros((0, 0), dtype=bool)) == []


def test_exact_rings_and_orientation():
    [pixel] = mask_to_rings(grid(["...", "...", ".#."]))
    assert pixel.tolist() == [[1, 2], [2, 2], [2, 3], [1, 3]]
    assert polygon_area(pixel) == 1.0
    [full] = mask_to_rings(np.ones((3, 4), dtype=bool))
    assert full.tolist() == [[0, 0], [4, 0], [4, 3], [0, 3]]
    outer, hole = mask_to_rings(grid(["###", "#.#", "###"]))
    assert outer.tolist() == [[0, 0], [3, 0], [3, 3], [0, 3]]
    assert hole.tolist() == [[1, 1], [1, 2], [2, 2], [2, 1]]
    assert polygon_area(outer) == 9.0 and polygon_area(hole) == -1.0


def test_diagonal_pixels_are_separate_rings():
    first, second = mask_to_rings(grid(["#.", ".#"]))
    assert first.tolist() == [[0, 0], [1, 0], [1, 1], [0, 1]]
    assert second.tolist() == [[1, 1], [2, 1], [2, 2], [1, 2]]
    first, second = mask_to_rings(grid([".#", "#."]))
    assert first.tolist() == [[1, 0], [2, 0], [2, 1], [1, 1]]
    assert second.tolist() == [[0, 1], [1, 1], [1, 2], [0, 2]]


def test_mask_to_rings_rejects_non_masks():
    with pytest.raises(ValueError):
        mask_to_rings(np.zeros((3, 3), dtype=np.uint8))
    with pytest.raises(ValueError):
        mask_to_rings(np.zeros(3, dtype=bool))


def test_polygon_area_sign():
    assert polygon_area([(0, 0), (2, 0), (2, 3), (0, 3)]) == 6.0
    assert polygon_area([(0, 0), (0, 3), (2, 3), (2, 0)]) == -6.0


# --- speed -------------------------------------------------------------------------------------------------


def _best_of(runs, fn):
    best = math.inf
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def test_rasterize_a_10k_vertex_ring_on_4096_square_is_fast():
    rng = np.random.default_rng(0)
    angle = np.linspace(0, 2 * np.pi, 10_000, endpoint=False)
    radius = 1800 + 150 * np.sin(7 * angle) + rng.normal(0, 3, angle.size)
    ring = np.c_[2048 + radius * np.cos(angle), 2048 + radius * np.sin(angle)]
    result = rasterize_rings([ring], height=4096, width=4096)
    assert math.isclose(result.sum(), abs(polygon_area(ring)), rel_tol=1e-3)
    assert _best_of(2, lambda: rasterize_rings([ring], height=4096, width=4096)) < 0.5


def test_mask_to_rings_on_1024_square_is_fast():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:1024, :1024]
    mask = np.zeros((1024, 1024), dtype=bool)
    for _ in range(6):
        cx, cy = rng.uniform(100, 900, 2)
        rx, ry = rng.uniform(40, 200, 2)
        mask ^= ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1
    rings = mask_to_rings(mask)
    np.testing.assert_array_equal(rasterize_rings(rings, height=1024, width=1024), mask)
    assert _best_of(2, lambda: mask_to_rings(mask)) < 0.5
