"""Import jobs through the API: an export of the approved set imported back gives pre-labels whose export is
byte-identical; a file with errors fails the job with every problem listed and writes nothing, or with
skip_invalid applies the valid items and lists the rest; a dry run writes nothing; annotators start from the
import. Pascal VOC (VOC2012's layout with 255 boundaries, and our own export round-tripped into a fresh project),
polygons past the image edge as pycocotools rasterises them, COCO results lists, the panoptic PNG folder beside a
folder of photos of the same names."""

import io
import json
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage
from pycocotools import mask as coco_mask

from labeling.exports import ExportOptions, run_exporter
from labeling.exports.pascal_voc import voc_colormap
from labeling.exports.view import DatasetView
from labeling.exports.zipsink import ZipSink
from labeling.masks.tiles import encode_tile, split_map
from labeling.models import Annotation, Job, JobStatus, Role, Segment, SegmentSource
from labeling.selectors import annotation_label_map
from labeling.services.exports import export_categories, export_images
from labeling.services.images import images_upload
from labeling.services.labelmaps import SegmentInput, TileUpdate, annotation_get_or_create, labelmap_save
from labeling.services.projects import label_class_create, project_create
from labeling.services.tasks import annotation_submit, image_approve
from tests.api.conftest import client_for
from tests.api.test_exports import approved, run_export  # noqa: F401 - the fixture is used by name
from tests.api.test_workflow import more_images, paint
from tests.conftest import png_bytes

FORMATS = ["coco_instances", "coco_panoptic", "instance_png", "semantic_png"]
IMPORTER_OF = {"coco_instances": "coco_instances", "coco_panoptic": "coco_panoptic", "instance_png": "mask_pngs",
               "semantic_png": "mask_pngs"}


def run_import(world, capture, *, format, data: bytes, name="labels.zip", dry_run=False, user=None, project=None,
               **options):
    client = client_for(user or world.users[Role.MANAGER])
    body = {"format": format, "file": SimpleUploadedFile(name, data), "dry_run": dry_run, **options}
    with capture(execute=True):
        response = client.post(reverse("project-imports", kwargs={"project_pk": (project or world.project).pk}),
                               body, format="multipart")
    assert response.status_code == 202, response.content
    return Job.objects.get(pk=response.json()["id"])


def imported_annotation(image):
    return Annotation.objects.filter(image=image, imported=True).first()


def export_of(annotation, fmt) -> bytes:
    """The format's zip of one annotation, as an export job would write it."""
    categories = export_categories(project=annotation.image.project)
    view = DatasetView(name=annotation.image.project.name, kind=annotation.image.project.kind, categories=categories,
                       images=export_images(chosen=[(annotation.image_id, annotation.pk)], categories=categories,
                                            artifacts=False), count=1)
    buf = io.BytesIO()
    sink = ZipSink(buf)
    run_exporter(fmt, view, sink, ExportOptions(), lambda f: None)
    sink.close()
    return buf.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_imported_back_exports_byte_identical(fmt, world, approved, django_capture_on_commit_callbacks):  # noqa: F811
    _, archive = run_export(world, django_capture_on_commit_callbacks, format=fmt)
    exported = archive.fp.getvalue()
    job = run_import(world, django_capture_on_commit_callbacks, format=IMPORTER_OF[fmt], data=exported)
    assert job.status == JobStatus.SUCCEEDED, (job.error, job.result)
    assert job.result["applied"] and job.result["images"] == 1 and job.result["errors"] == 0
    imported = imported_annotation(world.image)
    assert set(Segment.objects.filter(annotation=imported).values_list("source", flat=True)) == {SegmentSource.IMPORT}
    assert export_of(imported, fmt) == export_of(approved, fmt)
    first_map = annotation_label_map(annotation=imported)
    # Imported again: the same annotation is replaced, with the same content.
    job = run_import(world, django_capture_on_commit_callbacks, format=IMPORTER_OF[fmt], data=exported)
    assert job.status == JobStatus.SUCCEEDED
    assert imported_annotation(world.image).pk == imported.pk
    assert np.array_equal(annotation_label_map(annotation=imported_annotation(world.image)), first_map)


