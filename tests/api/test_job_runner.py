"""`job_run`: the one place where a job's row moves through its states, whatever the task."""

import pytest

from labeling.models import Job, JobStatus
from labeling.services.jobs import job_create, job_run

pytestmark = pytest.mark.django_db


def _job(**fields) -> Job:
    job, _ = job_create(kind="test", project=None, params={})
    Job.objects.filter(pk=job.pk).update(**fields)
    return job


def test_a_job_runs_once_and_records_its_result():
    job = _job()
    calls = []
    job_run(job.pk, lambda j, progress: calls.append(j.pk) or {"n": 1})
    job_run(job.pk, lambda j, progress: calls.append(j.pk) or {"n": 2})  # a duplicate delivery
    job.refresh_from_db()
    assert calls == [job.pk] and job.status == JobStatus.SUCCEEDED and job.result == {"n": 1}
    assert job.attempts == 1


def test_a_redelivered_running_job_runs_again():
    """Found `running`: its worker died (acks_late brought the message back), so the work is repeated."""
    job = _job(status=JobStatus.RUNNING, attempts=1)
    job_run(job.pk, lambda j, progress: {"ok": True})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2


def test_a_job_whose_worker_keeps_dying_is_failed_not_retried(settings):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "MAX_JOB_ATTEMPTS": 3}
    job = _job(status=JobStatus.RUNNING, attempts=3)
    calls = []
    job_run(job.pk, lambda j, progress: calls.append(1) or {})
    job.refresh_from_db()
    assert calls == []
    assert job.status == JobStatus.FAILED and "stopped 3 times" in job.error and job.finished_at


def test_a_failing_job_records_its_error_and_the_next_one_runs():
    bad, good = _job(), _job()

    def explode(j, progress):
        raise RuntimeError("model exploded")

    job_run(bad.pk, explode)
    job_run(good.pk, lambda j, progress: {})
    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.status == JobStatus.FAILED and bad.error == "RuntimeError: model exploded"
    assert good.status == JobStatus.SUCCEEDED
