"""The SDK and CLI against a real HTTP server (pytest-django's live_server; Celery eager, as in the other API
tests): login, projects and classes, folder uploads with per-file errors, pre-labels, label imports with their
problems, exports downloaded to disk with every option, the formats the server lists, permissions, the `annotator`
command end to end with its credentials file, and the SDK installed alone (only `requests`) into a clean venv."""

import io
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from pycocotools import mask as coco_mask

from labeling.exports import EXPORTERS
from labeling.ingest.images import ALLOWED_EXTENSIONS
from labeling.masks.tiles import encode_tile, split_map
from labeling.models import Image, Job, JobStatus, Project, Segment
from labeling.sdk import UPLOAD_EXTENSIONS, ApiError, Client, JobFailed, JobTimeout, cli, folder_files
from labeling.sdk.multipart import MultipartFile
from labeling.services.labelmaps import SegmentInput, TileUpdate, annotation_get_or_create, labelmap_save
from tests.api.conftest import make_user
from tests.conftest import jpeg_bytes, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-manager-123"  # make_user's password for "manager"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(live_server):
    cache.clear()  # the login throttle counts per address in the cache
    make_user("manager")
    return live_server.url


@pytest.fixture
def client(server):
    # Closed after the test: a kept-alive connection holds a live-server thread and its database session.
    with Client.login(server, "manager", PASSWORD) as client:
        yield client


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "photos"
    (root / "nested").mkdir(parents=True)
    (root / "a.png").write_bytes(png_bytes(32, 24, seed=1))
    (root / "b.jpg").write_bytes(jpeg_bytes(40, 30, seed=2))
    (root / "c.png").write_bytes(png_bytes(20, 20, seed=3))
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but then nothing of an image")
    (root / "notes.txt").write_text("not uploaded")
    (root / ".hidden.png").write_bytes(png_bytes(8, 8, seed=4))
    (root / "nested" / "d.png").write_bytes(png_bytes(16, 16, seed=5))
    return root


def test_the_sdk_imports_without_django():
    code = "import sys, labeling.sdk, labeling.sdk.cli; sys.exit('django' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], env={k: v for k, v in os.environ.items()
                                                              if k != "DJANGO_SETTINGS_MODULE"}).returncode == 0


def test_folder_uploads_pick_what_the_server_accepts(folder):
    assert UPLOAD_EXTENSIONS == ALLOWED_EXTENSIONS | {".zip"}
    assert [p.name for p in folder_files(folder)] == ["a.png", "b.jpg", "broken.png", "c.png"]
    assert [p.name for p in folder_files(folder, recursive=True)][-1] == "d.png"


def test_multipart_body_streams_what_requests_would_send(tmp_path):
    path = tmp_path / 'we"ird.bin'
    path.write_bytes(bytes(range(256)) * 5000)
    body = MultipartFile(field="file", path=path, fields={"name": "x"})
    data = b"".join(iter(lambda: body.read(4096), b""))
    assert len(data) == len(body) and data.count(path.read_bytes()) == 1
    assert b'filename="we%22ird.bin"' in data and data.endswith(f"--{body.boundary}--\r\n".encode())


def test_login_good_and_bad_password(server):
    client = Client.login(server + "/api/", "manager", PASSWORD)
    assert client.me()["username"] == "manager" and client.url == server
    assert client.token not in repr(client)
    with pytest.raises(ApiError) as bad:
        Client.login(server, "manager", "wrong")
    assert bad.value.status == 400 and bad.value.code == "bad_credentials"
    assert bad.value.message == "wrong username or password"
    with pytest.raises(ApiError) as anonymous:
        Client(server, "not-a-token").me()
    assert anonymous.value.status == 401 and anonymous.value.message
    with pytest.raises(ApiError) as unreachable:
        Client("http://127.0.0.1:9", "x", timeout=2).me()
    assert unreachable.value.status is None and unreachable.value.code == "network_error"


