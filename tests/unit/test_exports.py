"""Export formats over a hand-built dataset view: read back with each format's standard reader (pycocotools for
COCO, Pillow + numpy for PNGs), every mask identical to the label map; two exports byte-identical."""

import hashlib
import io
import json
import zipfile
from dataclasses import replace
from functools import partial

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from pycocotools.coco import COCO

from labeling.exports import EXPORTERS, ExportOptions, run_exporter
from labeling.exports.artifacts import ArtifactContext, artifact_key, pack_parts, seal, unpack_parts, unseal
from labeling.exports.split import stratified_split
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


def view(maps=None, read_file=None, splits=None) -> DatasetView:
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
        images.append(ExportImage(id=image_id, file_name=f"{image_id}_photo.jpg", width=60, height=40,
                                  split=(splits or {}).get(image_id, ""),
                                  segments=segments, load_map=lambda m=label_map: m,
                                  read_file=(lambda i=image_id: b"JPEG%d" % i) if read_file else None))
    return DatasetView(name="Streets", kind="panoptic", categories=CATEGORIES, images=images, count=len(images),
                       split=bool(splits))


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
    document = json.loads(read(export("coco_instances"), "annotations/instances_default.json"))
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
    document = json.loads(read(data, "annotations/panoptic_default.json"))
    assert [(c["id"], c["isthing"], c["color"]) for c in document["categories"]] == [
        (1, 1, [255, 0, 0]), (2, 1, [0, 255, 0]), (3, 0, [128, 128, 128])]
    for ann in document["annotations"]:
        label_map, categories = _maps()[ann["image_id"]]
        rgb = np.asarray(PILImage.open(io.BytesIO(read(data, f"annotations/panoptic_default/{ann['file_name']}"))))
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
        # Only the COCO formats' empty images/ folder, which datumaro's importer demands.
        assert [n for n in z.namelist() if n.startswith("images/")] == (["images/"] if name.startswith("coco")
                                                                          else [])
    with zipfile.ZipFile(io.BytesIO(export(name, view(read_file=True), ExportOptions(include_images=True)))) as z:
        path = "JPEGImages/101_photo.jpg" if name == "pascal_voc" else "images/101_photo.jpg"
        assert z.read(path) == b"JPEG101"


def test_coco_polygons_are_exact_under_pycocotools_and_segments_with_holes_stay_rle():
    data = export("coco_instances", options=ExportOptions(polygons=True))
    document = json.loads(read(data, "annotations/instances_default.json"))
    coco = COCO()
    coco.dataset = document
    coco.createIndex()
    kinds = {}
    for image_id, (label_map, categories) in _maps().items():
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=[image_id])):
            sid = next(s for s, c in categories.items() if c == ann["category_id"])
            kinds[(image_id, sid)] = type(ann["segmentation"]).__name__
            assert np.array_equal(coco.annToMask(ann).astype(bool), label_map == sid)
    # The car (101, 1) has a hole: RLE; the others are polygons of integer pixel corners.
    assert kinds == {(101, 1): "dict", (101, 2): "list", (101, 7): "list", (205, 3): "list"}
    person = next(a for a in document["annotations"] if a["category_id"] == 2)
    assert person["segmentation"] == [[12, 12, 15, 12, 15, 15, 12, 15]]  # the pixel corners of [12:15, 12:15]


def _expected_classes(label_map, categories):
    expected = np.zeros_like(label_map)
    for sid, cat in categories.items():
        expected[label_map == sid] = cat
    return expected


def test_pascal_voc_class_and_object_pngs_equal_the_label_maps():
    data = export("pascal_voc", view(splits={101: "train", 205: "val"}))
    for image_id, (label_map, categories) in _maps().items():
        classes = PILImage.open(io.BytesIO(read(data, f"SegmentationClass/{image_id}_photo.png")))
        assert classes.mode == "P" and classes.getpalette()[3:6] == [255, 0, 0]
        assert np.array_equal(np.asarray(classes), _expected_classes(label_map, categories))
        objects = np.asarray(PILImage.open(io.BytesIO(read(data, f"SegmentationObject/{image_id}_photo.png"))))
        for number, sid in enumerate(sorted(categories), 1):
            assert np.array_equal(objects == number, label_map == sid)
        assert np.array_equal(objects == 0, label_map == 0)
    assert read(data, "ImageSets/Segmentation/train.txt") == b"101_photo\n"
    assert read(data, "ImageSets/Segmentation/trainval.txt") == b"101_photo\n205_photo\n"
    assert read(data, "labelmap.txt").decode().splitlines()[1:] == [
        "background:0,0,0::", "car:255,0,0::", "person:0,255,0::", "road:128,128,128::"]


