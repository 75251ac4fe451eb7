"""A real Celery worker, over the configured broker, computes a SAM embedding after an upload: the upload job
runs on the CPU queue and the embedding task reaches the worker through CELERY_TASK_ROUTES' gpu queue."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotator.celery import app as celery_app
from labeling.models import Job, JobStatus
from tests.api.conftest import client_for, make_user
from tests.conftest import jpeg_bytes
from tests.integration.workers import new_queue_name, print_logs, start_worker, stop_worker, wait_for_job
from tests.sam_support import tiny_checkpoint, use_tiny_sam

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sam_worker(settings, tmp_path):
    """One worker consuming a test CPU queue and a test gpu queue; both this process and the worker route the
    gpu tasks there."""
    use_tiny_sam(settings, with_decoders=False)
    cpu_queue, gpu_queue = new_queue_name(), new_queue_name("test-gpu")
    previous = celery_app.conf.task_default_queue, celery_app.conf.task_routes
    celery_app.conf.task_default_queue = cpu_queue
    celery_app.conf.task_routes = {name: {"queue": gpu_queue} for name in previous[1] or {}}
    process = start_worker(
        queues=[cpu_queue, gpu_queue], log_path=tmp_path / "worker.log", ANNOTATOR_GPU_QUEUE=gpu_queue,
        ANNOTATOR_SAM_CHECKPOINT=tiny_checkpoint(), ANNOTATOR_SAM_MODEL_TYPE="tiny", ANNOTATOR_DEVICE="cpu",
        ANNOTATOR_SUPERPIXEL_GRANULARITIES="0",
    )
    yield process
    stop_worker(process)
    celery_app.conf.task_default_queue, celery_app.conf.task_routes = previous
    print_logs(tmp_path)


def test_upload_gets_an_embedding_from_a_real_worker(sam_worker):
    from labeling.services.projects import project_create

    assert "workers.tasks.compute_embeddings" in celery_app.conf.task_routes
    manager = make_user("manager")
    project = project_create(user=manager, name="SAM", kind="instance")
    client = client_for(manager)
    response = client.post(reverse("project-images", kwargs={"project_pk": project.pk}),
                           {"files": [SimpleUploadedFile("a.jpg", jpeg_bytes(300, 200, seed=4))]}, format="multipart")
    assert response.status_code == 201, response.json()
    upload_job = wait_for_job(response.json()["job"]["id"])
    assert upload_job.status == JobStatus.SUCCEEDED, upload_job.error
    image_id = response.json()["results"][0]["image_id"]
    deadline = time.monotonic() + 60
    while not Job.objects.filter(kind="embeddings").exists() and time.monotonic() < deadline:
        time.sleep(0.25)
    embedding_job = wait_for_job(Job.objects.get(kind="embeddings").pk)
    assert embedding_job.status == JobStatus.SUCCEEDED, embedding_job.error
    assert embedding_job.result["computed"] == [image_id]

    embedding = client.get(reverse("image-embedding", kwargs={"pk": image_id}))
    assert embedding.status_code == 200
    assert embedding["X-Embedding-Shape"] == "16,64,64" and embedding["X-Embedding-Original-Size"] == "200,300"
    assert len(b"".join(embedding.streaming_content)) == 16 * 64 * 64 * 2
    # The worker also exported the decoder, so the server decode endpoint works right away.
    decoded = client.post(reverse("image-sam-decode", kwargs={"pk": image_id}),
                          {"points": [[150.5, 100.5]], "labels": [1], "multimask": True}, format="json")
    assert decoded.status_code == 200, decoded.content
    assert [m["rle"]["size"] for m in decoded.json()["masks"]] == [[200, 300]] * 3
