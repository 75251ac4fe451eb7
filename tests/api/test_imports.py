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

from labeling.exports import ExportOptions, run_exporter
from labeling.exports.view import DatasetView
from labeling.exports.zipsink import ZipSink
from labeling.models import Annotation, Job, JobStatus, Role, Segment, SegmentSource
from labeling.selectors import annotation_label_map
from labeling.services.exports import export_categories, export_images
from labeling.services.labelmaps import annotation_get_or_create
from tests.api.conftest import client_for
from tests.api.test_exports import approved, run_export  # noqa: F401 - the fixture is used by name
from tests.api.test_workflow import more_images, paint

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
