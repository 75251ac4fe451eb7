"""Pascal VOC segmentation in: the layout VOC2012 ships, CVAT writes and our `pascal_voc` export writes, under any
folder (`VOCdevkit/VOC2012/`, or the top of the ZIP):

  SegmentationClass/<stem>.png   each pixel its class index (paletted or grey; an RGB one is read by the classes'
                                 colours)
  SegmentationObject/<stem>.png  optional: each pixel its object's number within the image (paletted or grey)
  labelmap.txt                   optional: `name:r,g,b:parts:actions` a line, line k naming index k, background
                                 first (CVAT's and our export's); a labelmap that does not start with background
                                 is read as if it did (its first line is index 1). Without one, the 21 classes of
                                 VOC2012 in its order (background, aeroplane, ..., tvmonitor) with VOC's colours.
  ImageSets/, JPEGImages/        not read: every class PNG is imported, and photos are never taken for masks

Background (index 0, and any class named background) and 255 (VOC's void: object boundaries, difficult regions)
are no label, as is `ImportOptions.void_value` when given. Classes are matched to the project's by name
(`ClassResolver`). A PNG names its image by its stem (an export's `<id>_<name>`, or the original file's stem).

Segments: with an object PNG, each object is one segment, of the one class its pixels have in the class PNG
(instance projects; our export numbers stuff segments as objects too); class pixels in no object become one
segment of their class (a warning). Without an object PNG each class present is one segment (semantic labels).
Stuff segments of one class become one, as in every importer (`base.compose`).

Errors (with `skip_invalid`, the item named is left out and the rest applied): an unreadable labelmap, a PNG that
is unreadable or of another size than its image, a class index the labelmap does not have or a colour it does
not list (the whole image), an object whose pixels have several classes (that object), a class the project lacks
where a PNG uses it (its pixels). Warnings: a PNG whose image is not in the project (skipped); the labelmap's
classes the project lacks that no PNG uses (one warning at the end).
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from labeling.exports.pascal_voc import voc_colormap
from labeling.imports.base import (
    BadPng,
    ClassResolver,
    Files,
    ImageResolver,
    ImportedImage,
    ImportOptions,
    Piece,
    Report,
    TargetClass,
    compose,
    cover_budget,
    crops_by_value,
    read_png,
    report_overlap,
    resolve_image_file,
)

VOC2012_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
                   "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
                   "train", "tvmonitor")
VOID = 255  # VOC's "ignore" value in both PNGs
_VOC_PALETTE = voc_colormap()
CLASS_FOLDER, OBJECT_FOLDER = "SegmentationClass", "SegmentationObject"


@dataclass
class _Labelmap:
    """A dataset's classes by index: each one's name and colour (None: none given)."""

    where: str  # "labelmap.txt" or where the VOC2012 default came from, for messages
    names: list[str]
    colours: list[tuple[int, int, int] | None]
    used_unknown: set[int] = field(default_factory=set)
    reported: set[int] = field(default_factory=set)


def import_pascal_voc(files: Files, classes: ClassResolver, images: ImageResolver, report: Report,
                      options: ImportOptions = ImportOptions()) -> Iterator[ImportedImage]:
    roots: dict[str, list[str]] = {}
    for name in files.names(".png"):
        parts = PurePosixPath(name).parts
        if len(parts) >= 2 and parts[-2] == CLASS_FOLDER:
            roots.setdefault("/".join(parts[:-2]), []).append(name)
    if not roots:
        objects = any(PurePosixPath(n).parts[-2:-1] == (OBJECT_FOLDER,) for n in files.names(".png"))
        report.error("no_masks", "upload", f"no {CLASS_FOLDER}/ folder of PNGs (Pascal VOC's layout)"
                     + (f"; the {OBJECT_FOLDER}/ PNGs alone carry no classes" if objects else ""))
        return
    for root, pngs in sorted(roots.items()):
        labelmap = _labelmap(files, root, report)
        if labelmap is None:
            continue
        targets = [None if n.strip().casefold() == "background" else classes.resolve(n) for n in labelmap.names]
        for name in pngs:
            item = _image(files, root, name, labelmap, targets, images, report, options.void_value)
            if item is not None:
                yield item
        unused = [labelmap.names[i] for i, t in enumerate(targets)
                  if t is None and labelmap.names[i].strip().casefold() != "background"
                  and i not in labelmap.used_unknown]
        if unused:
            report.warning("unused_category", labelmap.where,
                           f"{len(unused)} class(es) the project lacks and no PNG uses: {', '.join(unused[:30])}"
                           + ("…" if len(unused) > 30 else ""))


def _joined(root: str, *parts: str) -> str:
    return "/".join(p for p in (root, *parts) if p)


def _labelmap(files: Files, root: str, report: Report) -> _Labelmap | None:
    where = _joined(root, "labelmap.txt")
    if where not in files.paths:
        colours = [tuple(_VOC_PALETTE[3 * i:3 * i + 3]) for i in range(len(VOC2012_CLASSES))]
        return _Labelmap(f"VOC2012's classes (no {where})", list(VOC2012_CLASSES), colours)
    try:
        names, colours = parse_labelmap(files.read(where).decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        report.error("bad_labelmap", where, f"not a VOC labelmap: {exc}")
        return None
    return _Labelmap(where, names, colours)


def parse_labelmap(text: str) -> tuple[list[str], list[tuple[int, int, int] | None]]:
    """(names, colours) by index from a labelmap's text (module note); ValueError saying what is wrong."""
    names: list[str] = []
    colours: list[tuple[int, int, int] | None] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(":")
        colour_text = rest.split(":", 1)[0].strip()
        if not name.strip():
            raise ValueError(f"line {number} names no class")
        if name.strip().casefold() in {n.strip().casefold() for n in names}:
            raise ValueError(f"line {number}: the class {name!r} is named twice")
        colour = None
        if colour_text:
            try:
                rgb = tuple(int(v) for v in colour_text.split(","))
            except ValueError:
                raise ValueError(f"line {number}: the colour {colour_text[:40]!r} is not r,g,b") from None
            if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
                raise ValueError(f"line {number}: the colour {colour_text[:40]!r} is not r,g,b from 0 to 255")
            colour = rgb
        names.append(name)
        colours.append(colour)
    if not names:
        raise ValueError("it names no class")
    if names[0].strip().casefold() != "background":  # VOC's index 0 is background, listed or not
        names.insert(0, "background")
        colours.insert(0, (0, 0, 0))
    if len(names) > VOID:
        raise ValueError(f"{len(names)} classes with background; a VOC PNG holds at most {VOID} (255 is void)")
    return names, colours


