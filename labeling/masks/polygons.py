"""Polygon rings (holes allowed) <-> boolean raster, pixel-exact.

The TypeScript frontend implements the same rule and is checked against golden files, so the rule below is a
contract: change it only together with the frontend.

Coordinates are (x, y) floats in image space, y pointing down. Pixel (column c, row r) covers the square
[c, c+1) x [r, r+1) and its centre is (c + 0.5, r + 0.5).

Rasterisation (``rasterize_rings``): a pixel belongs to the polygon iff its centre is inside by the even-odd
rule over all rings together (outer rings and holes alike: a hole is simply another ring). Per pixel row r:

1. ``yc = r + 0.5``. Each edge (x0, y0)-(x1, y1) is first ordered so that y0 < y1 (swap the endpoints if
   y0 > y1); horizontal edges (y0 == y1) are ignored. The edge crosses row r iff ``y0 <= yc < y1``
   (half-open, so a vertex lying exactly on the scanline is counted once where the ring passes through it).
2. Its crossing is ``x = x0 + (yc - y0) * (x1 - x0) / (y1 - y0)``, IEEE float64, evaluated in that order.
3. Sort the row's crossings and pair them: (x_0, x_1), (x_2, x_3), ...; pixel c is filled iff
   ``x_2k <= c + 0.5 < x_2k+1`` for some k. Equivalently (what the code computes, without sorting):
   pixel c is filled iff an odd number of the row's crossings satisfy ``ceil(x - 0.5) <= c``.

So, like the pixel squares themselves, a centre exactly on a left edge (smaller x) or a top edge (smaller y)
of the polygon is inside, and on a right or bottom edge outside; a vertex pointing up that touches a
scanline fills nothing there. Overlapping rings cancel (even-odd), so a segment's rings must not overlap.
Rings may extend past the image: they are clipped, and crossings left of the image still count for the
parity inside it.

Tracing (``mask_to_rings``) returns the exact pixel boundary: rings of integer corner coordinates, closed
(the first point is not repeated), with no collinear points, each ring starting at its top-most, then
left-most vertex, and the rings listed in that order of their first vertices. Orientation: an outer
boundary has a positive signed area (``polygon_area``, the shoelace formula on the raw (x, y)), i.e.
counter-clockwise in the mathematical sense (x right, y up); a hole boundary has a negative area.
Because y points down in image space, outer rings appear clockwise on screen.
Connectivity: pixels that touch only at a corner are not connected, so the foreground is 4-connected (the
background 8-connected); at such a corner a ring turns to stay with the pixel it came from, so rings may
touch each other, or themselves, at that corner, but never cross. Rasterising the rings of any mask gives
the mask back exactly, since every pixel edge of the boundary appears in exactly one ring.

``mask_to_contours`` is the other convention, OpenCV's (vertices at pixel indices, 8-connected parts, outer
contours only), for formats whose readers fill polygons with OpenCV: YOLO segmentation.
"""

from collections.abc import Sequence

import numpy as np

# Coordinates beyond this are rejected: far past any image, and it keeps the crossing arithmetic finite.
MAX_COORDINATE = 2.0**40
# Crossings computed per batch, to bound memory for rings with very tall edges on large images.
_CROSSINGS_PER_BATCH = 1 << 22


def polygon_area(ring: np.ndarray | Sequence[tuple[float, float]]) -> float:
    """Signed shoelace area on raw (x, y): positive for outer rings from mask_to_rings, negative for holes."""
    points = np.asarray(ring, dtype=np.float64)
    x, y = points[:, 0], points[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def rasterize_rings(
    rings: Sequence[np.ndarray | Sequence[tuple[float, float]]], *, height: int, width: int
) -> np.ndarray:
    """Boolean (height, width) mask of the pixels whose centres are inside the rings (module docstring rule)."""
    if height < 0 or width < 0:
        raise ValueError(f"image size must not be negative, got {width}x{height}")
    xa, ya, xb, yb = _edges(rings)
    # One extra column receives the crossings right of the image, which never count for a pixel.
    toggles = np.zeros((height, width + 1), dtype=np.uint8)
    row_first = np.clip(np.ceil(ya - 0.5), 0, height).astype(np.int64)
    row_stop = np.clip(np.ceil(yb - 0.5), 0, height).astype(np.int64)
    spans = row_stop - row_first
    crossing = spans > 0
    xa, ya, dx, dy = xa[crossing], ya[crossing], (xb - xa)[crossing], (yb - ya)[crossing]
    row_first, spans = row_first[crossing], spans[crossing]
    ends = np.cumsum(spans)
    flat = toggles.reshape(-1)
    # Batches of whole edges, each holding about _CROSSINGS_PER_BATCH crossings.
    cuts = np.searchsorted(ends, np.arange(_CROSSINGS_PER_BATCH, int(ends[-1]) if ends.size else 0,
                                           _CROSSINGS_PER_BATCH), side="right")
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, spans.size]):
        if lo == hi:
            continue
        counts = spans[lo:hi]
        edge = np.repeat(np.arange(lo, hi), counts)
        base = ends[lo:hi] - counts  # crossings before each edge of the batch
        row = row_first[edge] + (np.arange(base[0], ends[hi - 1]) - np.repeat(base, counts))
        x = xa[edge] + (row + 0.5 - ya[edge]) * dx[edge] / dy[edge]
        column = np.clip(np.ceil(x - 0.5), 0, width).astype(np.int64)
        # Parity only matters, so uint8 wrap-around is harmless.
        np.add.at(flat, row * (width + 1) + column, 1)
    np.cumsum(toggles, axis=1, dtype=np.uint8, out=toggles)
    return (toggles[:, :width] & 1).astype(bool)