def _coco(world, annotations):
    return json.dumps({
        "images": [{"id": 1, "file_name": f"{world.image.pk}_street.png", "width": 640, "height": 480}],
        "categories": [{"id": 1, "name": world.thing.name}, {"id": 2, "name": world.stuff.name}],
        "annotations": annotations}).encode()


def test_a_file_with_errors_fails_the_job_lists_every_problem_and_writes_nothing(
        world, django_capture_on_commit_callbacks):
    good = {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[10, 10, 50, 10, 50, 50]]}
    document = _coco(world, [good, {"id": 2, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 2, 2]]},
                             {"id": 3, "image_id": 1, "category_id": 7, "segmentation": [[1, 1, 2, 2, 3, 1]]},
                             {"id": 4, "image_id": 1, "category_id": 2,
                              "segmentation": {"size": [480, 641], "counts": "PPYo1"}}])
    job = run_import(world, django_capture_on_commit_callbacks, format="coco_instances", data=document,
                     name="labels.json")
    assert job.status == JobStatus.FAILED and "nothing was imported" in job.error
    assert job.result["applied"] is False and job.result["errors"] == 3
    assert sorted((p["code"], p["where"]) for p in job.result["problems"]) == [
        ("bad_polygon", "labels.json: annotation 2"), ("bad_rle", "labels.json: annotation 4"),
        ("dangling_id", "labels.json: annotation 3")]
    assert imported_annotation(world.image) is None

    dry = run_import(world, django_capture_on_commit_callbacks, format="coco_instances", data=_coco(world, [good]),
                     name="labels.json", dry_run=True)
    assert dry.status == JobStatus.SUCCEEDED and dry.result["applied"] is False and dry.result["segments"] == 1
    assert imported_annotation(world.image) is None

    job = run_import(world, django_capture_on_commit_callbacks, format="coco_instances", data=_coco(world, [good]),
                     name="labels.json")
    assert job.status == JobStatus.SUCCEEDED and job.result["applied"]
    # An annotator's new annotation starts from the import.
    annotation, _ = annotation_get_or_create(image=world.image, user=world.users[Role.ANNOTATOR])
    assert list(Segment.objects.filter(annotation=annotation).values_list("source", flat=True)) == ["import"]


def test_an_import_that_fails_half_way_rolls_back_every_image(world, django_capture_on_commit_callbacks):
    (other,) = more_images(world, 1)
    square = [[10, 10, 50, 10, 50, 50, 10, 50]]
    document = json.dumps({
        "images": [{"id": 1, "file_name": f"{world.image.pk}_street.png"},
                   {"id": 2, "file_name": other.original_name}],
        "categories": [{"id": 1, "name": world.thing.name}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": square},
                        {"id": 2, "image_id": 2, "category_id": 1, "segmentation": [[0, 0, 2000, 0, 0, 9]]}]}).encode()
    job = run_import(world, django_capture_on_commit_callbacks, format="coco_instances", data=document,
                     name="labels.json")
    assert job.status == JobStatus.FAILED and [p["code"] for p in job.result["problems"]] == ["out_of_bounds"]
    assert imported_annotation(world.image) is None and imported_annotation(other) is None


def test_bad_uploads_are_refused_before_a_job_and_only_managers_import(world, django_capture_on_commit_callbacks):
    client = client_for(world.users[Role.MANAGER])
    url = reverse("project-imports", kwargs={"project_pk": world.project.pk})
    for fmt, data, code in [("coco_panoptic", b'{"images": []}', "unsupported_file"),
                            ("coco_instances", b"\x89PNG....", "unsupported_file"),
                            ("coco_instances", b"", "empty")]:
        response = client.post(url, {"format": fmt, "file": SimpleUploadedFile("x", data)}, format="multipart")
        assert response.status_code == 400 and code in response.content.decode(), response.content
    response = client.post(url, {"format": "yolo", "file": SimpleUploadedFile("x.zip", b"PK\x05\x06")},
                           format="multipart")
    assert response.status_code == 400
    assert not Job.objects.filter(kind="import").exists()
    # A corrupt ZIP: the job fails with the archive's problem.
    job = run_import(world, django_capture_on_commit_callbacks, format="mask_pngs", data=b"PK\x03\x04garbage")
    assert job.status == JobStatus.FAILED and job.result["problems"][0]["code"] == "not_an_archive"
    listing = client.get(url).json()
    assert [(f["name"], f["takes_void_value"]) for f in listing["formats"]] == [
        ("coco_instances", False), ("coco_panoptic", False), ("mask_pngs", True), ("pascal_voc", True)]
    assert [j["id"] for j in listing["jobs"]] == [job.pk]
    assert client_for(world.users[Role.REVIEWER]).get(url).status_code == 403


