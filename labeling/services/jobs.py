"""Jobs: long work recorded as rows. Services enqueue; Celery tasks (workers/tasks.py) run them through `job_run`."""

import logging
from collections.abc import Callable
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling.errors import Conflict
from labeling.models import ACTIVE_JOB_STATUSES, Job, JobStatus, Project

logger = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a job's work when its row was cancelled; the runner records it, not as a failure."""


def job_create(
    *, kind: str, project: Project | None, params: dict[str, Any], user=None, dedup_key: str = ""
) -> tuple[Job, bool]:
    """Create a queued job, or return the active job with the same dedup key. Returns (job, created)."""
    if dedup_key:
        existing = Job.objects.filter(dedup_key=dedup_key, status__in=ACTIVE_JOB_STATUSES).first()
        if existing:
            return existing, False
    try:
        with transaction.atomic():
            job = Job.objects.create(
                kind=kind, project=project, params=params, created_by=user if user and user.pk else None,
                dedup_key=dedup_key,
            )
    except IntegrityError:
        # Lost a race against an identical enqueue: the other row is the job (unless it finished meanwhile;
        # then this enqueue creates the next one).
        existing = Job.objects.filter(dedup_key=dedup_key, status__in=ACTIVE_JOB_STATUSES).first()
        if existing is None:
            return job_create(kind=kind, project=project, params=params, user=user, dedup_key=dedup_key)
        return existing, False
    return job, True


def job_enqueue(job: Job, task_name: str) -> None:
    """Send the job's task once the row is committed, so a worker never looks for a row it cannot see.

    Tasks are looked up by name in the Celery app's registry: services stay below workers in the layering
    (workers import services, never the other way round), and eager mode in tests still applies.
    """
    job_id = job.pk
    transaction.on_commit(lambda: current_app.tasks[task_name].apply_async(args=[job_id]))


def job_cancel(*, job: Job) -> Job:
    updated = Job.objects.filter(pk=job.pk, status__in=ACTIVE_JOB_STATUSES).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now()
    )
    job.refresh_from_db()
    if not updated:
        raise Conflict(f"job {job.pk} is already {job.status}", code="job_finished", extra={"status": job.status})
    return job


def job_set_progress(job_id: int, fraction: float) -> bool:
    """Record progress; returns False when the job was cancelled so long work can stop (progress callbacks)."""
    fraction = min(max(float(fraction), 0.0), 1.0)
    Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(progress=fraction)
    return not Job.objects.filter(pk=job_id, status=JobStatus.CANCELLED).exists()


def job_run(job_id: int, work: Callable[[Job, Callable[[float], bool]], dict[str, Any]]) -> None:
    """Run `work(job, progress)` for a queued or interrupted job, exactly once to completion.

    Idempotent under redelivery: a finished or cancelled job is left alone; a job found `running` is one whose
    worker died (acks_late re-delivered it), so it runs again. `work` must itself be safe to repeat.
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            logger.warning("job %s does not exist; dropping its task", job_id)
            return
        if job.status not in ACTIVE_JOB_STATUSES:
            logger.info("job %s is %s; nothing to do", job_id, job.status)
            return
        max_attempts = settings.ANNOTATOR["MAX_JOB_ATTEMPTS"]
        if job.status == JobStatus.RUNNING and job.attempts >= max_attempts:
            # Redelivered after its worker died mid-run, again: the job itself is the likely cause (out of
            # memory, a crash in native code). Retrying forever would take the queue down with it.
            job.status = JobStatus.FAILED
            job.error = (f"the worker running this job stopped {job.attempts} times without finishing it "
                         "(killed, out of memory or crashed); not retrying")
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "error", "finished_at"])
            logger.error("job %s failed: %s", job_id, job.error)
            return
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["status", "attempts", "started_at"])

    def progress(fraction: float) -> bool:
        return job_set_progress(job_id, fraction)

    try:
        result = work(job, progress)
    except JobCancelled:
        logger.info("job %s cancelled", job_id)
        return
    except Exception as exc:  # noqa: BLE001 - a failing job records its error; the queue goes on
        logger.exception("job %s failed", job_id)
        Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
            status=JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:4000], finished_at=timezone.now()
        )
        return
    Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        status=JobStatus.SUCCEEDED, progress=1.0, result=result or {}, finished_at=timezone.now()
    )
