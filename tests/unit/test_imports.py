"""Label imports over plain data: export -> import gives the same label maps, import -> export -> import is
identical (and the re-export byte-identical), the overlap rule, and a per-item report for malformed input."""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from pycocotools import mask as coco_mask

from labeling.exports import ExportOptions
from labeling.exports.view import DatasetView, ExportImage, ExportSegment
from labeling.imports import IMPORTERS, Files, Report, TargetClass, TargetImage, read_labels
from labeling.imports.base import MAX_JSON_DEPTH, UnreadableFile, load_json, nesting_depth
from labeling.masks.labelmap import segment_stats
from tests.unit.test_exports import CATEGORIES, _maps, export

CLASSES = [TargetClass(11, "car", "thing"), TargetClass(12, "person", "thing"), TargetClass(13, "road", "stuff")]
# Both images were uploaded as photo.jpg: only the export's "<id>_<name>" tells them apart.
IMAGES = [TargetImage(101, "101_photo.jpg", "photo.jpg", 60, 40),
          TargetImage(205, "205_photo.jpg", "photo.jpg", 60, 40)]
CATEGORY_OF = {c.class_id: c.id for c in CATEGORIES}
FORMAT_OF = {"coco_instances": "coco_instances", "coco_panoptic": "coco_panoptic", "instance_png": "mask_pngs",
             "semantic_png": "mask_pngs"}


def unzip(data: bytes, into: Path) -> Files:
    paths = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for k, name in enumerate(archive.namelist()):
            path = into / f"m{k}"
            path.write_bytes(archive.read(name))
            paths[name] = path
    return Files(paths)


def one_file(tmp_path: Path, name: str, content) -> Files:
    path = tmp_path / "upload"
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return Files({name: path})


def run(importer: str, files: Files, images=IMAGES, classes=CLASSES):
    report = Report()
    return list(read_labels(importer, files, classes=classes, images=images, report=report)), report


def as_view(imported) -> DatasetView:
    images = []
    for item in sorted(imported, key=lambda i: i.image.id):
        stats = segment_stats(item.label_map)
        segments = tuple(
            ExportSegment(segment_id=s.segment_id, category_id=CATEGORY_OF[s.class_id], instance=s.instance,
                          area=stats[s.segment_id][0],
                          bbox=(stats[s.segment_id][1], stats[s.segment_id][2],
                                stats[s.segment_id][3] - stats[s.segment_id][1] + 1,
                                stats[s.segment_id][4] - stats[s.segment_id][2] + 1),
                          attributes=s.attributes, score=s.score)
            for s in item.segments)
        images.append(ExportImage(id=item.image.id, file_name=item.image.export_name, width=item.image.width,
                                  height=item.image.height, split="", segments=segments,
                                  load_map=lambda m=item.label_map: m))
    return DatasetView(name="Streets", kind="panoptic", categories=CATEGORIES, images=images, count=len(images))


def per_pixel(label_map: np.ndarray, rows: dict[int, tuple]) -> np.ndarray:
    """(h, w, 2) of (class, instance) per pixel, so maps with other segment ids compare."""
    lut = np.zeros((max(max(rows, default=0), int(label_map.max())) + 1, 2), dtype=np.int64)
    for sid, (cls, instance) in rows.items():
        lut[sid] = (cls, instance or 0)
    return lut[label_map]


def original_pixels(image_id: int, *, semantic=False) -> np.ndarray:
    label_map, categories = _maps()[image_id]
    return per_pixel(label_map, {sid: (CATEGORIES[cat - 1].class_id, None if semantic or cat == 3 else sid)
                                 for sid, cat in categories.items()})


def imported_pixels(item, *, semantic=False) -> np.ndarray:
    return per_pixel(item.label_map, {s.segment_id: (s.class_id, None if semantic else s.instance)
                                      for s in item.segments})


