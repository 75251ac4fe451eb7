"""COCO instances in: every JSON of the upload with `images`, `annotations` and `categories` (an export's
`annotations/instances*.json`, or one bare JSON file). Segmentations are compressed RLE, uncompressed RLE (as
crowd regions usually are) or polygons, rasterised by pycocotools as every COCO reader does; overlaps resolve by
`base.compose`'s rule. The file's `bbox` and `area` are not trusted: they are computed from the pixels.

Polygons are rasterised by pycocotools on the image's size as they are (`frPyObjects(polygon, h, w)`), vertices
outside the image included: pycocotools keeps the part inside, as every COCO reader sees it. Clipping the
vertices to the image first would change the shape (labelme's chair lost 47 px that way).

COCO results (what detectors write, and `COCO.loadRes` reads): a JSON that is a bare list of annotations with
`image_id`, `category_id`, `segmentation` and `score`, and no images or categories of its own. Its ids are the
ones of the instances JSON the model was run on, so it is imported from a ZIP holding both: the results are the
pre-labels (scores kept), the one instances JSON beside them only names the images and categories (its own
annotations are not imported; a warning says so). A results file alone is refused with that explanation rather
than matched to the project's own ids by guess.

Per annotation, these are errors (the import applies nothing, or with `skip_invalid` leaves that annotation out;
every one is listed): an unknown or missing category, an `image_id` with no image entry, a duplicate annotation /
image / category id, an RLE whose size is not the image's or whose runs do not cover it, a polygon with fewer
than 3 points, an odd number of coordinates, a coordinate that is not a finite number or lies more than the
image's own width (height) outside it. Images of the file that are not in the project are warnings (skipped), as
are annotations with no pixels.
"""

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from labeling.imports.base import (
    ClassResolver,
    Files,
    ImageResolver,
    ImportedImage,
    ImportOptions,
    Piece,
    Report,
    UnreadableFile,
    compose,
    cover_budget,
    finite_score,
    instance_number,
    is_int,
    json_attributes,
    json_documents,
    report_overlap,
)
from labeling.masks.rle import bounding_crop, rle_to_crop

# A polygon may reach this many times the image's own width (height) past its edges: pycocotools keeps the part
# inside. Farther is refused: such coordinates belong to another image size, and pycocotools walks every edge
# at 5 points a pixel, so far-away vertices cost memory (and overflow its int coordinates past ~4e8).
OUT_OF_BOUNDS_REACH = 1.0


COCO_KEYS = ("images", "annotations", "categories")


def is_coco_instances(document: Any) -> str | None:
    """None when it is COCO instances; "" when it is some other JSON; else why a COCO-looking one is not."""
    if not isinstance(document, dict) or not any(k in document for k in COCO_KEYS):
        return ""
    missing = [k for k in COCO_KEYS if not isinstance(document.get(k), list)]
    if missing:
        return f"not COCO instances: {', '.join(missing)} must be lists"
    if any(isinstance(a, dict) and "segments_info" in a for a in document["annotations"][:1]):
        return "this is COCO panoptic (annotations with segments_info): import it as coco_panoptic"
    return None


def categories_of(document: dict, classes: ClassResolver, report: Report, name: str,
                  used: set[int]) -> dict[int, Any]:
    """{category id: project class, or None when it is unknown (its annotations are then skipped)}.

    A category no annotation uses (labelme's `_background_`, say) may be unknown to the project: a warning, not a
    failure. `used` holds the category ids the file's annotations name."""
    found: dict[int, Any] = {}
    for entry in document["categories"]:
        if not isinstance(entry, dict) or not is_int(entry.get("id")):
            report.error("bad_category", name, f"a category without an integer id: {_short(entry)}")
            continue
        cid = entry["id"]
        if cid in found:
            report.error("duplicate_id", f"{name}: category {cid}", "two categories have this id")
            continue
        target = classes.resolve(entry.get("name"))
        if target is None and cid not in used:
            report.warning("unused_category", f"{name}: category {cid}",
                           f"no class named {entry.get('name')!r} in the project; no annotation uses it")
        elif target is None:
            report.error("unknown_category", f"{name}: category {cid}",
                         f"no class named {entry.get('name')!r} in the project")
        elif "isthing" in entry and bool(entry["isthing"]) != (target.kind == "thing"):
            report.warning("kind_differs", f"{name}: category {cid}",
                           f"{target.name!r} is a {target.kind} class here; imported as {target.kind}")
        found[cid] = target
    return found


def import_coco_instances(files: Files, classes: ClassResolver, images: ImageResolver, report: Report,
                          options: ImportOptions = ImportOptions()) -> Iterator[ImportedImage]:
    arrays = [n for n in files.names(".json") if _starts_as_array(files, n)]
    lists, results_upload = _results_lists(files, arrays, report)
    if results_upload:  # even when every results list is at fault: its instances JSON is no import of its own
        yield from _results(files, lists, arrays, classes, images, report)
        return
    wanted = "COCO instances JSON (with images, annotations and categories lists) or COCO results list"
    for name, document in json_documents(files, report, fits=is_coco_instances, wanted=wanted, skip=arrays):
        yield from _document(name, document, classes, images, report)