def test_pathological_json_and_an_empty_zip_fail_the_job_with_a_named_problem(
        world, django_capture_on_commit_callbacks):
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    huge = b'{"images": [], "annotations": [], "categories": [], "n": ' + b"7" * 10_000 + b"}"
    infinite = b'{"images": [], "annotations": [], "categories": [], "n": 1e999}'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("annotations/instances.json", b"[" * 100_000)
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    for data, name, code, where in [(deep, "labels.json", "json_too_deep", "labels.json"),
                                    (huge, "labels.json", "json_number_too_large", "labels.json"),
                                    (infinite, "labels.json", "json_number_too_large", "labels.json"),
                                    (buf.getvalue(), "labels.zip", "json_too_deep", "annotations/instances.json"),
                                    (empty.getvalue(), "labels.zip", "empty_archive", "upload")]:
        for dry_run in (True, False):
            job = run_import(world, django_capture_on_commit_callbacks, format="coco_instances", data=data,
                             name=name, dry_run=dry_run)
            assert job.status == JobStatus.FAILED and "nothing was imported" in job.error, (code, job.error)
            assert [(p["severity"], p["code"], p["where"]) for p in job.result["problems"]] == [
                ("error", code, where)]
    assert imported_annotation(world.image) is None


def test_human_work_is_never_touched(world, django_capture_on_commit_callbacks):
    draft, _ = annotation_get_or_create(image=world.image, user=world.users[Role.ANNOTATOR])
    paint(draft, draft.annotator)
    before = annotation_label_map(annotation=draft)
    job = run_import(world, django_capture_on_commit_callbacks, format="coco_instances",
                     data=_coco(world, [{"id": 1, "image_id": 1, "category_id": 1,
                                         "segmentation": [[100, 100, 150, 100, 150, 150]]}]), name="labels.txt")
    assert job.status == JobStatus.SUCCEEDED  # a JSON by content, whatever its name
    draft.refresh_from_db()
    assert np.array_equal(annotation_label_map(annotation=draft), before)


def test_images_listed_without_labels_are_left_as_they_are(world, django_capture_on_commit_callbacks):
    (other,) = more_images(world, 1)
    document = json.dumps({
        "images": [{"id": 1, "file_name": f"{world.image.pk}_street.png"}, {"id": 2, "file_name": other.original_name}],
        "categories": [{"id": 1, "name": world.thing.name}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 9, 1, 9, 9]]}]}).encode()
    job = run_import(world, django_capture_on_commit_callbacks, format="coco_instances", data=document,
                     name="labels.json")
    assert job.status == JobStatus.SUCCEEDED and (job.result["images"], job.result["empty_images"]) == (1, 1)
    assert imported_annotation(world.image) is not None and imported_annotation(other) is None


def test_a_zip_written_with_backslashes_imports_and_duplicate_names_fail(world, approved,  # noqa: F811
                                                                          django_capture_on_commit_callbacks):
    _, archive = run_export(world, django_capture_on_commit_callbacks, format="semantic_png")

    def rezip(names):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as out:
            for source, target in names:
                out.writestr(target, archive.read(source))
        return buf.getvalue()

    windows = rezip([(n, n.replace("/", "\\")) for n in archive.namelist()])
    job = run_import(world, django_capture_on_commit_callbacks, format="mask_pngs", data=windows)
    assert job.status == JobStatus.SUCCEEDED, job.result
    png = next(n for n in archive.namelist() if n.endswith(".png"))
    twice = rezip([(n, n) for n in archive.namelist()] + [(png, png.replace("/", "\\"))])
    job = run_import(world, django_capture_on_commit_callbacks, format="mask_pngs", data=twice)
    assert job.status == JobStatus.FAILED and job.result["problems"][0]["code"] == "duplicate_member"


