"""Real Celery worker processes for integration tests: started on queues of their own, pointed at the test
database, media folder and broker, stopped (or killed) by the test, their logs printed afterwards."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings

from labeling.models import Job, JobStatus

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The test database (pytest-django's, not the configured one) as a DATABASE_URL for a subprocess."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def new_queue_name(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def start_worker(*, queues: list[str], log_path: Path, **env_vars: str) -> subprocess.Popen:
    """`celery worker --pool solo` consuming `queues`; extra environment variables override settings."""
    env = dict(os.environ)
    # The reconcile sweep is off unless a test asks for it: it would act on the other tests' rows.
    env.update(DATABASE_URL=database_url(), DJANGO_MEDIA_ROOT=str(settings.MEDIA_ROOT),
               CELERY_BROKER_URL=settings.CELERY_BROKER_URL, ANNOTATOR_CPU_QUEUE=queues[0],
               ANNOTATOR_RECONCILE_INTERVAL_SECONDS="0")
    env.update(env_vars)
    with open(log_path, "w") as log:  # the worker keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "annotator", "worker", "--queues", ",".join(queues),
             "--pool", "solo", "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def print_logs(folder: Path) -> None:
    for log in sorted(folder.glob("worker*.log")):
        print(f"--- {log.name}\n{log.read_text()[-3000:]}")


def wait_for_job(job_id: int, timeout: float = 90) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} did not finish in {timeout}s (status {job.status})")
