"""Label-map tile codec: grid geometry, lossless wire format, bomb-safe decoding, per-tile stats."""

import time
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from labeling.masks.tiles import (
    TILE_SIZE,
    TileCodecError,
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

MAX_ID = 2**32 - 1
# Ids across the whole uint32 range: float32 (2**24) and int32 (2**31) round-trips would break on these.
ids = st.one_of(st.integers(0, MAX_ID), st.sampled_from([0, 1, 2**24, 2**24 + 1, 2**31, MAX_ID - 1, MAX_ID]))
label_maps = arrays(
    np.uint32,
    st.tuples(st.integers(1, 40), st.integers(1, 40)),
    elements=st.integers(0, MAX_ID),
)
# Few distinct ids, so segments span tiles the way real ones do.
few_id_maps = st.integers(1, 6).flatmap(
    lambda k: st.lists(ids, min_size=k, max_size=k).flatmap(
        lambda palette: arrays(
            np.uint32, st.tuples(st.integers(1, 40), st.integers(1, 40)), elements=st.sampled_from(palette)
        )
    )
)
fast = settings(max_examples=200, deadline=None)


def reference_stats(label_map, *, x0=0, y0=0):
    """Per-id stats by brute force, independent of the run-based implementation."""
    stats = {}
    for segment_id in np.unique(label_map):
        if segment_id == 0:
            continue
        ys, xs = np.nonzero(label_map == segment_id)
        stats[int(segment_id)] = (len(xs), xs.min() + x0, ys.min() + y0, xs.max() + x0, ys.max() + y0)
    return stats


def zlib_bomb(total_bytes: int, chunk: int = 1 << 20) -> bytes:
    """A valid zlib stream of `total_bytes` zeros, about 1000x smaller, built without inflating anything.

    After a full flush the compressor has forgotten its history, so every further chunk of zeros compresses
    to the same bytes; the Adler-32 of n zeros is (n mod 65521) << 16 | 1.
    """
    compressor = zlib.compressobj(9)
    zeros = bytes(chunk)
    head = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    body = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH) == body
    end = compressor.flush()[:-4]
    adler = ((total_bytes % 65521) << 16) | 1
    return head + body * (total_bytes // chunk - 1) + end + adler.to_bytes(4, "big")


# --- grid --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "tile_size", "grid"),
    [
        (1024, 1024, 512, (2, 2)),
        (1025, 512, 512, (3, 1)),
        (1, 1, 512, (1, 1)),
        (513, 1, 512, (2, 1)),
        (0, 0, 512, (0, 0)),
        (7, 5, 1, (7, 5)),
    ],
)
def test_tile_grid(width, height, tile_size, grid):
    assert tile_grid(width=width, height=height, tile_size=tile_size) == grid


def test_tile_size_default():
    assert TILE_SIZE == 512
    assert tile_grid(width=1300, height=600) == (3, 2)
    assert tile_shape(width=1300, height=600, tx=2, ty=1) == (88, 276)


def test_edge_tiles_are_cropped_not_padded():
    assert tile_shape(width=1100, height=700, tx=0, ty=0, tile_size=512) == (512, 512)
    assert tile_shape(width=1100, height=700, tx=2, ty=0, tile_size=512) == (512, 76)
    assert tile_shape(width=1100, height=700, tx=1, ty=1, tile_size=512) == (188, 512)
    assert tile_shape(width=1100, height=700, tx=2, ty=1, tile_size=512) == (188, 76)


@pytest.mark.parametrize(("tx", "ty"), [(3, 0), (0, 2), (-1, 0), (0, -1)])
def test_tile_shape_rejects_tiles_outside_the_grid(tx, ty):
    with pytest.raises(TileCodecError, match="outside"):
        tile_shape(width=1100, height=700, tx=tx, ty=ty, tile_size=512)


def test_bad_sizes_are_rejected():
    with pytest.raises(TileCodecError):
        tile_grid(width=10, height=10, tile_size=0)
    with pytest.raises(TileCodecError):
        tile_grid(width=-1, height=10)


# --- split / assemble --------------------------------------------------------------------------------------


@fast
@given(label_map=few_id_maps, tile_size=st.integers(1, 17))
def test_split_then_assemble_is_exact(label_map, tile_size):
    height, width = label_map.shape
    tiles = split_map(label_map, tile_size=tile_size)
    cols, rows = tile_grid(width=width, height=height, tile_size=tile_size)
    assert set(tiles) == {(tx, ty) for tx in range(cols) for ty in range(rows)}
    for (tx, ty), tile in tiles.items():
        assert tile.shape == tile_shape(width=width, height=height, tx=tx, ty=ty, tile_size=tile_size)
        corner = label_map[ty * tile_size :, tx * tile_size :]
        np.testing.assert_array_equal(tile, corner[: tile.shape[0], : tile.shape[1]])
    rebuilt = assemble_map(width=width, height=height, tiles=tiles, tile_size=tile_size)
    assert rebuilt.dtype == np.uint32
    np.testing.assert_array_equal(rebuilt, label_map)


