"""A folder of mask PNGs in, as the mask exports write them:

- instance masks: `instance/**/<image stem>.png` (16-bit, each segment its value, 0 unlabelled) with
  `instances.json` (`categories` [{id, name}], `images` {stem: [{value, category_id, instance}]}); each value is
  one segment, in value order.
- semantic masks: `semantic/**/<image stem>.png` (8-bit grey or paletted, or 16-bit: each pixel its class index,
  0 unlabelled) with `classes.json` (`classes` [{index, name}]); each class present is one segment (a semantic
  mask cannot tell two things of one class apart), in index order.

When both are there the instance masks are imported (they hold more). `ImportOptions.void_value` (say VOC's 255,
the "ignore" boundary) names a pixel value that means "no label": such pixels stay unlabelled, and the table
need not list the value. A PNG names its image by its stem (the
export's `<id>_<name>`, or the original file name's stem). Errors: an unreadable PNG, one of another size than
its image, a value the table does not list, a table naming an unknown class, a missing table. Warnings: a PNG
whose image is not in the project (skipped).
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
    TargetClass,
    UnreadableFile,
    compose,
    cover_budget,
    crops_by_value,
    instance_number,
    is_int,
    read_png,
    report_overlap,
    resolve_image_file,
)


def import_mask_pngs(files: Files, classes: ClassResolver, images: ImageResolver, report: Report,
                     options: ImportOptions = ImportOptions()) -> Iterator[ImportedImage]:
    instance_pngs = _pngs(files, "instance")
    semantic_pngs = _pngs(files, "semantic")
    if instance_pngs:
        yield from _instance(files, instance_pngs, classes, images, report, options.void_value)
    elif semantic_pngs:
        yield from _semantic(files, semantic_pngs, classes, images, report, options.void_value)
    else:
        report.error("no_masks", "upload", "no PNGs in an instance/ or semantic/ folder")


def _pngs(files: Files, folder: str) -> list[str]:
    return [n for n in files.names(".png") if folder in PurePosixPath(n).parts[:-1]]


def _table(files: Files, file_name: str, report: Report):
    names = [n for n in files.names(".json") if PurePosixPath(n).name == file_name]
    if len(names) != 1:
        report.error("missing_table" if not names else "ambiguous_table", "upload",
                     f"{'no' if not names else 'more than one'} {file_name} in the upload")
        return None, ""
    try:
        return files.json(names[0]), names[0]
    except UnreadableFile as exc:
        report.error(exc.code, names[0], str(exc))
        return None, names[0]


def _instance(files, pngs, classes, images, report, void: int | None) -> Iterator[ImportedImage]:
    table, table_name = _table(files, "instances.json", report)
    if table is None:
        return
    if not isinstance(table, dict) or not isinstance(table.get("categories"), list) \
            or not isinstance(table.get("images"), dict):
        report.error("bad_table", table_name, "instances.json needs a categories list and an images object")
        return
    categories = _classes_by(table["categories"], "id", classes, report, table_name)
    for name in pngs:
        stem = PurePosixPath(name).stem
        image = resolve_image_file(images, name, report)
        if image is None:
            continue
        rows = table["images"].get(stem)
        if not isinstance(rows, list):
            report.error("missing_entry", name, f"instances.json lists no segments for {stem!r}")
            continue
        crops = _read(files, name, image, report, void)
        if crops is None:
            continue
        pieces, listed, ok = [], set(), True
        for position, row in enumerate(rows):
            value, cid = (row.get("value"), row.get("category_id")) if isinstance(row, dict) else (None, None)
            at = f"{name}, value {value}"
            if not is_int(value) or value < 1 or value in listed:
                report.error("bad_entry", at, "a segment needs a positive value, listed once")
                ok = False
                continue
            listed.add(value)
            if not is_int(cid) or cid not in categories:
                report.error("dangling_id", at, f"category_id {cid!r} is not among instances.json's categories"[:300])
                ok = False
                continue
            if categories[cid] is None:
                continue
            if value in crops:
                pieces.append(_piece(crops[value], position, categories[cid], at,
                                     instance=instance_number(row.get("instance"))))
            else:
                report.warning("empty_mask", at, "no pixel of the PNG has this value; not imported")
        ok = _all_listed(crops, listed, name, report) and ok
        if ok:
            yield compose(image, pieces, report, name)


def _semantic(files, pngs, classes, images, report, void: int | None) -> Iterator[ImportedImage]:
    table, table_name = _table(files, "classes.json", report)
    if table is None:
        return
    rows = table.get("classes") if isinstance(table, dict) else None
    if not isinstance(rows, list):
        report.error("bad_table", table_name, "classes.json needs a classes list")
        return
    by_index = _classes_by(rows, "index", classes, report, table_name)
    for name in pngs:
        image = resolve_image_file(images, name, report)
        if image is None:
            continue
        crops = _read(files, name, image, report, void)
        if crops is None:
            continue
        if not _all_listed(crops, set(by_index), name, report):
            continue
        pieces = [_piece(crops[index], position, by_index[index], f"{name}, index {index}")
                  for position, index in enumerate(sorted(by_index)) if by_index[index] is not None and index in crops]
        yield compose(image, pieces, report, name)


def _classes_by(rows: list, key: str, classes: ClassResolver, report: Report,
                table_name: str) -> dict[int, TargetClass | None]:
    """{the rows' positive `key` (a category id, a class index): the project class of the row's name, or None when
    there is none (reported; its pixels are then skipped)}."""
    found: dict[int, TargetClass | None] = {}
    for row in rows:
        number = row.get(key) if isinstance(row, dict) else None
        if not is_int(number) or number < 1 or number in found:
            report.error("bad_category", table_name, f"a class with a missing or repeated {key}: {row!r}"[:200])
            continue
        found[number] = classes.resolve(row.get("name"))
        if found[number] is None:
            report.error("unknown_category", f"{table_name}: {key} {number}",
                         f"no class named {row.get('name')!r} in the project")
    return found


def _read(files: Files, name: str, image, report: Report,
          void: int | None = None) -> dict[int, tuple[np.ndarray, int, int]] | None:
    """The PNG's segments by value ({value: (crop, x, y)}; `void` pixels are unlabelled), or None (reported) when it
    cannot be used."""
    try:
        values = read_png(files.read(name), size=(image.width, image.height), modes=("L", "P", "I;16", "I;16B", "I"),
                          what="a mask PNG (one channel, 8- or 16-bit)")
    except BadPng as exc:
        report.error(exc.code, name, str(exc))
        return None
    values = void_to_zero(values, void)
    crops = crops_by_value(values, max_pixels=cover_budget(image))
    if crops is None:
        report_overlap(report, name)
    return crops


def void_to_zero(values: np.ndarray, void: int | None) -> np.ndarray:
    """`values` with the pixels of `void` set to 0 (unlabelled); `values` itself when there are none."""
    if void is None or void == 0:
        return values
    hit = values == void
    return np.where(hit, 0, values).astype(values.dtype, copy=False) if hit.any() else values


def _all_listed(crops: dict, listed: set[int], name: str, report: Report) -> bool:
    unknown = sorted(set(crops) - listed)
    if unknown:
        report.error("unknown_value", name, f"{len(unknown)} pixel value(s) the table does not list, e.g. "
                                            f"{unknown[:5]}")
    return not unknown


def _piece(cropped: tuple[np.ndarray, int, int], position: int, target: TargetClass, where: str,
           instance: int | None = None) -> Piece:
    crop, x, y = cropped
    return Piece(order=position, target=target, crop=crop, x=x, y=y, instance=instance, where=where)
