"""What every importer shares: the project seen as plain data (classes, images), the files of the upload, the
report of problems, and the one rule that turns a file's overlapping masks into a label map.

Overlap rule (`compose`): a label map holds one segment per pixel, while COCO instances may overlap. Where they
do, the pixel goes to the smallest non-crowd annotation (fewest pixels), ties to the one listed first; crowd
regions (`iscrowd: 1`) only take pixels no non-crowd annotation covers. An annotation left without pixels is
reported as a warning and not imported. Annotations of one stuff class are one segment (a label map holds one
per stuff class): a crowd only if all its parts that kept pixels are, with the attributes and score of the first
of them. A thing keeps the file's `instance` number when it gives one that is free (and fits the segment table),
else the next free number of its class.

No Django here: the service passes plain data in and writes what comes out (tests/unit/test_imports.py).
"""

import io
import json
import math
import re
import sys
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image as PILImage
from scipy import ndimage

from labeling.exports.names import portable_name, without_id_prefix
from labeling.ingest.images import pillow_pixel_limit

MAX_LISTED_PROBLEMS = 500
MAX_SEGMENTS_PER_IMAGE = 2**32 - 2
# COCO nests 5 deep (document, annotations, annotation, segmentation, polygon). The parser recurses once per
# level, so a file nested thousands deep would exhaust the stack: such files are refused before parsing.
MAX_JSON_DEPTH = 200


@dataclass(frozen=True)
class TargetClass:
    id: int
    name: str
    kind: str  # "thing" | "stuff"


@dataclass(frozen=True)
class TargetImage:
    id: int
    export_name: str  # "<id>_<name>": what exports called it before they kept original names (still matched)
    original_name: str
    width: int
    height: int


@dataclass(frozen=True)
class ImportedSegment:
    segment_id: int
    class_id: int
    instance: int | None
    attributes: dict[str, Any]
    score: float | None = None


@dataclass
class ImportedImage:
    image: TargetImage
    label_map: np.ndarray  # (height, width) uint32 segment ids, 0 unlabelled
    segments: list[ImportedSegment]
    where: str  # the file it came from, for messages


@dataclass(frozen=True)
class Problem:
    severity: str  # "error": the import applies nothing; "warning": listed, the rest goes on
    code: str
    where: str
    message: str


@dataclass
class Report:
    """Every problem found, counted; the first MAX_LISTED_PROBLEMS kept to show."""

    problems: list[Problem] = field(default_factory=list)
    errors: int = 0
    warnings: int = 0

    def error(self, code: str, where: str, message: str) -> None:
        self.errors += 1
        self._keep(Problem("error", code, where, message))

    def warning(self, code: str, where: str, message: str) -> None:
        self.warnings += 1
        self._keep(Problem("warning", code, where, message))

    def _keep(self, problem: Problem) -> None:
        if len(self.problems) < MAX_LISTED_PROBLEMS:  # texts quote the file: bounded, so is the job's result
            self.problems.append(Problem(problem.severity, problem.code, _bounded(problem.where),
                                         _bounded(problem.message)))

    def as_dict(self) -> dict[str, Any]:
        return {"errors": self.errors, "warnings": self.warnings,
                "problems": [asdict(p) for p in self.problems],
                "problems_left_off": self.errors + self.warnings - len(self.problems)}


