"""A worker SIGKILLed in the middle of a job: once its lease has expired, the broker's re-delivery of the
unacknowledged task (or the reconcile sweep) has a second worker finish the job exactly once (acks_late, the
job's status guard and its lease). tests/faults/ covers the same on the filesystem broker, which cannot
re-deliver."""

import hashlib
import io
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image as PILImage
from skimage import data as skdata

from annotator.celery import app as celery_app
from labeling.models import Image, Job, JobStatus, Superpixels
from labeling.services.projects import project_create
from labeling.services.superpixels import superpixels_enqueue, superpixels_path
from tests.api.conftest import make_user
from tests.integration.workers import new_queue_name, print_logs, start_worker, stop_worker, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

GRANULARITIES = [200, 800]
IMAGES = 4
# Short, so the dead worker's message comes back within seconds instead of an hour.
VISIBILITY_TIMEOUT = 4


def _photo_jpeg(seed: int) -> tuple[bytes, int, int]:
    rng = np.random.default_rng(seed)
    base = np.asarray(PILImage.fromarray(skdata.astronaut()).resize((1600, 1200), PILImage.Resampling.BILINEAR))
    shifted = np.clip(base.astype(np.int16) + rng.integers(-30, 30, size=3), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(np.roll(shifted, seed * 97, axis=1)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue(), 1600, 1200


def _start_worker(queue: str, log_path: Path) -> subprocess.Popen:
    # A short lease: Redis's re-delivery of the dead worker's message runs the job once the lease has expired;
    # one that arrives earlier leaves it alone, and the sweep (every second here) runs it instead.
    return start_worker(
        queues=[queue], log_path=log_path, ANNOTATOR_BROKER_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT),
        ANNOTATOR_JOB_LEASE_SECONDS="2", ANNOTATOR_RECONCILE_INTERVAL_SECONDS="1",
        ANNOTATOR_SUPERPIXELS_AFTER_UPLOAD="0",
        ANNOTATOR_SUPERPIXEL_GRANULARITIES=",".join(map(str, GRANULARITIES)), ANNOTATOR_SUPERPIXEL_MAX_SIDE="1600",
    )


@pytest.fixture
def worker_queue():
    queue = new_queue_name("test-kill")
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue
    yield queue
    celery_app.conf.task_default_queue = previous


def test_a_job_whose_worker_is_killed_is_finished_exactly_once_by_another_worker(settings, tmp_path, worker_queue):
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("the filesystem broker deletes a message when it is delivered, so a killed worker's task "
                    "cannot be re-delivered; run with CELERY_BROKER_URL=redis://... (CI does)")
    settings.ANNOTATOR = {**settings.ANNOTATOR, "SUPERPIXEL_GRANULARITIES": GRANULARITIES}
    manager = make_user("manager")
    project = project_create(user=manager, name="Kill", kind="semantic")
    image_ids = []
    for seed in range(IMAGES):
        data, width, height = _photo_jpeg(seed)
        sha = hashlib.sha256(data).hexdigest()
        name = default_storage.save(f"projects/{project.pk}/images/{sha}.jpg", ContentFile(data))
        image = Image.objects.create(project=project, file=name, original_name=f"{seed}.jpg", format="JPEG",
                                     width=width, height=height, size_bytes=len(data), sha256=sha,
                                     pyramid_status="ready")  # nothing for the sweep to rebuild
        image_ids.append(image.pk)

    first = _start_worker(worker_queue, tmp_path / "worker-1.log")
    second = None
    try:
        job = superpixels_enqueue(image_ids=image_ids, user=manager)  # autocommit: sent right away
        deadline = time.monotonic() + 120
        while True:
            job.refresh_from_db()
            if job.status == JobStatus.RUNNING and 0 < job.progress < 0.75:
                break
            assert job.status in (JobStatus.QUEUED, JobStatus.RUNNING), (job.status, job.error)
            assert job.progress < 0.75, "the job got too far before the kill; make it longer"
            assert time.monotonic() < deadline, "the first worker never started the job"
            time.sleep(0.05)
        progress_at_kill = job.progress
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert first.returncode == -signal.SIGKILL
        job.refresh_from_db()
        assert job.status == JobStatus.RUNNING and job.attempts == 1  # nobody recorded anything for the dead

        second = _start_worker(worker_queue, tmp_path / "worker-2.log")
        job = wait_for_job(job.pk, timeout=180)
    finally:
        stop_worker(first)
        if second is not None:
            stop_worker(second)
        print_logs(tmp_path)

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.error == "" and job.progress == 1.0
    assert job.attempts == 2, "run once by the killed worker, once by the second one"
    assert 0 < progress_at_kill < 1
    # Exactly one row and one file per image and granularity, and nothing else in storage.
    rows = sorted(Superpixels.objects.filter(image_id__in=image_ids).values_list("image_id", "granularity"))
    assert rows == sorted((i, g) for i in image_ids for g in GRANULARITIES)
    for image_id in image_ids:
        assert sorted(default_storage.listdir(f"superpixels/{image_id}")[1]) == sorted(
            f"{g}.bin" for g in GRANULARITIES)
    for row in Superpixels.objects.filter(image_id__in=image_ids):
        assert row.file == superpixels_path(image_id=row.image_id, granularity=row.granularity)
        assert (row.width, row.height) == (1600, 1200) and row.count > 0
    # The second attempt only computed what the first had not stored (the job is idempotent per granularity).
    recomputed = sum(len(v) for v in job.result["computed"].values())
    assert 0 < recomputed <= len(image_ids) * len(GRANULARITIES)
    assert job.result["failed"] == []
    # Only one superpixels job ever existed for these images.
    assert Job.objects.filter(kind="superpixels").count() == 1