# --- skip_invalid ---------------------------------------------------------------------------------------------------

def _mixed_coco(world, other) -> bytes:
    """Two images: valid and invalid annotations on both, an unknown category, an annotation of no image."""
    return json.dumps({
        "images": [{"id": 1, "file_name": f"{world.image.pk}_street.png"}, {"id": 2, "file_name": other.original_name}],
        "categories": [{"id": 1, "name": world.thing.name}, {"id": 2, "name": world.stuff.name},
                       {"id": 3, "name": "bicycle"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[10, 10, 50, 10, 50, 50, 10, 50]]},
            {"id": 2, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 2, 2]]},  # 2 points
            {"id": 3, "image_id": 1, "category_id": 3, "segmentation": [[60, 60, 90, 60, 90, 90]]},  # no bicycles
            {"id": 4, "image_id": 2, "category_id": 2, "segmentation": [[0, 400, 640, 400, 640, 480, 0, 480]]},
            {"id": 5, "image_id": 2, "category_id": 1,
             "segmentation": {"size": [480, 641], "counts": "PPYo1"}},  # the wrong size
            {"id": 6, "image_id": 9, "category_id": 1, "segmentation": [[1, 1, 9, 1, 9, 9]]},  # no image 9
        ]}).encode()


def test_skip_invalid_applies_every_valid_item_and_lists_each_invalid_one(world, django_capture_on_commit_callbacks):
    (other,) = more_images(world, 1)
    data = _mixed_coco(world, other)
    listed = [("bad_polygon", "labels.json: annotation 2"), ("bad_rle", "labels.json: annotation 5"),
              ("dangling_id", "labels.json: annotation 6"), ("unknown_category", "labels.json: category 3")]

    # The default stays all or nothing.
    job = run_import(world, django_capture_on_commit_callbacks, format="coco_instances", data=data, name="labels.json")
    assert job.status == JobStatus.FAILED and "nothing was imported" in job.error
    assert sorted((p["code"], p["where"]) for p in job.result["problems"]) == listed
    assert imported_annotation(world.image) is None and imported_annotation(other) is None

    # A dry run with skip_invalid says what would be applied, and applies nothing.
    dry = run_import(world, django_capture_on_commit_callbacks, format="coco_instances", data=data, name="labels.json",
                     dry_run=True, skip_invalid=True)
    assert dry.status == JobStatus.SUCCEEDED and dry.result["applied"] is False
    assert (dry.result["images"], dry.result["segments"], dry.result["errors"]) == (2, 2, 4)
    assert imported_annotation(world.image) is None

    job = run_import(world, django_capture_on_commit_callbacks, format="coco_instances", data=data, name="labels.json",
                     skip_invalid=True)
    assert job.status == JobStatus.SUCCEEDED, (job.error, job.result)
    assert job.result["applied"] is True and job.result["skip_invalid"] is True
    assert (job.result["images"], job.result["segments"], job.result["errors"]) == (2, 2, 4)
    assert sorted((p["code"], p["where"]) for p in job.result["problems"]) == listed
    first = annotation_label_map(annotation=imported_annotation(world.image))
    expected = coco_mask.decode(coco_mask.frPyObjects([[10, 10, 50, 10, 50, 50, 10, 50]], 480, 640))[..., 0]
    assert np.array_equal(first > 0, expected.astype(bool))  # annotation 1 only: 2 and 3 were left out
    second = annotation_label_map(annotation=imported_annotation(other))
    assert second[440, 100] and not second[10, 10] and (second > 0).sum() == 640 * 80
    assert [(s.label_class_id, s.source) for s in Segment.objects.filter(annotation=imported_annotation(other))] == [
        (world.stuff.pk, SegmentSource.IMPORT)]