def test_create_project_with_classes(client):
    project = client.create_project("Streets", "panoptic", classes=[
        {"name": "person", "kind": "thing", "color": "#ff0000"}, {"name": "sky", "kind": "stuff"},
    ])
    assert project["role"] == "manager" and project["kind"] == "panoptic"
    assert [(c["name"], c["kind"]) for c in client.classes(project["id"])] == [("person", "thing"), ("sky", "stuff")]
    assert project["classes"][1]["color"].startswith("#")
    assert [p["id"] for p in client.projects()] == [project["id"]]
    # A refused class leaves no half-made project behind.
    with pytest.raises(ApiError) as refused:
        client.create_project("Sem", "semantic", classes=[{"name": "car", "kind": "thing"}])
    assert refused.value.status == 400 and refused.value.code == "class_kind_mismatch"
    assert not Project.objects.filter(name="Sem").exists()


def test_upload_folder_reports_the_bad_file_and_uploads_the_rest(client, folder):
    project = client.create_project("Photos", "instance", classes=[{"name": "cat", "kind": "thing"}])
    calls = []
    summary = client.upload_folder(project["id"], folder, progress=lambda done, total, f: calls.append(
        (done, total, f.path.name, f.ok)))
    assert calls == [(1, 4, "a.png", True), (2, 4, "b.jpg", True), (3, 4, "broken.png", False),
                     (4, 4, "c.png", True)]
    assert (summary.accepted, summary.rejected, summary.duplicates) == (3, 1, 0)
    ((name, code, message),) = summary.problems
    assert name == "broken.png" and code and message
    images = client.images(project["id"])
    assert sorted(i["original_name"] for i in images) == ["a.png", "b.jpg", "c.png"]
    assert sorted(i["id"] for i in images) == sorted(summary.image_ids)
    assert {i["pyramid_status"] for i in images} == {"ready"}  # the processing jobs ran (eagerly)
    assert all(client.job(j)["status"] == "succeeded" for j in summary.job_ids)
    again = client.upload_folder(project["id"], folder, recursive=True)
    assert (again.accepted, again.duplicates, again.rejected) == (1, 3, 1)


def test_export_wait_and_download_give_a_coco_zip(client, folder, tmp_path):
    project = client.create_project("Export", "panoptic", classes=[{"name": "car", "kind": "thing"}])
    summary = client.upload_folder(project["id"], folder)
    seen = []
    path = client.export(project["id"], "coco_instances", tmp_path / "out.zip", approved_only=False,
                         progress=lambda job: seen.append(job["status"]))
    assert seen[-1] == "succeeded"
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("annotations/instances_default.json"))
    assert sorted(i["id"] for i in document["images"]) == sorted(summary.image_ids)
    assert [c["name"] for c in document["categories"]] == ["car"]
    assert not list(tmp_path.glob(".*.part"))
    # Only approved images by default: none yet.
    job = client.wait(client.start_export(project["id"], "coco_instances"))
    with zipfile.ZipFile(client.download(job, tmp_path / "approved.zip")) as archive:
        assert json.loads(archive.read("annotations/instances_default.json"))["images"] == []
    with pytest.raises(ApiError) as bad:
        client.start_export(project["id"], "tiff")
    assert bad.value.status == 400 and "format" in bad.value.message


def test_wait_raises_on_failed_and_cancelled_jobs_and_times_out(client):
    project = Project.objects.get(pk=client.create_project("Jobs", "semantic")["id"])
    failed = Job.objects.create(kind="export", project=project, status=JobStatus.FAILED, error="disk full")
    with pytest.raises(JobFailed) as error:
        client.wait(failed.pk)
    assert error.value.code == "job_failed" and "disk full" in error.value.message
    assert error.value.job["id"] == failed.pk
    cancelled = Job.objects.create(kind="export", project=project, status=JobStatus.CANCELLED)
    with pytest.raises(JobFailed, match="cancelled"):
        client.wait(cancelled.pk)
    queued = Job.objects.create(kind="export", project=project, status=JobStatus.QUEUED, dedup_key="")
    with pytest.raises(JobTimeout):
        client.wait(queued.pk, timeout=0.3, interval=0.05)