def mask_to_rings(mask: np.ndarray) -> list[np.ndarray]:
    """Exact boundary rings of a boolean mask, as (k, 2) int64 arrays of (x, y) pixel corners.

    Outer rings have positive area and holes negative; see the module docstring for orientation,
    connectivity and ordering. ``rasterize_rings(mask_to_rings(m), ...) == m`` for every mask.
    """
    points, bounds = _trace(_checked(mask), eight_connected=False)
    # Slicing beats np.split by 5x when a noisy mask has hundreds of thousands of rings.
    return [points[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]


def mask_to_contours(mask: np.ndarray) -> tuple[list[np.ndarray], int]:
    """Outer contours through boundary pixels, exactly as OpenCV's ``findContours(mask, RETR_EXTERNAL,
    CHAIN_APPROX_SIMPLE)`` returns them (the same vertices, order and start), and the number of holes.

    OpenCV's convention, which Ultralytics uses to turn masks into YOLO polygons: a vertex (x, y) is a pixel's
    index, not a corner. Parts are 8-connected (pixels touching at a corner share a contour). Each contour is
    a (k, 2) int64 array of (x, y), closed (the first point not repeated), with a vertex only where the walk
    along the boundary pixels changes direction, so every step is horizontal, vertical or diagonal. A part one
    pixel wide gives a contour that walks back over itself (two vertices for a straight line), a single pixel
    one vertex. Contours start at their part's top-most, then left-most pixel and are listed in that order.
    OpenCV's ``fillPoly`` (every pixel on or inside the polygon) fills a contour back to its part with the
    holes filled. Holes (4-connected background not reaching the border) are only counted, and parts inside
    them are left out, as RETR_EXTERNAL does: the enclosing contour covers them. ``mask_to_rings`` is the
    exact boundary, holes included.
    """
    mask = _checked(mask)
    points, bounds = _trace(mask, eight_connected=True)
    if not points.size:
        return [], 0
    ring = np.repeat(np.arange(len(bounds) - 1), np.diff(bounds))
    step = points[_cyclic_next(ring)] - points
    # Shoelace per ring: outer rings positive, holes negative (see the module docstring).
    twice_area = np.add.reduceat(points[:, 0] * (points[:, 1] + step[:, 1]) - (points[:, 0] + step[:, 0])
                                 * points[:, 1], bounds[:-1])
    holes = int(np.count_nonzero(twice_area < 0))
    outer = (twice_area > 0) & ~_in_holes(points, step, ring, twice_area < 0, bounds, width=mask.shape[1])
    outer = outer[ring]
    points, step, ring = points[outer], step[outer], ring[outer]
    # Unit corner-to-corner edges, each with the pixel on its foreground side (for an edge running +x that
    # is the pixel below it in image space, +y left of it, -x above it, -y right of it).
    length = np.abs(step).sum(axis=1)
    unit = np.sign(step)
    first = np.cumsum(length) - length
    along = np.arange(int(length.sum())) - np.repeat(first, length)
    unit, ring = np.repeat(unit, length, axis=0), np.repeat(ring, length)
    corner = np.repeat(points, length, axis=0) + unit * along[:, None]
    pixel = corner - np.stack([(unit[:, 1] > 0) | (unit[:, 0] < 0), (unit[:, 0] < 0) | (unit[:, 1] < 0)], axis=1)
    # Walking the boundary visits each boundary pixel for a run of edges: one vertex per run (its last edge,
    # so that the ring's first pixel, the top-most then left-most one, stays first) ...
    following = _cyclic_next(ring)
    last = (pixel != pixel[following]).any(axis=1)
    starts = np.r_[0, np.flatnonzero(np.diff(ring)) + 1]
    last[starts[~np.logical_or.reduceat(last, starts)]] = True  # a single pixel: one vertex
    pixel, ring = pixel[last], ring[last]
    # ... then only where the direction changes, as CHAIN_APPROX_SIMPLE keeps them.
    following = _cyclic_next(ring)
    out = pixel[following] - pixel
    previous = np.empty_like(following)
    previous[following] = np.arange(following.size)
    turn = (out != out[previous]).any(axis=1) | (following == np.arange(following.size))
    pixel, ring = pixel[turn], ring[turn]
    cuts = np.r_[0, np.flatnonzero(np.diff(ring)) + 1, ring.size]
    # The walk keeps the foreground on its right on screen; OpenCV walks the other way from the same pixel.
    size = np.diff(cuts)
    first = np.repeat(cuts[:-1], size)
    pixel = pixel[first + (first - np.arange(ring.size)) % np.repeat(size, size)]
    cuts = cuts.tolist()
    return [pixel[lo:hi] for lo, hi in zip(cuts[:-1], cuts[1:])], holes


def _in_holes(points, step, ring, hole, bounds, *, width: int) -> np.ndarray:
    """Per ring: whether its first pixel (the one below and right of its first point) lies inside a hole ring.

    All holes wind the same way, so the signed count of hole edges crossed by a ray running left from the
    pixel's centre is zero exactly when no hole encloses it. Rows are handled all at once: each vertical
    hole edge is cut into its rows, keyed by (row, x), and a prefix sum over the keys counts a row's
    crossings left of any x."""
    vertical = hole[ring] & (step[:, 0] == 0)
    x, y, dy = points[vertical, 0], points[vertical, 1], step[vertical, 1]
    rows = np.abs(dy)
    top = np.repeat(np.minimum(y, y + dy), rows)
    row = top + np.arange(int(rows.sum())) - np.repeat(np.cumsum(rows) - rows, rows)
    stride = width + 2
    key = row * stride + np.repeat(x, rows)
    order = np.argsort(key, kind="stable")
    key, crossed = key[order], np.r_[0, np.cumsum(np.repeat(np.sign(dy), rows)[order])]
    qx, qy = points[bounds[:-1], 0], points[bounds[:-1], 1]
    lo = np.searchsorted(key, qy * stride, side="left")
    hi = np.searchsorted(key, qy * stride + qx, side="right")
    return crossed[hi] != crossed[lo]


def _cyclic_next(ring: np.ndarray) -> np.ndarray:
    """For items grouped in runs by ring id: each item's successor in its ring, the first after the last."""
    following = np.arange(1, ring.size + 1)
    ends = np.r_[np.flatnonzero(np.diff(ring)), ring.size - 1]
    following[ends] = np.r_[0, ends[:-1] + 1]
    return following


def _checked(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != bool:
        raise ValueError(f"a mask must be a 2-D bool array, got {mask.dtype} of shape {mask.shape}")
    return mask


def _trace(mask: np.ndarray, *, eight_connected: bool) -> tuple[np.ndarray, list[int]]:
    """The boundary rings of `mask_to_rings`, concatenated: (k, 2) corner points and the rings' bounds in them.

    Where two pixels touch only at a corner the ring turns left (4-connected foreground, what
    `mask_to_rings` documents) or, with `eight_connected`, right: then such pixels are one part and the
    background is 4-connected. Orientation, ordering and start points follow the same rules either way."""
    height, width = mask.shape
    if not mask.any():
        return np.empty((0, 2), dtype=np.int64), [0]
    padded = np.zeros((height + 2, width + 2), dtype=bool)
    padded[1:-1, 1:-1] = mask
    top = mask & ~padded[:-2, 1:-1]
    bottom = mask & ~padded[2:, 1:-1]
    left = mask & ~padded[1:-1, :-2]
    right = mask & ~padded[1:-1, 2:]
    # Maximal straight runs of boundary edges become segments, directed with the foreground on the left
    # (x right, y up): top edges run +x, right edges +y, bottom edges -x, left edges -y.
    top_row, top_c0, top_c1 = _runs(top)
    bottom_row, bottom_c0, bottom_c1 = _runs(bottom)
    left_col, left_r0, left_r1 = _runs(left.T)
    right_col, right_r0, right_r1 = _runs(right.T)
    sx = np.concatenate([top_c0, bottom_c1, left_col, right_col + 1])
    sy = np.concatenate([top_row, bottom_row + 1, left_r1, right_r0])
    ex = np.concatenate([top_c1, bottom_c0, left_col, right_col + 1])
    ey = np.concatenate([top_row, bottom_row + 1, left_r0, right_r1])
    stride = width + 1
    order = np.argsort(sy * stride + sx, kind="stable")
    sx, sy, ex, ey = sx[order], sy[order], ex[order], ey[order]
    start_key = sy * stride + sx
    end_key = ey * stride + ex
    # Link each segment to the one starting where it ends. Two candidates only where two pixels touch at a
    # corner; then turn left (positive cross product), which stays with the pixel the segment belongs to, or
    # right to join the pixel across the corner.
    following = np.searchsorted(start_key, end_key, side="left")
    ambiguous = np.searchsorted(start_key, end_key, side="right") - following == 2
    if ambiguous.any():
        i = np.flatnonzero(ambiguous)
        j = following[i]
        cross = np.sign(ex[i] - sx[i]) * np.sign(ey[j] - sy[j]) - np.sign(ey[i] - sy[i]) * np.sign(ex[j] - sx[j])
        following[i] = np.where((cross < 0) if eight_connected else (cross > 0), j, j + 1)
    ring_id, position = _cycles(following)
    walk = np.lexsort((position, ring_id))
    points = np.stack([sx[walk], sy[walk]], axis=1)
    bounds = np.r_[0, np.flatnonzero(np.diff(ring_id[walk])) + 1, walk.size].tolist()
    return points, bounds


def _runs(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of True along each row: (row, first column, column after the last)."""
    rows = edges.shape[0]
    padded = np.zeros((rows, edges.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = edges
    step = np.diff(padded, axis=1)
    row, first = np.nonzero(step == 1)
    _, stop = np.nonzero(step == -1)
    return row.astype(np.int64), first.astype(np.int64), stop.astype(np.int64)


def _cycles(following: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a permutation: each element's cycle id (its smallest member) and position from that member.

    Pointer doubling keeps this in numpy: O(n log L) for cycles of length up to L, instead of a Python walk
    over every boundary segment (a 1024x1024 checkerboard has two million).
    """
    n = following.size
    ring_id = np.arange(n)
    jump = following.copy()
    while True:
        smallest = np.minimum(ring_id, ring_id[jump])
        if np.array_equal(smallest, ring_id):
            # Windows of the current length already reach each cycle's minimum (every window's minimum
            # equals the next window's, around the whole cycle).
            break
        ring_id = smallest
        jump = jump[jump]
    # List ranking: cut each cycle before its smallest member, then count the steps to the cut.
    previous = np.empty(n, dtype=np.int64)
    previous[following] = np.arange(n)
    tail = previous[np.flatnonzero(ring_id == np.arange(n))]
    to_tail = np.ones(n, dtype=np.int64)
    to_tail[tail] = 0
    jump = following.copy()
    jump[tail] = tail
    while True:
        further = jump[jump]
        if np.array_equal(further, jump):
            break
        to_tail += to_tail[jump]
        jump = further
    return ring_id, -to_tail


def _edges(rings: Sequence[np.ndarray | Sequence[tuple[float, float]]]) -> tuple[np.ndarray, ...]:
    """All non-horizontal edges of all rings as (x0, y0, x1, y1) arrays, ordered so that y0 < y1."""
    arrays = []
    for index, ring in enumerate(rings):
        points = np.asarray(ring, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2:
            raise ValueError(f"ring {index} must be a sequence of (x, y) points, got shape {points.shape}")
        if points.shape[0] < 3:
            raise ValueError(f"ring {index} has {points.shape[0]} points, a ring needs at least 3")
        arrays.append(points)
    if not arrays:
        empty = np.empty(0)
        return empty, empty, empty, empty
    p0 = np.concatenate(arrays)
    if not np.isfinite(p0).all() or np.abs(p0).max() > MAX_COORDINATE:
        bad = ~(np.isfinite(p0) & (np.abs(p0) <= MAX_COORDINATE)).all(axis=1)
        index = int(np.searchsorted(np.cumsum([len(a) for a in arrays]), np.argmax(bad), side="right"))
        raise ValueError(f"ring {index} has non-finite or out-of-range coordinates")
    # Each point's successor is the next point of its ring, the first one for the ring's last point.
    lengths = np.array([len(a) for a in arrays])
    successor = np.arange(1, p0.shape[0] + 1)
    successor[np.cumsum(lengths) - 1] = np.cumsum(lengths) - lengths
    p1 = p0[successor]
    upward = p0[:, 1] > p1[:, 1]
    p0[upward], p1[upward] = p1[upward], p0[upward]
    keep = p0[:, 1] != p1[:, 1]
    return p0[keep, 0], p0[keep, 1], p1[keep, 0], p1[keep, 1]