@pytest.mark.parametrize("fmt", sorted(FORMAT_OF))
def test_export_import_gives_the_label_maps_and_import_export_import_is_identical(fmt, tmp_path):
    exported = export(fmt)
    (tmp_path / "a").mkdir()
    imported, report = run(FORMAT_OF[fmt], unzip(exported, tmp_path / "a"))
    assert report.errors == report.warnings == 0, report.problems
    assert sorted(i.image.id for i in imported) == [101, 205]
    semantic = fmt == "semantic_png"
    for item in imported:
        assert item.label_map.dtype == np.uint32
        assert np.array_equal(imported_pixels(item, semantic=semantic), original_pixels(item.image.id,
                                                                                        semantic=semantic))
    if fmt in ("coco_instances", "coco_panoptic"):
        person = next(s for i in imported for s in i.segments if s.class_id == 12)
        assert person.attributes == {"occluded": True}

    again = export(fmt, as_view(imported))
    assert again == exported  # byte-identical re-export
    (tmp_path / "b").mkdir()
    reimported, report = run(FORMAT_OF[fmt], unzip(again, tmp_path / "b"))
    assert report.errors == 0
    for first, second in zip(sorted(imported, key=lambda i: i.image.id),
                             sorted(reimported, key=lambda i: i.image.id), strict=True):
        assert np.array_equal(first.label_map, second.label_map)
        assert first.segments == second.segments


def test_coco_polygons_import_to_the_same_pixels(tmp_path):
    exported = export("coco_instances", options=ExportOptions(polygons=True))
    imported, report = run("coco_instances", unzip(exported, tmp_path))
    assert report.errors == 0
    for item in imported:
        assert np.array_equal(imported_pixels(item), original_pixels(item.image.id))


def _coco(annotations, *, images=None, categories=None):
    return {"images": images if images is not None else [{"id": 1, "file_name": "101_photo.jpg", "width": 60,
                                                          "height": 40}],
            "categories": categories if categories is not None else [{"id": 1, "name": "car"},
                                                                     {"id": 2, "name": "person"},
                                                                     {"id": 3, "name": "road"}],
            "annotations": annotations}


def _rle(mask: np.ndarray) -> dict:
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(rle["size"]), "counts": rle["counts"].decode()}


def _box(x0, y0, x1, y1, shape=(40, 60)) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_overlaps_go_to_the_smallest_non_crowd_annotation_and_crowds_lie_under(tmp_path):
    big, small, crowd = _box(0, 0, 30, 30), _box(10, 10, 20, 20), _box(0, 0, 60, 40)
    document = _coco([
        {"id": 1, "image_id": 1, "category_id": 3, "segmentation": _rle(crowd), "iscrowd": 1},
        {"id": 2, "image_id": 1, "category_id": 1, "segmentation": _rle(big)},
        {"id": 3, "image_id": 1, "category_id": 2, "segmentation": _rle(small)},
        {"id": 4, "image_id": 1, "category_id": 1, "segmentation": _rle(small)},  # a tie: the first listed wins
        {"id": 5, "image_id": 1, "category_id": 3, "segmentation": _rle(_box(40, 0, 60, 10))},  # the road again
    ])
    (item,), report = run("coco_instances", one_file(tmp_path, "instances.json", document))
    assert report.errors == 0
    assert [p.code for p in report.problems] == ["covered"] and "annotation 4" in report.problems[0].where
    by_id = {s.segment_id: s for s in item.segments}
    assert [(s.class_id, s.instance) for s in item.segments] == [(13, None), (11, 1), (12, 1)]
    # Both road annotations are one stuff segment, not a crowd: one of them is not.
    assert by_id[1].attributes == {}
    at = item.label_map
    assert at[15, 15] == 3 and at[5, 5] == 2 and at[35, 50] == 1 and at[5, 45] == 1
    assert (at == 2).sum() == 30 * 30 - 100


def test_a_bare_coco_json_with_polygons_and_uncompressed_rle(tmp_path):
    runs = [0, 4, 36, 4, 36, 4, 36, 4, 40 * 60 - 124]  # column-major: a 4x4 box at the top left
    document = _coco([
        {"id": 7, "image_id": 1, "category_id": 1, "segmentation": [[10, 10, 20, 10, 20, 20, 10, 20]]},
        {"id": 8, "image_id": 1, "category_id": 2, "segmentation": {"size": [40, 60], "counts": runs},
         "iscrowd": 1, "score": 0.5},
    ])
    (item,), report = run("coco_instances", one_file(tmp_path, "labels.json", document))
    assert report.errors == 0
    assert (item.label_map == 1).sum() == 100 and item.label_map[10, 10] == 1 and item.label_map[20, 20] == 0
    assert (item.label_map == 2).sum() == 16 and item.segments[1].score == 0.5