def test_assemble_fills_missing_tiles_with_zeros():
    label_map = np.arange(1, 1 + 5 * 7, dtype=np.uint32).reshape(5, 7)
    tiles = split_map(label_map, tile_size=4)
    del tiles[(1, 0)]
    rebuilt = assemble_map(width=7, height=5, tiles=tiles, tile_size=4)
    assert not rebuilt[:4, 4:].any()
    expected = label_map.copy()
    expected[:4, 4:] = 0
    np.testing.assert_array_equal(rebuilt, expected)
    assert not assemble_map(width=7, height=5, tiles={}, tile_size=4).any()


def test_assemble_rejects_wrong_shapes_dtypes_and_keys():
    good = np.ones((4, 3), dtype=np.uint32)  # the (1, 0) tile of a 7x5 map with 4 px tiles
    assemble_map(width=7, height=5, tiles={(1, 0): good}, tile_size=4)
    with pytest.raises(TileCodecError, match="shape"):
        assemble_map(width=7, height=5, tiles={(1, 0): np.ones((4, 4), dtype=np.uint32)}, tile_size=4)
    with pytest.raises(TileCodecError, match="dtype"):
        assemble_map(width=7, height=5, tiles={(1, 0): good.astype(np.int64)}, tile_size=4)
    with pytest.raises(TileCodecError, match="outside"):
        assemble_map(width=7, height=5, tiles={(2, 0): good}, tile_size=4)


def test_split_rejects_non_label_maps():
    with pytest.raises(TileCodecError):
        split_map(np.zeros((4, 4), dtype=np.int32))
    with pytest.raises(TileCodecError):
        split_map(np.zeros((4, 4, 1), dtype=np.uint32))


# --- encode / decode ---------------------------------------------------------------------------------------


@fast
@given(tile=arrays(np.uint32, st.tuples(st.integers(1, 24), st.integers(1, 24)), elements=ids))
def test_encode_decode_is_exact(tile):
    data = encode_tile(tile)
    decoded = decode_tile(data, shape=tile.shape)
    assert decoded.dtype == np.uint32 and decoded.dtype.isnative
    assert decoded.flags.writeable and decoded.flags.c_contiguous
    np.testing.assert_array_equal(decoded, tile)


def test_wire_format_is_zlib_of_little_endian_row_major_uint32():
    tile = np.array([[0, 1, 2**24 + 1], [2**31, MAX_ID - 1, MAX_ID]], dtype=np.uint32)
    data = encode_tile(tile)
    # RFC 1950 header: deflate method, check bits; what DecompressionStream('deflate') expects.
    assert data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
    raw = zlib.decompress(data)
    assert raw == b"".join(int(v).to_bytes(4, "little") for v in tile.ravel())
    # A big-endian or non-contiguous input is the same tile, so the same bytes.
    assert encode_tile(tile.astype(">u4")) == data
    wide = np.zeros((2, 6), dtype=np.uint32)
    wide[:, ::2] = tile
    assert encode_tile(wide[:, ::2]) == data


def test_decode_returns_a_fresh_array():
    tile = np.full((3, 3), 7, dtype=np.uint32)
    decoded = decode_tile(encode_tile(tile), shape=(3, 3))
    decoded[0, 0] = 9  # writable, and owns its memory
    assert decode_tile(encode_tile(tile), shape=(3, 3))[0, 0] == 7


def test_encode_accepts_integer_tiles_in_range_only():
    np.testing.assert_array_equal(decode_tile(encode_tile(np.array([[1, 2]])), shape=(1, 2)), [[1, 2]])
    for bad in (np.array([[-1]]), np.array([[2**32]]), np.array([[1.0]]), np.zeros((0, 3), np.uint32),
                np.zeros(3, np.uint32)):
        with pytest.raises(TileCodecError):
            encode_tile(bad)


def test_realistic_tile_compresses_well():
    rng = np.random.default_rng(3)
    tile = _blob_tile(rng, segments=20)
    assert len(encode_tile(tile)) < tile.nbytes / 20


@pytest.fixture(scope="module")
def encoded_4x4():
    return encode_tile(np.arange(16, dtype=np.uint32).reshape(4, 4) * 0x01010101)


@pytest.mark.parametrize("cut", [0, 1, 2, 5, -1, -4, -5])
def test_decode_rejects_truncated_data(encoded_4x4, cut):
    data = encoded_4x4[:cut] if cut else b""
    with pytest.raises(TileCodecError):
        decode_tile(data, shape=(4, 4))


@pytest.mark.parametrize(
    "data", [b"not a zlib stream", bytes(64), bytes(range(256)), b"\x78\x9c" + b"\xff" * 40]
)
def test_decode_rejects_garbage(data):
    with pytest.raises(TileCodecError):
        decode_tile(data, shape=(4, 4))


def test_decode_rejects_corrupt_checksum(encoded_4x4):
    corrupt = encoded_4x4[:-1] + bytes([encoded_4x4[-1] ^ 1])
    with pytest.raises(TileCodecError):
        decode_tile(corrupt, shape=(4, 4))


@pytest.mark.parametrize("shape", [(4, 5), (5, 4), (3, 4), (4, 3), (1, 1), (16, 16)])
def test_decode_rejects_wrong_length(encoded_4x4, shape):
    with pytest.raises(TileCodecError):
        decode_tile(encoded_4x4, shape=shape)


