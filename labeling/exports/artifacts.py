"""Per-image export artifacts: the expensive, deterministic part of a format's output for one image (RLE or
polygon JSON, PNG bytes, YOLO lines), computed by the format's registered `per_image(image, context)` function.

The services store them when an image is approved, so an export streams stored bytes into its zip instead of
encoding every mask again. A format asks `image_artifact(image, context)`: the view's stored bytes when it has
them, else the same function computed now, so an export is byte-identical with or without stored artifacts.

An artifact is found by its key (`artifact_key`): format name and version, the variant its options select (COCO
polygons), a fingerprint of the exported categories (ids, class ids, names, kinds, colours), and the image and
the annotation version it was computed from. Anything that could change the bytes changes the key, so a stale
artifact is never found (a class edit makes every image's key new: the export then computes them, correct but
as slow as without artifacts, until they are rebuilt). A change to a format's output must bump its `version`:
artifacts stored by the old code are then not found either.
"""

import hashlib
import json
import struct
from dataclasses import dataclass
from functools import lru_cache

from labeling.exports.registry import EXPORTERS, ExportOptions
from labeling.exports.view import Category

KEY_SCHEMA = 1  # bump when the key's parts change
_SEAL = b"EXPA1"  # stored artifacts: this, the content's sha256, the content


@dataclass(frozen=True)
class ArtifactContext:
    """What a format's per-image bytes depend on besides the image itself."""

    format: str
    categories: tuple[Category, ...]
    options: ExportOptions = ExportOptions()

    @property
    def variant(self) -> str:
        return EXPORTERS[self.format].variant(self.options)


def image_artifact(image, context: ArtifactContext) -> bytes:
    """The format's bytes for one image: stored ones when the view supplies them, else computed now."""
    data = image.artifact(context) if image.artifact is not None else None
    return EXPORTERS[context.format].per_image(image, context) if data is None else data


@lru_cache(maxsize=64)
def categories_fingerprint(categories: tuple[Category, ...]) -> str:
    rows = [[c.id, c.class_id, c.name, c.kind, c.color] for c in categories]
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def artifact_key(context: ArtifactContext, *, image_id: int, width: int, height: int, annotation_id: int,
                 annotation_version: int) -> str:
    """sha256 (hex) of everything the artifact's bytes depend on."""
    exporter = EXPORTERS[context.format]
    parts = [KEY_SCHEMA, exporter.name, exporter.version, context.variant, categories_fingerprint(context.categories),
             image_id, width, height, annotation_id, annotation_version]
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()


def pack_parts(*parts: bytes) -> bytes:
    """Several byte strings as one artifact (each prefixed with its length, little-endian uint64)."""
    return b"".join(struct.pack("<Q", len(p)) + p for p in parts)


def unpack_parts(data: bytes) -> list[bytes]:
    parts, at = [], 0
    while at < len(data):
        (size,) = struct.unpack_from("<Q", data, at)
        parts.append(data[at + 8:at + 8 + size])
        at += 8 + size
    return parts


def seal(data: bytes) -> bytes:
    """What is stored: the content behind a checksum, so a partly written or damaged file is never used."""
    return _SEAL + hashlib.sha256(data).digest() + data


def unseal(blob: bytes) -> bytes | None:
    """The content of a stored artifact, or None when it is not whole."""
    head = len(_SEAL) + 32
    if len(blob) < head or not blob.startswith(_SEAL):
        return None
    data = blob[head:]
    return data if hashlib.sha256(data).digest() == blob[len(_SEAL):head] else None