def _image(files: Files, root: str, name: str, labelmap: _Labelmap, targets: list[TargetClass | None],
           images: ImageResolver, report: Report, void: int | None) -> ImportedImage | None:
    image = resolve_image_file(images, name, report)
    if image is None:
        return None
    size = (image.width, image.height)
    try:
        classes = _class_indices(files.read(name), size, labelmap)
    except BadPng as exc:
        report.error(exc.code, name, str(exc))
        return None
    labelled = (classes != 0) & (classes != VOID)
    if void is not None:
        labelled &= classes != void
    present = np.unique(classes[labelled])
    beyond = [int(v) for v in present if v >= len(labelmap.names)]
    if beyond:
        report.error("unknown_value", name, f"class index(es) {beyond[:5]} beyond the {len(labelmap.names)} classes "
                                            f"of {labelmap.where}")
        return None
    for index in present:
        index = int(index)
        if targets[index] is None and labelmap.names[index].strip().casefold() != "background":
            labelmap.used_unknown.add(index)
            if index not in labelmap.reported:
                labelmap.reported.add(index)
                report.error("unknown_category", f"{labelmap.where}: {labelmap.names[index]}",
                             f"no class named {labelmap.names[index]!r} in the project; its pixels are not imported "
                             f"(first in {name})")
    usable = np.zeros(len(labelmap.names), dtype=bool)
    usable[[i for i, t in enumerate(targets) if t is not None]] = True
    labelled &= usable[np.minimum(classes, len(labelmap.names) - 1)]

    object_name = _joined(root, OBJECT_FOLDER, name[len(_joined(root, CLASS_FOLDER)) + 1:])
    budget = cover_budget(image)
    pieces: list[Piece] = []
    if object_name in files.paths:
        try:
            objects = read_png(files.read(object_name), size=size, modes=("P", "L"),
                               what="a VOC object PNG (one 8-bit channel)")
        except BadPng as exc:
            report.error(exc.code, object_name, str(exc))
            return None
        keep = labelled & (objects != VOID)
        if void is not None:
            keep &= objects != void
        objects = np.where(keep, objects, 0)
        crops = crops_by_value(objects, max_pixels=budget)
        if crops is None:
            report_overlap(report, object_name)
            return None
        for value, (crop, x, y) in sorted(crops.items()):
            h, w = crop.shape
            found = np.unique(classes[y:y + h, x:x + w][crop])
            at = f"{object_name}, object {value}"
            if len(found) > 1:
                report.error("mixed_object", at, f"its pixels have {len(found)} classes in the class PNG "
                                                 f"({', '.join(labelmap.names[int(i)] for i in found[:5])}); "
                                                 "not imported")
                continue
            pieces.append(Piece(order=len(pieces), target=targets[int(found[0])], crop=crop, x=x, y=y, where=at))
        labelled &= objects == 0
        leftover = True
    else:
        leftover = False
    rest = crops_by_value(np.where(labelled, classes, 0), max_pixels=budget)
    if rest is None:
        report_overlap(report, name)
        return None
    for index, (crop, x, y) in sorted(rest.items()):
        if leftover:
            report.warning("outside_objects", f"{name}, class {labelmap.names[index]}",
                           f"{int(crop.sum()):,} pixels of this class lie in no object of {object_name}; imported as "
                           "one segment of the class")
        pieces.append(Piece(order=len(pieces), target=targets[index], crop=crop, x=x, y=y,
                            where=f"{name}, class {labelmap.names[index]}"))
    return compose(image, pieces, report, name)


def _class_indices(data: bytes, size: tuple[int, int], labelmap: _Labelmap) -> np.ndarray:
    """(h, w) class indices of a class PNG: a paletted or grey one holds them; an RGB one is read through the
    labelmap's colours (VOC's void colour, 224,224,192, is 255). BadPng when it is neither, or has another
    colour."""
    pixels = read_png(data, size=size, modes=("P", "L", "RGB", "RGBA"), what="a VOC class PNG")
    if pixels.ndim == 2:
        return pixels
    rgb = pixels[..., :3].astype(np.uint32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    lookup = {(r << 16) | (g << 8) | b: i for i, c in enumerate(labelmap.colours) if c is not None
              for r, g, b in [c]}
    lookup.setdefault((224 << 16) | (224 << 8) | 192, VOID)
    colours, inverse = np.unique(packed, return_inverse=True)
    unknown = [int(c) for c in colours if int(c) not in lookup]
    if unknown:
        shown = ", ".join(f"({c >> 16},{(c >> 8) & 255},{c & 255})" for c in unknown[:5])
        raise BadPng("unknown_colour", f"an RGB class PNG with colour(s) {shown} that no class of "
                                       f"{labelmap.where} has")
    indices = np.asarray([lookup[int(c)] for c in colours], dtype=np.uint8)
    return indices[inverse.reshape(packed.shape)]