def test_skip_invalid_applies_when_the_archive_itself_had_a_refused_member(world,
                                                                           django_capture_on_commit_callbacks):
    (other,) = more_images(world, 1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("annotations/labels.json", _mixed_coco(world, other))
        archive.writestr("../outside.txt", b"refused by the archive reader, not by the importer")
    job = run_import(world, django_capture_on_commit_callbacks, format="coco_instances", data=buf.getvalue(),
                     skip_invalid=True)
    assert job.status == JobStatus.SUCCEEDED, (job.error, job.result)
    assert job.result["applied"] is True and job.result["images"] == 2
    assert "../outside.txt" in {p["where"] for p in job.result["problems"]}
    assert "upload_changed" not in {p["code"] for p in job.result["problems"]}


def test_skip_invalid_with_nothing_valid_fails_and_applies_nothing(world, django_capture_on_commit_callbacks):
    data = _coco(world, [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 2, 2]]}])
    job = run_import(world, django_capture_on_commit_callbacks, format="coco_instances", data=data, name="labels.json",
                     skip_invalid=True)
    assert job.status == JobStatus.FAILED and "no valid labels" in job.error
    assert job.result["applied"] is False and [p["code"] for p in job.result["problems"]] == ["bad_polygon"]
    assert imported_annotation(world.image) is None


# --- COCO polygons past the image edge ------------------------------------------------------------------------------

def test_a_polygon_past_the_image_edge_is_rasterised_as_pycocotools_does(world, django_capture_on_commit_callbacks):
    # Crosses the left, top and bottom edges; a vertex 700 px right of a 640-wide image.
    polygon = [-30.5, -20.25, 700.0, 10.5, 610.25, 530.75, 100.5, 470.0, 20.0, 300.0]
    job = run_import(world, django_capture_on_commit_callbacks, format="coco_instances", name="labels.json",
                     data=_coco(world, [{"id": 1, "image_id": 1, "category_id": 2, "segmentation": [polygon]}]))
    assert job.status == JobStatus.SUCCEEDED and job.result["errors"] == 0, job.result
    imported = annotation_label_map(annotation=imported_annotation(world.image)) > 0
    expected = coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects([polygon], 480, 640))).astype(bool)
    assert np.array_equal(imported, expected)
    # What the importer did before: the vertices clipped to the image first give another shape.
    clipped = np.clip(np.asarray(polygon).reshape(-1, 2), 0, [640, 480]).ravel().tolist()
    assert (coco_mask.decode(coco_mask.frPyObjects([clipped], 480, 640))[..., 0].astype(bool) != expected).sum() > 0


# --- Pascal VOC -----------------------------------------------------------------------------------------------------

def _palette_png(values: np.ndarray) -> bytes:
    png = PILImage.fromarray(values.astype(np.uint8), "P")
    png.putpalette(voc_colormap())
    buf = io.BytesIO()
    png.save(buf, "PNG")
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def _with_boundary(values: np.ndarray, box, value) -> None:
    """Paint `value` in the box and VOC's 255 on its one-pixel border, as VOC2012's PNGs outline every object."""
    x0, y0, x1, y1 = box
    values[y0 - 1:y1 + 1, x0 - 1:x1 + 1] = 255
    values[y0:y1, x0:x1] = value


def voc2012(world, *, objects=True, extra_class=None) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A VOC2012-style ZIP for the world's image (no labelmap.txt): two cars and a person with 255 borders.
    Returns it and the class and object PNGs' values."""
    classes = np.zeros((480, 640), np.uint8)
    numbers = np.zeros((480, 640), np.uint8)
    for number, (box, index) in enumerate([((10, 10, 60, 50), 7), ((200, 100, 260, 150), 7),
                                           ((300, 200, 350, 300), 15)], 1):
        _with_boundary(classes, box, index)
        _with_boundary(numbers, box, number)
    if extra_class is not None:  # a dog, which the project lacks
        _with_boundary(classes, (500, 400, 560, 460), extra_class)
        _with_boundary(numbers, (500, 400, 560, 460), 4)
    root = "VOCdevkit/VOC2012"
    members = {f"{root}/SegmentationClass/street.png": _palette_png(classes),
               f"{root}/ImageSets/Segmentation/train.txt": b"street\n",
               # A photo of the same name is never taken for a mask.
               f"{root}/JPEGImages/street.png": world.image.file.open("rb").read()}
    if objects:
        members[f"{root}/SegmentationObject/street.png"] = _palette_png(numbers)
    return _zip(members), classes, numbers


