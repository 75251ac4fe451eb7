"""What exported files are called: pure, so the importers match names the same way the exports write them."""

import re
from pathlib import PurePosixPath

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_ID_PREFIX = re.compile(r"^[0-9]+_(?=.)")


def portable_name(original_name: str) -> str:
    """An image's original name without any folder or odd characters: what its files are called in exports."""
    return (_UNSAFE.sub("_", original_name.rsplit("/", 1)[-1]).strip("._") or "image")[-120:]


def prefixed_name(image_id: int, original_name: str) -> str:
    """`<id>_<name>`: what an export calls an image whose portable name another exported image shares (and what
    every export called images before format version 2, which imports still recognise)."""
    return f"{image_id}_{portable_name(original_name)}"


def export_file_names(images: list[tuple[int, str]]) -> dict[int, str]:
    """{image id: file name} for the (id, original name) pairs exported together. An image keeps its own name,
    so an export imports into any project holding the same files and a round trip through an export with images
    does not grow the name; only names that would collide (same stem, ignoring case, since the mask formats name
    files by stem and some file systems ignore case) get their image id in front, which is unique."""
    stems: dict[str, int] = {}
    for _, original_name in images:
        key = PurePosixPath(portable_name(original_name)).stem.casefold()
        stems[key] = stems.get(key, 0) + 1
    names = {}
    for image_id, original_name in images:
        name = portable_name(original_name)
        shared = stems[PurePosixPath(name).stem.casefold()] > 1
        names[image_id] = prefixed_name(image_id, original_name) if shared else name
    return names


def without_id_prefix(name: str) -> str | None:
    """`photo.jpg` for `123_photo.jpg` (a name `prefixed_name` made in another project), else None."""
    stripped = _ID_PREFIX.sub("", name, count=1)
    return stripped if stripped != name else None
