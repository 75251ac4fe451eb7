"""Dataset versions: a succeeded export frozen with its checksums and split, listed, downloaded byte for byte,
verifiable with `sha256sum -c`, and untouched by what happens to the export job afterwards."""

import hashlib
import io
import shutil
import subprocess
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from labeling.models import DatasetVersion, Job, JobStatus, Role
from labeling.services.projects import project_create
from labeling.services.versions import annotation_count, job_splits, sha256sums
from tests.api.conftest import client_for
from tests.api.test_exports import approved, run_export  # noqa: F401 - `approved` is a fixture


def versions_url(world):
    return reverse("project-versions", kwargs={"project_pk": world.project.pk})


def freeze(world, job, **body):
    return client_for(world.users[Role.MANAGER]).post(versions_url(world), {"job_id": job.pk, **body}, format="json")


def download(client, name, pk):
    response = client.get(reverse(name, kwargs={"pk": pk}))
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content) if response.streaming else response.content


def stored(name):
    with default_storage.open(name, "rb") as fh:
        return fh.read()


@pytest.fixture
def export(world, approved, django_capture_on_commit_callbacks):  # noqa: F811
    job, _ = run_export(world, django_capture_on_commit_callbacks, format="coco_instances")
    return job


def test_a_frozen_export_keeps_its_zip_checksums_and_split(world, export, tmp_path):
    response = freeze(world, export, name="  first  ", note="the approved set")
    assert response.status_code == 201, response.content
    version = response.json()
    assert version["number"] == 1 and version["name"] == "first" and version["note"] == "the approved set"
    assert version["job"] == export.pk and version["format"] == "coco_instances"
    assert version["format_version"] == export.result["format_version"] and version["params"] == export.params
    assert version["sha256"] == export.result["sha256"] and version["size_bytes"] == export.result["bytes"]
    assert version["image_count"] == 1 and version["annotation_count"] == 2
    assert version["created_by_name"] == "manager" and version["deleted_at"] is None
    assert version["splits"] == job_splits(export.result)
    row = DatasetVersion.objects.get(pk=version["id"])
    assert row.file == f"datasets/{world.project.pk}/v1-coco_instances.zip"

    # The download is the export's zip, byte for byte.
    reviewer = client_for(world.users[Role.REVIEWER])
    data = download(reviewer, "version-download", row.pk)
    assert data == stored(export.result["file"]) and hashlib.sha256(data).hexdigest() == version["sha256"]

    # Every member's checksum, and a manifest `sha256sum -c` accepts next to the extracted files.
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert version["members"] == {n: hashlib.sha256(archive.read(n)).hexdigest() for n in archive.namelist()
                                  if not n.endswith("/")}  # folders (COCO's empty images/) have no checksum
    manifest = download(reviewer, "version-manifest", row.pk).decode()
    assert manifest == "".join(f"{version['members'][n]}  {n}\n" for n in sorted(version["members"]))
    if shutil.which("sha256sum"):
        archive.extractall(tmp_path)
        (tmp_path / "SHA256SUMS").write_text(manifest)
        check = subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr

    detail = reviewer.get(reverse("version-detail", kwargs={"pk": row.pk})).json()
    assert detail == version


def test_versions_are_numbered_per_project_and_listed_newest_first(world, export, django_capture_on_commit_callbacks):
    assert freeze(world, export).json()["name"] == "v1"
    second, _ = run_export(world, django_capture_on_commit_callbacks, format="semantic_png")
    assert freeze(world, second, name="masks").status_code == 201
    listing = client_for(world.users[Role.REVIEWER]).get(versions_url(world))
    assert listing.status_code == 200
    rows = listing.json()
    assert [(v["number"], v["name"], v["format"]) for v in rows] == [(2, "masks", "semantic_png"),
                                                                     (1, "v1", "coco_instances")]
    assert "members" not in rows[0] and rows[0]["split_sizes"] == {k: len(v) for k, v in
                                                                    job_splits(second.result).items()}
    # Numbers are per project.
    other = project_create(user=world.users[Role.MANAGER], name="Other", kind="semantic")
    assert client_for(world.users[Role.MANAGER]).get(
        reverse("project-versions", kwargs={"project_pk": other.pk})).json() == []


