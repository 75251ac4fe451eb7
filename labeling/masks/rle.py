"""COCO run-length encoding of binary masks, through pycocotools.

pycocotools is the codec. The only thing done by hand is reading the run lengths out of a compressed counts
string to validate them: pycocotools' C decoder does not check that the runs cover the mask exactly and,
when they fall short, returns uninitialised memory as mask pixels. Imported RLEs are untrusted input.
"""

import operator
from collections.abc import Mapping
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

_MAX_RUN = 2**32 - 1  # runs are uint32 in pycocotools


def mask_to_rle(mask: np.ndarray) -> dict[str, Any]:
    """Compressed COCO RLE of a boolean (h, w) mask, JSON-ready: ``{"size": [h, w], "counts": str}``."""
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.dtype != bool:
        raise ValueError(f"a mask must be a 2-D bool array, got {mask.dtype} of shape {mask.shape}")
    if 0 in mask.shape:
        raise ValueError(f"a mask must not be empty, got shape {mask.shape}")
    encoded = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def crop_to_rle(crop: np.ndarray, *, x: int, y: int, height: int, width: int) -> dict[str, Any]:
    """The same RLE as ``mask_to_rle`` of a (height, width) mask that is False outside ``crop`` placed at (x, y),
    without building that mask: only the crop's columns are scanned (column-major, as COCO counts run) and
    pycocotools compresses the run lengths. A segment's bbox is usually a small part of its image."""
    crop = np.asarray(crop)
    if crop.ndim != 2 or crop.dtype != bool:
        raise ValueError(f"a crop must be a 2-D bool array, got {crop.dtype} of shape {crop.shape}")
    h, w = crop.shape
    if not (0 <= x and 0 <= y and x + w <= width and y + h <= height) or not h or not w:
        raise ValueError(f"a {w}x{h} crop at ({x}, {y}) does not fit a {width}x{height} mask")
    band = np.zeros((height, w), dtype=bool)
    band[y:y + h] = crop
    flat = band.ravel(order="F")
    bounds = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]))
    runs = np.diff(bounds).astype(np.int64)
    if flat[0]:
        runs = np.concatenate(([0], runs))  # counts always start with a run of zeros
    runs[0] += x * height  # the columns left of the crop
    trailing = (width - x - w) * height
    if trailing:
        if len(runs) % 2:  # the last run is zeros: extend it
            runs[-1] += trailing
        else:
            runs = np.concatenate((runs, [trailing]))
    if int(runs.max()) > _MAX_RUN:
        raise ValueError("a run is longer than pycocotools can hold")
    encoded = coco_mask.frPyObjects({"size": [height, width], "counts": runs.tolist()}, height, width)
    return {"size": [height, width], "counts": encoded["counts"].decode("ascii")}


