"""The superpixel core (workers/runners/superpixels.py): pure, no Django models, no database."""

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata
from skimage.measure import label as connected_components

from labeling.ingest.errors import Cancelled
from labeling.masks.tiles import TileCodecError
from workers.runners import superpixels as sp


def _photo(width: int, height: int) -> np.ndarray:
    with Image.fromarray(skdata.astronaut()) as img:
        return np.asarray(img.resize((width, height), Image.Resampling.BILINEAR))


def _encoded(rgb: np.ndarray, fmt: str = "PNG", **save) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, fmt, **save)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [((640, 480), 2048, (640, 480)), ((4000, 1000), 2048, (2048, 512)), ((1000, 4000), 2048, (512, 2048)),
     ((20000, 20000), 2048, (2048, 2048)), ((30000, 7), 1000, (1000, 1)), ((3, 5), 4, (2, 4))],
)
def test_grid_size_keeps_aspect_and_never_enlarges(size, max_side, expected):
    assert sp.grid_size(width=size[0], height=size[1], max_side=max_side) == expected


def test_grid_size_rejects_nonsense():
    with pytest.raises(ValueError):
        sp.grid_size(width=0, height=5, max_side=10)
    with pytest.raises(ValueError):
        sp.grid_size(width=5, height=5, max_side=0)


def test_compute_grid_labels_every_cell_with_ids_1_to_count_each_one_connected_region():
    rgb = _photo(320, 240)
    result = sp.compute_grid(rgb, granularity=200)
    grid = result.grid
    assert grid.dtype == np.uint32 and grid.shape == (240, 320)
    assert grid.min() >= 1, "every cell is labeled"
    assert set(np.unique(grid).tolist()) == set(range(1, result.count + 1))
    # Roughly the requested number of regions (SLIC's grid plus the connectivity split).
    assert 100 <= result.count <= 400
    # One id = one 4-connected region: relabelling components finds exactly `count` of them.
    assert connected_components(grid, background=0, connectivity=1).max() == result.count


def test_compute_grid_is_deterministic():
    rgb = _photo(200, 150)
    first = sp.compute_grid(rgb, granularity=120)
    second = sp.compute_grid(rgb.copy(), granularity=120)
    assert first.count == second.count
    assert np.array_equal(first.grid, second.grid)


def test_finer_granularity_gives_more_regions():
    rgb = _photo(300, 200)
    counts = [sp.compute_grid(rgb, granularity=g).count for g in (50, 300, 1500)]
    assert counts == sorted(counts) and counts[0] < counts[-1]


def test_compute_grid_rejects_bad_input():
    with pytest.raises(ValueError):
        sp.compute_grid(np.zeros((10, 10), dtype=np.uint8), granularity=5)
    with pytest.raises(ValueError):
        sp.compute_grid(np.zeros((10, 10, 3), dtype=np.uint8), granularity=0)


def test_cell_of_is_the_documented_formula_and_covers_the_grid():
    width, height, gw, gh = 1003, 701, 97, 61
    xs = np.arange(width)
    ys = np.arange(height)
    cells_x = [sp.cell_of(int(x), 0, width=width, height=height, grid_width=gw, grid_height=gh)[0] for x in xs]
    cells_y = [sp.cell_of(0, int(y), width=width, height=height, grid_width=gw, grid_height=gh)[1] for y in ys]
    assert cells_x == [int(np.floor(x * gw / width)) for x in xs]
    assert cells_y == [int(np.floor(y * gh / height)) for y in ys]
    # Monotone, starts at 0, ends at the last cell, and every cell receives at least one pixel (W >= gw).
    assert cells_x[0] == 0 and cells_x[-1] == gw - 1 and sorted(set(cells_x)) == list(range(gw))
    assert cells_y[0] == 0 and cells_y[-1] == gh - 1 and sorted(set(cells_y)) == list(range(gh))


def test_upsample_follows_cell_of_pixel_by_pixel():
    rng = np.random.default_rng(3)
    grid = rng.integers(1, 50, size=(7, 11), dtype=np.uint32)
    width, height = 37, 23
    full = sp.upsample(grid, width=width, height=height)
    assert full.shape == (height, width)
    for y in range(height):
        for x in range(width):
            cx, cy = sp.cell_of(x, y, width=width, height=height, grid_width=11, grid_height=7)
            assert full[y, x] == grid[cy, cx]


def test_encoding_round_trips_through_the_tile_codec():
    result = sp.compute_grid(_photo(150, 100), granularity=60)
    blob = sp.encode_grid(result.grid)
    assert isinstance(blob, bytes) and blob[:1] == b"\x78"  # a zlib stream
    assert np.array_equal(sp.decode_grid(blob, width=150, height=100), result.grid)
    with pytest.raises(TileCodecError):
        sp.decode_grid(blob, width=151, height=100)


def test_compute_superpixels_reduces_large_images_and_reports_progress():
    rgb = _photo(900, 600)
    calls = []
    grids = list(sp.compute_superpixels(_encoded(rgb), width=900, height=600, granularities=[40, 200],
                                        max_side=300, progress=lambda f: calls.append(f) or True))
    assert [g.granularity for g in grids] == [40, 200]
    assert all((g.width, g.height) == (300, 200) for g in grids)
    assert calls == sorted(calls) and calls[0] > 0 and calls[-1] == pytest.approx(1.0)


def test_compute_superpixels_uses_jpeg_draft_and_still_gets_the_exact_grid_size():
    rgb = _photo(2000, 1000)
    (grid,) = sp.compute_superpixels(_encoded(rgb, "JPEG", quality=90), width=2000, height=1000,
                                     granularities=[100], max_side=250)
    assert (grid.width, grid.height) == (250, 125)
    assert grid.grid.min() == 1 and grid.grid.max() == grid.count


def test_compute_superpixels_applies_exif_orientation():
    rgb = _photo(400, 200)  # stored landscape, shown portrait (orientation 6: rotate 90 degrees clockwise)
    exif = Image.Exif()
    exif[0x0112] = 6
    source = _encoded(rgb, "JPEG", quality=90, exif=exif.tobytes())
    (grid,) = sp.compute_superpixels(source, width=200, height=400, granularities=[30], max_side=100)
    assert (grid.width, grid.height) == (50, 100)


def test_compute_superpixels_flattens_alpha_and_handles_grayscale():
    rgba = np.dstack([_photo(120, 80), np.full((80, 120), 128, dtype=np.uint8)])
    (grid,) = sp.compute_superpixels(_encoded(rgba), width=120, height=80, granularities=[20])
    assert grid.grid.shape == (80, 120)
    gray = _photo(120, 80)[..., 0]
    (grid,) = sp.compute_superpixels(_encoded(gray), width=120, height=80, granularities=[20])
    assert grid.grid.min() == 1


def test_cancelling_through_progress_stops_the_work():
    grids = sp.compute_superpixels(_encoded(_photo(120, 80)), width=120, height=80, granularities=[20, 40],
                                   progress=lambda f: False)
    with pytest.raises(Cancelled):
        list(grids)


def test_noise_does_not_collapse_into_one_region():
    noise = np.random.default_rng(0).integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    assert sp.compute_grid(noise, granularity=300).count > 100