def test_the_split_is_taken_from_the_export_result(world, export):
    without = dict(export.result)
    without.pop("splits", None)
    Job.objects.filter(pk=export.pk).update(result=without)
    assert job_splits(without) == {}
    second = Job.objects.create(kind="export", project=world.project, status=JobStatus.SUCCEEDED,
                                params=export.params, result={**without, "splits": {"train": [3, 1], "val": [2],
                                                                                     "test": []}})
    assert freeze(world, export).json()["splits"] == {}
    version = freeze(world, second).json()
    assert version["splits"] == {"train": [3, 1], "val": [2], "test": []}
    assert version["split_sizes"] == {"train": 2, "val": 1, "test": 0}
    # An {image id: split} result is turned around.
    assert job_splits({"splits": {"3": "train", "1": "train", "2": "val"}}) == {"train": [1, 3], "val": [2]}


def test_one_version_per_job(world, export):
    first = freeze(world, export).json()
    again = freeze(world, export, name="again")
    assert again.status_code == 409 and again.json()["code"] == "already_versioned"
    assert again.json()["extra"] == {"job_id": export.pk, "version_id": first["id"], "number": 1}
    assert DatasetVersion.objects.count() == 1


def test_only_succeeded_exports_of_the_project_are_frozen(world, export):
    running = Job.objects.create(kind="export", project=world.project, status=JobStatus.RUNNING,
                                 params=export.params)
    response = freeze(world, running)
    assert response.status_code == 409 and response.json()["code"] == "export_not_succeeded"
    failed = Job.objects.create(kind="export", project=world.project, status=JobStatus.FAILED, params=export.params)
    assert freeze(world, failed).json()["code"] == "export_not_succeeded"
    other_kind = Job.objects.create(kind="prelabel", project=world.project, status=JobStatus.SUCCEEDED)
    response = freeze(world, other_kind)
    assert response.status_code == 400 and response.json()["code"] == "not_an_export"
    # Another project's export: not found from here, whoever asks.
    other = project_create(user=world.users[Role.MANAGER], name="Other", kind="semantic")
    foreign = Job.objects.create(kind="export", project=other, status=JobStatus.SUCCEEDED, params=export.params,
                                 result=export.result)
    response = freeze(world, foreign)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    missing = client_for(world.users[Role.MANAGER]).post(versions_url(world), {"job_id": 10**12}, format="json")
    assert missing.status_code == 404
    assert client_for(world.users[Role.MANAGER]).post(versions_url(world), {}, format="json").status_code == 400
    assert not DatasetVersion.objects.exists()
    assert not default_storage.exists(f"datasets/{world.project.pk}")


