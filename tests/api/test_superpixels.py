"""Superpixels through the API: computed after upload on the CPU queue, listed, downloaded, requested."""

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotator.celery import app as celery_app
from labeling.models import Job, JobStatus, Role, Superpixels
from labeling.services.superpixels import configured_granularities, superpixels_path
from tests.api.conftest import client_for, upload_files
from tests.conftest import jpeg_bytes
from workers.runners import superpixels as runner


@pytest.fixture(autouse=True)
def _superpixels_after_upload(settings):
    # Runs before `world` (autouse fixtures first), so the world's upload computes superpixels.
    settings.ANNOTATOR = {**settings.ANNOTATOR, "SUPERPIXELS_AFTER_UPLOAD": True}


def _list(client, image_id):
    return client.get(reverse("image-superpixels", kwargs={"pk": image_id}))


def test_upload_computes_superpixels_at_every_configured_granularity(world):
    image = world.image
    granularities = configured_granularities()
    assert granularities == [300, 1200, 4000]
    job = Job.objects.get(kind="superpixels")
    assert job.status == JobStatus.SUCCEEDED and job.progress == 1.0, job.error
    assert job.params["image_ids"] == [image.pk] and job.project == world.project
    response = _list(client_for(world.users[Role.ANNOTATOR]), image.pk)
    assert response.status_code == 200
    listed = response.json()
    assert [row["granularity"] for row in listed] == granularities
    counts = [row["count"] for row in listed]
    assert counts == sorted(counts) and counts[0] > 50
    for row in listed:
        assert (row["width"], row["height"]) == (640, 480)
        assert row["url"] == f"/api/images/{image.pk}/superpixels/{row['granularity']}/"