def rle_to_mask(rle: Mapping[str, Any], *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Boolean (h, w) mask of a COCO RLE: compressed (counts str or bytes) or uncompressed (counts list).

    With ``shape``, an RLE of another size is rejected (e.g. an annotation that does not fit its image).
    """
    compressed = _validated(rle)
    if shape is not None and tuple(compressed["size"]) != tuple(shape):
        raise ValueError(f"RLE size {compressed['size']} does not match the expected shape {list(shape)}")
    return coco_mask.decode(compressed).astype(bool, order="C")


def rle_to_crop(rle: Mapping[str, Any], *, shape: tuple[int, int]) -> tuple[np.ndarray, int, int] | None:
    """(bool crop, x, y) of a COCO RLE's foreground bounding box, or None when it is empty; the same pixels as
    ``rle_to_mask`` (validated the same way). A small foreground is found from the runs, in time and memory
    proportional to it (imports decode thousands of small instances); a large one (over 1/32 of the image,
    where the per-pixel indices would cost more than the mask) is decoded whole by pycocotools and cropped."""
    height, width = shape
    compressed, runs_list = _checked(rle)
    if tuple(compressed["size"]) != tuple(shape):
        raise ValueError(f"RLE size {compressed['size']} does not match the expected shape {list(shape)}")
    runs = np.asarray(runs_list, dtype=np.int64)
    edges = np.concatenate(([0], np.cumsum(runs)))
    starts, stops = edges[1:-1:2], edges[2::2]  # foreground runs are the odd ones (counts start with zeros)
    lengths = stops - starts
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    if not starts.size:
        return None
    if int(lengths.sum()) * 32 > height * width:
        return bounding_crop(coco_mask.decode(compressed).astype(bool))
    offsets = np.cumsum(lengths) - lengths
    flat = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)
    cols, rows = np.divmod(flat, height)  # column-major
    x0, y0 = int(cols.min()), int(rows.min())
    crop = np.zeros((int(rows.max()) - y0 + 1, int(cols.max()) - x0 + 1), dtype=bool)
    crop[rows - y0, cols - x0] = True
    return crop, x0, y0


def rle_area(rle: Mapping[str, Any]) -> int:
    """Number of foreground pixels of a COCO RLE."""
    return int(coco_mask.area(_validated(rle)))


def rle_bbox(rle: Mapping[str, Any]) -> tuple[int, int, int, int]:
    """COCO bbox (x, y, width, height) of a COCO RLE's foreground; all zeros for an empty mask."""
    x, y, w, h = coco_mask.toBbox(_validated(rle)).tolist()
    return int(x), int(y), int(w), int(h)


def _validated(rle: Mapping[str, Any]) -> dict[str, Any]:
    """The RLE as pycocotools wants it (size list, counts bytes), or ValueError if it is malformed."""
    return _checked(rle)[0]


def bounding_crop(mask: np.ndarray) -> tuple[np.ndarray, int, int] | None:
    """(crop, x, y) of a full-size bool mask's bounding box, a copy; None when the mask is empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return None
    y0, x0 = int(rows[0]), int(cols[0])
    return mask[y0:rows[-1] + 1, x0:cols[-1] + 1].copy(), x0, y0  # a copy: a view would keep the whole mask


def _checked(rle: Mapping[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """(the RLE as pycocotools wants it, its run lengths), or ValueError if it is malformed."""
    if not isinstance(rle, Mapping) or "size" not in rle or "counts" not in rle:
        raise ValueError("an RLE must be a mapping with 'size' and 'counts'")
    size = rle["size"]
    try:
        height, width = (operator.index(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"RLE size must be [height, width] integers, got {size!r}") from None
    if height < 1 or width < 1:
        raise ValueError(f"RLE size must be positive, got {[height, width]}")
    counts = rle["counts"]
    if isinstance(counts, str):
        try:
            counts = counts.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("RLE counts string must be ASCII") from None
    if isinstance(counts, bytes | bytearray):
        runs = _compressed_runs(bytes(counts))
        total = sum(runs)
        compressed = {"size": [height, width], "counts": bytes(counts)}
    elif isinstance(counts, list | tuple | np.ndarray):
        try:
            runs = [operator.index(v) for v in counts]
        except TypeError:
            raise ValueError("uncompressed RLE counts must be integers") from None
        if any(not 0 <= run <= _MAX_RUN for run in runs):
            raise ValueError("uncompressed RLE counts must lie in 0..2**32-1")
        total = sum(runs)
        compressed = None
    else:
        raise ValueError(f"RLE counts must be a string, bytes or a list of integers, got {type(counts).__name__}")
    if total != height * width:
        raise ValueError(f"RLE runs cover {total} pixels, size {[height, width]} has {height * width}")
    if compressed is None:
        compressed = coco_mask.frPyObjects({"size": [height, width], "counts": runs}, height, width)
    return compressed, runs


def _compressed_runs(counts: bytes) -> list[int]:
    """Run lengths of a compressed counts string, read as pycocotools' rleFrString does, but checked.

    Each run is 5-bit groups as chr(48 + group), low group first, 0x20 meaning "more follows" and 0x10 in
    the last group a sign bit; runs from the fourth on are stored as the difference to the run two before.
    """
    runs: list[int] = []
    value = shift = 0
    for char in counts:
        group = char - 48
        if not 0 <= group < 64:
            raise ValueError(f"RLE counts contain an invalid character {chr(char)!r}")
        value |= (group & 0x1F) << shift
        shift += 5
        if group & 0x20:
            continue
        if group & 0x10:
            value -= 1 << shift
        if len(runs) > 2:
            value += runs[-2]
        if not 0 <= value <= _MAX_RUN:
            raise ValueError(f"RLE counts decode to an invalid run length {value}")
        runs.append(value)
        value = shift = 0
    if shift:
        raise ValueError("RLE counts string ends in the middle of a run")
    return runs