def test_others_versions_are_hidden_and_reviewers_cannot_freeze(world, export):
    version_id = freeze(world, export).json()["id"]
    outsider = client_for(world.users["outsider"])
    for name in ("version-detail", "version-download", "version-manifest"):
        assert outsider.get(reverse(name, kwargs={"pk": version_id})).status_code == 404
    assert outsider.get(versions_url(world)).status_code == 404
    annotator = client_for(world.users[Role.ANNOTATOR])
    assert annotator.get(reverse("version-download", kwargs={"pk": version_id})).status_code == 403
    reviewer = client_for(world.users[Role.REVIEWER])
    response = reviewer.post(versions_url(world), {"job_id": export.pk}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert reviewer.delete(reverse("version-detail", kwargs={"pk": version_id})).status_code == 403


def test_the_version_outlives_its_export(world, export):
    original = stored(export.result["file"])
    version = DatasetVersion.objects.get(pk=freeze(world, export).json()["id"])
    # A redelivered export overwrites its own file; then the file and the job are deleted.
    default_storage.delete(export.result["file"])
    default_storage.save(export.result["file"], ContentFile(b"something else"))
    manager = client_for(world.users[Role.MANAGER])
    assert download(manager, "version-download", version.pk) == original
    default_storage.delete(export.result["file"])
    export.delete()
    version.refresh_from_db()
    assert version.job is None
    data = download(manager, "version-download", version.pk)
    assert data == original and hashlib.sha256(data).hexdigest() == version.sha256
    assert manager.get(reverse("version-detail", kwargs={"pk": version.pk})).json()["job"] is None


def test_a_changed_or_missing_export_file_is_refused(world, export):
    name = export.result["file"]
    original = stored(name)
    default_storage.delete(name)
    default_storage.save(name, ContentFile(original[:-1] + bytes([original[-1] ^ 1])))
    response = freeze(world, export)
    assert response.status_code == 409 and response.json()["code"] == "export_file_changed"
    assert response.json()["extra"]["expected_sha256"] == export.result["sha256"]
    default_storage.delete(name)
    response = freeze(world, export)
    assert response.status_code == 409 and response.json()["code"] == "export_file_missing"
    assert not DatasetVersion.objects.exists()
    assert not default_storage.exists(f"datasets/{world.project.pk}/v1-coco_instances.zip")


def test_deleting_a_version_removes_its_file_and_keeps_its_number(world, export, django_capture_on_commit_callbacks):
    version = DatasetVersion.objects.get(pk=freeze(world, export).json()["id"])
    manager = client_for(world.users[Role.MANAGER])
    url = reverse("version-detail", kwargs={"pk": version.pk})
    with django_capture_on_commit_callbacks(execute=True):
        assert manager.delete(url).status_code == 204
    assert not default_storage.exists(version.file)
    detail = manager.get(url).json()
    assert detail["deleted_at"] is not None and detail["deleted_by_name"] == "manager"
    response = manager.get(reverse("version-download", kwargs={"pk": version.pk}))
    assert response.status_code == 404 and response.json()["code"] == "version_deleted"
    assert manager.delete(url).status_code == 204  # repeatable
    # The number is not given to other data; the deleted version's job stays frozen.
    assert freeze(world, export).json()["code"] == "already_versioned"
    second, _ = run_export(world, django_capture_on_commit_callbacks, format="semantic_png")
    assert freeze(world, second).json()["number"] == 2
    assert [v["number"] for v in manager.get(versions_url(world)).json()] == [2, 1]


def test_manifest_escapes_names_like_gnu_sha256sum():
    digest = "a" * 64
    assert sha256sums({"b.txt": digest, "a/x.json": digest}) == f"{digest}  a/x.json\n{digest}  b.txt\n"
    assert sha256sums({"odd\\name\n.png": digest}) == f"\\{digest}  odd\\\\name\\n.png\n"


@pytest.mark.django_db(transaction=True)
def test_concurrent_freezes_get_consecutive_numbers_and_one_wins_per_job(world, export, monkeypatch):
    import threading
    import time

    from django.db import connection

    from labeling.errors import Conflict
    from labeling.services import versions

    twin = Job.objects.create(kind="export", project=world.project, status=JobStatus.SUCCEEDED,
                              params=export.params, result=export.result)
    save = versions.default_storage.save

    def slow_save(name, content):  # widens the window between taking a number and committing its row
        time.sleep(0.3)
        return save(name, content)

    monkeypatch.setattr(versions.default_storage, "save", slow_save)

    def race(jobs):
        barrier = threading.Barrier(len(jobs))
        outcomes = [None] * len(jobs)

        def run(i):
            try:
                barrier.wait()
                outcomes[i] = versions.version_create(project=world.project, job=jobs[i],
                                                      user=world.users[Role.MANAGER]).number
            except Conflict as exc:
                outcomes[i] = exc.code
            finally:
                connection.close()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return outcomes

    assert sorted(race([export, twin])) == [1, 2]
    third = Job.objects.create(kind="export", project=world.project, status=JobStatus.SUCCEEDED,
                               params=export.params, result=export.result)
    assert sorted(race([third, third]), key=str) == [3, "already_versioned"]
    assert sorted(DatasetVersion.objects.values_list("number", flat=True)) == [1, 2, 3]
    for version in DatasetVersion.objects.all():
        assert default_storage.exists(version.file)


@pytest.mark.parametrize("format", ["coco_instances", "coco_panoptic", "instance_png", "pascal_voc", "semantic_png",
                                    "yolo_seg"])
def test_every_format_version_counts_its_annotations_as_coco_instances_does(world, approved, format,  # noqa: F811
                                                                             django_capture_on_commit_callbacks):
    job, _ = run_export(world, django_capture_on_commit_callbacks, format=format)
    response = freeze(world, job)
    assert response.status_code == 201, response.content
    # The approved image's two segments: COCO instances' two annotations, the same count in every format.
    assert response.json()["image_count"] == 1 and response.json()["annotation_count"] == 2


def test_annotation_count_of_an_export_recorded_before_every_format_counted_them():
    assert annotation_count({"images": 3, "annotations": 5}) == 5
    assert annotation_count({"images": 3, "segments": 4}) == 4  # old panoptic / VOC results
    assert annotation_count({"images": 3, "polygons": 6, "holes_dropped": 1}) == 0  # old YOLO: polygons, not segments