def test_grid_download_decodes_to_ids_1_to_count_and_supports_etags(world):
    client = client_for(world.users[Role.REVIEWER])
    row = _list(client, world.image.pk).json()[1]
    response = client.get(row["url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert "private" in response["Cache-Control"]
    grid = runner.decode_grid(response.content, width=row["width"], height=row["height"])
    assert set(np.unique(grid).tolist()) == set(range(1, row["count"] + 1))
    again = client.get(row["url"], HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert client.get(row["url"], HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_unknown_granularity_is_404(world):
    client = client_for(world.users["manager"])
    response = client.get(reverse("image-superpixels-data", kwargs={"pk": world.image.pk, "granularity": 7}))
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_requesting_superpixels_again_is_409_and_nothing_changes(world):
    before = list(Superpixels.objects.values_list("pk", "file"))
    response = client_for(world.users["manager"]).post(reverse("image-superpixels", kwargs={"pk": world.image.pk}))
    assert response.status_code == 409 and response.json()["code"] == "superpixels_exist"
    assert list(Superpixels.objects.values_list("pk", "file")) == before
    assert Job.objects.filter(kind="superpixels").count() == 1


def test_an_annotator_requests_missing_superpixels_and_gets_202_and_a_job(world, django_capture_on_commit_callbacks):
    image = world.image
    Superpixels.objects.filter(image=image).delete()
    for granularity in configured_granularities():
        default_storage.delete(superpixels_path(image_id=image.pk, granularity=granularity))
    client = client_for(world.users[Role.ANNOTATOR])
    assert _list(client, image.pk).json() == []
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("image-superpixels", kwargs={"pk": image.pk}))
    assert response.status_code == 202
    body = response.json()
    assert body["kind"] == "superpixels"
    job = Job.objects.get(pk=body["id"])
    assert job.status == JobStatus.SUCCEEDED and job.created_by == world.users[Role.ANNOTATOR]
    assert job.result["computed"] == {str(image.pk): configured_granularities()}
    assert len(_list(client, image.pk).json()) == 3
    # One file per granularity, nothing else.
    assert sorted(default_storage.listdir(f"superpixels/{image.pk}")[1]) == sorted(
        f"{g}.bin" for g in configured_granularities())


def test_a_second_request_while_one_is_queued_returns_the_same_job(world):
    Superpixels.objects.filter(image=world.image).delete()
    client = client_for(world.users["manager"])
    url = reverse("image-superpixels", kwargs={"pk": world.image.pk})
    first = client.post(url).json()
    second = client.post(url).json()
    assert first["id"] == second["id"] and first["status"] == "queued"


def test_recomputing_is_idempotent_rows_and_files_are_not_duplicated(world):
    from labeling.services.superpixels import image_superpixels_compute, superpixels_run

    image = world.image
    Superpixels.objects.filter(image=image, granularity=1200).delete()  # as if a worker died half-way
    assert image_superpixels_compute(image=image) == [1200]
    assert image_superpixels_compute(image=image) == []
    result = superpixels_run(image_ids=[image.pk], progress=lambda f: True)
    assert result == {"computed": {str(image.pk): []}, "failed": []}
    assert Superpixels.objects.filter(image=image).count() == 3
    assert len(default_storage.listdir(f"superpixels/{image.pk}")[1]) == 3


def test_a_broken_image_fails_alone_in_a_batch(world, settings):
    from labeling.models import Image
    from labeling.services.superpixels import superpixels_run

    broken = Image.objects.create(
        project=world.project, file="projects/x/missing.jpg", original_name="missing.jpg", format="JPEG",
        width=10, height=10, size_bytes=1, sha256="0" * 64,
    )
    Superpixels.objects.filter(image=world.image).delete()
    result = superpixels_run(image_ids=[broken.pk, world.image.pk], progress=lambda f: True)
    assert result["computed"] == {str(world.image.pk): [300, 1200, 4000]}
    assert [f["image_id"] for f in result["failed"]] == [broken.pk]


def test_superpixels_of_a_jpeg_larger_than_max_side_are_reduced(world, settings, django_capture_on_commit_callbacks):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "SUPERPIXEL_MAX_SIDE": 256, "SUPERPIXEL_GRANULARITIES": [50]}
    client = client_for(world.users["manager"])
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_files(client, world.project, [SimpleUploadedFile("wide.jpg", jpeg_bytes(1000, 400, seed=4))])
    image_id = response.json()["results"][0]["image_id"]
    (row,) = _list(client, image_id).json()
    assert (row["granularity"], row["width"], row["height"]) == (50, 256, 102)


def test_model_tasks_are_routed_to_the_gpu_queue_and_the_rest_to_the_cpu_queue(settings):
    router = celery_app.amqp.router
    for name in ("workers.tasks.compute_embeddings", "workers.tasks.segment_everything",
                 "workers.tasks.run_prelabel"):
        assert router.route({}, name)["queue"].name == settings.CELERY_GPU_QUEUE == "gpu"
    for name in ("workers.tasks.process_uploads", "workers.tasks.compute_superpixels"):
        assert router.route({}, name)["queue"].name == settings.CELERY_TASK_DEFAULT_QUEUE == "cpu"


def test_pick_device_honours_the_setting(settings):
    import torch

    from workers.runners.device import pick_device

    settings.ANNOTATOR = {**settings.ANNOTATOR, "DEVICE": "cpu"}
    assert pick_device() == "cpu"
    settings.ANNOTATOR = {**settings.ANNOTATOR, "DEVICE": ""}
    assert pick_device() == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_device("cuda:1") == "cuda:1"


@pytest.mark.parametrize("role", ["outsider"])
def test_outsiders_see_nothing(world, role):
    client = client_for(world.users[role])
    assert _list(client, world.image.pk).status_code == 404
    assert client.post(reverse("image-superpixels", kwargs={"pk": world.image.pk})).status_code == 404


def test_uploads_do_not_compute_superpixels_when_turned_off(world, settings, django_capture_on_commit_callbacks):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "SUPERPIXELS_AFTER_UPLOAD": False}
    client = client_for(world.users["manager"])
    with django_capture_on_commit_callbacks(execute=True):
        response = upload_files(client, world.project, [SimpleUploadedFile("b.jpg", jpeg_bytes(60, 40, seed=9))])
    image_id = response.json()["results"][0]["image_id"]
    assert _list(client, image_id).json() == []
    assert Job.objects.filter(kind="superpixels").count() == 1  # the world's own upload only
