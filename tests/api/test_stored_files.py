"""Deleting images and projects: rows go in the request, stored files on a `delete_files` job afterwards."""

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labeling.models import Image, Job, JobStatus, Project
from tests.api.conftest import client_for, upload_files
from tests.conftest import jpeg_bytes


def _upload(client, project, django_capture_on_commit_callbacks, *sizes) -> list[Image]:
    files = [SimpleUploadedFile(f"img{i}.jpg", jpeg_bytes(w, h, seed=40 + i)) for i, (w, h) in enumerate(sizes)]
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_files(client, project, files)
    assert response.status_code == 201, response.json()
    return [Image.objects.get(pk=r["image_id"]) for r in response.json()["results"]]


def _stored(media_root: Path) -> set[str]:
    return {str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file()}


def test_image_delete_removes_its_files_on_a_job(world, settings, django_capture_on_commit_callbacks):
    client = client_for(world.users["manager"])
    big, small = _upload(client, world.project, django_capture_on_commit_callbacks, (1300, 700), (90, 60))
    media = Path(settings.MEDIA_ROOT)
    before = _stored(media)
    big_files = {n for n in before if n.startswith(f"pyramids/{big.pk}/")}
    assert len(big_files) > 10  # several levels of 256-px tiles

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(reverse("image-detail", kwargs={"pk": big.pk}))
    assert response.status_code == 204
    assert not Image.objects.filter(pk=big.pk).exists()
    job = Job.objects.get(kind="delete_files")
    assert job.status == JobStatus.SUCCEEDED, job.error
    after = _stored(media)
    assert not any(n.startswith(f"pyramids/{big.pk}/") for n in after)
    assert big.file.name not in after and big.thumbnail.name not in after
    # The other image is untouched, and exactly the deleted image's files went.
    assert small.file.name in after and any(n.startswith(f"pyramids/{small.pk}/") for n in after)
    assert job.result["deleted"] == len(before - after) and job.result["missing"] == 0


def test_delete_files_job_is_safe_to_repeat(world, settings, django_capture_on_commit_callbacks):
    from labeling.services.stored_files import stored_files_delete

    client = client_for(world.users["manager"])
    (image,) = _upload(client, world.project, django_capture_on_commit_callbacks, (300, 200))
    with django_capture_on_commit_callbacks(execute=True):
        client.delete(reverse("image-detail", kwargs={"pk": image.pk}))
    job = Job.objects.get(kind="delete_files")
    again = stored_files_delete(job.params)
    assert again["deleted"] == 0 and again["missing"] == job.result["deleted"]


def test_project_delete_removes_every_image_file(world, settings, django_capture_on_commit_callbacks):
    client = client_for(world.users["manager"])
    _upload(client, world.project, django_capture_on_commit_callbacks, (400, 300), (80, 50))
    media = Path(settings.MEDIA_ROOT)
    assert any(n.startswith("pyramids/") for n in _stored(media))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(reverse("project-detail", kwargs={"pk": world.project.pk}))
    assert response.status_code == 204
    assert not Project.objects.filter(pk=world.project.pk).exists()
    job = Job.objects.get(kind="delete_files")
    assert job.status == JobStatus.SUCCEEDED and job.project is None
    assert job.created_by == world.users["manager"]
    left = _stored(media)
    assert not any(n.startswith(("pyramids/", "thumbnails/", f"projects/{world.project.pk}/")) for n in left), left


def test_only_managers_delete_images(world, django_capture_on_commit_callbacks):
    response = client_for(world.users["annotator"]).delete(reverse("image-detail", kwargs={"pk": world.image.pk}))
    assert response.status_code == 403
    assert Image.objects.filter(pk=world.image.pk).exists()
    assert not Job.objects.filter(kind="delete_files").exists()


def test_project_delete_removes_its_own_model_files(world, settings, django_capture_on_commit_callbacks):
    from labeling.models import TrainedModel
    from tests.own_model_fixtures import create_model, manifest, onnx_semantic_bytes

    model = create_model(  # the world's classes are the manifest's car and road
        world.project, data=onnx_semantic_bytes(), manifest_json=manifest("semantic_logits"))
    stored = Path(settings.MEDIA_ROOT) / model.file
    assert stored.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.users["manager"]).delete(reverse("project-detail", kwargs={"pk": world.project.pk}))
    assert response.status_code == 204 and not TrainedModel.objects.exists()
    assert not stored.exists()
