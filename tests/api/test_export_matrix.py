"""Every export format x every option, over images in every state a project holds: no annotation, imported labels
only, model pre-labels, a person's draft, approved work with a hole and 1-px segments. Each zip is read back with
the format's standard reader (pycocotools, the panoptic PNG convention, Pillow for the mask PNGs and VOC,
cv2.fillPoly as Ultralytics fills YOLO polygons; datumaro in its own process, tests/readers/) and compared with
the label maps the project holds. An export imported into a fresh project and exported again gives the same
masks."""

import io
import itertools
import json
import re
import subprocess
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from scipy import ndimage

from labeling.imports import IMPORTERS
from labeling.models import Annotation, Image, Job, JobStatus, Membership, Role
from labeling.services.images import images_upload
from labeling.services.labelmaps import SegmentInput, annotation_get_or_create, labelmap_replace
from labeling.services.projects import label_class_create, label_class_update, project_create
from labeling.services.tasks import annotation_submit, image_approve
from labeling.services.trained_models import prelabel_write
from tests.api.conftest import client_for, make_user
from tests.conftest import jpeg_bytes
from workers.runners.own_models import PredictedSegment, Prediction

ROOT = Path(__file__).resolve().parents[2]
READERS_PYTHON = ROOT / ".venv-readers" / "bin" / "python"
W, H = 64, 48
FORMATS = ("coco_instances", "coco_panoptic", "semantic_png", "instance_png", "pascal_voc", "yolo_seg")
IMPORTER_OF = {"coco_instances": "coco_instances", "coco_panoptic": "coco_panoptic", "semantic_png": "mask_pngs",
               "instance_png": "mask_pngs", "pascal_voc": "pascal_voc"}
CLASSES = (("car", "thing", "#ff0000"), ("person", "thing", "#00ff00"), ("road", "stuff", "#808080"))


@dataclass(frozen=True)
class Seg:
    name: str  # class
    instance: int | None
    mask: np.ndarray  # bool (H, W)


def _box(y0, y1, x0, x1) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _pixel(y, x) -> np.ndarray:
    return _box(y, y + 1, x, x + 1)


