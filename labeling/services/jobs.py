"""Jobs: long work recorded as rows. Services create and enqueue; Celery tasks (workers/tasks.py) run them through
`job_run`; the reconcile sweep (labeling/services/reconcile.py) finishes what a fault left behind.

The database, not the broker, remembers work:
- a job row commits with the data it processes, and its message is sent on commit (`job_enqueue`); a broker that
  refuses the message leaves `dispatched_at` empty and the sweep sends it again (`jobs_redispatch`);
- a running job holds a lease that a heartbeat thread renews; a lease that expired means its worker died, and the
  sweep re-runs the job up to `ANNOTATOR_MAX_JOB_ATTEMPTS` times (`jobs_recover_expired`);
- a second delivery never runs beside a live first one: it respects the lease. A copy that lost its lease (the
  sweep gave the job to another run) stops at its next progress report and records nothing.
"""

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from labeling.errors import Conflict
from labeling.models import ACTIVE_JOB_STATUSES, Job, JobStatus, Project

logger = logging.getLogger(__name__)

# Which Celery task runs each kind of job; the one table services enqueue through and the sweep re-sends from.
JOB_TASKS = {
    "process_uploads": "workers.tasks.process_uploads",
    "delete_files": "workers.tasks.delete_files",
    "superpixels": "workers.tasks.compute_superpixels",
    "prelabel": "workers.tasks.run_prelabel",
    "embeddings": "workers.tasks.compute_embeddings",
    "proposals": "workers.tasks.segment_everything",
    "export": "workers.tasks.run_export",
    "import": "workers.tasks.run_import",
    "evaluation": "workers.tasks.run_evaluation",
    "train": "workers.tasks.train_model",
    "label_check": "workers.tasks.check_labels",
}


class JobCancelled(Exception):
    """Raised inside a job's work when its row was cancelled; the runner records it, not as a failure."""


def _lease() -> timedelta:
    return timedelta(seconds=settings.ANNOTATOR["JOB_LEASE_SECONDS"])


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


def job_enqueue(job: Job) -> None:
    """Send the job's task once the row is committed, so a worker never looks for a row it cannot see.

    A broker that is down does not fail the caller: the job stays queued with `dispatched_at` empty and the
    sweep sends it when the broker is back. Tasks are looked up by name in the Celery app's registry: services
    stay below workers in the layering, and eager mode in tests still applies.
    """
    transaction.on_commit(lambda: job_dispatch(job))


def job_dispatch(job: Job) -> bool:
    """Hand the job's message to the broker now, once per claim: returns whether the broker took it.

    The claim (a compare-and-swap on `dispatch_count`) keeps two sweeps from sending the same job twice at once.
    On success `job.dispatched_at` is set on the instance too, so callers can tell the user processing started.
    """
    task_name = JOB_TASKS.get(job.kind)
    if task_name is None:
        logger.error("job %s has kind %r, which no task runs", job.pk, job.kind)
        return False
    now = timezone.now()
    count = Job.objects.filter(pk=job.pk).values_list("dispatch_count", flat=True).first()
    if count is None:
        return False  # deleted meanwhile
    claimed = Job.objects.filter(pk=job.pk, dispatch_count=count).update(dispatch_count=count + 1, dispatched_at=now)
    if not claimed:
        return False  # another sweep sent it just now
    try:
        current_app.tasks[task_name].apply_async(args=[job.pk])
    except Exception as exc:
        if current_app.conf.task_always_eager:
            raise  # eager mode: the task ran inline and raised; that is the task's error, not the broker's
        logger.warning("job %s: the broker did not take its message (%s: %s); the reconcile sweep sends it again",
                       job.pk, type(exc).__name__, exc)
        Job.objects.filter(pk=job.pk, dispatch_count=count + 1).update(dispatched_at=None)
        job.dispatched_at = None
        return False
    job.dispatched_at = now
    job.dispatch_count = count + 1
    return True


def job_cancel(*, job: Job) -> Job:
    updated = Job.objects.filter(pk=job.pk, status__in=ACTIVE_JOB_STATUSES).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now(), lease_expires_at=None
    )
    job.refresh_from_db()
    if not updated:
        raise Conflict(f"job {job.pk} is already {job.status}", code="job_finished", extra={"status": job.status})
    return job


def job_set_progress(job_id: int, fraction: float, *, attempt: int | None = None) -> bool:
    """Record progress; returns False when the job was cancelled, or (with `attempt`) when this run lost its lease
    to another run, so long work stops (progress callbacks)."""
    fraction = min(max(float(fraction), 0.0), 1.0)
    mine = Job.objects.filter(pk=job_id, status=JobStatus.RUNNING)
    if attempt is not None:
        mine = mine.filter(attempts=attempt)
    return bool(mine.update(progress=fraction))