@pytest.mark.parametrize(("annotation", "code"), [
    ({"segmentation": {"size": [40, 61], "counts": "PPYo1"}}, "bad_rle"),  # size is not the image's
    ({"segmentation": {"size": [40, 60], "counts": [5, 10]}}, "bad_rle"),  # runs do not cover the image
    ({"segmentation": {"size": [40, 60], "counts": "\x7f\x7f"}}, "bad_rle"),
    ({"segmentation": [[1, 1, 5, 5]]}, "bad_polygon"),  # 2 points
    ({"segmentation": [[1, 1, 5, 5, 9]]}, "bad_polygon"),  # odd
    ({"segmentation": [[1, 1, 5, 5, "x", 3]]}, "bad_polygon"),
    ({"segmentation": [[1, 1, 500, 5, 9, 9]]}, "out_of_bounds"),
    ({"segmentation": []}, "missing_field"),
    ({"category_id": 99}, "dangling_id"),
    ({"image_id": 42}, "dangling_id"),
])
def test_each_malformed_coco_annotation_is_reported_where_it_is(annotation, code, tmp_path):
    good = {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4]]}
    bad = {"id": 2, "image_id": 1, "category_id": 2, "segmentation": [[10, 10, 20, 10, 20, 20]], **annotation}
    imported, report = run("coco_instances", one_file(tmp_path, "i.json", _coco([good, bad])))
    errors = [p for p in report.problems if p.severity == "error"]
    assert [(p.code, p.where) for p in errors] == [(code, "i.json: annotation 2")]


def test_nan_unknown_categories_duplicates_and_sizes_are_all_listed(tmp_path):
    text = json.dumps(_coco(
        [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4]]},
         {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4]]},
         {"id": 3, "image_id": 2, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4]]},
         {"id": 4, "image_id": 1, "category_id": 9, "segmentation": [[8, 8, 12, 8, 12, 12]]}],
        images=[{"id": 1, "file_name": "101_photo.jpg", "width": 60, "height": 40},
                {"id": 2, "file_name": "205_photo.jpg", "width": 64, "height": 40},
                {"id": 3, "file_name": "somewhere/else.jpg", "width": 60, "height": 40},
                {"id": 4, "file_name": "photo.jpg", "width": 60, "height": 40}],
        categories=[{"id": 1, "name": "CAR"}, {"id": 9, "name": "tree"}]))
    _, report = run("coco_instances", one_file(tmp_path, "i.json", text.encode()))
    codes = sorted(p.code for p in report.problems)
    assert codes == ["ambiguous_image", "duplicate_id", "image_not_found", "size_mismatch", "unknown_category"]
    nan = _coco([{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0, float("nan"), 4]]}])
    _, report = run("coco_instances", one_file(tmp_path, "i.json", json.dumps(nan).encode()))
    assert [p.code for p in report.problems] == ["not_json"]  # NaN is not JSON: refused as the file's error
    _, report = run("coco_instances", one_file(tmp_path, "i.json", b'{"images": 3}'))
    assert [(p.code, p.message) for p in report.problems] == [
        ("bad_annotations_file", "not COCO instances: images, annotations, categories must be lists")]
    _, report = run("coco_instances", one_file(tmp_path, "i.json", b'{"classes": []}'))
    assert [p.code for p in report.problems] == ["no_annotations_file"]  # another kind of JSON: left out


def test_an_unused_unknown_category_is_a_warning_as_labelme_writes_it(tmp_path):
    """labelme's COCO files declare `_background_`, which no annotation uses: the import goes on."""
    document = _coco([{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4]]}],
                     categories=[{"id": 0, "name": "_background_"}, {"id": 1, "name": "car"}])
    imported, report = run("coco_instances", one_file(tmp_path, "labelme.json", json.dumps(document).encode()))
    assert [(p.severity, p.code, p.where) for p in report.problems] == [
        ("warning", "unused_category", "labelme.json: category 0")]
    assert len(imported) == 1 and imported[0].label_map.any()