RESULTS_ALONE = ("a COCO results file: a list of annotations whose image_id and category_id are the ids of the "
                 "instances JSON the model was run on, with no images or categories of its own. Upload a ZIP "
                 "holding it together with that instances JSON (its images and categories are read; its own "
                 "annotations are not imported)")


def is_coco_results(document: Any) -> str | None:
    """None when it is a COCO results list (an empty list included); "" when it is some other JSON (no item is an
    annotation); else why a list of annotations is not one."""
    if not isinstance(document, list):
        return ""
    annotation = [isinstance(i, dict) and "image_id" in i and "category_id" in i for i in document]
    if document and not any(annotation):
        return ""
    if not all(annotation):
        position = annotation.index(False)
        return (f"not COCO results: item #{position} is not an annotation with image_id and category_id, unlike "
                "the others")
    return None


def _starts_as_array(files: Files, name: str) -> bool:
    """Whether the JSON file's first value opens an array (read from its first bytes, in any JSON encoding)."""
    with open(files.paths[name], "rb") as fp:
        head = fp.read(4096)
    try:
        text = head.decode(json.detect_encoding(head), "ignore")
    except LookupError:
        return False
    return text.lstrip("\ufeff \t\r\n")[:1] == "["


def _results_lists(files: Files, arrays: list[str], report: Report) -> tuple[list[tuple[str, list]], bool]:
    """((name, list) of the JSON arrays `arrays` that are COCO results lists, whether any array is or looks like
    one); those that look like one but are not are reported, the others (plainly something else) left out."""
    lists, results_like = [], False
    for name in arrays:
        document = _parsed(files, name, report)
        why = is_coco_results(document) if document is not None else ""
        if why:
            report.error("bad_annotations_file", name, why)
        elif why is None:
            lists.append((name, document))
        results_like = results_like or why != ""
    return lists, results_like


def _results(files: Files, lists: list[tuple[str, list]], arrays: list[str], classes: ClassResolver,
             images: ImageResolver, report: Report) -> Iterator[ImportedImage]:
    """The results `lists`, read against the upload's one instances JSON (module note)."""
    tables: list[tuple[str, dict]] = []
    for name in files.names(".json"):
        if name not in arrays and (document := _parsed(files, name, report)) is not None:
            why = is_coco_instances(document)
            if why is None:
                tables.append((name, document))
            elif why:
                report.error("bad_annotations_file", name, why)
    if not lists:
        return
    if not tables:
        for name, _ in lists:
            report.error("results_without_images", name, f"this is {RESULTS_ALONE}")
        return
    if len(tables) > 1:
        report.error("ambiguous_instances", "upload",
                     f"{len(tables)} instances JSONs beside the results ({', '.join(n for n, _ in tables[:5])}); "
                     "a results file's ids refer to one of them: leave only that one in the ZIP")
        return
    table_name, table = tables[0]
    if table["annotations"]:
        report.warning("annotations_not_imported", table_name,
                       f"its {len(table['annotations']):,} annotations are not imported: beside a results file "
                       "it only names the images and categories")
    for name, document in lists:
        yield from _document(name, {"images": table["images"], "categories": table["categories"],
                                    "annotations": document}, classes, images, report, tables_from=table_name)


def _parsed(files: Files, name: str, report: Report) -> Any:
    try:
        return files.json(name)
    except UnreadableFile as exc:
        report.error(exc.code, name, str(exc))
        return None


