"""A real Celery worker process, over the configured broker (Redis in CI), runs the upload-processing job."""

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage

from annotator.celery import app as celery_app
from labeling.models import Job, JobStatus, PyramidStatus
from tests.api.conftest import client_for, make_user
from tests.conftest import jpeg_bytes

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def worker(settings, tmp_path):
    """Start `celery worker` on a queue of its own, pointed at the test database and media folder."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    env = dict(os.environ)
    env.update(DATABASE_URL=_database_url(), DJANGO_MEDIA_ROOT=str(settings.MEDIA_ROOT),
               CELERY_BROKER_URL=settings.CELERY_BROKER_URL, ANNOTATOR_CPU_QUEUE=queue)
    log = open(tmp_path / "worker.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "annotator", "worker", "--queues", queue, "--pool", "solo",
         "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    celery_app.conf.task_default_queue = previous
    print((tmp_path / "worker.log").read_text()[-3000:])


def _wait_for(job_id: int, timeout: float = 90) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s (status {job.status})")


def test_upload_is_processed_by_a_real_worker(worker):
    from labeling.services.projects import project_create

    manager = make_user("manager")
    project = project_create(user=manager, name="Integration", kind="instance")
    client = client_for(manager)
    response = client.post(
        reverse("project-images", kwargs={"project_pk": project.pk}),
        {"files": [SimpleUploadedFile("a.jpg", jpeg_bytes(700, 300, seed=1)),
                   SimpleUploadedFile("b.jpg", jpeg_bytes(50, 40, seed=2))]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["accepted"] == 2
    job = _wait_for(body["job"]["id"])
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.attempts == 1 and job.progress == 1.0
    assert sorted(job.result["processed"]) == sorted(r["image_id"] for r in body["results"])
    image_id = body["results"][0]["image_id"]
    image = client.get(reverse("image-detail", kwargs={"pk": image_id})).json()
    assert image["pyramid_status"] == PyramidStatus.READY
    assert image["pyramid_levels"][0][:2] == [700, 300]
    # The worker really wrote the tiles the viewer asks for.
    tile = client.get(reverse("image-tile", kwargs={"pk": image_id, "level": 0, "x": 2, "y": 1}))
    assert tile.status_code == 200
    assert PILImage.open(io.BytesIO(b"".join(tile.streaming_content))).size == (700 - 512, 300 - 256)