def test_panoptic_png_problems(tmp_path):
    exported = export("coco_panoptic")
    files = unzip(exported, tmp_path)
    name = "annotations/panoptic_default/101_photo.png"
    ids = np.asarray(PILImage.open(files.paths[name])).astype(np.uint32)
    ids[0, 0] = (9, 0, 0)  # a value no segments_info entry has
    buf = io.BytesIO()
    PILImage.fromarray(ids.astype(np.uint8), "RGB").save(buf, "PNG")
    files.paths[name].write_bytes(buf.getvalue())
    files.paths["annotations/panoptic_default/205_photo.png"].write_bytes(b"not a png")
    imported, report = run("coco_panoptic", files)
    assert sorted((p.code, p.where) for p in report.problems) == [
        ("bad_png", "annotations/panoptic_default/205_photo.png"),
        ("unknown_segment_value", "annotations/panoptic_default.json: annotation of image 101")]
    assert imported == []


def test_mask_png_problems(tmp_path):
    exported = export("semantic_png")
    files = unzip(exported, tmp_path)
    PILImage.fromarray(np.full((40, 61), 1, np.uint8)).save(files.paths["semantic/205_photo.png"], "PNG")
    table = json.loads(files.read("classes.json"))
    table["classes"][0]["name"] = "lorry"
    files.paths["classes.json"].write_text(json.dumps(table))
    _, report = run("mask_pngs", files)
    assert sorted(p.code for p in report.problems) == ["size_mismatch", "unknown_category"]
    del files.paths["classes.json"]
    _, report = run("mask_pngs", files)
    assert [p.code for p in report.problems] == ["missing_table"]
    _, report = run("mask_pngs", Files({}))
    assert [p.code for p in report.problems] == ["no_masks"]


def test_the_same_image_twice_is_an_error(tmp_path):
    files = unzip(export("coco_instances"), tmp_path)
    copy = tmp_path / "copy.json"
    copy.write_bytes(files.read("annotations/instances_default.json"))
    files.paths["annotations/again.json"] = copy
    imported, report = run("coco_instances", files)
    assert {p.code for p in report.problems} == {"duplicate_image"} and report.errors == 2


def test_every_importer_is_registered_with_what_it_accepts():
    assert sorted(IMPORTERS) == ["coco_instances", "coco_panoptic", "mask_pngs", "pascal_voc"]
    assert all(i.accepts and i.title for i in IMPORTERS.values())


def test_a_json_above_the_limit_is_refused_unread(tmp_path):
    files = one_file(tmp_path, "big.json", _coco([]))
    small = Files(files.paths, max_json_bytes=10)
    _, report = run("coco_instances", small)
    assert [p.code for p in report.problems] == ["not_json"] and "at most 10" in report.problems[0].message


PATHOLOGICAL_JSON = [
    (b"[" * 100_000 + b"]" * 100_000, "json_too_deep"),
    (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "json_too_deep"),
    (b"[" * 100_000, "json_too_deep"),  # never closed: refused for its depth all the same
    (b'{"images": [], "n": ' + b"7" * 10_000 + b"}", "json_number_too_large"),  # past int()'s 4300 digits
    (b'{"images": [], "n": 1e999}', "json_number_too_large"),  # no float holds it
    (b'{"images": [], "n": -' + b"9" * 400 + b".5}", "json_number_too_large"),
    (b'{"images": [NaN]}', "not_json"),
    (b'"images"', "json_bare_value"),
    (b"12", "json_bare_value"),
    (b"null", "json_bare_value"),
]


@pytest.mark.parametrize(("content", "code"), PATHOLOGICAL_JSON)
@pytest.mark.parametrize(("importer", "name"), [("coco_instances", "i.json"), ("coco_panoptic", "panoptic.json"),
                                                ("mask_pngs", "classes.json")])
def test_pathological_json_is_one_named_problem_for_every_importer(content, code, importer, name, tmp_path):
    files = one_file(tmp_path, name, content)
    if importer == "mask_pngs":  # the table is read once there are PNGs to read it for
        files.paths["semantic/101_photo.png"] = files.paths[name]
    imported, report = run(importer, files)
    assert imported == [] and [(p.severity, p.code, p.where) for p in report.problems] == [("error", code, name)]