def _bounded(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass(frozen=True)
class ImportOptions:
    """What the user chose beside the format. `void_value`: a pixel value of mask PNGs (and VOC PNGs) that means
    "no label" (VOC's 255 boundary, say) rather than a value the table must list; None: no such value."""

    void_value: int | None = None


class UnreadableFile(Exception):
    """A whole file cannot be read (not JSON, the wrong shape): reported as one error by the importer, under
    `code`."""

    def __init__(self, message: str, code: str = "not_json"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Files:
    """The upload's files by their names inside it ("/"-separated), each extracted to a local path."""

    paths: dict[str, Path]
    max_json_bytes: int = 512 * 1024**2  # JSON is parsed whole: a bound on the memory it takes

    def names(self, suffix: str = "") -> list[str]:
        return sorted(n for n in self.paths if n.lower().endswith(suffix))

    def read(self, name: str) -> bytes:
        return self.paths[name].read_bytes()

    def json(self, name: str) -> Any:
        size = self.paths[name].stat().st_size
        if size > self.max_json_bytes:
            raise UnreadableFile(f"{size:,} bytes of JSON; imports read at most {self.max_json_bytes:,}")
        return load_json(self.read(name))


def json_documents(files: Files, report: Report, *, fits: Callable[[Any], str | None],
                   wanted: str, skip: Collection[str] = ()) -> Iterator[tuple[str, Any]]:
    """(name, document) of each JSON of the upload the format reads (but those named in `skip`, read already),
    parsed one at a time. `fits(document)` is None for one it reads, "" for one that is plainly something else (a
    classes table: left out), or why a document that looks like the format's is not one (an error). Finding none
    to read is an error too."""
    found = 0
    for name in files.names(".json"):
        if name in skip:
            continue
        try:
            document = files.json(name)
        except UnreadableFile as exc:
            report.error(exc.code, name, str(exc))
            continue
        why = fits(document)
        if why is None:
            found += 1
            yield name, document
        elif why:
            report.error("bad_annotations_file", name, why)
    if not found and not report.errors:
        report.error("no_annotations_file", "upload", f"no {wanted} in the upload")


def load_json(data: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> dict | list:
    """The JSON object or array `data` holds (UTF-8, -16 or -32, as `json.loads` reads it), or UnreadableFile
    with the code of why not: "not_json", "json_too_deep" (objects and arrays nested more than `max_depth`
    deep; counted before parsing), "json_number_too_large" (a number beyond any float, or an integer beyond
    Python's digit limit) or "json_bare_value" (a lone string, number, true/false or null)."""
    try:
        text = data.decode(json.detect_encoding(data), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"not valid JSON: {exc}") from exc
    depth = nesting_depth(text)
    if depth > max_depth:
        raise UnreadableFile(f"objects and arrays nest {depth:,} deep; imports read at most {max_depth}",
                             "json_too_deep")
    try:
        document = json.loads(text, parse_float=_finite_float, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(f"not valid JSON: {exc}") from exc
    except ValueError as exc:  # the parser's only other one: int() refusing a literal past the digit limit
        raise UnreadableFile(f"an integer has more than {sys.get_int_max_str_digits():,} digits",
                             "json_number_too_large") from exc
    if not isinstance(document, dict | list):
        raise UnreadableFile(f"the JSON is a lone {_JSON_KINDS[type(document)]}, not an object or an array",
                             "json_bare_value")
    return document


_JSON_KINDS = {str: "string", int: "number", float: "number", bool: "true/false", type(None): "null"}
# A JSON string from its opening quote, escapes included (to the end of the text when it is never closed).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = np.zeros(128, dtype=np.int64)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1


def nesting_depth(text: str) -> int:
    """How deep the objects and arrays of a JSON text nest, found without recursion: its brackets outside
    strings, counted. Exact up to the first syntax error, which is as far as a parser goes."""
    brackets = np.frombuffer(_NOT_BRACKET.sub("", _JSON_STRING.sub("", text)).encode("ascii"), dtype=np.uint8)
    deepest = depth = 0
    for start in range(0, len(brackets), 1 << 22):  # in slices: the running sum takes 8 bytes a bracket
        running = depth + np.cumsum(_BRACKET_STEP[brackets[start:start + (1 << 22)]])
        deepest, depth = max(deepest, int(running.max())), int(running[-1])
    return deepest


def _finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):  # "1e999": valid JSON, but no float holds it
        raise UnreadableFile(f"the number {_bounded(literal, 40)} is beyond any float", "json_number_too_large")
    return value


def _reject_constant(name: str):
    raise UnreadableFile(f"not valid JSON: {name} is not a number JSON allows")


class ImageResolver:
    """Finds the project image a file names. The names tried, in turn: the file's name, its base name and their
    stems, each against this project's `<id>_<name>` export names, then against every image's original name,
    base name and portable export name (`labeling.exports.names`) and their stems; last, a name that carries
    another project's `<id>_` prefix is tried without it, so an export imports into any project holding the
    same files. A name two images share is ambiguous."""

    def __init__(self, images: Iterable[TargetImage]):
        self._by_export: dict[str, TargetImage] = {}
        self._by_name: dict[str, list[TargetImage]] = {}
        for image in images:
            self._by_export[image.export_name] = image
            self._by_export[PurePosixPath(image.export_name).stem] = image
            base = image.original_name.rsplit("/", 1)[-1]
            portable = portable_name(image.original_name)
            keys = {image.original_name, base, PurePosixPath(base).stem, portable, PurePosixPath(portable).stem}
            for key in keys:
                self._by_name.setdefault(key, []).append(image)

    def resolve(self, name: str) -> tuple[TargetImage | None, str]:
        """(image, "") or (None, why): "missing" or "ambiguous"."""
        name = str(name)
        base = name.rsplit("/", 1)[-1]
        found, why = self._lookup((name, base, PurePosixPath(base).stem))
        if found is None and why == "missing" and (foreign := without_id_prefix(base)) is not None:
            return self._lookup((foreign, PurePosixPath(foreign).stem), exports=False)
        return found, why

    def _lookup(self, candidates: tuple[str, ...], *, exports: bool = True) -> tuple[TargetImage | None, str]:
        for candidate in candidates:
            if exports and candidate in self._by_export:
                return self._by_export[candidate], ""
            found = self._by_name.get(candidate, [])
            if len(found) == 1:
                return found[0], ""
            if len(found) > 1:
                return None, "ambiguous"
        return None, "missing"


def resolve_image_file(images: ImageResolver, name: str, report: Report) -> TargetImage | None:
    """The project image a per-image file (a mask PNG, named by its image's stem) belongs to, or None, reported:
    an error when the name fits several images, a warning (the file is skipped) when it fits none."""
    image, why = images.resolve(PurePosixPath(name).stem)
    if image is None:
        if why == "ambiguous":
            report.error("ambiguous_image", name, "its name fits more than one image of the project")
        else:
            report.warning("image_not_found", name, "no image of the project has this name; skipped")
    return image


class ClassResolver:
    """Matches the file's category names to the project's classes: exactly, else ignoring case when that is
    unique."""

    def __init__(self, classes: Iterable[TargetClass]):
        self.classes = list(classes)
        self._exact = {c.name: c for c in self.classes}
        folded: dict[str, list[TargetClass]] = {}
        for c in self.classes:
            folded.setdefault(c.name.casefold(), []).append(c)
        self._folded = {k: v[0] for k, v in folded.items() if len(v) == 1}

    def resolve(self, name: Any) -> TargetClass | None:
        if not isinstance(name, str):
            return None
        return self._exact.get(name) or self._folded.get(name.casefold())


@dataclass
class Piece:
    """One mask of a file for one image, before the overlap rule: its pixels as a crop placed at (x, y)."""

    order: int
    target: TargetClass
    crop: np.ndarray  # bool
    x: int
    y: int
    crowd: bool = False
    instance: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    score: float | None = None
    where: str = ""

    @property
    def area(self) -> int:
        return int(self.crop.sum())


class BadPng(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def read_png(data: bytes, *, size: tuple[int, int], modes: tuple[str, ...], what: str) -> np.ndarray:
    """The pixels of a PNG that must be `size` (width, height) and one of `modes`, as a numpy array; BadPng
    ("bad_png" or "size_mismatch") otherwise. The size is checked from the header, before anything is decoded,
    and Pillow's own pixel limit is lifted to the image's size (a label PNG is as large as its image)."""
    try:
        with pillow_pixel_limit(max(1, size[0] * size[1])), PILImage.open(io.BytesIO(data)) as png:
            if png.format != "PNG":
                raise BadPng("bad_png", f"not a PNG but {png.format}")
            if png.size != size:
                raise BadPng("size_mismatch", f"the PNG is {png.width}x{png.height}, its image {size[0]}x{size[1]}")
            if png.mode not in modes:
                raise BadPng("bad_png", f"{what} is {' or '.join(modes)}; this one is {png.mode}")
            return np.asarray(png)
    except BadPng:
        raise
    except (OSError, ValueError, SyntaxError, PILImage.DecompressionBombError) as exc:
        raise BadPng("bad_png", f"not a readable PNG: {exc}") from None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def crops_by_value(values: np.ndarray, *,
                   max_pixels: int | None = None) -> dict[int, tuple[np.ndarray, int, int]] | None:
    """{value: (bool crop, x, y)} of every non-zero value of an (h, w) integer image: bounding boxes from one
    C pass (scipy's find_objects) rather than one full-image comparison per value (a PNG may hold thousands).
    None when the boxes hold more than `max_pixels` pixels together (see `cover_budget`)."""
    top = int(values.max(initial=0))
    if top <= 0:
        return {}
    if top <= 1 << 20:
        labels, names = values, None
    else:  # sparse large ids (panoptic R + 256·G + 256²·B): numbered 1..k first
        names, inverse = np.unique(values, return_inverse=True)
        labels = inverse.reshape(values.shape) + (0 if names[0] == 0 else 1)
        names = names if names[0] == 0 else np.concatenate(([0], names))
    boxes = ndimage.find_objects(labels.astype(np.int64, copy=False))
    if max_pixels is not None:
        held = sum((b[0].stop - b[0].start) * (b[1].stop - b[1].start) for b in boxes if b is not None)
        if held > max_pixels:
            return None
    crops = {}
    for index, box in enumerate(boxes, 1):
        if box is not None:
            value = index if names is None else int(names[index])
            crops[value] = (labels[box] == index, box[1].start, box[0].start)
    return crops


def finite_score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer literal beyond any float
        return None
    return round(number, 6) if math.isfinite(number) else None


def json_attributes(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


MAX_INSTANCE = 2**31 - 1  # what the segment table stores
MAX_COVER = 8  # an image's pieces may hold at most this many times its pixels (overlaps), bounding memory


def instance_number(value: Any) -> int | None:
    """A usable instance number from the file, or None (then the next free one of its class is given)."""
    return value if is_int(value) and 1 <= value <= MAX_INSTANCE else None


def compose(image: TargetImage, pieces: list[Piece], report: Report, where: str) -> ImportedImage:
    """The label map and segments of one image's pieces, by the module's overlap rule."""
    # Segments in the order the file first lists them; stuff of one class shares one segment.
    segment_of: list[int] = []
    heads = 0
    stuff_segment: dict[int, int] = {}
    for piece in pieces:
        if piece.target.kind == "stuff" and piece.target.id in stuff_segment:
            segment_of.append(stuff_segment[piece.target.id])
            continue
        heads += 1
        segment_of.append(heads)
        if piece.target.kind == "stuff":
            stuff_segment[piece.target.id] = heads
    if heads > MAX_SEGMENTS_PER_IMAGE:
        report.error("too_many_segments", where, f"{heads} segments; a label map holds at most "
                                                 f"{MAX_SEGMENTS_PER_IMAGE}")
    label_map = np.zeros((image.height, image.width), dtype=np.uint32)
    areas = [p.area for p in pieces]
    # Painted from the lowest priority up, so the highest (non-crowd, smallest, first listed) is painted last.
    order = sorted(range(len(pieces)), key=lambda i: (not pieces[i].crowd, -areas[i], -pieces[i].order))
    for i in order:
        piece = pieces[i]
        h, w = piece.crop.shape
        label_map[piece.y:piece.y + h, piece.x:piece.x + w][piece.crop] = segment_of[i]
    # Which pieces kept pixels of their own (a stuff piece may be covered while its class's segment lives on).
    kept_pixels = []
    for i, piece in enumerate(pieces):
        h, w = piece.crop.shape
        window = label_map[piece.y:piece.y + h, piece.x:piece.x + w]
        kept_pixels.append(bool(areas[i]) and bool((window[piece.crop] == segment_of[i]).any()))
        if areas[i] and not kept_pixels[i]:
            report.warning("covered", piece.where, "every pixel of it is covered by smaller annotations; "
                                                   "not imported")
    # Each segment from the pieces that kept pixels: attributes and score of the first, crowd only if all are.
    members: dict[int, list[Piece]] = {}
    for i, piece in enumerate(pieces):
        if kept_pixels[i]:
            members.setdefault(segment_of[i], []).append(piece)
    kept = sorted(members)
    if kept != list(range(1, len(kept) + 1)):  # renumbered 1..n in order
        renumber = np.zeros(heads + 1, dtype=np.uint32)
        renumber[kept] = np.arange(1, len(kept) + 1, dtype=np.uint32)
        label_map = renumber[label_map]
    used: dict[int, set[int]] = {}
    chosen: dict[int, int | None] = {}
    for s in kept:
        first = members[s][0]
        number = instance_number(first.instance) if first.target.kind == "thing" else None
        if number is not None and number in used.setdefault(first.target.id, set()):
            number = None  # listed twice: the later one gets the next free number
        if number is not None:
            used[first.target.id].add(number)
        chosen[s] = number
    segments = []
    for new_id, s in enumerate(kept, 1):
        first = members[s][0]
        instance = chosen[s]
        if first.target.kind == "thing" and instance is None:
            taken = used.setdefault(first.target.id, set())
            instance = next(n for n in range(1, len(taken) + 2) if n not in taken)
            taken.add(instance)
        attributes = dict(first.attributes)
        if all(p.crowd for p in members[s]):
            attributes["iscrowd"] = 1
        segments.append(ImportedSegment(segment_id=new_id, class_id=first.target.id, instance=instance,
                                        attributes=attributes, score=first.score))
    return ImportedImage(image=image, label_map=label_map, segments=segments, where=where)


def cover_budget(image: TargetImage) -> int:
    """How many crop pixels one image's pieces may hold: overlapping full-image masks by the dozen are no
    labelling, and every piece is held until the image is composed."""
    return MAX_COVER * max(1, image.width * image.height)


def report_overlap(report: Report, where: str) -> None:
    report.error("too_much_overlap", where, f"its masks' bounding boxes cover the image more than {MAX_COVER} "
                                            "times over; not read")


def unique_images(images: Iterator[ImportedImage], report: Report) -> Iterator[ImportedImage]:
    """Each project image once: a second file entry for an image already imported is an error."""
    seen: dict[int, str] = {}
    for item in images:
        if item.image.id in seen:
            report.error("duplicate_image", item.where, f"image {item.image.export_name} is also given in "
                                                        f"{seen[item.image.id]}")
            continue
        seen[item.image.id] = item.where
        yield item