def _labelmap(data: bytes) -> list[tuple[str, tuple[int, int, int]]]:
    """labelmap.txt as (name, rgb) in index order: what CVAT and datumaro read (line order is the index)."""
    rows = []
    for line in read(data, "labelmap.txt").decode().splitlines():
        if line.strip() and not line.startswith("#"):
            name, color, *_ = line.split(":")
            rows.append((name, tuple(int(v) for v in color.split(","))))
    return rows


@pytest.mark.parametrize("name", ["background", "Background"])
def test_a_class_named_background_is_voc_background_and_never_a_second_labelmap_line(name):
    # The demo project has a "background" class: it is VOC's index 0, the classes after it close the gap.
    categories = (Category(1, 11, "car", "thing", "#ff0000"), Category(2, 12, name, "stuff", "#0000ff"),
                  Category(3, 13, "road", "stuff", "#808080"))
    label_map = np.zeros((40, 60), dtype=np.uint32)
    label_map[0:10, 0:10] = 1  # car
    label_map[10:20, :] = 2  # background class
    label_map[30:, :] = 3  # road
    stats = segment_stats(label_map)
    segments = tuple(ExportSegment(segment_id=s, category_id=s, instance=None, area=stats[s][0],
                                   bbox=(stats[s][1], stats[s][2], stats[s][3] - stats[s][1] + 1,
                                         stats[s][4] - stats[s][2] + 1)) for s in (1, 2, 3))
    image = ExportImage(id=7, file_name="7_a.jpg", width=60, height=40, split="", segments=segments,
                        load_map=lambda: label_map)
    data = export("pascal_voc", DatasetView(name="Demo", kind="panoptic", categories=categories, images=[image],
                                            count=1))
    labelmap = _labelmap(data)
    names = [n.lower() for n, _ in labelmap]
    assert names == ["background", "car", "road"] and len(set(names)) == len(names)
    classes = PILImage.open(io.BytesIO(read(data, "SegmentationClass/7_a.png")))
    values = np.asarray(classes)
    index = {n: i for i, (n, _) in enumerate(labelmap)}
    assert np.array_equal(values == index["car"], label_map == 1)
    assert np.array_equal(values == index["road"], label_map == 3)
    assert np.array_equal(values == 0, (label_map == 0) | (label_map == 2))
    palette = classes.getpalette()
    assert [tuple(palette[3 * i:3 * i + 3]) for i in range(len(labelmap))] == [rgb for _, rgb in labelmap]
    objects = np.asarray(PILImage.open(io.BytesIO(read(data, "SegmentationObject/7_a.png"))))
    assert np.array_equal(objects == 1, label_map == 1) and np.array_equal(objects == 2, label_map == 3)
    assert np.array_equal(objects == 0, (label_map == 0) | (label_map == 2))


@pytest.mark.parametrize("name", sorted(EXPORTERS))
def test_every_format_counts_the_exported_segments_as_annotations(name):
    buf = io.BytesIO()
    sink = ZipSink(buf)
    summary = run_exporter(name, view(), sink, ExportOptions(), lambda f: None)
    sink.close()
    assert summary["images"] == 2 and summary["annotations"] == 4  # COCO instances' meaning: one per segment


def test_yolo_polygons_rasterise_back_to_each_segment_and_holes_are_counted():
    data = export("yolo_seg")
    summary_view = view()
    buf = io.BytesIO()
    sink = ZipSink(buf)
    summary = run_exporter("yolo_seg", summary_view, sink, ExportOptions(), lambda f: None)
    sink.close()
    assert summary == {"images": 2, "polygons": 4, "holes_dropped": 1, "annotations": 4}
    names = ["car", "person", "road"]
    yaml = read(data, "data.yaml").decode()
    assert 'names:\n  0: "car"\n  1: "person"\n  2: "road"' in yaml
    for image_id, (label_map, categories) in _maps().items():
        lines = read(data, f"labels/{image_id}_photo.txt").decode().splitlines()
        for line in lines:  # filled as Ultralytics' loader does (polygon2mask); see tests/unit/test_yolo_export.py
            index, *coords = line.split()
            mask = np.zeros((40, 60), dtype=np.uint8)
            cv2.fillPoly(mask, [(np.array(coords, dtype=np.float32).reshape(-1, 2) * (60, 40)).astype(np.int32)], 1)
            mask = mask.astype(bool)
            sid = next(s for s, c in categories.items() if c == int(index) + 1)
            filled = label_map == sid
            if (image_id, sid) == (101, 1):
                filled = filled | (label_map == 2) | ((label_map == 0) & _car_hole())  # the hole is filled
            assert np.array_equal(mask, filled), names[int(index)]