def test_json_nesting_is_counted_outside_strings_before_parsing():
    assert load_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    with pytest.raises(UnreadableFile) as refused:
        load_json(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
    assert refused.value.code == "json_too_deep" and f"nest {MAX_JSON_DEPTH + 1} deep" in str(refused.value)
    # Brackets in strings, escaped quotes and backslashes, and other encodings do not count.
    tricky = {"s": "[" * 1000 + '\\"[{', "t": "\\", "u": [["\u225b" * 300, "{" * 500]]}
    for data in (json.dumps(tricky).encode(), json.dumps(tricky, ensure_ascii=False).encode("utf-16")):
        assert load_json(data) == tricky
        assert nesting_depth(data.decode(json.detect_encoding(data))) == 3


def _square(**extra):
    return {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4, 0, 4]], **extra}


@pytest.mark.parametrize(("annotation", "code"), [
    ({"id": [1]}, "bad_annotation"), ({"image_id": [1]}, "dangling_id"), ({"category_id": {}}, "dangling_id"),
    ({"segmentation": [[0, 0, 10**400, 0, 4, 4]]}, "bad_polygon"),
])
def test_odd_values_are_reported_never_raised(annotation, code, tmp_path):
    _, report = run("coco_instances", one_file(tmp_path, "i.json", json.dumps(_coco([_square(**annotation)]))
                                                .encode()))
    assert [p.code for p in report.problems] == [code]


def test_out_of_range_numbers_fall_back_and_texts_are_bounded(tmp_path):
    document = _coco([_square(instance=10**20, score=10**400),
                      {"id": "x" * 100_000, "image_id": 9, "category_id": 1, "segmentation": []}])
    (item,), report = run("coco_instances", one_file(tmp_path, "i.json", json.dumps(document).encode()))
    assert item.segments[0].instance == 1 and item.segments[0].score is None
    (problem,) = report.problems
    assert problem.code == "bad_annotation" and len(problem.where) <= 300 and len(problem.message) <= 300


def test_a_covered_crowd_piece_is_warned_and_its_class_segment_keeps_no_crowd_flag(tmp_path):
    crowd_road = {"id": 1, "image_id": 1, "category_id": 3, "iscrowd": 1, "attributes": {"a": 1},
                  "segmentation": _rle(_box(0, 0, 3, 3))}
    car = {"id": 2, "image_id": 1, "category_id": 1, "segmentation": _rle(_box(0, 0, 3, 3))}
    road = {"id": 3, "image_id": 1, "category_id": 3, "attributes": {"b": 2}, "segmentation": _rle(_box(10, 0, 20, 5))}
    (item,), report = run("coco_instances", one_file(tmp_path, "i.json", _coco([crowd_road, car, road])))
    assert [(p.code, p.where) for p in report.problems] == [("covered", "i.json: annotation 1")]
    road_segment = next(s for s in item.segments if s.class_id == 13)
    assert road_segment.attributes == {"b": 2}  # from the piece that kept pixels; not a crowd


def test_a_wrongly_shaped_second_file_fails_the_import_instead_of_being_skipped(tmp_path):
    files = unzip(export("coco_instances"), tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"images": {}, "annotations": [], "categories": []}))
    files.paths["annotations/instances_val.json"] = broken
    _, report = run("coco_instances", files)
    assert [(p.code, p.where) for p in report.problems] == [("bad_annotations_file", "annotations/instances_val.json")]
    panoptic = tmp_path / "p.json"
    panoptic.write_text(json.dumps({"images": 5, "annotations": [{"segments_info": []}], "categories": []}))
    _, report = run("coco_panoptic", Files({"panoptic.json": panoptic}))
    assert [p.code for p in report.problems] == ["bad_annotations_file"]
    _, report = run("coco_instances", Files({"panoptic.json": panoptic}))
    assert "import it as coco_panoptic" not in report.problems[0].message  # its images is no list either


def test_png_tables_with_odd_values_and_empty_entries(tmp_path):
    files = unzip(export("instance_png"), tmp_path)
    table = json.loads(files.read("instances.json"))
    table["images"]["101_photo"][0]["category_id"] = [1]
    table["images"]["205_photo"].append({"value": 9, "category_id": 1, "instance": 4})  # no pixel has 9
    files.paths["instances.json"].write_text(json.dumps(table))
    _, report = run("mask_pngs", files)
    assert sorted(p.code for p in report.problems) == ["dangling_id", "empty_mask"]


def test_label_pngs_as_large_as_their_images_are_read_past_pillows_own_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 100)  # far below the 60 x 40 masks
    imported, report = run("mask_pngs", unzip(export("semantic_png"), tmp_path))
    assert report.errors == 0 and len(imported) == 2