def test_a_voc2012_layout_imports_its_objects_with_boundaries_as_void(world, django_capture_on_commit_callbacks):
    person = label_class_create(project=world.project, name="Person", kind="thing", color="#00ff00")
    data, classes, numbers = voc2012(world)
    job = run_import(world, django_capture_on_commit_callbacks, format="pascal_voc", data=data)
    assert job.status == JobStatus.SUCCEEDED and job.result["errors"] == 0, job.result
    assert person.name != "person"  # matched ignoring case
    (unused,) = job.result["problems"]
    assert unused["code"] == "unused_category" and "18 class(es)" in unused["message"] and "dog" in unused["message"]
    imported = imported_annotation(world.image)
    label_map = annotation_label_map(annotation=imported)
    segments = {s.segment_id: (s.label_class_id, s.instance)
                for s in Segment.objects.filter(annotation=imported)}
    assert segments == {1: (world.thing.pk, 1), 2: (world.thing.pk, 2), 3: (person.pk, 1)}
    assert np.array_equal(label_map, np.where(classes == 255, 0, numbers))  # the object numbers, boundaries void
    assert not label_map[classes == 255].any() and not label_map[classes == 0].any()

    # Without SegmentationObject/ each class is one segment (semantic labels).
    data, classes, _ = voc2012(world, objects=False)
    job = run_import(world, django_capture_on_commit_callbacks, format="pascal_voc", data=data)
    assert job.status == JobStatus.SUCCEEDED and job.result["segments"] == 2
    label_map = annotation_label_map(annotation=imported_annotation(world.image))
    assert np.array_equal(label_map, np.select([classes == 7, classes == 15], [1, 2], 0))


def test_voc_classes_the_project_lacks_fail_or_are_skipped(world, django_capture_on_commit_callbacks):
    data, classes, _ = voc2012(world, extra_class=12)  # a dog
    job = run_import(world, django_capture_on_commit_callbacks, format="pascal_voc", data=data)
    assert job.status == JobStatus.FAILED and imported_annotation(world.image) is None
    errors = [(p["code"], p["where"]) for p in job.result["problems"] if p["severity"] == "error"]
    assert errors == [("unknown_category", f"VOC2012's classes (no VOCdevkit/VOC2012/labelmap.txt): {name}")
                      for name in ("dog", "person")]  # the project has neither
    job = run_import(world, django_capture_on_commit_callbacks, format="pascal_voc", data=data, skip_invalid=True)
    assert job.status == JobStatus.SUCCEEDED and job.result["applied"] and job.result["segments"] == 2
    label_map = annotation_label_map(annotation=imported_annotation(world.image))
    assert np.array_equal(label_map > 0, classes == 7)  # the cars; the dog (and the person: no class) left out


def _approved_mixed(world):
    """An approved annotation of two touching cars (one with a hole) and the road."""
    annotator = world.users[Role.ANNOTATOR]
    annotation, _ = annotation_get_or_create(image=world.image, user=annotator)
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[300:480, :] = 3
    label_map[5:60, 5:80] = 1
    label_map[20:30, 20:30] = 0
    label_map[5:60, 80:150] = 2
    label_map[100:200, 500:600] = 1  # a second part of car 1, past the tile border at x = 512
    labelmap_save(annotation=annotation, user=annotator, base_version=annotation.version,
                  tiles=[TileUpdate(tx=tx, ty=ty, data=encode_tile(t)) for (tx, ty), t in split_map(label_map).items()],
                  segments=[SegmentInput(segment_id=1, class_id=world.thing.pk, instance=1),
                            SegmentInput(segment_id=2, class_id=world.thing.pk, instance=2),
                            SegmentInput(segment_id=3, class_id=world.stuff.pk)], deleted_segment_ids=[])
    annotation_submit(annotation=annotation, user=annotator)
    image_approve(image=world.image, user=world.users[Role.REVIEWER])
    annotation.refresh_from_db()
    return annotation


