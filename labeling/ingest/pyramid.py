"""Cut an image into a tile pyramid so very large images (20k x 20k and more) open quickly in a browser.

Level 0 is full resolution; level k is downsampled by 2**k with sizes rounded up; the last level is the first
that fits in one tile. Tiles are addressed (level, x, y) with x the column and y the row, and edge tiles are
cropped to the image rather than padded.

Tile format, measured on two 4096x4096 photo-like images (256 tiles of 256x256, one core of this container):
  JPEG q85:            0.3-0.4 ms/tile, 13-16 kB/tile
  WebP q85, method 0:  2.1-2.6 ms/tile,  9-14 kB/tile   (method 4, Pillow's default: 7.6-10 ms, 10-14 kB)
and on a whole 20k x 20k JPEG (8,380 tiles): JPEG 9.8 s / 108 MB of tiles, WebP 20.9 s / 62 MB.
JPEG encodes 5-8x faster at 1-1.7x the size, so opaque images get JPEG q85 tiles (`fmt="WEBP"` trades build time
for bandwidth). JPEG has no alpha, so images with transparency get lossy WebP q85 tiles (method 0; libwebp keeps
the alpha plane itself lossless).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from PIL import Image, ImageOps

from labeling.ingest.errors import Cancelled
from labeling.ingest.images import ALLOWED_FORMATS, DEFAULT_MAX_PIXELS, pillow_pixel_limit, to_display_rgb

PYRAMID_TILE_SIZE = 256
TILE_QUALITY = 85
THUMBNAIL_QUALITY = 85
# How often progress is reported within a level; a 20k x 20k level 0 has 6,241 tiles.
_PROGRESS_EVERY_TILES = 64

TileFormat = Literal["JPEG", "WEBP"]
WriteTile = Callable[[int, int, int, bytes], None]
Progress = Callable[[float], bool | None]


class PyramidLevel(NamedTuple):
    width: int
    height: int
    cols: int
    rows: int


@dataclass(frozen=True)
class PyramidLayout:
    """The shape of a pyramid: what the viewer needs to request tiles. `levels[0]` is full resolution."""

    width: int
    height: int
    tile_size: int
    levels: tuple[PyramidLevel, ...]
    tile_format: str = "JPEG"

    @property
    def tile_count(self) -> int:
        return sum(level.cols * level.rows for level in self.levels)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def pyramid_layout(
    *, width: int, height: int, tile_size: int = PYRAMID_TILE_SIZE, tile_format: str = "JPEG"
) -> PyramidLayout:
    """The levels of a pyramid for a width x height image, halving (rounded up) until one tile holds it all."""
    if width <= 0 or height <= 0 or tile_size <= 0:
        raise ValueError(f"invalid pyramid size {width}x{height} / tile {tile_size}")
    levels = []
    w, h = width, height
    while True:
        levels.append(PyramidLevel(w, h, _ceil_div(w, tile_size), _ceil_div(h, tile_size)))
        if w <= tile_size and h <= tile_size:
            break
        w, h = _ceil_div(w, 2), _ceil_div(h, 2)
    return PyramidLayout(width=width, height=height, tile_size=tile_size, levels=tuple(levels), tile_format=tile_format)


def build_pyramid(
    path: str | os.PathLike[str],
    *,
    write_tile: WriteTile,
    tile_size: int = PYRAMID_TILE_SIZE,
    progress: Progress | None = None,
    fmt: TileFormat | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> PyramidLayout:
    """Decode an (already validated) image once and call `write_tile(level, x, y, encoded)` for every tile.

    `fmt` None picks JPEG, or WebP when the image has alpha (see the module note); "JPEG" on an image with alpha
    flattens it onto white. Level k+1 is made from level k with a 2x2 box average (`Image.reduce(2)`), and each
    level is freed once the next exists, so memory peaks at about 1.25x one full-resolution RGB(A) copy
    (Pillow uses 4 bytes per pixel: 1.95 GB peak RSS for a 20k x 20k JPEG).
    `progress(fraction)` is called every few dozen tiles and after each level; returning False raises `Cancelled`.
    """
    with pillow_pixel_limit(max_pixels):
        with Image.open(path, formats=sorted(ALLOWED_FORMATS)) as source:
            ImageOps.exif_transpose(source, in_place=True)
            level = to_display_rgb(source)
            if level is not source:
                source.close()  # releases the decoded pixels; only the display copy is kept
        has_alpha = level.mode == "RGBA"
        tile_format: TileFormat = fmt or ("WEBP" if has_alpha else "JPEG")
        if tile_format == "JPEG" and has_alpha:
            level = _flatten_on_white(level)
        layout = pyramid_layout(width=level.width, height=level.height, tile_size=tile_size, tile_format=tile_format)
        total, done = layout.tile_count, 0

        def report() -> None:
            if progress is not None and progress(done / total) is False:
                raise Cancelled("pyramid build cancelled")

        try:
            for index, spec in enumerate(layout.levels):
                if level.size != (spec.width, spec.height):  # reduce() rounds up exactly like the layout
                    raise AssertionError(f"level {index} is {level.size}, layout expects {spec[:2]}")
                for y in range(spec.rows):
                    for x in range(spec.cols):
                        box = (x * tile_size, y * tile_size, min(spec.width, (x + 1) * tile_size),
                               min(spec.height, (y + 1) * tile_size))
                        with level.crop(box) as tile:
                            write_tile(index, x, y, _encode_tile(tile, tile_format))
                        done += 1
                        if done % _PROGRESS_EVERY_TILES == 0:
                            report()
                if index + 1 < len(layout.levels):
                    smaller = level.reduce(2)
                    level.close()
                    level = smaller
                report()
        finally:
            level.close()
    return layout


def _encode_tile(tile: Image.Image, tile_format: TileFormat) -> bytes:
    buffer = io.BytesIO()
    if tile_format == "JPEG":
        tile.save(buffer, "JPEG", quality=TILE_QUALITY)
    else:
        tile.save(buffer, "WEBP", quality=TILE_QUALITY, method=0)
    return buffer.getvalue()


def _flatten_on_white(img: Image.Image) -> Image.Image:
    background = Image.new("RGB", img.size, (255, 255, 255))
    background.paste(img, mask=img.getchannel("A"))
    img.close()
    return background


def make_thumbnail(path: str | os.PathLike[str], *, size: int = 256, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """A JPEG at most size x size, upright and with the aspect ratio kept (transparency flattened onto white).

    For JPEG sources `draft` asks libjpeg to decode at 1/2..1/8 scale directly, so a 20k x 20k JPEG costs a few
    MB instead of 1.2 GB; other formats are decoded fully and reduced.
    """
    with pillow_pixel_limit(max_pixels):
        with Image.open(path, formats=sorted(ALLOWED_FORMATS)) as img:
            if img.format in ("JPEG", "MPO"):
                img.draft(None, (size, size))
            upright = ImageOps.exif_transpose(img)
        try:
            upright.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
            display = to_display_rgb(upright)
            if display.mode == "RGBA":
                display = _flatten_on_white(display)
            buffer = io.BytesIO()
            display.save(buffer, "JPEG", quality=THUMBNAIL_QUALITY)
        finally:
            upright.close()
    return buffer.getvalue()
