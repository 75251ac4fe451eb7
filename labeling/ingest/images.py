"""Validate uploaded images, normalise their EXIF orientation and convert them for display.

Everything here works on file paths and returns plain values, so the upload service and the workers can call it
without Django. Checks run cheapest first: empty file, magic bytes vs. the filename's extension, the header's
pixel count (before any pixel is decoded), frame count, and only then one full decode to catch truncated or
corrupt pixel data.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import threading
import unicodedata
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageFile, ImageOps, JpegImagePlugin, UnidentifiedImageError

from labeling.ingest.errors import IngestRejected

# Pillow format names we accept: what browsers, exporters and the model runners can all read.
ALLOWED_FORMATS: frozenset[str] = frozenset({"JPEG", "PNG", "TIFF", "WEBP", "BMP"})

FORMAT_EXTENSIONS: dict[str, frozenset[str]] = {
    # .jfif is what Windows names many saved JPEGs; rejecting those as "disguised" would only confuse people.
    "JPEG": frozenset({".jpg", ".jpeg", ".jpe", ".jfif"}),
    "PNG": frozenset({".png"}),
    "TIFF": frozenset({".tif", ".tiff"}),
    "WEBP": frozenset({".webp"}),
    "BMP": frozenset({".bmp"}),
}
ALLOWED_EXTENSIONS: frozenset[str] = frozenset().union(*FORMAT_EXTENSIONS.values())

# Suggested default: 25k x 25k, so 20k x 20k scans pass. Pillow holds RGB as 4 bytes per pixel, so the worst
# accepted image needs ~2.5 GB to validate and ~3.1 GB to tile (measured: 20k x 20k JPEG, 1.56 / 1.95 GB).
DEFAULT_MAX_PIXELS = 25_000 * 25_000

_ORIENTATION_TAG = ExifTags.Base.Orientation
_HASH_CHUNK = 1024 * 1024
_HEAD_BYTES = 64
# Bands of rows used when rescaling 16-bit / float images, to bound the temporary float copy.
_BAND_ROWS = 512

# Decoder failures that mean "this file's content is broken", as opposed to bugs or running out of memory.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error, zlib.error)


@dataclass(frozen=True)
class InspectedImage:
    """What a successful check learnt about an image. Sizes are as displayed, i.e. after EXIF orientation."""

    format: str
    width: int
    height: int
    sha256: str
    orientation: int


# --- Pillow's global pixel limit ------------------------------------------------------------------------------
#
# Pillow only offers a process-wide `Image.MAX_IMAGE_PIXELS` (error above 2x, warning above 1x), which would
# refuse a legitimate 20k x 20k image (400 MP > 2 x 89 MP). We check `max_pixels` ourselves from the header before
# decoding, and while any ingest call is in flight we *raise* the global to at least the largest active limit;
# the saved value is restored when the last call leaves. The global is never lowered, so another thread in the
# same process can only see a looser Pillow limit, never a spurious error, and nothing stays changed once ingest
# work finishes. (Celery prefork workers run one task per process, where this is moot.)

_limit_lock = threading.Lock()
_active_limits: list[int] = []
_saved_limit: int | None = None


@contextmanager
def pillow_pixel_limit(max_pixels: int) -> Iterator[None]:
    """Let Pillow open images up to `max_pixels` for the duration of the block (see the note above)."""
    global _saved_limit
    with _limit_lock:
        if not _active_limits:
            _saved_limit = Image.MAX_IMAGE_PIXELS
        _active_limits.append(max_pixels)
        _apply_limit()
    try:
        yield
    finally:
        with _limit_lock:
            _active_limits.remove(max_pixels)
            if _active_limits:
                _apply_limit()
            else:
                Image.MAX_IMAGE_PIXELS = _saved_limit


def _apply_limit() -> None:
    if _saved_limit is None:  # someone disabled the check globally; stay disabled
        Image.MAX_IMAGE_PIXELS = None
    else:
        Image.MAX_IMAGE_PIXELS = max(_saved_limit, *_active_limits)


# --- Sniffing -------------------------------------------------------------------------------------------------


def sniff_format(head: bytes) -> str | None:
    """The allowed format these leading bytes belong to, or None. Independent of Pillow's own (wider) detection."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"BM"):
        return "BMP"
    return None