def test_our_voc_export_imports_into_a_fresh_project_pixel_for_pixel(world, django_capture_on_commit_callbacks):
    original = _approved_mixed(world)
    _, archive = run_export(world, django_capture_on_commit_callbacks, format="pascal_voc")
    assert "labelmap.txt" in archive.namelist()
    manager = world.users[Role.MANAGER]
    fresh = project_create(user=manager, name="Copy", kind="panoptic")
    # The same class names, created in another order with other colours: matched by name.
    road = label_class_create(project=fresh, name=world.stuff.name, kind="stuff", color="#123456")
    car = label_class_create(project=fresh, name=world.thing.name, kind="thing", color="#abcdef")
    with django_capture_on_commit_callbacks(execute=True):
        images_upload(project=fresh, user=manager, files=[
            SimpleUploadedFile("street.png", world.image.file.open("rb").read())])
    image = fresh.images.get()

    job = run_import(world, django_capture_on_commit_callbacks, format="pascal_voc", data=archive.fp.getvalue(),
                     project=fresh)
    assert job.status == JobStatus.SUCCEEDED, job.result["problems"]
    assert (job.result["errors"], job.result["warnings"]) == (0, 0), job.result["problems"]
    imported = imported_annotation(image)
    assert np.array_equal(annotation_label_map(annotation=imported), annotation_label_map(annotation=original))
    class_names = {world.thing.pk: "car", world.stuff.pk: "road", car.pk: "car", road.pk: "road"}
    rows = [(s.segment_id, class_names[s.label_class_id], s.instance)
            for s in Segment.objects.filter(annotation=imported).order_by("segment_id")]
    assert rows == [(s.segment_id, class_names[s.label_class_id], s.instance)
                    for s in Segment.objects.filter(annotation=original).order_by("segment_id")]
    assert rows == [(1, "car", 1), (2, "car", 2), (3, "road", None)]


def test_mask_pngs_map_a_void_value_to_no_label(world, approved, django_capture_on_commit_callbacks):  # noqa: F811
    _, archive = run_export(world, django_capture_on_commit_callbacks, format="semantic_png")
    (png,) = [n for n in archive.namelist() if n.endswith(".png")]
    values = np.asarray(PILImage.open(io.BytesIO(archive.read(png))))
    outlined = values.copy()
    outlined[0, :] = 255  # a VOC-style "ignore" row
    buf = io.BytesIO()
    PILImage.fromarray(outlined).save(buf, "PNG")
    data = _zip({**{n: archive.read(n) for n in archive.namelist()}, png: buf.getvalue()})
    job = run_import(world, django_capture_on_commit_callbacks, format="mask_pngs", data=data)
    assert job.status == JobStatus.FAILED and [p["code"] for p in job.result["problems"]] == ["unknown_value"]
    job = run_import(world, django_capture_on_commit_callbacks, format="mask_pngs", data=data, void_value=255)
    assert job.status == JobStatus.SUCCEEDED and job.result["errors"] == 0, job.result
    label_map = annotation_label_map(annotation=imported_annotation(world.image))
    assert not label_map[0].any() and np.array_equal(label_map > 0, values > 0)
    # The option is refused where no mask PNG is read, and out of range.
    client = client_for(world.users[Role.MANAGER])
    url = reverse("project-imports", kwargs={"project_pk": world.project.pk})
    for fmt, value, code in [("coco_instances", 255, "void_value_not_read"), ("mask_pngs", 0, "void_value"),
                             ("mask_pngs", 70000, "void_value")]:
        response = client.post(url, {"format": fmt, "void_value": value,
                                     "file": SimpleUploadedFile("x.zip", data)}, format="multipart")
        assert response.status_code == 400 and code in response.content.decode(), response.content


# --- messages that say what is wrong --------------------------------------------------------------------------------