def test_prelabel_through_the_sdk(client, tmp_path):
    from tests.own_model_fixtures import blob_image, create_model, manifest, onnx_semantic_bytes, png_of

    project = client.create_project("Models", "panoptic", classes=[{"name": "car", "kind": "thing"},
                                                                     {"name": "road", "kind": "stuff"}])
    (tmp_path / "blobs.png").write_bytes(png_of(blob_image()))
    (image_id,) = client.upload_images(project["id"], [tmp_path / "blobs.png"]).image_ids
    trained = create_model(Project.objects.get(pk=project["id"]), data=onnx_semantic_bytes(),
                           manifest_json=manifest("semantic_logits"))
    assert [m["id"] for m in client.models(project["id"])] == [trained.pk]
    job = client.wait(client.start_prelabel(trained.pk, [image_id]), timeout=60)
    assert job["kind"] == "prelabel" and job["result"]["labeled"] == 1
    assert client.wait(client.start_prelabel(trained.pk), timeout=60)["params"]["image_ids"] == [image_id]


def test_another_users_token_gets_404(client, server, tmp_path):
    project = client.create_project("Private", "semantic")
    make_user("outsider")
    outsider = Client.login(server, "outsider", "pw-outsider-123")
    with pytest.raises(ApiError) as hidden:
        outsider.project(project["id"])
    assert hidden.value.status == 404 and hidden.value.code == "not_found"
    (tmp_path / "a.png").write_bytes(png_bytes())
    with pytest.raises(ApiError) as upload:  # an error every file would get stops the upload
        outsider.upload_images(project["id"], [tmp_path / "a.png"] * 3)
    assert upload.value.status == 404
    assert outsider.projects() == []