# (signature, description, is an image format) for content we recognise but do not accept, so the message can
# say "GIF is not supported" rather than "corrupt".
_OTHER_SIGNATURES: tuple[tuple[bytes, str, bool], ...] = (
    (b"GIF87a", "a GIF image", True),
    (b"GIF89a", "a GIF image", True),
    (b"\x00\x00\x01\x00", "an ICO image", True),
    (b"8BPS", "a Photoshop document", True),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image", True),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 image", True),
    (b"\xff\x0a", "a JPEG XL image", True),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "a JPEG XL image", True),
    (b"%PDF-", "a PDF document", False),
    (b"PK\x03\x04", "a ZIP archive", False),
    (b"PK\x05\x06", "a ZIP archive", False),
    (b"\x1f\x8b", "a gzip archive", False),
    (b"Rar!\x1a\x07", "a RAR archive", False),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", False),
    (b"\x7fELF", "an executable", False),
    (b"MZ", "an executable", False),
)


def describe_content(head: bytes) -> tuple[str, bool]:
    """A short phrase for what unaccepted content looks like, and whether it is some (unsupported) image."""
    for signature, description, is_image in _OTHER_SIGNATURES:
        if head.startswith(signature):
            return description, is_image
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "a HEIC/HEIF image", True
        if brand in (b"avif", b"avis"):
            return "an AVIF image", True
        return "a video or other ISO media file", False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character may be cut at the end of the sniffed bytes.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return "unrecognised binary data", False
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if lowered.startswith(("<!doctype html", "<html", "<head", "<body", "<script")):
        return "an HTML document", False
    if lowered.startswith("<svg") or (lowered.startswith("<?xml") and "<svg" in lowered):
        return "an SVG image", True
    if lowered.startswith("<?xml"):
        return "an XML document", False
    if all(ch.isprintable() or ch in "\t\r\n" for ch in text):
        return "a text file", False
    return "unrecognised binary data", False


def _extension(filename: str) -> str:
    base = filename.strip().replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem:  # "photo" or ".png" (a dotfile): no extension
        return ""
    return "." + ext.lower()


def _display_ext(ext: str) -> str:
    # Extensions come from users; keep messages printable and short.
    cleaned = "".join(ch if unicodedata.category(ch)[0] not in "CZ" else "?" for ch in ext)
    return cleaned[:20]