def test_a_coco_results_list_alone_is_explained_and_with_its_instances_json_imports_with_scores(
        world, django_capture_on_commit_callbacks):
    mask = np.zeros((480, 640), np.uint8, order="F")
    mask[40:120, 60:200] = 1
    rle = coco_mask.encode(mask)
    results = [{"image_id": 1, "category_id": 1, "score": 0.875,
                "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}},
               {"image_id": 1, "category_id": 2, "score": 0.5, "segmentation": [[0, 300, 640, 300, 640, 480, 0, 480]]}]
    job = run_import(world, django_capture_on_commit_callbacks, format="coco_instances", name="results.json",
                     data=json.dumps(results).encode())
    assert job.status == JobStatus.FAILED
    (problem,) = job.result["problems"]
    assert (problem["code"], problem["where"]) == ("results_without_images", "results.json")
    assert "COCO results file" in problem["message"] and "instances JSON" in problem["message"]

    instances = json.loads(_coco(world, [{"id": 1, "image_id": 1, "category_id": 1,
                                          "segmentation": [[1, 1, 9, 1, 9, 9]]}]))
    data = _zip({"annotations/instances_val.json": json.dumps(instances).encode(),
                 "results/segm_results.json": json.dumps(results).encode()})
    job = run_import(world, django_capture_on_commit_callbacks, format="coco_instances", data=data)
    assert job.status == JobStatus.SUCCEEDED and (job.result["images"], job.result["segments"]) == (1, 2), job.result
    assert [(p["code"], p["where"]) for p in job.result["problems"]] == [
        ("annotations_not_imported", "annotations/instances_val.json")]
    segments = Segment.objects.filter(annotation=imported_annotation(world.image)).order_by("segment_id")
    assert [(s.label_class_id, s.score) for s in segments] == [(world.thing.pk, 0.875), (world.stuff.pk, 0.5)]


def test_an_upload_of_the_wrong_kind_says_what_it_is(world):
    client = client_for(world.users[Role.MANAGER])
    url = reverse("project-imports", kwargs={"project_pk": world.project.pk})
    for fmt, data, said in [("coco_instances", png_bytes(8, 8), "this file is a PNG image"),
                            ("coco_panoptic", b'[{"image_id": 1}]', "takes a ZIP file; this file is a JSON document"),
                            ("mask_pngs", b"hello", "this file is a text file")]:
        response = client.post(url, {"format": fmt, "file": SimpleUploadedFile("x", data)}, format="multipart")
        assert response.status_code == 400 and response.json()["code"] == "unsupported_file"
        assert said in response.json()["message"], response.json()


def test_the_panoptic_png_folder_is_chosen_over_photos_of_the_same_names(world, approved,  # noqa: F811
                                                                         django_capture_on_commit_callbacks):
    _, archive = run_export(world, django_capture_on_commit_callbacks, format="coco_panoptic")
    document = archive.read("annotations/panoptic_default.json")
    (mask,) = [n for n in archive.namelist() if n.startswith("annotations/panoptic_default/")]
    file_name = mask.rsplit("/", 1)[1]
    photo = world.image.file.open("rb").read()  # a PNG of the same name as the mask
    # A dataset folder zipped whole: the JSON is not named after the mask folder.
    data = _zip({"dataset/annotations/panoptic.json": document, f"dataset/images/{file_name}": photo,
                 f"dataset/panoptic_masks/{file_name}": archive.read(mask)})
    job = run_import(world, django_capture_on_commit_callbacks, format="coco_panoptic", data=data)
    assert job.status == JobStatus.SUCCEEDED and job.result["errors"] == 0, job.result
    assert np.array_equal(annotation_label_map(annotation=imported_annotation(world.image)),
                          annotation_label_map(annotation=approved))
    # With only the photos there, the import says so instead of reading a photo as the mask.
    data = _zip({"dataset/annotations/panoptic.json": document, f"dataset/images/{file_name}": photo})
    job = run_import(world, django_capture_on_commit_callbacks, format="coco_panoptic", data=data)
    assert job.status == JobStatus.FAILED
    (problem,) = job.result["problems"]
    assert problem["code"] == "png_folder" and "dataset/images/" in problem["message"]
    assert "photos" in problem["message"]
