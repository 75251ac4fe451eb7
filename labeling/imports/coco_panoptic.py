"""COCO panoptic in: each JSON of the upload whose annotations carry `segments_info`, with its PNGs in one folder
(`png_folder`): the folder of the JSON's name (COCO's layout: `panoptic_val2017.json` beside
`panoptic_val2017/`), else the one folder holding the annotations' PNGs whose name says panoptic, else the one
such folder that is no photo folder (`images/`, `JPEGImages/`, ...). A dataset zipped whole often holds photos
named like the masks (`images/x.png` beside `panoptic/x.png`): a PNG outside the chosen folder is never read as a
mask. A pixel's segment id is R + 256·G + 256²·B, 0 is void. Segments keep the file's order; several stuff
segments of one class become one.

Errors: no folder (or several) holding the PNGs, an unreadable or non-RGB PNG, a PNG of another size than the
image, a pixel value with no entry in `segments_info`, a duplicate segment or image id (the first is used), an
unknown category, an annotation whose image is not in the file. Warnings: an image not in the project (skipped),
a `segments_info` entry with no pixels.
"""

from collections.abc import Iterator
from pathlib import PurePosixPath

import numpy as np

from labeling.imports.base import (
    BadPng,
    ClassResolver,
    Files,
    ImageResolver,
    ImportedImage,
    ImportOptions,
    Piece,
    Report,
    compose,
    cover_budget,
    crops_by_value,
    finite_score,
    instance_number,
    is_int,
    json_attributes,
    json_documents,
    read_png,
    report_overlap,
)
from labeling.imports.coco_instances import categories_of

# Folder names that hold a dataset's photos, never its panoptic PNGs (compared ignoring case).
PHOTO_FOLDERS = frozenset({"images", "image", "imgs", "img", "jpegimages", "photos", "pictures", "rgb"})


def import_coco_panoptic(files: Files, classes: ClassResolver, images: ImageResolver, report: Report,
                         options: ImportOptions = ImportOptions()) -> Iterator[ImportedImage]:
    documents = json_documents(files, report, fits=is_coco_panoptic,
                               wanted="COCO panoptic JSON (annotations with segments_info)")
    for name, document in documents:
        yield from _document(name, document, files, classes, images, report)


def is_coco_panoptic(document) -> str | None:
    """None when it is COCO panoptic; "" when it is some other JSON; else why a panoptic-looking one is not."""
    if not isinstance(document, dict) or not isinstance(document.get("annotations"), list):
        return ""
    if not all(isinstance(a, dict) and "segments_info" in a for a in document["annotations"]):
        return "not COCO panoptic: every annotation needs segments_info (COCO instances import as coco_instances)"
    missing = [k for k in ("images", "categories") if not isinstance(document.get(k), list)]
    return f"not COCO panoptic: {', '.join(missing)} must be lists" if missing else None


def _document(name: str, document: dict, files: Files, classes: ClassResolver, images: ImageResolver,
              report: Report) -> Iterator[ImportedImage]:
    used = {info.get("category_id") for ann in document["annotations"] if isinstance(ann, dict)
            for info in (ann.get("segments_info") if isinstance(ann.get("segments_info"), list) else [])
            if isinstance(info, dict) and is_int(info.get("category_id"))}
    categories = categories_of(document, classes, report, name, used)
    file_names: dict[int, str] = {}
    for entry in document["images"]:
        if isinstance(entry, dict) and is_int(entry.get("id")):
            if entry["id"] in file_names:
                report.error("duplicate_id", f"{name}: image {entry['id']}", "two images have this id; the first "
                                                                             "is used")
                continue
            file_names[entry["id"]] = str(entry.get("file_name", ""))
    if not document["annotations"]:
        return
    folder, why = png_folder(files, name, [str(a.get("file_name", "")) for a in document["annotations"]])
    if folder is None:
        report.error("png_folder", name, why)
        return
    for ann in document["annotations"]:
        iid = ann.get("image_id")
        where = f"{name}: annotation of image {iid if is_int(iid) else '?'}"
        if not is_int(iid) or iid not in file_names:
            report.error("dangling_id", where, f"image_id {iid!r} is not among the file's images"[:300])
            continue
        image, why = images.resolve(file_names[iid])
        if image is None:
            if why == "ambiguous":
                report.error("ambiguous_image", where, f"{file_names[iid]!r} names more than one image of the "
                                                       "project")
            else:
                report.warning("image_not_found", where, f"no image {file_names[iid]!r} in the project; skipped")
            continue
        png_name = _joined(folder, str(ann.get("file_name", "")))
        if png_name not in files.paths:
            report.error("missing_png", where, f"no PNG {ann.get('file_name')!r} in {folder or 'the top'}/, the "
                                               "folder of this JSON's PNGs")
            continue
        try:
            ids = panoptic_ids(files.read(png_name), size=(image.width, image.height))
        except BadPng as exc:
            report.error(exc.code, png_name, str(exc))
            continue
        pieces = _pieces(ids, ann["segments_info"], categories, report, where, budget=cover_budget(image))
        if pieces is not None:
            yield compose(image, pieces, report, where)