def _car_hole():
    hole = np.zeros((40, 60), dtype=bool)
    hole[10:20, 10:20] = True
    return hole


def test_a_split_export_writes_one_coco_file_per_split_and_per_split_folders():
    data = export("coco_instances", view(splits={101: "train", 205: "test"}))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
    assert "annotations/instances_train.json" in names and "annotations/instances_test.json" in names
    train = json.loads(read(data, "annotations/instances_train.json"))
    test = json.loads(read(data, "annotations/instances_test.json"))
    assert [i["id"] for i in train["images"]] == [101] and [i["id"] for i in test["images"]] == [205]
    assert {a["image_id"] for a in test["annotations"]} == {205}
    assert len({a["id"] for a in train["annotations"] + test["annotations"]}) == 4  # ids unique across files
    semantic = export("semantic_png", view(splits={101: "train", 205: "test"}))
    assert read(semantic, "semantic/test/205_photo.png")
    panoptic = export("coco_panoptic", view(splits={101: "train", 205: "test"}))
    assert json.loads(read(panoptic, "annotations/panoptic_test.json"))["annotations"][0]["image_id"] == 205
    yolo = export("yolo_seg", view(splits={101: "train", 205: "test"}))
    assert "train: images/train\ntest: images/test" in read(yolo, "data.yaml").decode()


def test_a_split_view_refuses_images_not_grouped_by_split():
    v = view(splits={101: "train", 205: "val"})
    interleaved = DatasetView(name="x", kind="panoptic", categories=CATEGORIES, count=3, split=True,
                              images=[*v.images, next(iter(v.images))])
    with pytest.raises(ValueError, match="grouped by split"):
        [list(images) for _, images in interleaved.parts()]


def test_stratified_split_keeps_each_class_near_its_fractions_and_is_seeded():
    rng = np.random.default_rng(3)
    items = [(i, [c for c in range(6) if rng.random() < (0.5 if c < 3 else 0.05)]) for i in range(1, 1001)]
    fractions = {"train": 0.7, "val": 0.2, "test": 0.1}
    split = stratified_split(items, fractions, seed=7)
    assert split == stratified_split(list(reversed(items)), fractions, seed=7)  # order of the input is irrelevant
    assert split != stratified_split(items, fractions, seed=8)
    sizes = {s: sum(1 for v in split.values() if v == s) for s in fractions}
    assert sizes == {"train": 700, "val": 200, "test": 100}
    for c in range(6):
        members = [i for i, classes in items if c in classes]
        for s, f in fractions.items():
            share = sum(1 for i in members if split[i] == s)
            assert abs(share - f * len(members)) <= 1.0, (c, s, share, len(members))


def test_stratified_split_refuses_bad_fractions():
    with pytest.raises(ValueError, match="sum to 1"):
        stratified_split([(1, [1])], {"train": 0.5, "val": 0.2}, seed=0)
    with pytest.raises(ValueError, match="unknown splits"):
        stratified_split([(1, [1])], {"train": 0.5, "dev": 0.5}, seed=0)


# ---- per-image artifacts: stored bytes stand in for the per-image work, byte for byte ----


def _stored(v: DatasetView, options=ExportOptions(), annotation_version=1) -> dict[str, bytes]:
    """Every format's artifacts of the view's images, as approval stores them, by key."""
    store = {}
    for image in v.images:
        for name, chosen in EXPORTERS.items():
            context = ArtifactContext(name, v.categories, options)
            key = artifact_key(context, image_id=image.id, width=image.width, height=image.height,
                               annotation_id=image.id, annotation_version=annotation_version)
            store[key] = chosen.per_image(image, context)
    return store


