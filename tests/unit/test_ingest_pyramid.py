"""Tile pyramid layout, building, cancellation and thumbnails (labeling.ingest.pyramid)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from labeling.ingest.errors import Cancelled
from labeling.ingest.pyramid import (
    PYRAMID_TILE_SIZE,
    PyramidLevel,
    build_pyramid,
    make_thumbnail,
    pyramid_layout,
)


def _smooth(width: int, height: int, alpha: bool = False) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = [127 + 120 * np.sin(x / 37), 127 + 120 * np.cos(y / 23), (x + y) * 255 / (width + height)]
    if alpha:
        channels.append(np.where(x < width / 2, 255, 64))
    return Image.fromarray(np.stack(channels, -1).astype(np.uint8), "RGBA" if alpha else "RGB")


def _collect(path: Path, **options) -> tuple[object, dict[tuple[int, int, int], bytes]]:
    tiles: dict[tuple[int, int, int], bytes] = {}

    def write_tile(level: int, x: int, y: int, data: bytes) -> None:
        assert (level, x, y) not in tiles, "tile written twice"
        tiles[level, x, y] = data

    return build_pyramid(path, write_tile=write_tile, **options), tiles


# --- layout -------------------------------------------------------------------------------------------------------


def test_layout_of_a_20k_square_image():
    layout = pyramid_layout(width=20_000, height=20_000)

    sizes = [20_000, 10_000, 5_000, 2_500, 1_250, 625, 313, 157]
    assert layout.tile_size == PYRAMID_TILE_SIZE == 256
    assert layout.levels == tuple(PyramidLevel(s, s, math.ceil(s / 256), math.ceil(s / 256)) for s in sizes)
    assert layout.tile_count == 6241 + 1600 + 400 + 100 + 25 + 9 + 4 + 1


def test_layout_halves_with_rounding_up_and_stops_at_one_tile():
    layout = pyramid_layout(width=1000, height=257, tile_size=256)

    assert layout.levels == (PyramidLevel(1000, 257, 4, 2), PyramidLevel(500, 129, 2, 1),
                             PyramidLevel(250, 65, 1, 1))


@pytest.mark.parametrize(("width", "height", "levels"), [(1, 1, 1), (256, 256, 1), (257, 1, 2), (1, 513, 3)])
def test_layout_level_counts_at_the_edges(width, height, levels):
    layout = pyramid_layout(width=width, height=height)

    assert len(layout.levels) == levels
    assert layout.levels[-1].cols == layout.levels[-1].rows == 1


def test_layout_rejects_empty_images():
    with pytest.raises(ValueError):
        pyramid_layout(width=0, height=10)


# --- building -----------------------------------------------------------------------------------------------------


def test_every_tile_is_written_once_with_the_right_size(tmp_path):
    source = _smooth(700, 300)
    path = tmp_path / "a.png"
    source.save(path)

    layout, tiles = _collect(path, tile_size=128)

    assert layout == pyramid_layout(width=700, height=300, tile_size=128)
    expected = {(k, x, y) for k, lv in enumerate(layout.levels) for y in range(lv.rows) for x in range(lv.cols)}
    assert set(tiles) == expected
    for (k, x, y), data in tiles.items():
        level = layout.levels[k]
        tile = Image.open(io.BytesIO(data))
        assert tile.format == "JPEG" and tile.mode == "RGB"
        # Edge tiles are cropped to the image, not padded.
        assert tile.size == (min(128, level.width - x * 128), min(128, level.height - y * 128))


def test_tiles_show_the_right_part_of_each_level(tmp_path):
    source = _smooth(700, 300)
    path = tmp_path / "a.png"
    source.save(path)

    layout, tiles = _collect(path, tile_size=128)

    full = np.asarray(source, dtype=np.int16)
    edge = np.asarray(Image.open(io.BytesIO(tiles[0, 5, 2])), dtype=np.int16)  # bottom-right tile of level 0
    assert np.abs(edge - full[256:300, 640:700]).mean() < 4
    quarter = np.asarray(Image.open(io.BytesIO(tiles[2, 1, 0])), dtype=np.int16)  # level 2 is 175x75
    assert quarter.shape == (75, 47, 3)
    assert np.abs(quarter - np.asarray(source.reduce(4), dtype=np.int16)[:, 128:]).mean() < 4
    top = np.asarray(Image.open(io.BytesIO(tiles[3, 0, 0])), dtype=np.int16)
    assert len(layout.levels) == 4 and top.shape == (38, 88, 3)
    assert np.abs(top - np.asarray(source.reduce(8), dtype=np.int16)).mean() < 4


def test_single_pixel_image_has_one_tile(tmp_path):
    path = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (10, 200, 30)).save(path)

    layout, tiles = _collect(path)

    assert layout.levels == (PyramidLevel(1, 1, 1, 1),)
    assert list(tiles) == [(0, 0, 0)]
    assert Image.open(io.BytesIO(tiles[0, 0, 0])).size == (1, 1)


def test_alpha_images_get_webp_tiles_keeping_transparency(tmp_path):
    path = tmp_path / "a.png"
    _smooth(300, 200, alpha=True).save(path)

    layout, tiles = _collect(path)

    assert layout.tile_format == "WEBP"
    tile = Image.open(io.BytesIO(tiles[0, 1, 0]))
    assert tile.format == "WEBP" and tile.mode == "RGBA" and tile.size == (44, 200)
    assert tile.getpixel((40, 10))[3] == 64  # right half is translucent


def test_forced_jpeg_flattens_alpha(tmp_path):
    path = tmp_path / "a.png"
    _smooth(300, 200, alpha=True).save(path)

    layout, tiles = _collect(path, fmt="JPEG")

    assert layout.tile_format == "JPEG"
    assert Image.open(io.BytesIO(tiles[0, 0, 0])).mode == "RGB"


def test_webp_can_be_requested_for_opaque_images(tmp_path):
    path = tmp_path / "a.jpg"
    _smooth(300, 200).save(path)

    layout, tiles = _collect(path, fmt="WEBP")

    assert layout.tile_format == "WEBP"
    assert all(Image.open(io.BytesIO(data)).format == "WEBP" for data in tiles.values())


def test_exif_orientation_is_applied_once(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    for name in ("a.jpg", "a.tif"):  # Pillow itself rotates TIFFs on load; it must not happen twice
        path = tmp_path / name
        _smooth(300, 100).save(path, exif=exif)

        layout, _ = _collect(path)

        assert (layout.width, layout.height) == (100, 300)


def test_16_bit_images_are_displayable(tmp_path):
    path = tmp_path / "depth.png"
    Image.fromarray(np.arange(300 * 20, dtype=np.uint16).reshape(20, 300) * 9).save(path)

    _, tiles = _collect(path)

    tile = np.asarray(Image.open(io.BytesIO(tiles[0, 0, 0])))
    assert tile.shape == (20, 256, 3) and tile.max() > 200 and tile.min() < 10


def test_progress_reaches_one_and_never_goes_back(tmp_path):
    path = tmp_path / "a.png"
    _smooth(1200, 1000).save(path)
    seen: list[float] = []

    layout, _ = _collect(path, tile_size=64, progress=seen.append)

    assert len(seen) >= len(layout.levels)
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_progress_returning_false_cancels(tmp_path):
    path = tmp_path / "a.png"
    _smooth(1200, 1000).save(path)
    written: list[tuple[int, int, int]] = []

    with pytest.raises(Cancelled):
        build_pyramid(path, write_tile=lambda k, x, y, data: written.append((k, x, y)), tile_size=64,
                      progress=lambda fraction: fraction < 0.2)

    total = pyramid_layout(width=1200, height=1000, tile_size=64).tile_count
    assert 0 < len(written) < total / 2


def test_pillow_global_limit_is_not_needed_for_big_images(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    path = tmp_path / "a.png"
    _smooth(300, 200).save(path)

    layout, _ = _collect(path, max_pixels=10**6)

    assert layout.width == 300 and Image.MAX_IMAGE_PIXELS == 100


# --- thumbnails ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "size", "expected"),
                         [("a.jpg", (1000, 500), (256, 128)), ("a.png", (300, 900), (85, 256)),
                          ("a.webp", (100, 50), (100, 50))])
def test_thumbnail_keeps_aspect_ratio(tmp_path, name, size, expected):
    path = tmp_path / name
    _smooth(*size).save(path)

    thumb = Image.open(io.BytesIO(make_thumbnail(path)))

    assert thumb.format == "JPEG" and thumb.size == expected


def test_thumbnail_is_upright_and_flattens_alpha(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 8
    path = tmp_path / "a.png"
    _smooth(400, 200, alpha=True).save(path, exif=exif)

    thumb = Image.open(io.BytesIO(make_thumbnail(path, size=100)))

    assert thumb.mode == "RGB" and thumb.size == (50, 100)


def test_thumbnail_of_a_big_jpeg_decodes_at_reduced_scale(tmp_path, monkeypatch):
    path = tmp_path / "a.jpg"
    Image.new("RGB", (2560, 2048), (90, 160, 30)).save(path, quality=80)
    decoded_sizes: list[tuple[int, int]] = []
    original_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original_draft(self, mode, size)
        decoded_sizes.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)

    thumb = Image.open(io.BytesIO(make_thumbnail(path)))

    assert decoded_sizes == [(320, 256)]  # libjpeg decoded at 1/8 scale
    assert thumb.size == (256, 205)