@pytest.mark.parametrize("extra", [b"\x00", b"trailing", None])
def test_decode_rejects_trailing_bytes(encoded_4x4, extra):
    data = encoded_4x4 + (extra if extra is not None else encoded_4x4)
    with pytest.raises(TileCodecError, match="trailing"):
        decode_tile(data, shape=(4, 4))


@pytest.mark.parametrize("shape", [(0, 4), (4, 0), (-1, -1)])
def test_decode_rejects_empty_shapes(encoded_4x4, shape):
    # max_length=0 would mean "no limit" to zlib.
    with pytest.raises(TileCodecError):
        decode_tile(encoded_4x4, shape=shape)


def test_zlib_bomb_helper_builds_a_valid_stream():
    small = zlib_bomb(8 << 20)
    assert zlib.decompress(small) == bytes(8 << 20)


def test_decode_rejects_a_bomb_fast_without_inflating_it():
    bomb = zlib_bomb(1 << 30)  # 1 GiB of zeros
    assert len(bomb) < 2 << 20
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(TileCodecError, match="more than"):
            decode_tile(bomb, shape=(512, 512))
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 16 << 20  # the 1 MiB tile bound plus a copy of the input, not a gigabyte


def test_decode_rejects_a_stream_one_pixel_too_long():
    data = encode_tile(np.ones((4, 5), dtype=np.uint32))
    with pytest.raises(TileCodecError, match="more than"):
        decode_tile(data, shape=(4, 4))
    with pytest.raises(TileCodecError):
        decode_tile(data, shape=(3, 5))


# --- stats -------------------------------------------------------------------------------------------------


def test_tile_stats_by_hand():
    tile = np.array(
        [
            [0, 5, 5, 0],
            [7, 5, 0, 0],
            [7, 7, 0, MAX_ID],
        ],
        dtype=np.uint32,
    )
    assert tile_stats(tile, x0=0, y0=0) == {5: (3, 1, 0, 2, 1), 7: (3, 0, 1, 1, 2), MAX_ID: (1, 3, 2, 3, 2)}
    assert tile_stats(tile, x0=512, y0=1024) == {
        5: (3, 513, 1024, 514, 1025),
        7: (3, 512, 1025, 513, 1026),
        MAX_ID: (1, 515, 1026, 515, 1026),
    }
    assert tile_stats(np.zeros((3, 3), dtype=np.uint32), x0=0, y0=0) == {}
    stats = tile_stats(tile, x0=0, y0=0)
    assert all(type(v) is int for key, value in stats.items() for v in (key, *value))


@fast
@given(label_map=few_id_maps, x0=st.integers(0, 10**6), y0=st.integers(0, 10**6))
def test_tile_stats_match_brute_force(label_map, x0, y0):
    assert tile_stats(label_map, x0=x0, y0=y0) == reference_stats(label_map, x0=x0, y0=y0)


@fast
@given(label_map=few_id_maps, tile_size=st.integers(1, 17))
def test_stats_merged_over_tiles_equal_stats_of_the_whole_map(label_map, tile_size):
    per_tile = [
        tile_stats(tile, x0=tx * tile_size, y0=ty * tile_size)
        for (tx, ty), tile in split_map(label_map, tile_size=tile_size).items()
    ]
    assert merge_stats(per_tile) == tile_stats(label_map, x0=0, y0=0) == reference_stats(label_map)


def test_merge_stats_by_hand():
    merged = merge_stats([{1: (4, 10, 20, 11, 21)}, {1: (2, 5, 25, 6, 25), 2: (1, 0, 0, 0, 0)}, {}])
    assert merged == {1: (6, 5, 20, 11, 25), 2: (1, 0, 0, 0, 0)}
    assert merge_stats([]) == {}


def test_tile_stats_of_a_512_tile_with_20_segments_is_fast():
    tile = _blob_tile(np.random.default_rng(0), segments=20)
    assert len(ids_in_tile(tile)) >= 15
    tile_stats(tile, x0=0, y0=0)
    best = min(_timed(lambda: tile_stats(tile, x0=0, y0=0)) for _ in range(5))
    assert best < 0.010


def test_tile_is_empty_and_ids_in_tile():
    tile = np.zeros((4, 4), dtype=np.uint32)
    assert tile_is_empty(tile)
    assert ids_in_tile(tile) == set()
    tile[3, 3] = MAX_ID
    tile[0, 1] = 2**24 + 1
    assert not tile_is_empty(tile)
    assert ids_in_tile(tile) == {MAX_ID, 2**24 + 1}
    assert all(type(i) is int for i in ids_in_tile(tile))


def _blob_tile(rng, *, segments, size=512):
    yy, xx = np.mgrid[:size, :size]
    tile = np.zeros((size, size), dtype=np.uint32)
    for segment_id in range(1, segments + 1):
        cx, cy = rng.uniform(0, size, 2)
        rx, ry = rng.uniform(20, 120, 2)
        tile[((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1] = segment_id * 104729
    return tile


def _timed(fn):
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started
