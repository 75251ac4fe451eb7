"""Export jobs through the API: the approved set in a format, downloaded, read back with the standard reader."""

import io
import json
import zipfile

import numpy as np
import pytest
from django.urls import reverse
from PIL import Image as PILImage
from pycocotools.coco import COCO

from labeling.masks.tiles import encode_tile, split_map
from labeling.models import Job, JobStatus, Role
from labeling.selectors import annotation_label_map
from labeling.services.labelmaps import SegmentInput, TileUpdate, annotation_get_or_create, labelmap_save
from labeling.services.tasks import annotation_submit, image_approve
from tests.api.conftest import client_for
from tests.api.test_workflow import more_images, paint


@pytest.fixture
def approved(world):
    annotator = world.users[Role.ANNOTATOR]
    annotation, _ = annotation_get_or_create(image=world.image, user=annotator)
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[5:30, 5:40] = 1
    label_map[10:20, 10:20] = 0  # a hole
    label_map[100:200, 500:600] = 2  # crosses the tile border at x = 512
    labelmap_save(annotation=annotation, user=annotator, base_version=annotation.version,
                  tiles=[TileUpdate(tx=tx, ty=ty, data=encode_tile(t)) for (tx, ty), t in split_map(label_map).items()],
                  segments=[SegmentInput(segment_id=1, class_id=world.thing.pk),
                            SegmentInput(segment_id=2, class_id=world.thing.pk)], deleted_segment_ids=[])
    annotation_submit(annotation=annotation, user=annotator)
    image_approve(image=world.image, user=world.users[Role.REVIEWER])
    annotation.refresh_from_db()
    return annotation


def run_export(world, django_capture_on_commit_callbacks, **body):
    client = client_for(world.users[Role.REVIEWER])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("project-exports", kwargs={"project_pk": world.project.pk}), body,
                               format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == JobStatus.SUCCEEDED, job.error
    download = client.get(reverse("job-download", kwargs={"pk": job.pk}))
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    return job, zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))


def test_coco_export_of_the_approved_set_reads_back_identical(world, approved, django_capture_on_commit_callbacks):
    more_images(world, 1)  # not approved: not exported
    job, archive = run_export(world, django_capture_on_commit_callbacks, format="coco_instances")
    assert job.result["images"] == 1 and job.result["annotations"] == 2 and len(job.result["sha256"]) == 64
    coco = COCO()
    coco.dataset = json.loads(archive.read("annotations/instances_default.json"))
    coco.createIndex()
    (image,) = coco.dataset["images"]
    assert image["id"] == world.image.pk and image["file_name"] == "street.png"
    label_map = annotation_label_map(annotation=approved)
    for ann, sid in zip(coco.loadAnns(coco.getAnnIds()), (1, 2), strict=True):
        assert ann["instance"] == sid  # annotations in segment order
        assert np.array_equal(coco.annToMask(ann).astype(bool), label_map == sid)


def test_exports_are_deterministic_and_options_apply(world, approved, django_capture_on_commit_callbacks):
    first, _ = run_export(world, django_capture_on_commit_callbacks, format="semantic_png")
    second, archive = run_export(world, django_capture_on_commit_callbacks, format="semantic_png")
    assert first.result["sha256"] == second.result["sha256"]
    assert sorted(archive.namelist()) == ["classes.json", "semantic/street.png"]
    _, archive = run_export(world, django_capture_on_commit_callbacks, format="instance_png", include_images=True)
    assert "images/street.png" in archive.namelist()
    # All images: the draft on a second image is exported too; one class only.
    (other,) = more_images(world, 1)
    draft, _ = annotation_get_or_create(image=other, user=world.users[Role.ANNOTATOR])
    paint(draft, draft.annotator)
    job, archive = run_export(world, django_capture_on_commit_callbacks, format="coco_instances",
                              approved_only=False, class_ids=[world.thing.pk])
    document = json.loads(archive.read("annotations/instances_default.json"))
    assert [i["id"] for i in document["images"]] == [world.image.pk, other.pk]
    assert [c["name"] for c in document["categories"]] == ["car"] and job.result["annotations"] == 3


