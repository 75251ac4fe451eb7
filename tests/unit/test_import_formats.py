"""Import formats and options over plain data: Pascal VOC (labelmaps, RGB class PNGs, objects with several classes,
class pixels in no object), the panoptic PNG folder, COCO results lists, polygons past the image edge, the void
value of mask PNGs, and the rule that every error leaves out exactly the item it names."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from pycocotools import mask as coco_mask

from labeling.exports.pascal_voc import voc_colormap
from labeling.imports import Files, ImportOptions, Report, TargetClass, TargetImage, read_labels
from labeling.imports.coco_instances import SegmentationError, segmentation_crop
from labeling.imports.coco_panoptic import png_folder
from labeling.imports.mask_pngs import void_to_zero
from labeling.imports.pascal_voc import VOC2012_CLASSES, parse_labelmap

CLASSES = [TargetClass(1, "car", "thing"), TargetClass(2, "person", "thing"), TargetClass(3, "road", "stuff")]
IMAGES = [TargetImage(7, "photo.jpg", "photo.jpg", 40, 30)]


def run(importer: str, files: Files, **options):
    report = Report()
    imported = list(read_labels(importer, files, classes=CLASSES, images=IMAGES, report=report,
                                options=ImportOptions(**options)))
    return imported, report


def files_of(tmp_path: Path, members: dict[str, bytes]) -> Files:
    paths = {}
    for k, (name, data) in enumerate(members.items()):
        path = tmp_path / f"m{k}"
        path.write_bytes(data)
        paths[name] = path
    return Files(paths)


def png(values: np.ndarray, mode: str = "P") -> bytes:
    image = PILImage.fromarray(values.astype(np.uint8), "RGB" if values.ndim == 3 else mode)
    if image.mode == "P":
        image.putpalette(voc_colormap())
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def codes(report: Report) -> list[tuple[str, str]]:
    return [(p.severity, p.code) for p in report.problems]


# --- Pascal VOC ----------------------------------------------------------------------------------------------------

def test_labelmaps_are_read_as_cvat_writes_them_and_refused_with_the_line_at_fault():
    names, colours = parse_labelmap("# label:color_rgb:parts:actions\nbackground:0,0,0::\ncar:255,0,0::\n\n"
                                    "road:128,128,128::\n")
    assert names == ["background", "car", "road"] and colours[1] == (255, 0, 0)
    # No background line: VOC's index 0 is background all the same.
    names, colours = parse_labelmap("car:255,0,0::\nroad:::\n")
    assert names == ["background", "car", "road"] and colours == [(0, 0, 0), (255, 0, 0), None]
    for text, said in [("car:255,0::", "line 1"), ("car:1,2,300::", "0 to 255"), (":1,2,3::", "names no class"),
                       ("car:::\nCar:::", "named twice"), ("# only a comment\n", "no class"),
                       ("\n".join(f"c{i}:::" for i in range(300)), "at most 255")]:
        with pytest.raises(ValueError, match=said):
            parse_labelmap(text)


def test_voc_objects_give_segments_and_background_and_255_are_void(tmp_path):
    classes = np.zeros((30, 40), np.uint8)
    objects = np.zeros((30, 40), np.uint8)
    classes[2:10, 2:10], objects[2:10, 2:10] = 1, 1  # car
    classes[2:10, 12:20], objects[2:10, 12:20] = 1, 2  # another car
    classes[20:28, 2:38], objects[20:28, 2:38] = 3, 3  # road (stuff: one segment)
    classes[1, :], objects[1, :] = 255, 255  # a boundary row
    labelmap = b"background:0,0,0::\ncar:255,0,0::\nperson:0,255,0::\nroad:128,128,128::\n"
    files = files_of(tmp_path, {"SegmentationClass/photo.png": png(classes),
                                "SegmentationObject/photo.png": png(objects), "labelmap.txt": labelmap})
    (item,), report = run("pascal_voc", files)
    assert report.problems == []
    assert [(s.class_id, s.instance) for s in item.segments] == [(1, 1), (1, 2), (3, None)]
    assert np.array_equal(item.label_map, np.where(classes == 255, 0, objects))


def test_an_rgb_class_png_is_read_by_the_labelmap_colours(tmp_path):
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[2:10, 2:10] = (255, 0, 0)
    rgb[20:28, :] = (128, 128, 128)
    rgb[0, :] = (224, 224, 192)  # VOC's void colour
    labelmap = b"background:0,0,0::\ncar:255,0,0::\nroad:128,128,128::\n"
    files = files_of(tmp_path, {"SegmentationClass/photo.png": png(rgb), "labelmap.txt": labelmap})
    (item,), report = run("pascal_voc", files)
    assert report.problems == [] and [s.class_id for s in item.segments] == [1, 3]
    assert (item.label_map == 1).sum() == 64 and not item.label_map[0].any()
    rgb[5, 5] = (1, 2, 3)
    files = files_of(tmp_path, {"SegmentationClass/photo.png": png(rgb), "labelmap.txt": labelmap})
    imported, report = run("pascal_voc", files)
    assert imported == [] and codes(report) == [("error", "unknown_colour")] and "(1,2,3)" in report.problems[0].message


def test_voc_items_at_fault_are_left_out_and_the_rest_kept(tmp_path):
    """An object with two classes is left out (its pixels unlabelled); class pixels in no object are one segment
    of their class (a warning); a class the project lacks leaves out its pixels (an error, once)."""
    classes = np.zeros((30, 40), np.uint8)
    objects = np.zeros((30, 40), np.uint8)
    classes[2:10, 2:10], objects[2:10, 2:10] = 7, 1  # a car (VOC2012's index 7)
    classes[2:10, 12:20], objects[2:10, 12:16] = 15, 2  # a person, half of it in no object
    classes[12:16, 2:10], classes[12:16, 10:14], objects[12:16, 2:14] = 7, 15, 3  # car and person in one object
    classes[20:25, 2:10], objects[20:25, 2:10] = 12, 4  # a dog: no such class here
    files = files_of(tmp_path, {"VOC/SegmentationClass/photo.png": png(classes),
                                "VOC/SegmentationObject/photo.png": png(objects)})
    (item,), report = run("pascal_voc", files)
    assert codes(report) == [("error", "unknown_category"), ("error", "mixed_object"),
                             ("warning", "outside_objects"), ("warning", "unused_category")]
    assert report.problems[0].where == "VOC2012's classes (no VOC/labelmap.txt): dog"
    assert report.problems[1].where == "VOC/SegmentationObject/photo.png, object 3"
    assert str(len(VOC2012_CLASSES) - 4) in report.problems[3].message  # background, car, person, dog are not
    assert [(s.class_id, s.instance) for s in item.segments] == [(1, 1), (2, 1), (2, 2)]
    assert np.array_equal(item.label_map > 0, (classes == 7) & (objects != 3) | (classes == 15) & (objects != 3))


def test_voc_without_class_pngs_or_with_a_bad_labelmap_names_the_problem(tmp_path):
    objects = np.ones((30, 40), np.uint8)
    _, report = run("pascal_voc", files_of(tmp_path, {"SegmentationObject/photo.png": png(objects)}))
    assert codes(report) == [("error", "no_masks")] and "alone carry no classes" in report.problems[0].message
    files = files_of(tmp_path, {"SegmentationClass/photo.png": png(objects), "labelmap.txt": b"car:x::"})
    _, report = run("pascal_voc", files)
    assert [(p.code, p.where) for p in report.problems] == [("bad_labelmap", "labelmap.txt")]
    files = files_of(tmp_path, {"SegmentationClass/photo.png": png(np.full((30, 40), 40, np.uint8))})
    _, report = run("pascal_voc", files)
    assert codes(report) == [("error", "unknown_value"), ("warning", "unused_category")]


def test_voc_takes_a_void_value_of_its_own_beside_255(tmp_path):
    classes = np.full((30, 40), 7, np.uint8)
    classes[0, :] = 200
    files = files_of(tmp_path, {"SegmentationClass/photo.png": png(classes)})
    _, report = run("pascal_voc", files)
    assert ("error", "unknown_value") in codes(report)
    (item,), report = run("pascal_voc", files, void_value=200)
    assert report.errors == 0 and not item.label_map[0].any() and item.label_map[1:].all()


# --- mask PNGs: the void value -------------------------------------------------------------------------------------

def test_void_to_zero_keeps_the_array_when_nothing_is_void():
    values = np.array([[0, 1, 255]], np.uint8)
    assert void_to_zero(values, None) is values and void_to_zero(values, 9) is values
    assert void_to_zero(values, 255).tolist() == [[0, 1, 0]] and void_to_zero(values, 255).dtype == np.uint8
    assert void_to_zero(np.array([[300, 2]], np.uint16), 300).tolist() == [[0, 2]]


def test_a_semantic_mask_with_a_void_value(tmp_path):
    values = np.zeros((30, 40), np.uint8)
    values[5:10, 5:10] = 2
    values[0, :] = 255
    table = json.dumps({"classes": [{"index": 2, "name": "road"}]}).encode()
    files = files_of(tmp_path, {"semantic/photo.png": png(values, "L"), "classes.json": table})
    imported, report = run("mask_pngs", files)
    assert imported == [] and codes(report) == [("error", "unknown_value")]
    (item,), report = run("mask_pngs", files, void_value=255)
    assert report.problems == [] and (item.label_map == 1).sum() == 25 and not item.label_map[0].any()


# --- COCO polygons -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("polygons", [
    [[-5.5, -3.0, 45.0, 2.0, 30.0, 36.5]],  # past three edges
    [[-40.0, 10.0, 10.0, 10.0, 10.0, 20.0, -40.0, 20.0], [35.0, -30.0, 79.0, 59.0, 20.0, 25.0]],  # two parts
    [[38.2, 28.7, 41.0, 28.7, 41.0, 31.0]],  # a corner that only touches the image
])
def test_polygons_past_the_edge_are_pycocotools_own_raster(polygons):
    expected = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(polygons, 30, 40))).astype(bool)
    cropped = segmentation_crop(polygons, height=30, width=40)
    mask = np.zeros((30, 40), bool)
    if cropped is not None:
        crop, x, y = cropped
        mask[y:y + crop.shape[0], x:x + crop.shape[1]] = crop
    assert np.array_equal(mask, expected)


def test_a_polygon_farther_out_than_the_image_size_is_refused():
    assert segmentation_crop([[-40.0, 0.0, 80.0, 0.0, 80.0, 60.0]], height=30, width=40) is not None
    for polygon in ([-40.5, 0, 10, 0, 10, 10], [0, 0, 10, 0, 10, 60.5], [0, 0, 1e12, 0, 10, 10]):
        with pytest.raises(SegmentationError, match="farther outside") as refused:
            segmentation_crop([polygon], height=30, width=40)
        assert refused.value.code == "out_of_bounds"


# --- COCO results lists --------------------------------------------------------------------------------------------

INSTANCES = {"images": [{"id": 3, "file_name": "photo.jpg", "width": 40, "height": 30},
                        {"id": 4, "file_name": "elsewhere.jpg", "width": 40, "height": 30}],
             "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "road"}],
             "annotations": []}


def test_results_lists_read_against_the_one_instances_json_beside_them(tmp_path):
    results = [{"image_id": 3, "category_id": 1, "score": 0.9, "segmentation": [[1, 1, 10, 1, 10, 10, 1, 10]]},
               {"image_id": 3, "category_id": 2, "score": 0.25, "bbox": [0, 0, 4, 4]}]
    files = files_of(tmp_path, {"instances.json": json.dumps(INSTANCES).encode(),
                                "results.json": b"\xef\xbb\xbf  " + json.dumps(results).encode()})
    (item,), report = run("coco_instances", files)
    assert [(p.code, p.where) for p in report.problems] == [("image_not_found", "instances.json: image 4"),
                                                            ("missing_field", "results.json: annotation #1")]
    assert "a bbox alone is no mask" in report.problems[1].message
    assert [(s.class_id, s.score) for s in item.segments] == [(1, 0.9)]

    _, report = run("coco_instances", files_of(tmp_path, {"results.json": json.dumps(results).encode()}))
    assert [p.code for p in report.problems] == ["results_without_images"]
    two = files_of(tmp_path, {"a.json": json.dumps(INSTANCES).encode(), "b.json": json.dumps(INSTANCES).encode(),
                              "results.json": json.dumps(results).encode()})
    _, report = run("coco_instances", two)
    assert [p.code for p in report.problems] == ["ambiguous_instances"]
    odd = json.dumps(results + [5]).encode()
    _, report = run("coco_instances", files_of(tmp_path, {"instances.json": json.dumps(INSTANCES).encode(),
                                                          "results.json": odd}))
    assert [p.code for p in report.problems] == ["bad_annotations_file"]
    assert "item #2 is not an annotation" in report.problems[0].message


def test_a_json_array_that_is_no_results_list_is_left_out_like_any_other_json(tmp_path):
    document = dict(INSTANCES, annotations=[{"id": 1, "image_id": 3, "category_id": 1,
                                             "segmentation": [[1, 1, 10, 1, 10, 10]]}])
    files = files_of(tmp_path, {"instances.json": json.dumps(document).encode(), "names.json": b'["car", "road"]'})
    (item,), report = run("coco_instances", files)
    assert [p.code for p in report.problems] == ["image_not_found"] and len(item.segments) == 1
    _, report = run("coco_instances", files_of(tmp_path, {"names.json": b'["car", "road"]'}))
    assert [p.code for p in report.problems] == ["no_annotations_file"]
    assert "or COCO results list" in report.problems[0].message


# --- the panoptic PNG folder ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("names", "folder"), [
    (["annotations/panoptic_val.json", "annotations/panoptic_val/x.png", "images/x.png"], "annotations/panoptic_val"),
    (["annotations/p.json", "masks_panoptic/x.png", "images/x.png", "other/x.png"], "masks_panoptic"),
    (["p.json", "images/x.png", "labels/x.png"], "labels"),
    (["p.json", "x.png", "JPEGImages/x.png"], ""),
    (["p.json", "images/x.png"], None),  # photos only
    (["p.json", "a/x.png", "b/x.png"], None),  # two candidates, neither says panoptic
    (["p.json", "a_panoptic/x.png", "b_panoptic/x.png"], None),
    (["p.json", "elsewhere/y.png"], None),
])
def test_the_panoptic_png_folder(tmp_path, names, folder):
    files = Files({n: tmp_path / "unused" for n in names})
    chosen, why = png_folder(files, names[0], ["x.png"])
    assert chosen == folder and (why == "") == (folder is not None), why