def _holed(mask: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return mask & ~hole


# What each image holds, by file name: (its state, its segments). Every thing is one connected part.
CONTENT = {
    "empty.jpg": ("none", []),
    "imported.jpg": ("imported", [Seg("car", 1, _holed(_box(10, 30, 10, 24), _box(14, 18, 14, 18))),
                                  Seg("road", None, _box(40, 48, 0, 64))]),
    "prelabel.jpg": ("prelabel", [Seg("car", 1, _box(0, 8, 0, 8)), Seg("road", None, _box(20, 48, 30, 64))]),
    "approved.jpg": ("approved", [Seg("car", 1, _holed(_box(5, 25, 5, 30), _box(10, 15, 10, 15))),
                                  Seg("person", 1, _pixel(40, 50)), Seg("person", 2, _pixel(0, 63)),
                                  Seg("road", None, _box(30, 48, 0, 40))]),
    "draft.jpg": ("draft", [Seg("car", 1, _box(2, 10, 40, 60)), Seg("person", 1, _pixel(20, 20))]),
}


@cache
def _model_bytes() -> bytes:
    from tests.own_model_fixtures import onnx_semantic_bytes

    return onnx_semantic_bytes()


def _label_map(segments: list[Seg]) -> np.ndarray:
    label_map = np.zeros((H, W), np.uint32)
    for sid, seg in enumerate(segments, 1):
        label_map[seg.mask] = sid
    return label_map


@dataclass
class Project:
    project: object
    manager: object
    classes: dict
    image_bytes: dict  # file name -> the uploaded bytes


def _new_project(name: str, users: dict | None = None) -> Project:
    manager = (users or {}).get("manager") or make_user(f"manager-{name}")
    project = project_create(user=manager, name=name, kind="panoptic")
    # Made in one order, then reordered: exports must keep each class's id, not its position.
    classes = {n: label_class_create(project=project, name=n, kind=k, color=c) for n, k, c in CLASSES}
    for order, n in enumerate(("road", "person", "car")):
        label_class_update(label_class=classes[n], data={"order": order})
    image_bytes = {n: jpeg_bytes(W, H, seed=i) for i, n in enumerate(CONTENT)}
    images_upload(project=project, user=manager,
                  files=[SimpleUploadedFile(n, data) for n, data in image_bytes.items()])
    return Project(project=project, manager=manager, classes=classes, image_bytes=image_bytes)


@pytest.fixture
def world(db, django_capture_on_commit_callbacks):
    from tests.own_model_fixtures import create_model, manifest

    with django_capture_on_commit_callbacks(execute=True):
        made = _new_project("Matrix")
    project = made.project
    annotator, reviewer = make_user("annotator"), make_user("reviewer")
    Membership.objects.create(project=project, user=annotator, role=Role.ANNOTATOR)
    Membership.objects.create(project=project, user=reviewer, role=Role.REVIEWER)
    with django_capture_on_commit_callbacks(execute=True):
        model = create_model(project, data=_model_bytes(), manifest_json=manifest("semantic_logits"),
                             user=made.manager)
    for name, (state, segments) in CONTENT.items():
        image = Image.objects.get(project=project, original_name=name)
        label_map = _label_map(segments)
        rows = [SegmentInput(segment_id=sid, class_id=made.classes[s.name].pk, instance=s.instance)
                for sid, s in enumerate(segments, 1)]
        if state == "imported":
            annotation = Annotation.objects.create(image=image, annotator=None, imported=True)
            labelmap_replace(annotation=annotation, label_map=label_map, segments=rows)
        elif state == "prelabel":
            prelabel_write(image=image, trained_model=model, classes=made.classes, prediction=Prediction(
                label_map=label_map, segments=[PredictedSegment(sid, s.name, s.instance, 0.5 + sid / 10)
                                               for sid, s in enumerate(segments, 1)]))
        elif state in ("draft", "approved"):
            annotation, _ = annotation_get_or_create(image=image, user=annotator)
            labelmap_replace(annotation=annotation, label_map=label_map, segments=rows, user=annotator)
            if state == "approved":
                annotation_submit(annotation=annotation, user=annotator)
                image_approve(image=image, user=reviewer)
    return made


def run_export(made: Project, capture, **body) -> tuple[Job, zipfile.ZipFile]:
    client = client_for(made.manager)
    with capture(execute=True):
        response = client.post(reverse("project-exports", kwargs={"project_pk": made.project.pk}), body,
                               format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == JobStatus.SUCCEEDED, (body, job.error)
    download = client.get(reverse("job-download", kwargs={"pk": job.pk}))
    return job, zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))


# ---------------------------------------------------------------- readers: {file name: [Seg]} as each reader sees it


def _members(archive, pattern: str) -> list[str]:
    return sorted(n for n in archive.namelist() if re.fullmatch(pattern, n))


def read_coco_instances(archive) -> dict[str, list[Seg]]:
    found = {}
    for path in _members(archive, r"annotations/instances_\w+\.json"):
        coco = COCO()
        coco.dataset = json.loads(archive.read(path))
        coco.createIndex()
        names = {c["id"]: c["name"] for c in coco.dataset["categories"]}
        for image in coco.dataset["images"]:
            found[image["file_name"]] = [Seg(names[a["category_id"]], a.get("instance"), coco.annToMask(a) > 0)
                                         for a in coco.imgToAnns[image["id"]]]
    return found