def test_bad_export_requests_are_refused_clearly(world, approved):
    client = client_for(world.users[Role.MANAGER])
    url = reverse("project-exports", kwargs={"project_pk": world.project.pk})
    assert client.post(url, {"format": "tiff"}, format="json").status_code == 400
    response = client.post(url, {"format": "coco_instances", "class_ids": [999999]}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "unknown_class"
    listing = client.get(url).json()
    assert [f["name"] for f in listing["formats"]] == ["coco_instances", "coco_panoptic", "instance_png",
                                                       "pascal_voc", "semantic_png", "yolo_seg"]
    response = client.post(url, {"format": "semantic_png", "polygons": True}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "polygons_unsupported"
    response = client.post(url, {"format": "yolo_seg", "split": "stratified",
                                 "split_fractions": {"train": 0.9, "val": 0.2}}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid_split"
    job = Job.objects.create(kind="process_uploads", project=world.project)
    assert client.get(reverse("job-download", kwargs={"pk": job.pk})).status_code == 404
    assert client_for(world.users[Role.ANNOTATOR]).post(url, {"format": "coco_instances"},
                                                        format="json").status_code == 403


def test_a_stratified_split_export_is_seeded_and_recorded(world, approved, django_capture_on_commit_callbacks):
    from labeling.services.tasks import image_approve as approve

    annotator, reviewer = world.users[Role.ANNOTATOR], world.users[Role.REVIEWER]
    for image in more_images(world, 9):
        annotation, _ = annotation_get_or_create(image=image, user=annotator)
        paint(annotation, annotator)
        annotation_submit(annotation=annotation, user=annotator)
        approve(image=image, user=reviewer)
    body = {"format": "yolo_seg", "split": "stratified", "split_fractions": {"train": 0.6, "val": 0.2, "test": 0.2},
            "split_seed": 5}
    job, archive = run_export(world, django_capture_on_commit_callbacks, **body)
    splits = job.result["splits"]
    assert {k: len(v) for k, v in splits.items()} == {"train": 6, "val": 2, "test": 2}
    assert sorted(sum(splits.values(), [])) == sorted(world.project.images.values_list("id", flat=True))
    id_of = {f"{i.original_name.rsplit('.', 1)[0]}.txt": i.pk for i in world.project.images.all()}
    for name, ids in splits.items():  # label files are named after their images
        assert {id_of[n.split("/")[2]] for n in archive.namelist() if n.startswith(f"labels/{name}/")} == set(ids)
    again, _ = run_export(world, django_capture_on_commit_callbacks, **body)
    assert again.result["splits"] == splits and again.result["sha256"] == job.result["sha256"]
    other, _ = run_export(world, django_capture_on_commit_callbacks, **{**body, "split_seed": 6})
    assert other.result["splits"] != splits


def test_stored_split_and_polygons(world, approved, django_capture_on_commit_callbacks):
    world.image.split = "val"
    world.image.save(update_fields=["split"])
    job, archive = run_export(world, django_capture_on_commit_callbacks, format="coco_instances", split="stored",
                              polygons=True)
    assert job.result["splits"] == {"val": [world.image.pk]} and job.result["kept_as_rle"] == 1  # the holed one
    document = json.loads(archive.read("annotations/instances_val.json"))
    coco = COCO()
    coco.dataset = document
    coco.createIndex()
    label_map = annotation_label_map(annotation=approved)
    kinds = []
    for ann, sid in zip(coco.loadAnns(coco.getAnnIds()), (1, 2), strict=True):
        kinds.append(type(ann["segmentation"]).__name__)
        assert np.array_equal(coco.annToMask(ann).astype(bool), label_map == sid)
    assert kinds == ["dict", "list"]


@pytest.mark.parametrize("format", ["coco_instances", "coco_panoptic", "instance_png", "pascal_voc", "semantic_png",
                                    "yolo_seg"])
def test_every_format_exports_an_image_without_annotation_as_unlabelled(world, approved, format,
                                                                        django_capture_on_commit_callbacks):
    from labeling.exports import EXPORTERS

    assert format in EXPORTERS and len(EXPORTERS) == 6  # a new format joins this matrix
    (bare,) = more_images(world, 1)  # never opened: no annotation at all
    job, archive = run_export(world, django_capture_on_commit_callbacks, format=format, approved_only=False)
    assert job.result["images"] == 2 and job.result["annotations"] == 2
    stem = "extra0"
    own = [n for n in archive.namelist() if n.rsplit("/", 1)[-1].startswith(stem)]
    assert own or format == "coco_instances"
    for name in archive.namelist():
        data = archive.read(name)
        if name.endswith(".json"):
            json.loads(data)
        elif name.endswith(".png"):
            with PILImage.open(io.BytesIO(data)) as png:
                png.load()
                pixels = np.asarray(png)
            if name in own:  # all void / background
                assert png.size == (640, 480) and not pixels.any(), name
            else:
                assert pixels.any(), name
        elif name in own:  # YOLO: an empty label file
            assert data == b"", name
    if format == "coco_instances":
        coco = COCO()
        coco.dataset = json.loads(archive.read("annotations/instances_default.json"))
        coco.createIndex()
        assert sorted(coco.getImgIds()) == [world.image.pk, bare.pk] and coco.getAnnIds(imgIds=[bare.pk]) == []
    if format == "coco_panoptic":
        document = json.loads(archive.read("annotations/panoptic_default.json"))
        assert [a["segments_info"] for a in document["annotations"] if a["image_id"] == bare.pk] == [[]]
    if format == "instance_png":
        assert json.loads(archive.read("instances.json"))["images"][stem] == []
