"""Pure mask geometry and codecs (no Django): label-map tiles, COCO RLE, polygons, per-segment masks."""

from labeling.masks.labelmap import (
    MAX_SEGMENT_ID,
    OverlapError,
    iter_segment_masks,
    map_to_masks,
    masks_to_map,
    segment_stats,
)
from labeling.masks.polygons import mask_to_rings, polygon_area, rasterize_rings
from labeling.masks.rle import mask_to_rle, rle_area, rle_bbox, rle_to_mask
from labeling.masks.tiles import (
    TILE_SIZE,
    SegmentStats,
    TileCodecError,
    TileStats,
    assemble_map,
    decode_tile,
    encode_tile,
    ids_in_tile,
    merge_stats,
    split_map,
    tile_grid,
    tile_is_empty,
    tile_shape,
    tile_stats,
)

__all__ = [
    "MAX_SEGMENT_ID",
    "TILE_SIZE",
    "OverlapError",
    "SegmentStats",
    "TileCodecError",
    "TileStats",
    "assemble_map",
    "decode_tile",
    "encode_tile",
    "ids_in_tile",
    "iter_segment_masks",
    "map_to_masks",
    "mask_to_rings",
    "mask_to_rle",
    "masks_to_map",
    "merge_stats",
    "polygon_area",
    "rasterize_rings",
    "rle_area",
    "rle_bbox",
    "rle_to_mask",
    "segment_stats",
    "split_map",
    "tile_grid",
    "tile_is_empty",
    "tile_shape",
    "tile_stats",
]