def read_coco_panoptic(archive) -> dict[str, list[Seg]]:
    found = {}
    for path in _members(archive, r"annotations/panoptic_\w+\.json"):
        document = json.loads(archive.read(path))
        names = {c["id"]: c["name"] for c in document["categories"]}
        files = {i["id"]: i["file_name"] for i in document["images"]}
        for ann in document["annotations"]:
            rgb = np.asarray(PILImage.open(io.BytesIO(archive.read(f"{path[:-5]}/{ann['file_name']}")))).astype(int)
            ids = rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]  # COCO panoptic's id convention
            found[files[ann["image_id"]]] = [Seg(names[s["category_id"]], s.get("instance"), ids == s["id"])
                                             for s in ann["segments_info"]]
    return found


def read_semantic_png(archive, uploaded) -> dict[str, list[Seg]]:
    table = json.loads(archive.read("classes.json"))
    names = {c["index"]: c["name"] for c in table["classes"]}
    found = {}
    for path in _members(archive, r"semantic/(\w+/)?[^/]+\.png"):
        values = np.asarray(PILImage.open(io.BytesIO(archive.read(path))))
        found[uploaded[PurePosixPath(path).stem]] = [Seg(names[v], None, values == v)
                                                     for v in np.unique(values) if v]
    return found


def read_instance_png(archive, uploaded) -> dict[str, list[Seg]]:
    table = json.loads(archive.read("instances.json"))
    names = {c["id"]: c["name"] for c in table["categories"]}
    found = {}
    for path in _members(archive, r"instance/(\w+/)?[^/]+\.png"):
        values = np.asarray(PILImage.open(io.BytesIO(archive.read(path))))
        stem = PurePosixPath(path).stem
        found[uploaded[stem]] = [Seg(names[e["category_id"]], e["instance"], values == e["value"])
                                 for e in table["images"][stem]]
    return found


def read_pascal_voc(archive, uploaded) -> dict[str, list[Seg]]:
    """Classes from SegmentationClass (palette index = labelmap.txt row), instances from SegmentationObject."""
    rows = [line.split(":")[0] for line in archive.read("labelmap.txt").decode().splitlines()
            if line and not line.startswith("#")]
    assert rows[0] == "background" and len(rows) == len(set(rows))
    found = {}
    for path in _members(archive, r"SegmentationClass/[^/]+\.png"):
        stem = PurePosixPath(path).stem
        classes = np.asarray(PILImage.open(io.BytesIO(archive.read(path))))
        objects = np.asarray(PILImage.open(io.BytesIO(archive.read(f"SegmentationObject/{stem}.png"))))
        segments = []
        for value in np.unique(objects):
            if value in (0, 255):
                continue
            mask = objects == value
            (cls,) = np.unique(classes[mask])
            segments.append(Seg(rows[cls], None, mask))
        found[uploaded[stem]] = segments
    return found


def read_yolo_seg(archive, uploaded) -> dict[str, list[Seg]]:
    """Each line filled the way Ultralytics' loader does: denormalised, cast to int32, cv2.fillPoly."""
    yaml = archive.read("data.yaml").decode()
    names = dict(re.findall(r"^  (\d+): (\".*\")$", yaml, re.M))
    found = {}
    for path in _members(archive, r"labels/(\w+/)?[^/]+\.txt"):
        segments = []
        for line in archive.read(path).decode().splitlines():
            index, *coords = line.split()
            polygon = (np.array(coords, float).reshape(-1, 2) * (W, H)).astype(np.int32)
            mask = np.zeros((H, W), np.uint8)
            cv2.fillPoly(mask, [polygon], color=1)
            segments.append(Seg(json.loads(names[index]), None, mask > 0))
        found[uploaded[PurePosixPath(path).stem]] = segments
    return found


def read(fmt: str, archive) -> dict[str, list[Seg]]:
    uploaded = {PurePosixPath(n).stem: n for n in CONTENT}
    if fmt == "coco_instances":
        return read_coco_instances(archive)
    if fmt == "coco_panoptic":
        return read_coco_panoptic(archive)
    return globals()[f"read_{fmt}"](archive, uploaded)


