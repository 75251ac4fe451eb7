"""A real Celery worker, over the configured broker, computes a SAM embedding after an upload: the upload job
runs on the CPU queue and the embedding task reaches the worker through CELERY_TASK_ROUTES' gpu queue."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotator.celery import app as celery_app
from labeling.models import Job, JobStatus
from tests.api.conftest import client_for, make_user
from tests.conftest import jpeg_bytes
from tests.integration.test_real_worker import ROOT, _database_url, _wait_for
from tests.sam_support import tiny_checkpoint, use_tiny_sam

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sam_worker(settings, tmp_path):
    """One worker consuming a test CPU queue and a test gpu queue; both this process and the worker route the
    gpu tasks there."""
    use_tiny_sam(settings, with_decoders=False)
    cpu_queue, gpu_queue = f"test-{uuid.uuid4().hex[:8]}", f"test-gpu-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue, celery_app.conf.task_routes
    celery_app.conf.task_default_queue = cpu_queue
    celery_app.conf.task_routes = {name: {"queue": gpu_queue} for name in previous[1] or {}}
    env = dict(os.environ)
    env.update(DATABASE_URL=_database_url(), DJANGO_MEDIA_ROOT=str(settings.MEDIA_ROOT),
               CELERY_BROKER_URL=settings.CELERY_BROKER_URL, ANNOTATOR_CPU_QUEUE=cpu_queue,
               ANNOTATOR_GPU_QUEUE=gpu_queue, ANNOTATOR_SAM_CHECKPOINT=tiny_checkpoint(),
               ANNOTATOR_SAM_MODEL_TYPE="tiny", ANNOTATOR_DEVICE="cpu", ANNOTATOR_SUPERPIXEL_GRANULARITIES="0")
    log = open(tmp_path / "worker.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "annotator", "worker", "--queues", f"{cpu_queue},{gpu_queue}",
         "--pool", "solo", "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    celery_app.conf.task_default_queue, celery_app.conf.task_routes = previous
    print((tmp_path / "worker.log").read_text()[-3000:])


def test_upload_gets_an_embedding_from_a_real_worker(sam_worker):
    from labeling.services.projects import project_create

    assert "workers.tasks.compute_embeddings" in celery_app.conf.task_routes
    manager = make_user("manager")
    project = project_create(user=manager, name="SAM", kind="instance")
    client = client_for(manager)
    response = client.post(reverse("project-images", kwargs={"project_pk": project.pk}),
                           {"files": [SimpleUploadedFile("a.jpg", jpeg_bytes(300, 200, seed=4))]}, format="multipart")
    assert response.status_code == 201, response.json()
    upload_job = _wait_for(response.json()["job"]["id"])
    assert upload_job.status == JobStatus.SUCCEEDED, upload_job.error
    image_id = response.json()["results"][0]["image_id"]
    deadline = time.monotonic() + 60
    while not Job.objects.filter(kind="embeddings").exists() and time.monotonic() < deadline:
        time.sleep(0.25)
    embedding_job = _wait_for(Job.objects.get(kind="embeddings").pk)
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