def _webp_header_check(head: bytes, file_size: int, max_pixels: int) -> None:
    """Check a WebP's declared length and canvas size from its first bytes.

    Pillow's WebP plugin reads the whole file and creates a decoder (which allocates the canvas) while *opening*,
    so the pixel limit must be applied before Pillow sees the file at all.
    """
    riff_size = struct.unpack("<I", head[4:8])[0]
    if file_size < riff_size + 8:
        raise IngestRejected("truncated", f"The WebP file is truncated ({file_size} of {riff_size + 8} bytes).")
    chunk = head[12:16]
    size: tuple[int, int] | None = None
    if chunk == b"VP8X" and len(head) >= 30:
        size = (1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little"))
    elif chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        size = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    elif chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        size = (
            int.from_bytes(head[26:28], "little") & 0x3FFF,
            int.from_bytes(head[28:30], "little") & 0x3FFF,
        )
    if size is not None:
        _check_pixels(size, max_pixels)


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise IngestRejected("corrupt", f"The image header declares an empty size ({width}×{height}).")
    if width * height > max_pixels:
        raise IngestRejected(
            "too_many_pixels",
            f"The image is {width}×{height} = {width * height:,} pixels; the limit is {max_pixels:,} pixels.",
        )


def _too_many_pixels(max_pixels: int) -> IngestRejected:
    return IngestRejected("too_many_pixels", f"The image is larger than the limit of {max_pixels:,} pixels.")


# --- TIFF sample formats ---------------------------------------------------------------------------------------
#
# TIFF lets a pixel hold samples of any width and type: 64-bit floats (what numpy writes by default), 16-bit
# floats, 64-bit integers, complex numbers. Pillow, which every consumer here decodes images with (validation,
# tiles, display, model runners, exports), reads 1/8/16/32-bit integer and 32-bit float samples and refuses the
# rest as an unidentifiable file. We refuse those too, saying which samples the file holds and how to convert it,
# rather than converting them on upload: a conversion (float64 -> float32) would make the stored image, which
# exports hand back as the user's file, silently differ from the upload, and CVAT likewise takes only what its
# image reader decodes. "The header is unreadable" was the wrong answer for a valid file.

_SAMPLE_KINDS = {1: "unsigned integer", 2: "signed integer", 3: "floating-point", 4: "untyped",
                 5: "complex integer", 6: "complex floating-point"}
# (SampleFormat, BitsPerSample) pairs Pillow decodes (per sample; any count of samples per pixel it reads).
_PILLOW_TIFF_SAMPLES = frozenset({(1, 1), (1, 8), (1, 16), (1, 32), (2, 8), (2, 16), (2, 32), (3, 32),
                                  (4, 1), (4, 8), (4, 16), (4, 32)})
_TIFF_TYPE_SIZES = {1: 1, 3: 2, 4: 4, 16: 8}  # BYTE, SHORT, LONG, LONG8: the types these tags are stored in


def tiff_samples(path: Path) -> tuple[int, int] | None:
    """(SampleFormat, BitsPerSample) of a TIFF's first image, read from its first directory (classic or BigTIFF),
    or None when the header cannot be read that far. Several samples of different widths: the widest."""
    try:
        with open(path, "rb") as fp:
            head = fp.read(16)
            order = {b"II": "<", b"MM": ">"}[head[:2]]
            big = struct.unpack(order + "H", head[2:4])[0] == 43
            offset = struct.unpack(order + ("Q" if big else "I"), head[8:16] if big else head[4:8])[0]
            fp.seek(offset)
            count_size, entry_size = (8, 20) if big else (2, 12)
            count = struct.unpack(order + ("Q" if big else "H"), fp.read(count_size))[0]
            if count > 4096:  # no real first directory has this many tags
                return None
            entries = fp.read(count * entry_size)
            values: dict[int, list[int]] = {}
            for k in range(count):
                entry = entries[k * entry_size:(k + 1) * entry_size]
                tag, kind = struct.unpack(order + "HH", entry[:4])
                if tag not in (258, 339) or kind not in _TIFF_TYPE_SIZES:  # BitsPerSample, SampleFormat
                    continue
                n = struct.unpack(order + ("Q" if big else "I"), entry[4:12] if big else entry[4:8])[0]
                width = _TIFF_TYPE_SIZES[kind]
                inline = entry[12:20] if big else entry[8:12]
                if n * width <= len(inline):
                    data = inline[:n * width]
                elif n <= 64:
                    fp.seek(struct.unpack(order + ("Q" if big else "I"), inline)[0])
                    data = fp.read(n * width)
                else:
                    return None
                code = {1: "B", 2: "H", 4: "I", 8: "Q"}[width]
                values[tag] = list(struct.unpack(f"{order}{n}{code}", data))
    except (KeyError, OSError, struct.error, OverflowError, ValueError):
        return None
    bits = max(values.get(258, [1]))
    kind = max(values.get(339, [1]))
    return kind, bits


def _unsupported_samples(samples: tuple[int, int]) -> IngestRejected:
    kind, bits = samples
    what = f"{bits}-bit {_SAMPLE_KINDS.get(kind, f'type-{kind}')}"
    return IngestRejected(
        "unsupported_sample_format",
        f"The TIFF stores {what} samples, which are not supported (8-, 16- and 32-bit integer and 32-bit "
        "floating-point samples are); save it with one of those, e.g. as 32-bit float.",
    )


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(_ORIENTATION_TAG, 1)
    except _DECODE_ERRORS:  # unreadable EXIF should not sink an otherwise good image
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        while chunk := fp.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- Public API -----------------------------------------------------------------------------------------------


def inspect_image(path: str | os.PathLike[str], *, filename: str, max_pixels: int) -> InspectedImage:
    """Validate an uploaded image and describe it, or raise `IngestRejected` saying why it is refused.

    `filename` is the name the user gave (only its extension is used); files without an extension are judged by
    content alone. The image is fully decoded once, with truncated images treated as errors, and released.
    Multi-frame TIFF/WebP/APNG files are refused rather than silently reduced to their first frame; JPEGs with
    an MPO extension (phone photos carrying a depth map) are plain JPEGs to every viewer and are accepted.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Validation would silently pad truncated images; that is a configuration bug, not bad input.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False for upload validation")
    path = Path(path)
    file_size = path.stat().st_size
    if file_size == 0:
        raise IngestRejected("empty_file", "The file is empty.")
    with open(path, "rb") as fp:
        head = fp.read(_HEAD_BYTES)

    ext = _extension(filename)
    fmt = sniff_format(head)
    if fmt is None:
        what, is_image = describe_content(head)
        allowed = ", ".join(sorted(ALLOWED_FORMATS))
        if is_image:
            raise IngestRejected("unsupported_format", f"The file is {what}, which is not supported ({allowed}).")
        if ext:
            raise IngestRejected(
                "disguised_file", f"The file is named {_display_ext(ext)} but its content is {what}, not an image."
            )
        raise IngestRejected("unsupported_format", f"The file is {what}, not a supported image ({allowed}).")
    if ext and ext not in FORMAT_EXTENSIONS[fmt]:
        raise IngestRejected(
            "disguised_file",
            f"The file is named {_display_ext(ext)} but its content is a {fmt} image; "
            f"rename it to {min(FORMAT_EXTENSIONS[fmt])} if that is intended.",
        )
    if fmt == "WEBP":
        _webp_header_check(head, file_size, max_pixels)

    with pillow_pixel_limit(max_pixels):
        try:
            img = Image.open(path, formats=[fmt])
        except Image.DecompressionBombError as exc:  # Pillow's own check (at 2x the limit) came first
            raise _too_many_pixels(max_pixels) from exc
        except _DECODE_ERRORS + (UnidentifiedImageError,) as exc:
            samples = tiff_samples(path) if fmt == "TIFF" else None
            if samples is not None and samples not in _PILLOW_TIFF_SAMPLES:
                raise _unsupported_samples(samples) from exc
            raise IngestRejected("corrupt", f"The {fmt} header is unreadable.") from exc
        try:
            _check_pixels(img.size, max_pixels)
            try:
                # is_animated stops at the second frame, where n_frames would walk a hostile chain of TIFF pages.
                several_frames = getattr(img, "is_animated", False)
            except _DECODE_ERRORS as exc:
                raise IngestRejected("corrupt", f"The {fmt} file structure is unreadable.") from exc
            if several_frames and img.format != "MPO":
                raise IngestRejected(
                    "multi_frame",
                    f"The {fmt} file holds several frames or pages; upload each one as a separate image.",
                )
            # PNG may keep its eXIf chunk after the pixel data, so Pillow loads the image to read it; the other
            # formats have it in the header. Pillow's TIFF loader applies the orientation itself and drops the tag.
            orientation_in_header = None if fmt == "PNG" else _orientation(img)
            try:
                img.load()
            except Image.DecompressionBombError as exc:  # e.g. one TIFF strip larger than the whole limit
                raise _too_many_pixels(max_pixels) from exc
            except _DECODE_ERRORS as exc:
                if "truncated" in str(exc):
                    raise IngestRejected("truncated", f"The {fmt} file is truncated: pixel data is missing.") from exc
                raise IngestRejected("corrupt", f"The {fmt} pixel data is corrupt ({exc}).") from exc
            pending_orientation = _orientation(img)
            width, height = img.size
        finally:
            img.close()  # frees the decoded pixels now, not when the caller's frame ends

    orientation = orientation_in_header or pending_orientation
    if pending_orientation >= 5:  # still stored sideways: these orientations rotate by 90 degrees
        width, height = height, width
    return InspectedImage(format=fmt, width=width, height=height, sha256=_sha256(path), orientation=orientation)


def normalize_image(
    path: str | os.PathLike[str], *, inspected: InspectedImage, out_dir: str | os.PathLike[str]
) -> Path | None:
    """Write an upright copy of an image whose EXIF orientation is not 1, and return its path; else None.

    Labels are pixel-exact, so every consumer (browser, exporters, models) must see the same pixel grid; baking
    the rotation in once removes the orientation tag as a source of disagreement. Images that are already
    upright are left untouched (None) so their bytes and checksum stay the originals. JPEG is re-encoded at
    quality 95 with its original chroma subsampling (one generation of loss, invisible in practice); the other
    formats are written losslessly in their own format. The orientation tag is removed (meaning 1).
    """
    if inspected.orientation == 1:
        return None
    out_dir = Path(out_dir)
    ext = min(FORMAT_EXTENSIONS[inspected.format])
    with pillow_pixel_limit(inspected.width * inspected.height):
        with Image.open(path, formats=[inspected.format]) as img:
            upright = ImageOps.exif_transpose(img)
            options = _lossless_save_options(img, upright, inspected.format)
        fd, name = tempfile.mkstemp(prefix="upright-", suffix=ext, dir=out_dir)
        out = Path(name)
        try:
            with os.fdopen(fd, "wb") as fp:
                upright.save(fp, format=inspected.format, **options)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        finally:
            upright.close()
    return out


def _lossless_save_options(original: Image.Image, upright: Image.Image, fmt: str) -> dict[str, object]:
    """Encoder options that keep an image's quality and metadata (minus orientation) when re-saving it."""
    exif = upright.getexif()
    exif.pop(_ORIENTATION_TAG, None)
    options: dict[str, object] = {}
    if icc := original.info.get("icc_profile"):
        options["icc_profile"] = icc
    if dpi := original.info.get("dpi"):
        options["dpi"] = dpi
    if fmt == "JPEG":
        options["quality"] = 95
        sampling = JpegImagePlugin.get_sampling(original)
        if sampling != -1:
            options["subsampling"] = sampling
        options["exif"] = exif.tobytes()
    elif fmt == "PNG":
        options["exif"] = exif.tobytes()
        if "transparency" in upright.info:
            options["transparency"] = upright.info["transparency"]
    elif fmt == "WEBP":
        options.update(lossless=True, exact=True, quality=100, exif=exif.tobytes())
    elif fmt == "TIFF":
        # Orientation lives in the TIFF tags, which are not copied; the upright copy therefore carries none.
        compression = original.info.get("compression", "raw")
        lossless = {"raw", "packbits", "tiff_lzw", "tiff_adobe_deflate"}
        options["compression"] = compression if compression in lossless else "tiff_adobe_deflate"
    return options


def to_display_rgb(img: Image.Image) -> Image.Image:
    """Convert any decoded image to 8-bit RGB, or RGBA when it has alpha, for browser display.

    16-bit and float grayscale are stretched from their own min..max to 0..255 (scientific and medical images
    rarely use the full range, so a plain cast would show them black). CMYK uses Pillow's plain conversion
    (no ICC colour management). Returns `img` itself when it is already RGB/RGBA, to avoid a copy.
    """
    mode = img.mode
    if mode in ("RGB", "RGBA"):
        return img
    if mode in ("LA", "La", "RGBa", "PA"):
        return img.convert("RGBA")
    if mode == "P":
        has_alpha = "transparency" in img.info or img.palette is not None and img.palette.mode == "RGBA"
        return img.convert("RGBA" if has_alpha else "RGB")
    if mode in ("I", "F") or mode.startswith("I;16"):
        return _stretch_to_l(img).convert("RGB")
    return img.convert("RGB")  # 1, L, CMYK, YCbCr, LAB, HSV, RGBX


def _stretch_to_l(img: Image.Image) -> Image.Image:
    """Map a 16-bit/32-bit/float single-channel image to 8-bit L by its finite min..max, band by band."""
    width, height = img.size
    lo, hi = np.inf, -np.inf
    for band in _row_bands(img):
        finite = band[np.isfinite(band)] if band.dtype.kind == "f" else band
        if finite.size:
            lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
    out = Image.new("L", (width, height))
    scale = 255.0 / (hi - lo) if np.isfinite(lo) and hi > lo else 0.0
    y = 0
    for band in _row_bands(img):
        values = (band.astype(np.float32) - (lo if np.isfinite(lo) else 0.0)) * scale
        values = np.nan_to_num(values, nan=0.0, posinf=255.0, neginf=0.0)
        out.paste(Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "L"), (0, y))
        y += band.shape[0]
    return out


def _row_bands(img: Image.Image) -> Iterator[np.ndarray]:
    width, height = img.size
    for top in range(0, height, _BAND_ROWS):
        yield np.asarray(img.crop((0, top, width, min(height, top + _BAND_ROWS))))
