"""Label map <-> per-segment binary masks, and per-segment stats of a whole map.

Exporters and importers work per segment; the label map stays the one source of truth. Segments never
overlap in a map, so building one from masks has to decide what overlapping masks mean.
"""

import operator
from collections.abc import Iterator, Mapping
from typing import Literal

import numpy as np

from labeling.masks.tiles import TileStats, tile_stats

MAX_SEGMENT_ID = 2**32 - 1


class OverlapError(ValueError):
    """Two masks claim the same pixel while overlaps are an error; ``pairs`` lists (earlier id, later id)."""

    def __init__(self, pairs: list[tuple[int, int]]) -> None:
        self.pairs = pairs
        shown = ", ".join(f"{a} and {b}" for a, b in pairs[:10])
        more = f" and {len(pairs) - 10} more pairs" if len(pairs) > 10 else ""
        super().__init__(f"segment masks overlap: {shown}{more}")


def segment_stats(label_map: np.ndarray) -> TileStats:
    """(area, xmin, ymin, xmax, ymax) per segment id of a whole map; the same numbers tiles.tile_stats gives."""
    return tile_stats(label_map, x0=0, y0=0)


def iter_segment_masks(label_map: np.ndarray) -> Iterator[tuple[int, tuple[int, int, int, int], np.ndarray]]:
    """(id, bbox (x, y, w, h), bool mask cropped to the bbox) per segment, in increasing id order.

    Cropping keeps memory and time proportional to each segment's bbox, which matters on 20k x 20k maps.
    """
    for segment_id, (_, xmin, ymin, xmax, ymax) in sorted(segment_stats(label_map).items()):
        crop = label_map[ymin : ymax + 1, xmin : xmax + 1]
        yield segment_id, (xmin, ymin, xmax - xmin + 1, ymax - ymin + 1), crop == segment_id


def map_to_masks(label_map: np.ndarray) -> dict[int, np.ndarray]:
    """Full-size bool mask per segment id, in increasing id order; meant for small maps."""
    masks = {}
    for segment_id, (x, y, w, h), crop in iter_segment_masks(label_map):
        mask = np.zeros(label_map.shape, dtype=bool)
        mask[y : y + h, x : x + w] = crop
        masks[segment_id] = mask
    return masks


def masks_to_map(
    masks: Mapping[int, np.ndarray],
    *,
    height: int,
    width: int,
    overlap: Literal["error", "later_wins"] = "error",
) -> np.ndarray:
    """Label map from full-size bool masks keyed by segment id.

    ``overlap="error"`` raises OverlapError naming every overlapping pair; ``"later_wins"`` lets a later
    mask (in mapping order) take the pixels, like painting over without "protect existing".
    """
    if overlap not in ("error", "later_wins"):
        raise ValueError(f"overlap must be 'error' or 'later_wins', got {overlap!r}")
    label_map = np.zeros((height, width), dtype=np.uint32)
    pairs: set[tuple[int, int]] = set()
    for key, mask in masks.items():
        segment_id = _segment_id(key)
        mask = np.asarray(mask)
        if mask.shape != (height, width) or mask.dtype != bool:
            raise ValueError(
                f"mask of segment {segment_id} must be bool of shape {(height, width)}, "
                f"got {mask.dtype} of shape {mask.shape}"
            )
        if overlap == "error":
            taken = np.unique(label_map[mask])
            pairs.update((int(other), segment_id) for other in taken[taken != 0])
        label_map[mask] = segment_id
    if pairs:
        raise OverlapError(sorted(pairs))
    return label_map


def _segment_id(key: object) -> int:
    if isinstance(key, bool | np.bool_):
        raise ValueError(f"segment id must be an integer, got {key!r}")
    try:
        segment_id = operator.index(key)
    except TypeError:
        raise ValueError(f"segment id must be an integer, got {key!r}") from None
    if not 1 <= segment_id <= MAX_SEGMENT_ID:
        raise ValueError(f"segment id must lie in 1..2**32-1, got {segment_id}")
    return segment_id