def _with_artifacts(v: DatasetView, store: dict[str, bytes], only=None) -> DatasetView:
    def lookup(context, image):
        return store.get(artifact_key(context, image_id=image.id, width=image.width, height=image.height,
                                      annotation_id=image.id, annotation_version=1))

    images = [replace(i, artifact=partial(lookup, image=i)) if only is None or i.id in only else i for i in v.images]
    return replace(v, images=images)


@pytest.mark.parametrize("name", sorted(EXPORTERS))
@pytest.mark.parametrize("splits", [None, {101: "train", 205: "val"}], ids=["unsplit", "split"])
def test_an_export_from_stored_artifacts_is_byte_identical_and_computes_nothing(name, splits, per_image_calls):
    options = [ExportOptions(), *([ExportOptions(polygons=True)] if name == "coco_instances" else [])]
    for option in options:
        plain = export(name, view(splits=splits), option)
        store = _stored(view(splits=splits), option)
        per_image_calls.clear()
        assert export(name, _with_artifacts(view(splits=splits), store), option) == plain
        assert per_image_calls == []
        # Only some images stored: the others are computed, the bytes are the same.
        assert export(name, _with_artifacts(view(splits=splits), store, only={205}), option) == plain
        assert per_image_calls == [(name, 101)]
        per_image_calls.clear()


def test_coco_summaries_are_the_same_from_stored_artifacts():
    for options in (ExportOptions(), ExportOptions(polygons=True)):
        v = view()
        store = _stored(view(), options)
        summaries = []
        for w in (v, _with_artifacts(view(), store)):
            sink = ZipSink(io.BytesIO())
            summaries.append(run_exporter("coco_instances", w, sink, options, lambda f: None))
        assert summaries[0] == summaries[1]
    assert summaries[0]["kept_as_rle"] == 1


def test_an_artifact_under_a_stale_key_is_not_used(per_image_calls):
    store = _stored(view())
    poisoned = {key: b"stale" for key in store}
    # The classes changed (a rename): the export's keys are new, so nothing stored is found.
    renamed = (replace(CATEGORIES[0], name="automobile"), *CATEGORIES[1:])
    plain = export("semantic_png", replace(view(), categories=renamed))
    per_image_calls.clear()
    assert export("semantic_png", _with_artifacts(replace(view(), categories=renamed), poisoned)) == plain
    assert per_image_calls == [("semantic_png", 101), ("semantic_png", 205)]
    # A polygons export does not use the RLE artifacts.
    plain = export("coco_instances", view(), ExportOptions(polygons=True))
    assert export("coco_instances", _with_artifacts(view(), poisoned), ExportOptions(polygons=True)) == plain


def test_the_artifact_key_changes_with_everything_the_bytes_depend_on(monkeypatch):
    def key(name="semantic_png", categories=CATEGORIES, options=ExportOptions(), **where):
        where = {"image_id": 101, "width": 60, "height": 40, "annotation_id": 7, "annotation_version": 3, **where}
        return artifact_key(ArtifactContext(name, categories, options), **where)

    car, person, road = CATEGORIES
    keys = [key(), key(name="instance_png"), key(name="coco_instances"),
            key(name="coco_instances", options=ExportOptions(polygons=True)),
            key(categories=(replace(car, name="auto"), person, road)),
            key(categories=(replace(car, color="#ff0001"), person, road)),
            key(categories=(replace(car, kind="stuff"), person, road)),
            key(categories=(replace(car, class_id=99), person, road)),
            key(categories=(replace(person, id=1), replace(car, id=2), road)),  # reordered
            key(categories=(car, person)),  # one class fewer
            key(image_id=102), key(width=61), key(annotation_id=8), key(annotation_version=4)]
    assert len(set(keys)) == len(keys)
    assert key() == key() and key(options=ExportOptions(include_images=True)) == key()  # no effect on the bytes
    semantic = EXPORTERS["semantic_png"]
    monkeypatch.setitem(EXPORTERS, "semantic_png", replace(semantic, version=semantic.version + 1))
    assert key() not in keys


def test_a_stored_artifact_that_is_not_whole_is_refused():
    sealed = seal(b"png bytes")
    assert unseal(sealed) == b"png bytes"
    assert unseal(sealed[:-1]) is None and unseal(sealed[:10]) is None and unseal(b"") is None
    assert unseal(sealed[:-1] + b"X") is None
    assert unpack_parts(pack_parts(b"a", b"", b"bc")) == [b"a", b"", b"bc"]
