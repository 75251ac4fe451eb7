"""Upload validation, EXIF normalisation and display conversion (labeling.ingest.images). Fixtures are built here."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from labeling.ingest import images
from labeling.ingest.errors import IngestRejected
from labeling.ingest.images import InspectedImage, inspect_image, normalize_image, to_display_rgb

MAX = 10_000_000



def _gradient(width: int = 37, height: int = 23, mode: str = "RGB") -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), (x + y) % 256], -1).astype(np.uint8)
    return Image.fromarray(rgb, "RGB").convert(mode)


def _save(tmp_path: Path, name: str, img: Image.Image, fmt: str, **options: object) -> Path:
    path = tmp_path / name
    img.save(path, fmt, **options)
    return path


def _rejected(path: Path, *, filename: str | None = None, max_pixels: int = MAX) -> IngestRejected:
    with pytest.raises(IngestRejected) as info:
        inspect_image(path, filename=path.name if filename is None else filename, max_pixels=max_pixels)
    return info.value


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# --- accepted ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "name", "options"),
    [
        ("JPEG", "a.jpg", {}),
        ("JPEG", "a.jpeg", {}),
        ("JPEG", "A.JPG", {}),
        ("PNG", "a.png", {}),
        ("TIFF", "a.tif", {}),
        ("TIFF", "a.tiff", {"compression": "tiff_lzw"}),
        ("WEBP", "a.webp", {}),
        ("BMP", "a.bmp", {}),
    ],
)
def test_allowed_formats_are_accepted_with_size_and_checksum(tmp_path, fmt, name, options):
    path = _save(tmp_path, name, _gradient(37, 23), fmt, **options)

    result = inspect_image(path, filename=name, max_pixels=MAX)

    assert result == InspectedImage(
        format=fmt, width=37, height=23, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), orientation=1
    )


def test_file_without_extension_is_judged_by_content(tmp_path):
    path = _save(tmp_path, "scan", _gradient(), "PNG")

    assert inspect_image(path, filename="scan", max_pixels=MAX).format == "PNG"


def test_only_the_base_name_of_the_filename_matters(tmp_path):
    path = _save(tmp_path, "x", _gradient(), "PNG")

    assert inspect_image(path, filename="dir.jpg/photo.png", max_pixels=MAX).format == "PNG"


def test_modes_beyond_rgb_are_accepted(tmp_path):
    for mode, fmt in [("L", "PNG"), ("LA", "PNG"), ("P", "PNG"), ("RGBA", "WEBP"), ("CMYK", "JPEG"), ("1", "BMP")]:
        ext = {"PNG": ".png", "WEBP": ".webp", "JPEG": ".jpg", "BMP": ".bmp"}[fmt]
        path = _save(tmp_path, f"m-{mode}{ext}", _gradient(mode=mode), fmt)
        assert inspect_image(path, filename=path.name, max_pixels=MAX).width == 37


def test_jpeg_with_mpo_extension_is_a_jpeg(tmp_path):
    # Phone photos append a second picture (depth map) to the JPEG: one image to every viewer.
    path = tmp_path / "phone.jpg"
    _gradient(40, 30).save(path, "MPO", save_all=True, append_images=[_gradient(20, 15)])
    assert Image.open(path).format == "MPO"

    result = inspect_image(path, filename="phone.jpg", max_pixels=MAX)

    assert (result.format, result.width, result.height) == ("JPEG", 40, 30)


# --- refused by content / name ------------------------------------------------------------------------------------


def test_empty_file(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"")

    assert _rejected(path).code == "empty_file"


@pytest.mark.parametrize("name", ["a.gif", "a.png", "gif"])
def test_gif_is_unsupported_whatever_its_name(tmp_path, name):
    path = _save(tmp_path, name, _gradient(mode="P"), "GIF")

    error = _rejected(path)

    assert error.code == "unsupported_format"
    assert "GIF" in error.message


def test_png_named_jpg_is_disguised(tmp_path):
    path = _save(tmp_path, "photo.jpg", _gradient(), "PNG")

    error = _rejected(path)

    assert error.code == "disguised_file"
    assert ".jpg" in error.message and "PNG" in error.message


def test_unknown_extension_on_an_image_is_disguised(tmp_path):
    path = _save(tmp_path, "photo.html", _gradient(), "PNG")

    assert _rejected(path).code == "disguised_file"


@pytest.mark.parametrize(
    ("content", "what"),
    [(b"<!DOCTYPE html><html><script>alert(1)</script></html>", "HTML"), (b"just some notes\n", "text")],
)
def test_non_image_named_png_is_disguised(tmp_path, content, what):
    path = tmp_path / "a.png"
    path.write_bytes(content)

    error = _rejected(path)

    assert error.code == "disguised_file"
    assert ".png" in error.message and what in error.message


def test_text_without_extension_is_unsupported(tmp_path):
    path = tmp_path / "README"
    path.write_bytes(b"hello\n")

    assert _rejected(path).code == "unsupported_format"


def test_image_magic_followed_by_garbage_is_corrupt(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)

    assert _rejected(path).code == "corrupt"


@pytest.mark.parametrize(("fmt", "name"), [("JPEG", "a.jpg"), ("PNG", "a.png"), ("TIFF", "a.tif"),
                                           ("BMP", "a.bmp"), ("WEBP", "a.webp")])
def test_truncated_images_are_refused(tmp_path, fmt, name):
    noise = np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    path = _save(tmp_path, name, Image.fromarray(noise), fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    assert _rejected(path).code == "truncated"


def test_corrupt_pixel_data_is_refused(tmp_path):
    path = _save(tmp_path, "a.png", _gradient(64, 64), "PNG")
    data = bytearray(path.read_bytes())
    at = data.index(b"IDAT") + 4
    data[at + 10 : at + 40] = bytes(30)  # break the zlib stream (the chunk CRC is not checked by Pillow's reader)
    path.write_bytes(bytes(data))

    assert _rejected(path).code in {"corrupt", "truncated"}


@pytest.mark.parametrize(("fmt", "name"), [("TIFF", "a.tif"), ("WEBP", "a.webp"), ("PNG", "a.png")])
def test_multi_frame_images_are_refused(tmp_path, fmt, name):
    path = tmp_path / name
    _gradient().save(path, fmt, save_all=True, append_images=[_gradient(mode="RGB").rotate(90, expand=False)])

    error = _rejected(path)

    assert error.code == "multi_frame"
    assert "frames" in error.message


# --- pixel limit ----------------------------------------------------------------------------------------------------


def test_huge_header_is_refused_before_decoding(tmp_path):
    # A 100 000 x 100 000 PNG in 69 bytes: decoding it would need 30 GB.
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path = tmp_path / "bomb.png"
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")
    )

    error = _rejected(path, max_pixels=images.DEFAULT_MAX_PIXELS)

    assert error.code == "too_many_pixels"
    assert f"{images.DEFAULT_MAX_PIXELS:,}" in error.message


def test_pixel_limit_is_checked_before_any_decode(tmp_path, monkeypatch):
    path = _save(tmp_path, "a.png", _gradient(100, 100), "PNG")

    def no_decoding(self):
        raise AssertionError("decoded before checking the pixel limit")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)

    assert _rejected(path, max_pixels=9_999).code == "too_many_pixels"


def test_pixel_limit_is_inclusive(tmp_path):
    path = _save(tmp_path, "a.png", _gradient(100, 100), "PNG")

    assert inspect_image(path, filename="a.png", max_pixels=10_000).width == 100


def test_webp_size_is_checked_from_its_header_before_pillow_opens_it(tmp_path, monkeypatch):
    for name, options in [("lossy.webp", {}), ("lossless.webp", {"lossless": True}), ("x.webp", {"exif": b"Exif\0\0"})]:
        path = _save(tmp_path, name, _gradient(200, 100), "WEBP", **options)
        with monkeypatch.context() as patch:
            patch.setattr(Image, "open", lambda *a, **k: pytest.fail("opened with Pillow"))
            assert _rejected(path, max_pixels=19_999).code == "too_many_pixels"


def test_pillow_global_limit_is_neither_relied_on_nor_leaked(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    path = _save(tmp_path, "a.png", _gradient(200, 100), "PNG")
    with pytest.raises(Image.DecompressionBombError):
        Image.open(path)  # what a plain Pillow call would do with this global

    assert inspect_image(path, filename="a.png", max_pixels=MAX).width == 200
    assert Image.MAX_IMAGE_PIXELS == 1_000


def test_nested_pixel_limits_only_ever_raise_the_global_and_restore_it(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5_000)
    with images.pillow_pixel_limit(1_000):
        assert Image.MAX_IMAGE_PIXELS == 5_000  # never lowered under other threads' feet
        with images.pillow_pixel_limit(80_000):
            assert Image.MAX_IMAGE_PIXELS == 80_000
        assert Image.MAX_IMAGE_PIXELS == 5_000
    assert Image.MAX_IMAGE_PIXELS == 5_000


def test_truncation_tolerance_must_stay_off(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    path = _save(tmp_path, "a.png", _gradient(), "PNG")

    with pytest.raises(RuntimeError):
        inspect_image(path, filename="a.png", max_pixels=MAX)


# --- EXIF orientation -----------------------------------------------------------------------------------------------

# What the viewer must show for each orientation, given the stored pixels (EXIF spec, independent of Pillow).
_UPRIGHT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1, :],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, k=-1),
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: np.rot90(a, k=1),
}


def _with_orientation(tmp_path: Path, name: str, fmt: str, orientation: int, img: Image.Image, **options) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(tmp_path, name, img, fmt, exif=exif, **options)


@pytest.mark.parametrize("orientation", range(2, 9))
@pytest.mark.parametrize(("fmt", "name", "options"),
                         [("PNG", "a.png", {}), ("TIFF", "a.tif", {}), ("WEBP", "a.webp", {"lossless": True})])
def test_lossless_formats_are_normalised_pixel_exactly(tmp_path, orientation, fmt, name, options):
    stored = np.asarray(_gradient(40, 20))
    path = _with_orientation(tmp_path, name, fmt, orientation, Image.fromarray(stored), **options)
    out_dir = tmp_path / "out"
    out_dir.mkdir()

    inspected = inspect_image(path, filename=name, max_pixels=MAX)
    upright = normalize_image(path, inspected=inspected, out_dir=out_dir)

    expected = _UPRIGHT[orientation](stored)
    assert inspected.orientation == orientation
    assert (inspected.height, inspected.width) == expected.shape[:2]
    assert upright is not None and upright.parent == out_dir and upright.suffix == path.suffix
    np.testing.assert_array_equal(np.asarray(Image.open(upright).convert("RGB")), expected)
    again = inspect_image(upright, filename=upright.name, max_pixels=MAX)
    assert (again.format, again.width, again.height, again.orientation) == (fmt, inspected.width,
                                                                             inspected.height, 1)


def test_jpeg_orientation_6_gives_swapped_size_and_upright_copy(tmp_path):
    stored = Image.new("RGB", (64, 32), (255, 0, 0))
    stored.paste((0, 0, 255), (0, 16, 16, 32))  # blue block at the stored bottom-left corner
    path = _with_orientation(tmp_path, "a.jpg", "JPEG", 6, stored, quality=95, subsampling=0)

    inspected = inspect_image(path, filename="a.jpg", max_pixels=MAX)
    upright_path = normalize_image(path, inspected=inspected, out_dir=tmp_path)

    assert (inspected.width, inspected.height, inspected.orientation) == (32, 64, 6)
    upright = Image.open(upright_path)
    assert upright.format == "JPEG" and upright.size == (32, 64)
    assert upright.getexif().get(0x0112, 1) == 1
    assert JpegImagePlugin.get_sampling(upright) == 0  # 4:4:4 kept
    # Rotating 90 degrees clockwise brings the stored bottom-left corner to the top-left.
    assert np.abs(np.subtract(upright.getpixel((3, 3)), (0, 0, 255))).max() < 12
    assert np.abs(np.subtract(upright.getpixel((28, 60)), (255, 0, 0))).max() < 12


def test_jpeg_normalisation_keeps_420_subsampling(tmp_path):
    path = _with_orientation(tmp_path, "a.jpg", "JPEG", 8, _gradient(64, 48), subsampling=2)
    inspected = inspect_image(path, filename="a.jpg", max_pixels=MAX)

    upright = normalize_image(path, inspected=inspected, out_dir=tmp_path)

    assert JpegImagePlugin.get_sampling(Image.open(upright)) == 2


def test_upright_images_are_left_alone(tmp_path):
    path = _with_orientation(tmp_path, "a.jpg", "JPEG", 1, _gradient())
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    inspected = inspect_image(path, filename="a.jpg", max_pixels=MAX)

    assert normalize_image(path, inspected=inspected, out_dir=out_dir) is None
    assert list(out_dir.iterdir()) == []


def test_invalid_orientation_value_counts_as_upright(tmp_path):
    path = _with_orientation(tmp_path, "a.jpg", "JPEG", 9, _gradient(30, 10))

    result = inspect_image(path, filename="a.jpg", max_pixels=MAX)

    assert (result.width, result.height, result.orientation) == (30, 10, 1)


# --- display conversion ---------------------------------------------------------------------------------------------


def test_16_bit_grayscale_png_is_stretched_to_8_bit(tmp_path):
    values = np.array([[1000, 2000, 3000], [1000, 1000, 3000]], dtype=np.uint16)
    path = tmp_path / "depth.png"
    Image.fromarray(values).save(path)
    img = Image.open(path)
    assert inspect_image(path, filename="depth.png", max_pixels=MAX).format == "PNG"

    display = to_display_rgb(img)

    assert display.mode == "RGB"
    pixels = np.asarray(display)
    np.testing.assert_array_equal(pixels[..., 0], [[0, 128, 255], [0, 0, 255]])
    assert (pixels[..., 0] == pixels[..., 2]).all()


def test_float_image_ignores_non_finite_values():
    values = np.array([[np.nan, -1.0, 0.0], [1.0, np.inf, -np.inf]], dtype=np.float32)

    display = np.asarray(to_display_rgb(Image.fromarray(values)))

    np.testing.assert_array_equal(display[..., 0], [[0, 0, 128], [255, 255, 0]])


def test_constant_deep_image_does_not_divide_by_zero():
    display = to_display_rgb(Image.fromarray(np.full((3, 4), 7, dtype=np.int32)))

    assert display.mode == "RGB" and not np.asarray(display).any()


def test_tall_deep_image_is_scaled_with_one_range_across_bands():
    values = np.arange(1300, dtype=np.uint16).reshape(1300, 1) * 50  # spans several row bands

    display = np.asarray(to_display_rgb(Image.fromarray(np.repeat(values, 2, 1))))

    assert display[0, 0, 0] == 0 and display[-1, 0, 0] == 255 and display[650, 0, 0] == 128


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("1", "RGB"), ("L", "RGB"), ("LA", "RGBA"), ("P", "RGB"), ("RGB", "RGB"), ("RGBA", "RGBA"),
     ("CMYK", "RGB"), ("I", "RGB"), ("I;16", "RGB"), ("F", "RGB")],
)
def test_every_mode_becomes_8_bit_rgb_or_rgba(mode, expected):
    assert to_display_rgb(Image.new(mode, (5, 4))).mode == expected


def test_palette_with_transparency_keeps_alpha():
    img = Image.new("P", (4, 4), 0)
    img.info["transparency"] = 0

    assert to_display_rgb(img).mode == "RGBA"


def test_cmyk_white_is_white():
    assert to_display_rgb(Image.new("CMYK", (1, 1), (0, 0, 0, 0))).getpixel((0, 0)) == (255, 255, 255)


# --- TIFF sample formats Pillow cannot decode -----------------------------------------------------------------------


def handmade_tiff(tmp_path: Path, *, dtype: str, sample_format: int, order: str = "<", big: bool = False,
          samples: int = 1) -> Path:
    """A valid one-strip, uncompressed TIFF (classic or BigTIFF) of `dtype` samples, written by hand: what numpy
    users save (tifffile writes float64 by default)."""
    width, height = 7, 5
    pixels = np.arange(width * height * samples, dtype=np.dtype(dtype).newbyteorder(order)) / 3
    data = pixels.astype(np.dtype(dtype).newbyteorder(order)).tobytes()
    bits = np.dtype(dtype).itemsize * 8
    # tag, type (3 SHORT, 4 LONG), value
    tags = [(256, 4, width), (257, 4, height), (258, 3, bits), (259, 3, 1), (262, 3, 1 if samples == 1 else 2),
            (273, 4, 0), (277, 3, samples), (278, 4, height), (279, 4, len(data)), (284, 3, 1),
            (339, 3, sample_format)]
    entry = (order + "HHQQ") if big else (order + "HHII")
    head = 16 if big else 8
    ifd_size = (8 if big else 2) + len(tags) * struct.calcsize(entry) + (8 if big else 4)
    strip_at = head + ifd_size
    out = bytearray(b"II" if order == "<" else b"MM")
    out += struct.pack(order + "HHHQ", 43, 8, 0, head) if big else struct.pack(order + "HI", 42, head)
    out += struct.pack(order + ("Q" if big else "H"), len(tags))
    for tag, kind, value in tags:
        value = strip_at if tag == 273 else value
        # A SHORT sits in the first bytes of the value field: pack it as a short followed by padding.
        field = struct.pack(order + "H", value).ljust(8 if big else 4, b"\0") if kind == 3 else \
            struct.pack(order + ("Q" if big else "I"), value)
        out += struct.pack(order + "HH", tag, kind) + struct.pack(order + ("Q" if big else "I"), 1) + field
    out += struct.pack(order + ("Q" if big else "I"), 0)
    out += data
    path = tmp_path / "scan.tif"
    path.write_bytes(bytes(out))
    return path


@pytest.mark.parametrize(("dtype", "sample_format", "order", "big", "samples", "what"), [
    ("float64", 3, "<", False, 1, "64-bit floating-point"),
    ("float64", 3, ">", False, 1, "64-bit floating-point"),
    ("float64", 3, "<", True, 1, "64-bit floating-point"),
    ("float64", 3, "<", False, 3, "64-bit floating-point"),
    ("float16", 3, "<", False, 1, "16-bit floating-point"),
    ("int64", 2, "<", False, 1, "64-bit signed integer"),
])
def test_a_tiff_of_samples_pillow_cannot_decode_is_refused_for_what_it_is(tmp_path, dtype, sample_format, order, big,
                                                                          samples, what):
    path = handmade_tiff(tmp_path, dtype=dtype, sample_format=sample_format, order=order, big=big, samples=samples)

    error = _rejected(path)

    assert error.code == "unsupported_sample_format"
    assert f"stores {what} samples" in error.message and "32-bit float" in error.message
    assert "unreadable" not in error.message


def test_the_same_tiff_in_32_bit_float_is_accepted(tmp_path):
    path = handmade_tiff(tmp_path, dtype="float32", sample_format=3)

    inspected = inspect_image(path, filename=path.name, max_pixels=MAX)

    assert (inspected.format, inspected.width, inspected.height) == ("TIFF", 7, 5)


def test_a_tiff_whose_header_is_garbage_is_still_unreadable(tmp_path):
    path = tmp_path / "a.tif"
    path.write_bytes(b"II*\x00" + struct.pack("<I", 10**9) + bytes(40))

    error = _rejected(path)

    assert error.code == "corrupt" and "header is unreadable" in error.message