# ---------------------------------------------------------------- what each format can say


def expected(fmt: str, *, approved_only: bool, classes: set[str]) -> dict[str, list[Seg]]:
    """{file name: [Seg]} the format should hold, in the granularity it has: per class for semantic masks, holes
    filled for YOLO (it has no holes), no instance numbers where the format has none."""
    chosen = {n: [s for s in segs if s.name in classes] for n, (state, segs) in CONTENT.items()
              if state == "approved" or not approved_only}
    if fmt == "semantic_png":
        return {n: [Seg(c, None, np.logical_or.reduce([s.mask for s in segs if s.name == c]))
                    for c in sorted({s.name for s in segs})] for n, segs in chosen.items()}
    if fmt == "yolo_seg":
        return {n: [Seg(s.name, None, ndimage.binary_fill_holes(s.mask)) for s in segs] for n, segs in chosen.items()}
    if fmt == "pascal_voc":
        return {n: [Seg(s.name, None, s.mask) for s in segs] for n, segs in chosen.items()}
    return chosen


def canonical(found: dict[str, list[Seg]]) -> dict[str, list[tuple]]:
    return {n: sorted((s.name, s.instance, np.packbits(s.mask).tobytes()) for s in segs)
            for n, segs in found.items()}


def _differences(found, wanted) -> list[str]:
    problems = []
    for name in sorted(set(found) | set(wanted)):
        if name not in found or name not in wanted:
            problems.append(f"{name}: {'missing' if name in wanted else 'unexpected'}")
            continue
        got = canonical({name: found[name]})[name]
        want = canonical({name: wanted[name]})[name]
        if got != want:
            problems.append(f"{name}: got {[(g[0], g[1]) for g in got]}, want {[(w[0], w[1]) for w in want]}"
                            f" (or their masks differ)")
    return problems


OPTIONS = [dict(approved_only=a, classes=c, split=s, include_images=i)
           for a, c, s, i in itertools.product((True, False), ("all", "car+road"), ("none", "stratified"),
                                               (False, True))]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_option_over_every_state_reads_back_exactly(fmt, world, django_capture_on_commit_callbacks):
    ids = {n: c.pk for n, c in world.classes.items()}
    numbers = {n: c.number for n, c in world.classes.items()}
    for option in OPTIONS + ([dict(OPTIONS[2], polygons=True), dict(OPTIONS[-1], polygons=True)]
                             if fmt == "coco_instances" else []):
        names = {"car", "person", "road"} if option["classes"] == "all" else {"car", "road"}
        body = {"format": fmt, "approved_only": option["approved_only"], "split": option["split"],
                "include_images": option["include_images"], "polygons": option.get("polygons", False),
                **({} if option["classes"] == "all" else {"class_ids": sorted(ids[n] for n in names)})}
        job, archive = run_export(world, django_capture_on_commit_callbacks, **body)
        wanted = expected(fmt, approved_only=option["approved_only"], classes=names)
        assert _differences(read(fmt, archive), wanted) == [], option
        assert job.result["annotations"] == sum(1 for n, (_, segs) in CONTENT.items() if n in wanted
                                                for s in segs if s.name in names), option
        if fmt in ("coco_instances", "coco_panoptic"):  # ids are the classes' own numbers, whatever the order
            document = json.loads(archive.read(_members(archive, r"annotations/\w+\.json")[0]))
            assert {c["name"]: c["id"] for c in document["categories"]} == {n: numbers[n] for n in names}
        images = [m for m in archive.namelist() if PurePosixPath(m).name in CONTENT]
        if option["include_images"]:  # each image once, byte for byte, under its own name
            assert sorted(PurePosixPath(m).name for m in images) == sorted(wanted), option
            assert all(archive.read(m) == world.image_bytes[PurePosixPath(m).name] for m in images)
        else:
            assert images == []
        if option["split"] == "stratified":
            assert sorted(i for ids_ in job.result["splits"].values() for i in ids_) == sorted(
                Image.objects.filter(project=world.project, original_name__in=wanted).values_list("id", flat=True))


