"""Export formats over a hand-built dataset view: read back with each format's standard reader (pycocotools for
COCO, Pillow + numpy for PNGs), every mask identical to the label map; two exports byte-identical."""

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image as PILImage
from pycocotools.coco import COCO

from labeling.exports import EXPORTERS, ExportOptions, run_exporter
from labeling.exports.view import Category, DatasetView, ExportImage, ExportSegment
from labeling.exports.zipsink import ZipSink
from labeling.masks.labelmap import segment_stats

CATEGORIES = (Category(1, 11, "car", "thing", "#ff0000"), Category(2, 12, "person", "thing", "#00ff00"),
              Category(3, 13, "road", "stuff", "#808080"))


def _maps():
    a = np.zeros((40, 60), dtype=np.uint32)
    a[5:25, 5:25] = 1
    a[10:20, 10:20] = 0  # a hole
    a[12:15, 12:15] = 2  # a person inside the car's hole
    a[30:, :] = 7  # road
    b = np.zeros((40, 60), dtype=np.uint32)
    b[0:10, 50:60] = 3
    return {101: (a, {1: 1, 2: 2, 7: 3}), 205: (b, {3: 1})}


def view(maps=None, read_file=None) -> DatasetView:
    maps = maps or _maps()
    images = []
    for image_id, (label_map, categories) in maps.items():
        stats = segment_stats(label_map)
        segments = tuple(
            ExportSegment(segment_id=sid, category_id=cat, instance=sid if cat != 3 else None,
                          area=stats[sid][0], bbox=(stats[sid][1], stats[sid][2], stats[sid][3] - stats[sid][1] + 1,
                                                     stats[sid][4] - stats[sid][2] + 1),
                          attributes={"occluded": True} if sid == 2 else {})
            for sid, cat in sorted(categories.items()))
        images.append(ExportImage(id=image_id, file_name=f"{image_id}_photo.jpg", width=60, height=40, split="",
                                  segments=segments, load_map=lambda m=label_map: m,
                                  read_file=(lambda i=image_id: b"JPEG%d" % i) if read_file else None))
    return DatasetView(name="Streets", kind="panoptic", categories=CATEGORIES, images=images, count=len(images))


def export(name, v=None, options=ExportOptions()) -> bytes:
    buf = io.BytesIO()
    sink = ZipSink(buf)
    run_exporter(name, v or view(), sink, options, lambda f: None)
    sink.close()
    return buf.getvalue()


def read(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read(name)


def test_coco_instances_read_back_by_pycocotools_equal_the_label_maps():
    document = json.loads(read(export("coco_instances"), "annotations/instances.json"))
    coco = COCO()
    coco.dataset = document
    coco.createIndex()
    assert [c["id"] for c in document["categories"]] == [1, 2, 3]
    assert [(c["supercategory"], c["isthing"]) for c in document["categories"]] == [
        ("thing", 1), ("thing", 1), ("stuff", 0)]
    assert sorted(coco.getImgIds()) == [101, 205]
    for image_id, (label_map, categories) in _maps().items():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image_id]))
        assert len(anns) == len(categories)
        for ann in anns:
            sid = next(s for s, c in categories.items() if c == ann["category_id"])
            expected = label_map == sid
            assert np.array_equal(coco.annToMask(ann).astype(bool), expected)  # IoU 1.0, the hole kept
            assert ann["area"] == int(expected.sum())
    assert [a["id"] for a in document["annotations"]] == [1, 2, 3, 4]
    person = next(a for a in document["annotations"] if a["category_id"] == 2)
    assert person["attributes"] == {"occluded": True} and person["instance"] == 2


def test_semantic_png_is_the_category_of_every_pixel_with_the_palette():
    data = export("semantic_png")
    table = json.loads(read(data, "classes.json"))
    assert table["bits"] == 8 and [c["index"] for c in table["classes"]] == [1, 2, 3]
    png = PILImage.open(io.BytesIO(read(data, "semantic/101_photo.png")))
    assert png.mode == "P" and png.getpalette()[3:6] == [255, 0, 0]
    label_map, categories = _maps()[101]
    expected = np.zeros_like(label_map)
    for sid, cat in categories.items():
        expected[label_map == sid] = cat
    assert np.array_equal(np.asarray(png), expected)


def test_instance_png_numbers_each_segment_and_maps_it_to_its_category():
    data = export("instance_png")
    mapping = json.loads(read(data, "instances.json"))["images"]["101_photo"]
    png = np.asarray(PILImage.open(io.BytesIO(read(data, "instance/101_photo.png"))))
    assert png.dtype == np.uint16
    label_map, categories = _maps()[101]
    for entry, (sid, cat) in zip(mapping, sorted(categories.items()), strict=True):
        assert entry["category_id"] == cat
        assert np.array_equal(png == entry["value"], label_map == sid)
    assert np.array_equal(png == 0, label_map == 0)


def test_coco_panoptic_png_ids_and_segments_info_equal_the_label_maps():
    data = export("coco_panoptic")
    document = json.loads(read(data, "annotations/panoptic.json"))
    assert [(c["id"], c["isthing"], c["color"]) for c in document["categories"]] == [
        (1, 1, [255, 0, 0]), (2, 1, [0, 255, 0]), (3, 0, [128, 128, 128])]
    for ann in document["annotations"]:
        label_map, categories = _maps()[ann["image_id"]]
        rgb = np.asarray(PILImage.open(io.BytesIO(read(data, f"annotations/panoptic/{ann['file_name']}"))))
        rgb = rgb.astype(np.uint32)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]  # COCO's rgb2id
        assert np.array_equal(ids == 0, label_map == 0)  # void where nothing is labelled
        for info, (sid, cat) in zip(ann["segments_info"], sorted(categories.items()), strict=True):
            assert info["category_id"] == cat and np.array_equal(ids == info["id"], label_map == sid)
            assert info["area"] == int((label_map == sid).sum())


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_two_exports_of_the_same_data_are_byte_identical(name):
    first, second = export(name), export(name)
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    with zipfile.ZipFile(io.BytesIO(first)) as z:
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in z.infolist())


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_images_are_included_only_when_asked(name):
    v = view(read_file=True)
    with zipfile.ZipFile(io.BytesIO(export(name, v))) as z:
        assert not [n for n in z.namelist() if n.startswith("images/")]
    with zipfile.ZipFile(io.BytesIO(export(name, view(read_file=True), ExportOptions(include_images=True)))) as z:
        assert z.read("images/101_photo.jpg") == b"JPEG101"