def test_cli_end_to_end(server, folder, tmp_path, monkeypatch, capsys):
    config = tmp_path / "conf" / "credentials.json"
    monkeypatch.setenv("ANNOTATOR_CONFIG", str(config))
    for name in ("ANNOTATOR_URL", "ANNOTATOR_TOKEN", "ANNOTATOR_PASSWORD"):
        monkeypatch.delenv(name, raising=False)

    def run(*argv, stdin=None):
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    assert run("projects")[0] == 2  # not logged in yet
    code, _, err = run("login", server, "--username", "manager", "--password-stdin", stdin="wrong\n")
    assert code == 1 and "wrong username or password" in err and not config.exists()
    code, _, err = run("login", server, "--username", "manager", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0, err
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    saved = json.loads(config.read_text())
    assert saved["url"] == server and saved["token"] and saved["token"] not in err

    code, out, err = run("create-project", "Streets", "--kind", "panoptic", "--class", "person:thing",
                         "--class", "sky:stuff:#87ceeb", "--json")
    assert code == 0, err
    project = json.loads(out)
    assert [(c["name"], c["kind"], c["color"]) for c in project["classes"]][1] == ("sky", "stuff", "#87ceeb")
    assert run("create-project", "X", "--kind", "panoptic", "--class", "person")[0] == 2

    code, out, err = run("upload", str(project["id"]), str(folder), "--recursive")
    assert code == 1  # broken.png was rejected; the others are in
    assert "4 uploaded, 0 duplicates, 1 rejected" in out and "broken.png" in err and "\r" not in err

    code, out, _ = run("projects", "--json")
    assert code == 0 and json.loads(out)[0]["image_count"] == 4
    code, out, _ = run("projects")
    assert "Streets" in out.splitlines()[1]

    target = tmp_path / "out.zip"
    code, out, err = run("export", str(project["id"]), "--format", "coco_instances", "-o", str(target), "--all",
                         "--classes", "person")
    assert code == 0, err
    assert out.strip() == str(target)
    document = json.loads(zipfile.ZipFile(target).read("annotations/instances_default.json"))
    assert len(document["images"]) == 4 and [c["name"] for c in document["categories"]] == ["person"]
    code, _, err = run("export", str(project["id"]), "--format", "coco_instances", "-o", str(target),
                       "--classes", "nope")
    assert code == 2 and "no class 'nope'" in err

    export_job = Job.objects.filter(kind="export").latest("id")
    code, out, _ = run("job", str(export_job.pk), "--json")
    assert code == 0 and json.loads(out)["status"] == "succeeded"
    assert run("job", "999999")[0] == 1

    # The environment overrides the file; a saved token never goes to another URL.
    monkeypatch.setenv("ANNOTATOR_URL", "http://127.0.0.1:9")
    assert run("projects")[0] == 2
    monkeypatch.setenv("ANNOTATOR_URL", server)
    monkeypatch.setenv("ANNOTATOR_TOKEN", "not-a-token")
    code, _, err = run("projects")
    assert code == 1 and "401" in err


def _coco_instances(image: dict[str, Any], *, category: str = "car") -> dict[str, Any]:
    """A COCO instances document for one project image: two cars as compressed RLE (pycocotools), named as
    the export names it (`<id>_<original name>`)."""
    height, width = image["height"], image["width"]
    masks = [np.zeros((height, width), np.uint8, order="F") for _ in range(2)]
    masks[0][2:10, 3:12] = 1
    masks[1][12:20, 14:30] = 1
    annotations = []
    for n, mask in enumerate(masks, 1):
        rle = coco_mask.encode(mask)
        annotations.append({"id": n, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": int(mask.sum()),
                            "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()}})
    return {"images": [{"id": 1, "file_name": f"{image['id']}_{image['original_name']}", "width": width,
                        "height": height}],
            "categories": [{"id": 1, "name": category}], "annotations": annotations}


@pytest.fixture
def import_project(client, tmp_path):
    project = client.create_project("Imports", "instance", classes=[{"name": "car", "kind": "thing"}])
    (tmp_path / "street.png").write_bytes(png_bytes(32, 24, seed=7))
    client.upload_images(project["id"], [tmp_path / "street.png"])
    (image,) = client.images(project["id"])
    return project, image


def test_import_labels_checks_then_applies_coco_instances_as_pre_labels(client, import_project, tmp_path):
    project, image = import_project
    assert {f["name"] for f in client.import_formats(project["id"])} >= {"coco_instances", "coco_panoptic",
                                                                         "mask_pngs"}
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(_coco_instances(image)))

    checked = client.import_labels(project["id"], path, format="coco_instances", dry_run=True)
    assert checked["kind"] == "import" and checked["status"] == "succeeded"
    assert checked["result"]["dry_run"] is True and checked["result"]["applied"] is False
    assert (checked["result"]["images"], checked["result"]["segments"], checked["result"]["errors"]) == (1, 2, 0)
    assert not Segment.objects.filter(annotation__image_id=image["id"]).exists()  # a check applies nothing

    seen = []
    done = client.import_labels(project["id"], path, format="coco_instances", progress=lambda j: seen.append(j))
    assert seen[-1]["status"] == "succeeded" and done["result"]["applied"] is True
    assert (done["result"]["images"], done["result"]["segments"]) == (1, 2)
    segments = Segment.objects.filter(annotation__image_id=image["id"], annotation__annotator__isnull=True)
    assert sorted(s.area for s in segments) == [8 * 9, 8 * 16] and {s.source for s in segments} == {"import"}

    started = client.import_labels(project["id"], path, format="coco_instances", dry_run=True, wait=False)
    assert started["status"] in ("queued", "running", "succeeded")  # eager Celery may have run it already
    assert client.wait(started)["result"]["dry_run"] is True


def test_import_labels_with_errors_fails_listing_the_problems(client, import_project, tmp_path):
    project, image = import_project
    document = _coco_instances(image, category="bicycle")  # no such class in the project
    document["annotations"].append({"id": 3, "image_id": 99, "category_id": 1,
                                    "segmentation": [[0, 0, 5, 0, 5, 5]]})  # an image the file does not list
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(JobFailed) as failed:
        client.import_labels(project["id"], path, format="coco_instances")
    result = failed.value.job["result"]
    assert result["applied"] is False and result["errors"] >= 2
    codes = {p["code"] for p in result["problems"] if p["severity"] == "error"}
    assert {"unknown_category", "dangling_id"} <= codes
    assert all(p["where"] and p["message"] for p in result["problems"])
    assert not Segment.objects.filter(annotation__image_id=image["id"]).exists()

    (tmp_path / "notes.txt").write_text("not labels")
    with pytest.raises(ApiError) as refused:  # a bad upload is a 400 before any job
        client.import_labels(project["id"], tmp_path / "notes.txt", format="coco_instances")
    assert refused.value.status == 400 and refused.value.code
    # Its traceback holds the refused request's connection open, and with it a live-server thread's database
    # session, which would keep the test database from being dropped.
    del refused


def test_cli_import_prints_the_summary_and_each_problem(client, server, import_project, tmp_path, monkeypatch,
                                                        capsys):
    project, image = import_project
    monkeypatch.setenv("ANNOTATOR_URL", server)
    monkeypatch.setenv("ANNOTATOR_TOKEN", client.token)
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_coco_instances(image)))
    bad.write_text(json.dumps(_coco_instances(image, category="bicycle")))

    assert cli.main(["import", str(project["id"]), str(good), "--format", "coco_instances", "--dry-run"]) == 0
    out, _ = capsys.readouterr()
    assert out.strip() == "checked: nothing applied; 1 image, 2 segments would be imported as pre-labels " \
                          "(0 errors, 0 warnings)"
    assert cli.main(["import", str(project["id"]), str(good), "-f", "coco_instances"]) == 0
    out, _ = capsys.readouterr()
    assert out.strip() == "imported 1 image, 2 segments as pre-labels (0 errors, 0 warnings)"

    assert cli.main(["import", str(project["id"]), str(bad), "-f", "coco_instances"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("import failed: nothing was applied (")
    problem_lines = err.strip().splitlines()
    assert problem_lines and all(line.startswith(("error: ", "warning: ")) for line in problem_lines)
    assert any("(unknown_category)" in line for line in problem_lines)

    assert cli.main(["import", str(project["id"]), str(bad), "-f", "coco_instances", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["status"] == "failed"
    assert cli.main(["import", str(project["id"]), str(tmp_path / "missing.json"), "-f", "coco_instances"]) == 2


# -- export options and formats ----------------------------------------------------------------------------------


def _paint(image_id: int, *, car: int, road: int | None) -> None:
    """The manager's draft of a 32x24 image: a holed car (stays RLE as polygons), a plain car and maybe road."""
    image = Image.objects.get(pk=image_id)
    user = get_user_model().objects.get(username="manager")
    annotation, _ = annotation_get_or_create(image=image, user=user)
    label_map = np.zeros((image.height, image.width), np.uint32)
    label_map[2:12, 2:14] = 1
    label_map[5:8, 5:8] = 0  # a hole
    label_map[14:20, 16:28] = 2
    segments = [SegmentInput(segment_id=1, class_id=car), SegmentInput(segment_id=2, class_id=car)]
    if road is not None:
        label_map[21:24, :] = 3
        segments.append(SegmentInput(segment_id=3, class_id=road))
    labelmap_save(annotation=annotation, user=user, base_version=annotation.version,
                  tiles=[TileUpdate(tx=tx, ty=ty, data=encode_tile(t)) for (tx, ty), t in split_map(label_map).items()],
                  segments=segments, deleted_segment_ids=[])


@pytest.fixture
def painted(client, tmp_path):
    """A panoptic project of six drafted images (none approved); every other one also has road."""
    project = client.create_project("Options", "panoptic", classes=[{"name": "car", "kind": "thing"},
                                                                      {"name": "road", "kind": "stuff"}])
    car, road = (c["id"] for c in project["classes"])
    paths = []
    for n in range(6):
        paths.append(tmp_path / f"street{n}.png")
        paths[-1].write_bytes(png_bytes(32, 24, seed=10 + n))
    image_ids = client.upload_images(project["id"], paths).image_ids
    for n, image_id in enumerate(image_ids):
        _paint(image_id, car=car, road=road if n % 2 == 0 else None)
    return project, image_ids


def _document(path: Path, name: str = "default") -> dict[str, Any]:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read(f"annotations/instances_{name}.json"))


def test_the_server_lists_its_export_formats_with_their_options(client, painted, server, monkeypatch, capsys):
    project, _ = painted
    formats = client.export_formats(project["id"])
    assert [f["name"] for f in formats] == sorted(EXPORTERS) and len(formats) >= 6
    options = {f["name"]: set(f["options"]) for f in formats}
    assert options["coco_instances"] == {"approved_only", "class_ids", "include_images", "polygons", "split"}
    assert all("polygons" not in o for name, o in options.items() if name != "coco_instances")

    monkeypatch.setenv("ANNOTATOR_URL", server)
    monkeypatch.setenv("ANNOTATOR_TOKEN", client.token)
    assert cli.main(["export-formats", str(project["id"])]) == 0
    out, _ = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()] == sorted(EXPORTERS)
    assert cli.main(["export-formats", str(project["id"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == formats

    # A wrong format, or none, is a usage error listing what the server exports; nothing is started.
    target = Path(os.devnull)
    assert cli.main(["export", str(project["id"]), "-f", "tiff", "-o", str(target)]) == 2
    _, err = capsys.readouterr()
    assert "no export format 'tiff'" in err and all(name in err for name in EXPORTERS)
    assert cli.main(["export", str(project["id"]), "-o", str(target)]) == 2
    _, err = capsys.readouterr()
    assert "give --format" in err and all(name in err for name in EXPORTERS)
    assert not Job.objects.filter(kind="export").exists()


def test_export_options_through_the_sdk(client, painted, tmp_path):
    project, image_ids = painted
    pid = project["id"]
    # approved_only (the default): nothing is approved yet.
    assert _document(client.export(pid, "coco_instances", tmp_path / "approved.zip"))["images"] == []

    # All work, only the cars (by name), as polygons: the holed car stays RLE, the other is a polygon.
    document = _document(client.export(pid, "coco_instances", tmp_path / "cars.zip", approved_only=False,
                                       class_ids=["car"], polygons=True))
    assert sorted(i["id"] for i in document["images"]) == sorted(image_ids)
    assert [c["name"] for c in document["categories"]] == ["car"]
    kinds = sorted(type(a["segmentation"]).__name__ for a in document["annotations"])
    assert kinds == ["dict"] * 6 + ["list"] * 6
    road = next(c["id"] for c in project["classes"] if c["name"] == "road")
    document = _document(client.export(pid, "coco_instances", tmp_path / "road.zip", approved_only=False,
                                       class_ids=[road]))
    assert [c["name"] for c in document["categories"]] == ["road"] and len(document["annotations"]) == 3
    assert all(isinstance(a["segmentation"], dict) for a in document["annotations"])  # RLE without polygons
    car = next(c["id"] for c in project["classes"] if c["name"] == "car")
    assert client.class_ids(pid, "car") == [car] and client.class_ids(pid, [road, "car", str(car)]) == [road, car, car]
    with pytest.raises(ValueError, match="no class 'bicycle'"):
        client.start_export(pid, "coco_instances", class_ids=["bicycle"])

    # A seeded stratified split: per-split files hold what the job result lists; the same seed, the same split.
    fractions = {"train": 0.5, "val": 0.25, "test": 0.25}
    job = client.wait(client.start_export(pid, "coco_instances", approved_only=False, split="stratified",
                                          split_fractions=fractions, split_seed=3))
    splits = job["result"]["splits"]
    assert sorted(sum(splits.values(), [])) == sorted(image_ids) and set(splits) <= {"train", "val", "test"}
    path = client.download(job, tmp_path / "split.zip")
    for name, ids in splits.items():
        assert sorted(i["id"] for i in _document(path, name)["images"]) == sorted(ids)
    again = client.wait(client.start_export(pid, "coco_instances", approved_only=False, split="stratified",
                                            split_fractions=fractions, split_seed=3))
    assert again["result"]["splits"] == splits

    # The images' own split.
    Image.objects.filter(pk__in=image_ids[:2]).update(split="val")
    Image.objects.filter(pk__in=image_ids[2:]).update(split="train")
    path = client.export(pid, "coco_instances", tmp_path / "stored.zip", approved_only=False, split="stored")
    assert sorted(i["id"] for i in _document(path, "val")["images"]) == sorted(image_ids[:2])
    assert len(_document(path, "train")["images"]) == 4

    # Bad options: the server's error, saying which.
    refusals = [({"format": "semantic_png", "polygons": True}, "polygons_unsupported", "coco_instances only"),
                ({"format": "coco_instances", "split": "stratified", "split_fractions": {"train": 0.9, "val": 0.2}},
                 "invalid_split", "sum to 1"),
                ({"format": "coco_instances", "split": "random"}, "invalid", "split"),
                ({"format": "coco_instances", "split": "stratified", "split_fractions": {"holdout": 1.0}},
                 "invalid_split", "unknown splits")]
    for options, code, words in refusals:
        with pytest.raises(ApiError) as refused:
            client.start_export(pid, **options)
        assert (refused.value.status, refused.value.code) == (400, code) and words in refused.value.message, options
        del refused  # its traceback holds the refused request's connection (see the import test)


def test_cli_export_options(client, painted, server, tmp_path, monkeypatch, capsys):
    project, image_ids = painted
    pid = str(project["id"])
    monkeypatch.setenv("ANNOTATOR_URL", server)
    monkeypatch.setenv("ANNOTATOR_TOKEN", client.token)
    target = tmp_path / "out.zip"

    assert cli.main(["export", pid, "-f", "coco_instances", "-o", str(target), "--all-work", "--classes", "car",
                     "--polygons", "--split", "stratified", "--fractions", "train=0.5,val=0.5", "--seed", "7",
                     "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    job = result["job"]
    assert result["path"] == str(target) and job["params"]["polygons"] is True
    assert job["params"]["split"] == {"mode": "stratified", "fractions": {"train": 0.5, "val": 0.5, "test": 0.0},
                                      "seed": 7}
    assert job["params"]["approved_only"] is False and job["params"]["class_ids"] == [project["classes"][0]["id"]]
    splits = job["result"]["splits"]
    assert sorted(sum(splits.values(), [])) == sorted(image_ids)
    for name, ids in splits.items():
        document = _document(target, name)
        assert sorted(i["id"] for i in document["images"]) == sorted(ids)
        assert {type(a["segmentation"]).__name__ for a in document["annotations"]} == {"dict", "list"}

    assert cli.main(["export", pid, "-f", "yolo_seg", "-o", str(target), "--all", "--split", "stored"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(target) and "split unassigned=6" in err
    assert cli.main(["export", pid, "-f", "coco_instances", "-o", str(target)]) == 0  # approved only: none
    assert _document(target)["images"] == []
    capsys.readouterr()

    # Usage errors (2) are caught before anything is sent; the server's refusals (1) print its message and code.
    for argv, words in [(["--fractions", "train=0.8,val"], "SPLIT=FRACTION"),
                        (["--fractions", "train=1"], "apply to --split stratified"),
                        (["--seed", "3", "--split", "stored"], "apply to --split stratified"),
                        (["--classes", "car,bicycle"], "no class 'bicycle'")]:
        assert cli.main(["export", pid, "-f", "coco_instances", "-o", str(target), *argv]) == 2, argv
        assert words in capsys.readouterr().err, argv
    for argv, words in [(["-f", "semantic_png", "--polygons"], "polygons apply to coco_instances only (HTTP 400, "
                                                               "polygons_unsupported)"),
                        (["-f", "coco_instances", "--split", "stratified", "--fractions", "train=0.5"],
                         "must sum to 1, not 0.5 (HTTP 400, invalid_split)"),
                        (["-f", "coco_instances", "--split", "random"], "(HTTP 400, invalid)")]:
        assert cli.main(["export", pid, "-o", str(target), *argv]) == 1, argv
        assert words in capsys.readouterr().err, argv


# -- the SDK installed alone -------------------------------------------------------------------------------------


def test_the_sdk_installs_alone_with_only_requests(tmp_path):
    """`pip install ./sdk` into a clean venv (no site packages): the client and the `annotator` command work, and
    nothing of the server comes along (no Django, numpy or torch). Built from a copy, so the working tree stays
    untouched; pip fetches requests from the configured index (about 10 s here)."""
    source = tmp_path / "clone"
    shutil.copytree(REPO / "sdk", source / "sdk", ignore=shutil.ignore_patterns("src", "build", "dist", "*.egg-info"))
    shutil.copytree(REPO / "labeling" / "sdk", source / "labeling" / "sdk",
                    ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV")}
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    # This venv's pip installs into the new one (`--python`), which then needs no pip of its own.
    pip = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                          "--disable-pip-version-check", str(source / "sdk")], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=300)
    assert pip.returncode == 0, pip.stdout + pip.stderr

    listing = subprocess.run([str(python), "-c", "import importlib.metadata as m; "
                              "print('\\n'.join(d.metadata['Name'].lower() for d in m.distributions()))"],
                             capture_output=True, text=True, check=True, env=env, cwd=tmp_path)
    installed = set(listing.stdout.split())
    assert {"annotator-sdk", "requests"} <= installed
    assert not installed & {"annotator", "django", "djangorestframework", "numpy", "torch", "celery", "pillow"}

    code = ("import sys, labeling, labeling.sdk; from labeling.sdk import Client; "
            "assert 'django' not in sys.modules; print(labeling.__file__)")
    imported = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.strip()).is_relative_to(venv)  # the installed copy, not the repository's
    assert sorted(p.name for p in Path(imported.stdout.strip()).parent.iterdir() if p.suffix == ".py") == \
        ["__init__.py"]  # the light `labeling` holds only the SDK

    for argv, words in [(["--help"], ("export-formats", "export")),
                        (["export", "--help"], ("--polygons", "--split", "--fractions", "--all-work", "--classes"))]:
        shown = subprocess.run([str(venv / "bin" / "annotator"), *argv], capture_output=True, text=True, env=env,
                               cwd=tmp_path)
        assert shown.returncode == 0 and all(word in shown.stdout for word in words), shown.stdout + shown.stderr


def test_import_labels_skip_invalid_applies_the_valid_items_and_void_value_reaches_the_server(
        client, server, import_project, tmp_path, monkeypatch, capsys):
    project, image = import_project
    document = _coco_instances(image)
    document["annotations"].append({"id": 3, "image_id": 99, "category_id": 1,
                                    "segmentation": [[0, 0, 5, 0, 5, 5]]})  # an image the file does not list
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(document))
    with pytest.raises(JobFailed):  # all or nothing by default
        client.import_labels(project["id"], path, format="coco_instances")
    assert not Segment.objects.filter(annotation__image_id=image["id"]).exists()

    monkeypatch.setenv("ANNOTATOR_URL", server)
    monkeypatch.setenv("ANNOTATOR_TOKEN", client.token)
    assert cli.main(["import", str(project["id"]), str(path), "-f", "coco_instances", "--skip-invalid"]) == 0
    out, err = capsys.readouterr()
    assert "dangling_id" in err and out.startswith("imported 1 image, 2 segments")
    assert Segment.objects.filter(annotation__image_id=image["id"]).count() == 2

    # void_value is for the formats that read mask PNGs: the server's 400 comes back as an ApiError.
    with pytest.raises(ApiError) as refused:
        client.import_labels(project["id"], path, format="coco_instances", void_value=255)
    assert refused.value.status == 400 and "void_value" in str(refused.value)
    del refused  # see test_import_labels_with_errors_fails_listing_the_problems