def _datumaro(pairs: list[tuple[str, Path]]) -> list[dict]:
    """datumaro's reading of each (format, folder), one process for all (importing datumaro takes seconds)."""
    if not READERS_PYTHON.exists():
        pytest.fail("the readers' venv is missing: run scripts/install.sh test")
    script = ROOT / "tests" / "readers" / "datumaro_read.py"
    out = []
    for fmt, folder in pairs:
        run = subprocess.run([str(READERS_PYTHON), str(script), fmt, str(folder)], capture_output=True, text=True,
                             timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        out.append(json.loads(run.stdout))
    return out


def _datumaro_segments(reading: dict, *, kinds=("mask",)) -> dict[str, list[Seg]]:
    found = {}
    for item in reading["items"]:
        found[item["id"]] = [Seg(a["label"], None, mask_utils.decode(a["rle"]) > 0)
                             for a in item["annotations"] if a["type"] in kinds]
    return found


@pytest.mark.parametrize("split", ["none", "stratified"])
def test_datumaro_detects_and_reads_every_coco_and_voc_export(split, world, django_capture_on_commit_callbacks,
                                                              tmp_path):
    folders = {}
    for fmt in ("coco_instances", "coco_panoptic", "pascal_voc"):
        _, archive = run_export(world, django_capture_on_commit_callbacks, format=fmt, approved_only=False,
                                split=split)
        archive.extractall(tmp_path / fmt)
        folders[fmt] = tmp_path / fmt
    readings = _datumaro([("coco_instances", folders["coco_instances"]), ("coco_panoptic", folders["coco_panoptic"]),
                          ("voc_segmentation", folders["pascal_voc"])])
    for (fmt, reading), detected in zip(zip(folders, readings, strict=True),
                                        ("coco_instances", "coco_panoptic", "voc_segmentation"), strict=True):
        assert detected in reading["detected"], (fmt, reading["detected"])
        by_stem = {PurePosixPath(n).stem: n for n in CONTENT}
        found = {by_stem[k]: v for k, v in _datumaro_segments(reading).items()}
        wanted = {n: [Seg(s.name, None, s.mask) for s in segs]
                  for n, segs in expected(fmt, approved_only=False, classes={"car", "person", "road"}).items()}
        assert _differences(found, wanted) == [], fmt
        if split != "none":
            subsets = {item["subset"] for item in reading["items"]}
            # VOC's trainval.txt (train + val, as VOC2012 ships it) is one more subset to datumaro.
            assert subsets and subsets <= {"train", "val", "test", "trainval"}, (fmt, subsets)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f in IMPORTER_OF])
def test_an_export_imported_into_a_fresh_project_exports_the_same_masks(fmt, world,
                                                                         django_capture_on_commit_callbacks):
    if IMPORTER_OF[fmt] not in IMPORTERS:
        pytest.fail(f"no {IMPORTER_OF[fmt]} importer")
    _, first = run_export(world, django_capture_on_commit_callbacks, format=fmt, approved_only=False)
    with django_capture_on_commit_callbacks(execute=True):
        fresh = _new_project("Fresh")
    client = client_for(fresh.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("project-imports", kwargs={"project_pk": fresh.project.pk}),
                               {"format": IMPORTER_OF[fmt],
                                "file": SimpleUploadedFile("labels.zip", first.fp.getvalue())}, format="multipart")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == JobStatus.SUCCEEDED, (job.error, job.result)
    _, again = run_export(fresh, django_capture_on_commit_callbacks, format=fmt, approved_only=False)
    # The images nobody labelled export as unlabelled in both; the rest hold the same masks.
    assert _differences(read(fmt, again), read(fmt, first)) == []
    assert sorted(again.namelist()) == sorted(first.namelist())  # the same names: no prefix grows