class _Heartbeat:
    """Renews a running job's lease from a thread of its own, so a job busy in one long step (a model, a large
    image) keeps its lease, and a job whose process died loses it within one lease period."""

    def __init__(self, job_id: int, attempt: int):
        self.job_id, self.attempt = job_id, attempt
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"job-{job_id}-heartbeat", daemon=True)

    def __enter__(self):
        # Eager mode (tests, or a job run inside a request) has no worker to die, and a second connection could
        # not see the caller's uncommitted rows.
        if not current_app.conf.task_always_eager:
            self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()

    def _beat(self) -> None:
        interval = max(0.2, settings.ANNOTATOR["JOB_LEASE_SECONDS"] / 4)
        try:
            while not self.stopped.wait(interval):
                try:
                    renewed = Job.objects.filter(
                        pk=self.job_id, status=JobStatus.RUNNING, attempts=self.attempt
                    ).update(lease_expires_at=timezone.now() + _lease())
                except Exception:  # noqa: BLE001 - a missed beat is retried; the lease outlasts a few of them
                    logger.warning("job %s: heartbeat failed", self.job_id, exc_info=True)
                    connection.close()
                    continue
                if not renewed:
                    return  # cancelled, finished or taken over: nothing left to keep alive
        finally:
            connection.close()


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def job_run(job_id: int, work: Callable[[Job, Callable[[float], bool]], dict[str, Any]]) -> None:
    """Run `work(job, progress)` for a queued job, or one whose worker died, exactly once to completion.

    Idempotent under redelivery: a finished or cancelled job is left alone; a running job with a live lease is
    left to its worker; a running job whose lease expired (its worker died) runs again, as a new attempt. `work`
    must itself be safe to repeat. Only the current attempt records progress and the outcome.
    """
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            logger.warning("job %s does not exist; dropping its task", job_id)
            return
        if job.status not in ACTIVE_JOB_STATUSES:
            logger.info("job %s is %s; nothing to do", job_id, job.status)
            return
        if job.lease_expires_at is not None and job.lease_expires_at > now:
            # Running elsewhere (a redelivery while its worker lives) or still being filled by its creator.
            logger.info("job %s is %s on %s until %s; this delivery leaves it alone", job_id, job.status,
                        job.worker or "its creator", job.lease_expires_at.isoformat())
            return
        max_attempts = settings.ANNOTATOR["MAX_JOB_ATTEMPTS"]
        if job.status == JobStatus.RUNNING and job.attempts >= max_attempts:
            _fail_exhausted(job)
            return
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or now
        job.lease_expires_at = now + _lease()
        job.worker = _worker_name()
        job.save(update_fields=["status", "attempts", "started_at", "lease_expires_at", "worker"])
    attempt = job.attempts
    mine = Job.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempts=attempt)

    def progress(fraction: float) -> bool:
        return job_set_progress(job_id, fraction, attempt=attempt)

    with _Heartbeat(job_id, attempt):
        try:
            result = work(job, progress)
        except JobCancelled:
            logger.info("job %s cancelled (or taken over by another run)", job_id)
            return
        except Exception as exc:  # noqa: BLE001 - a failing job records its error; the queue goes on
            logger.exception("job %s failed", job_id)
            mine.update(status=JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:4000],
                        finished_at=timezone.now(), lease_expires_at=None)
            return
    if not mine.update(status=JobStatus.SUCCEEDED, progress=1.0, result=result or {}, finished_at=timezone.now(),
                       lease_expires_at=None):
        logger.warning("job %s attempt %s finished after it lost its lease; its result is not recorded", job_id,
                       attempt)


def _fail_exhausted(job: Job) -> None:
    # Its worker died mid-run, again: the job itself is the likely cause (out of memory, a crash in native
    # code). Retrying forever would take the queue down with it.
    job.status = JobStatus.FAILED
    job.error = (f"the worker running this job stopped {job.attempts} times without finishing it "
                 "(killed, out of memory or crashed); not retrying")
    job.finished_at = timezone.now()
    job.lease_expires_at = None
    job.save(update_fields=["status", "error", "finished_at", "lease_expires_at"])
    logger.error("job %s failed: %s", job.pk, job.error)


def jobs_recover_expired(*, now=None) -> dict[str, list[int]]:
    """Running jobs whose lease expired (their worker died): queue them again and send them, or fail them once
    they used up their attempts. Safe to run from several sweeps at once (compare-and-swap per job)."""
    now = now or timezone.now()
    requeued, failed = [], []
    expired = Job.objects.filter(status=JobStatus.RUNNING).exclude(lease_expires_at__gt=now)
    for job in expired.order_by("id")[:500]:
        with transaction.atomic():
            locked = Job.objects.select_for_update().filter(pk=job.pk, status=JobStatus.RUNNING,
                                                            attempts=job.attempts).first()
            if locked is None or (locked.lease_expires_at is not None and locked.lease_expires_at > now):
                continue
            if locked.attempts >= settings.ANNOTATOR["MAX_JOB_ATTEMPTS"]:
                _fail_exhausted(locked)
                failed.append(locked.pk)
                continue
            logger.warning("job %s: its worker %s stopped renewing the lease; running it again", locked.pk,
                           locked.worker or "?")
            Job.objects.filter(pk=locked.pk).update(status=JobStatus.QUEUED, lease_expires_at=None)
            locked.status = JobStatus.QUEUED
            requeued.append(locked.pk)
        job_dispatch(locked)
    return {"requeued": requeued, "failed": failed}


def jobs_redispatch(*, now=None) -> list[int]:
    """Queued jobs whose message never reached the broker, or reached it long ago and was never run (a broker
    that lost its data): send them again. Re-sends back off (ANNOTATOR_JOB_REDISPATCH_SECONDS, doubling per
    send), so a long but healthy queue is not flooded with copies; a copy that arrives late is a no-op."""
    now = now or timezone.now()
    base = settings.ANNOTATOR["JOB_REDISPATCH_SECONDS"]
    sent = []
    candidates = Job.objects.filter(status=JobStatus.QUEUED).exclude(lease_expires_at__gt=now)
    for job in candidates.order_by("id")[:1000]:
        if job.dispatched_at is not None:
            wait = base * 2 ** min(max(job.dispatch_count - 1, 0), 6)
            if job.dispatched_at > now - timedelta(seconds=wait):
                continue
        if job_dispatch(job):
            sent.append(job.pk)
    return sent