def _document(name: str, document: dict, classes: ClassResolver, images: ImageResolver, report: Report, *,
              tables_from: str | None = None) -> Iterator[ImportedImage]:
    """One document's images; `tables_from` names the file its images and categories come from when that is
    another (a results list's instances JSON)."""
    used = {a.get("category_id") for a in document["annotations"]
            if isinstance(a, dict) and is_int(a.get("category_id"))}
    table_name = tables_from or name
    categories = categories_of(document, classes, report, table_name, used)
    targets: dict[int, Any] = {}  # file image id -> project image, or None when skipped
    entries: dict[int, dict] = {}
    for entry in document["images"]:
        if not isinstance(entry, dict) or not is_int(entry.get("id")):
            report.error("bad_image", table_name, f"an image without an integer id: {_short(entry)}")
            continue
        iid = entry["id"]
        where = f"{table_name}: image {iid}"
        if iid in entries:
            report.error("duplicate_id", where, "two images have this id")
            continue
        entries[iid] = entry
        target, why = images.resolve(entry.get("file_name", ""))
        if target is None:
            if why == "ambiguous":
                report.error("ambiguous_image", where, f"{entry.get('file_name')!r} names more than one image "
                                                       "of the project; rename one or use the export's names")
            else:
                report.warning("image_not_found", where, f"no image {entry.get('file_name')!r} in the project; "
                                                         "skipped")
            targets[iid] = None
            continue
        size = (entry.get("width"), entry.get("height"))
        if size != (target.width, target.height) and size != (None, None):
            report.error("size_mismatch", where, f"the file says {size[0]}x{size[1]}, the project's image "
                                                 f"{target.export_name} is {target.width}x{target.height}")
            targets[iid] = None
            continue
        targets[iid] = target

    # Checked and grouped by image first, decoded one image at a time: memory holds one image's masks.
    listed: dict[int, list[tuple[int, dict, str]]] = {}
    seen_ids: set[int] = set()
    for position, ann in enumerate(document["annotations"]):
        if not isinstance(ann, dict):
            report.error("bad_annotation", f"{name}: annotation #{position}", "not an object")
            continue
        aid = ann.get("id")
        where = f"{name}: annotation {aid if is_int(aid) else '#' + str(position)}"
        if aid is not None and not is_int(aid):
            report.error("bad_annotation", where, f"its id is not an integer: {_short(aid)}")
            continue
        if aid is not None:
            if aid in seen_ids:
                report.error("duplicate_id", where, "two annotations have this id")
                continue
            seen_ids.add(aid)
        iid, cid = ann.get("image_id"), ann.get("category_id")
        if not is_int(iid) or iid not in entries:
            report.error("dangling_id", where, f"image_id {_short(iid)} is not among the file's images")
            continue
        if not is_int(cid) or cid not in categories:
            report.error("dangling_id" if cid is not None else "missing_field", where,
                         f"category_id {_short(cid)} is not among the file's categories")
            continue
        if categories[cid] is not None and targets[iid] is not None:  # else reported with its category / image
            listed.setdefault(iid, []).append((position, ann, where))

    for iid, image in targets.items():
        if image is None or (tables_from and iid not in listed):
            continue  # a results list names few of its table's images: the others are not "listed without labels"
        where = f"{name}: image {iid}"
        pieces, held, budget = [], 0, cover_budget(image)
        for position, ann, at in listed.get(iid, ()):
            piece = _piece(position, ann, at, categories, image, report)
            if piece is not None:
                held += piece.crop.size
                if held > budget:
                    report_overlap(report, where)
                    break
                pieces.append(piece)
        else:
            yield compose(image, pieces, report, where)


def _piece(position: int, ann: dict, where: str, categories, image, report: Report) -> Piece | None:
    try:
        cropped = segmentation_crop(ann.get("segmentation"), height=image.height, width=image.width)
    except SegmentationError as exc:
        report.error(exc.code, where, str(exc))
        return None
    if cropped is None:
        report.warning("empty_mask", where, "the segmentation has no pixels; not imported")
        return None
    crop, x, y = cropped
    return Piece(order=position, target=categories[ann["category_id"]], crop=crop, x=x, y=y,
                 crowd=ann.get("iscrowd") in (1, True), instance=instance_number(ann.get("instance")),
                 attributes=json_attributes(ann.get("attributes")), score=finite_score(ann.get("score")),
                 where=where)


class SegmentationError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def segmentation_crop(segmentation: Any, *, height: int, width: int) -> tuple[np.ndarray, int, int] | None:
    """(bool crop, x, y) of a COCO segmentation's pixels (None: no pixels), or SegmentationError saying what is
    wrong with it."""
    if isinstance(segmentation, dict):
        try:
            return rle_to_crop(segmentation, shape=(height, width))
        except ValueError as exc:
            raise SegmentationError("bad_rle", f"bad RLE: {exc}") from None
    if not isinstance(segmentation, list) or not segmentation:
        raise SegmentationError("missing_field", "no segmentation (an RLE object or a list of polygons); a bbox "
                                                 "alone is no mask")
    polygons = []
    for k, polygon in enumerate(segmentation):
        if not isinstance(polygon, list) or not all(_is_number(v) for v in polygon):
            raise SegmentationError("bad_polygon", f"polygon {k} is not a list of numbers")
        if not all(_finite(v) for v in polygon):
            raise SegmentationError("bad_polygon", f"polygon {k} has a coordinate that is NaN or infinite")
        if len(polygon) % 2:
            raise SegmentationError("bad_polygon", f"polygon {k} has an odd number of coordinates "
                                                   f"({len(polygon)})")
        if len(polygon) < 6:
            raise SegmentationError("bad_polygon", f"polygon {k} has {len(polygon) // 2} points; at least 3 are "
                                                   "needed")
        points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        low, high = points.min(axis=0), points.max(axis=0)
        reach_x, reach_y = OUT_OF_BOUNDS_REACH * width, OUT_OF_BOUNDS_REACH * height
        if low[0] < -reach_x or low[1] < -reach_y or high[0] > width + reach_x or high[1] > height + reach_y:
            raise SegmentationError("out_of_bounds", f"polygon {k} reaches ({low[0]:g}, {low[1]:g})–"
                                                     f"({high[0]:g}, {high[1]:g}), farther outside the {width}x"
                                                     f"{height} image than its own size: coordinates of another "
                                                     "image size?")
        polygons.append(points.ravel().tolist())
    # Unclipped: pycocotools rasterises the part inside the image (module note).
    rles = coco_mask.frPyObjects(polygons, height, width)
    return bounding_crop(coco_mask.decode(coco_mask.merge(rles)).astype(bool))


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer literal beyond any float
        return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"