def _joined(folder: str, file_name: str) -> str:
    return f"{folder}/{file_name}" if folder else file_name


def png_folder(files: Files, json_name: str, png_names: list[str]) -> tuple[str | None, str]:
    """(the folder, "" for the top of the upload) a panoptic JSON's PNGs are read from, or (None, why): the module
    note's order, each choice among the folders that hold at least one of `png_names`."""
    own = str(PurePosixPath(json_name).with_suffix(""))
    wanted = {n for n in png_names if n}
    holding: set[str] = set()
    for path in files.paths:
        if path in wanted:
            holding.add("")
        for cut in (i for i, ch in enumerate(path) if ch == "/"):
            if path[cut + 1:] in wanted:
                holding.add(path[:cut])
    if own in holding:
        return own, ""
    if not holding:
        return None, (f"none of its {len(wanted):,} PNGs is in the upload (COCO's layout puts them in {own}/)"
                      if wanted else "its annotations name no PNG (file_name)")
    last = {f: f.rsplit("/", 1)[-1].casefold() for f in holding}
    panoptic = sorted(f for f in holding if "panoptic" in last[f])
    if len(panoptic) == 1:
        return panoptic[0], ""
    masks = panoptic or sorted(f for f in holding if last[f] not in PHOTO_FOLDERS)
    shown = ", ".join(f"{f or '(top)'}/" for f in sorted(masks or holding)[:5])
    if len(masks) == 1:
        return masks[0], ""
    if not masks:
        return None, (f"its PNGs are only in {shown}, which holds the photos, not panoptic PNGs; put the panoptic "
                      f"PNGs in {own}/ (COCO's layout)")
    return None, f"its PNGs are in several folders ({shown}); keep one, or name it {own}/ (COCO's layout)"


def _pieces(ids: np.ndarray, segments_info, categories, report: Report, where: str,
            budget: int) -> list[Piece] | None:
    if not isinstance(segments_info, list):
        report.error("bad_annotation", where, "segments_info is not a list")
        return None
    crops = crops_by_value(ids, max_pixels=budget)
    if crops is None:
        report_overlap(report, where)
        return None
    pieces, seen, ok = [], set(), True
    for position, info in enumerate(segments_info):
        sid = info.get("id") if isinstance(info, dict) else None
        at = f"{where}, segment {sid}"
        if not is_int(sid) or sid < 1:
            report.error("bad_segment", at, "a segment needs a positive integer id")
            ok = False
            continue
        if sid in seen:
            report.error("duplicate_id", at, "two segments have this id")
            ok = False
            continue
        seen.add(sid)
        cid = info.get("category_id")
        if not is_int(cid) or cid not in categories:
            report.error("dangling_id", at, f"category_id {cid!r} is not among the file's categories")
            ok = False
            continue
        if categories[cid] is None:
            continue  # unknown category, reported once
        if sid not in crops:
            report.warning("empty_mask", at, "no pixel of the PNG has this id; not imported")
            continue
        crop, x0, y0 = crops[sid]
        pieces.append(Piece(order=position, target=categories[cid], crop=crop, x=x0, y=y0,
                            crowd=info.get("iscrowd") in (1, True), instance=instance_number(info.get("instance")),
                            attributes=json_attributes(info.get("attributes")), score=finite_score(info.get("score")),
                            where=at))
    unknown = sorted(set(crops) - seen)
    if unknown:
        report.error("unknown_segment_value", where, f"{len(unknown)} pixel value(s) have no segments_info entry, "
                                                     f"e.g. {unknown[:5]}")
        ok = False
    return pieces if ok else None


def panoptic_ids(data: bytes, *, size: tuple[int, int]) -> np.ndarray:
    """(h, w) uint32 segment ids of a panoptic PNG of `size` (R + 256·G + 256²·B); BadPng when it is not one."""
    rgb = read_png(data, size=size, modes=("RGB", "RGBA"), what="a panoptic PNG")[..., :3].astype(np.uint32)
    return rgb[..., 0] | (rgb[..., 1] << 8) | (rgb[..., 2] << 16)
