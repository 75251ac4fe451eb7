"""The reconcile sweep and job leases, at the service level (eager Celery): lost messages are re-sent, a job
whose worker died runs again or fails, a live lease is respected, images lacking derived data are rebuilt, and
files nobody owns go. tests/faults/ injects the real faults (broker, worker, web process, disk, database)."""

import os
import time
from datetime import timedelta
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from labeling.models import Image, Job, JobStatus, PyramidStatus
from labeling.services import images as image_service
from labeling.services.jobs import job_create, job_run, jobs_recover_expired, jobs_redispatch
from labeling.services.reconcile import orphan_files_sweep, reconcile, temp_files_sweep
from labeling.services.stored_files import image_delete
from tests.conftest import jpeg_bytes


def _job(kind="delete_files", **fields) -> Job:
    job, _ = job_create(kind=kind, project=None, params={})
    Job.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


def test_a_delivery_leaves_a_job_with_a_live_lease_to_its_worker(db):
    job = _job(status=JobStatus.RUNNING, attempts=1, lease_expires_at=timezone.now() + timedelta(minutes=1),
               worker="other-host:1")
    calls = []
    job_run(job.pk, lambda j, progress: calls.append(1) or {})
    job.refresh_from_db()
    assert calls == [] and job.status == JobStatus.RUNNING and job.attempts == 1


def test_a_run_that_lost_its_lease_stops_and_records_nothing(db):
    job = _job()
    seen = []

    def work(j, progress):
        # Meanwhile the sweep took the job for dead and another run took it over (attempt 2).
        Job.objects.filter(pk=j.pk).update(attempts=2)
        seen.append(progress(0.5))
        return {"mine": True}

    job_run(job.pk, work)
    job.refresh_from_db()
    assert seen == [False]
    assert job.status == JobStatus.RUNNING and job.result == {} and job.attempts == 2


def test_expired_leases_run_again_or_fail_after_the_last_attempt(db, settings):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "MAX_JOB_ATTEMPTS": 3}
    past = timezone.now() - timedelta(seconds=1)
    again = _job(status=JobStatus.RUNNING, attempts=1, lease_expires_at=past)
    spent = _job(status=JobStatus.RUNNING, attempts=3, lease_expires_at=past)
    alive = _job(status=JobStatus.RUNNING, attempts=1, lease_expires_at=timezone.now() + timedelta(minutes=1))
    report = jobs_recover_expired()
    assert report == {"requeued": [again.pk], "failed": [spent.pk]}
    for job in (again, spent, alive):
        job.refresh_from_db()
    assert again.status == JobStatus.SUCCEEDED and again.attempts == 2  # eager: the re-sent task ran
    assert spent.status == JobStatus.FAILED and "stopped 3 times" in spent.error
    assert alive.status == JobStatus.RUNNING


def test_queued_jobs_are_sent_again_unless_held_or_sent_recently(db, settings):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "JOB_REDISPATCH_SECONDS": 60}
    now = timezone.now()
    never_sent = _job()
    lost = _job(dispatched_at=now - timedelta(seconds=61), dispatch_count=1)
    recent = _job(dispatched_at=now - timedelta(seconds=30), dispatch_count=1)
    backed_off = _job(dispatched_at=now - timedelta(seconds=90), dispatch_count=2)  # waits 120 s now
    held = _job(lease_expires_at=now + timedelta(minutes=5))
    assert sorted(jobs_redispatch()) == sorted([never_sent.pk, lost.pk])
    statuses = {j.pk: Job.objects.get(pk=j.pk).status for j in (never_sent, lost, recent, backed_off, held)}
    assert statuses == {never_sent.pk: JobStatus.SUCCEEDED, lost.pk: JobStatus.SUCCEEDED,
                        recent.pk: JobStatus.QUEUED, backed_off.pk: JobStatus.QUEUED, held.pk: JobStatus.QUEUED}


def test_an_upload_commits_each_image_with_its_held_job(world, django_capture_on_commit_callbacks):
    """While the request runs, the job is held and names every committed image; a request that dies leaves a
    job the sweep sends once the hold ran out."""
    held = image_service._HeldJob(project=world.project, user=world.users["manager"])
    files = [SimpleUploadedFile(f"{i}.jpg", jpeg_bytes(64, 48, seed=70 + i)) for i in range(2)]
    seen: dict[str, str] = {}
    work_dir = Path(image_service.settings.FILE_UPLOAD_TEMP_DIR)
    results = []
    for upload in files:
        results += image_service._ingest_file(project=world.project, upload=upload, name=upload.name,
                                              user=world.users["manager"], seen=seen, work_dir=work_dir, held=held)
    ids = [r.image_id for r in results]
    job = Job.objects.get(kind="process_uploads", params__image_ids=ids)
    assert job.status == JobStatus.QUEUED and job.lease_expires_at > timezone.now() and job.dispatched_at is None
    # The request dies here (no release). A delivery now would leave it alone, and so does the sweep:
    assert jobs_redispatch() == []
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_redispatch() == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert set(Image.objects.filter(pk__in=ids).values_list("pyramid_status", flat=True)) == {PyramidStatus.READY}


def test_images_whose_processing_was_cancelled_are_rebuilt_then_given_up(world, settings,
                                                                        django_capture_on_commit_callbacks):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "MAX_JOB_ATTEMPTS": 2}
    Image.objects.filter(pk=world.image.pk).update(pyramid_status=PyramidStatus.PENDING, pyramid_levels=[])
    with django_capture_on_commit_callbacks(execute=True):
        report = reconcile()
    assert report["rebuilt"]["display"] == [world.image.pk]
    world.image.refresh_from_db()
    assert world.image.pyramid_status == PyramidStatus.READY and world.image.rebuild_attempts == 1
    # One that keeps lacking it is given up on after MAX_JOB_ATTEMPTS rebuilds, and marked failed.
    Image.objects.filter(pk=world.image.pk).update(pyramid_status=PyramidStatus.PENDING, rebuild_attempts=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile()["rebuilt"]["display"] == []
    world.image.refresh_from_db()
    assert world.image.pyramid_status == PyramidStatus.FAILED


def test_an_image_covered_by_an_active_job_is_left_to_it(world, django_capture_on_commit_callbacks):
    Image.objects.filter(pk=world.image.pk).update(pyramid_status=PyramidStatus.PENDING)
    job, _ = job_create(kind="process_uploads", project=world.project, params={"image_ids": [world.image.pk]})
    Job.objects.filter(pk=job.pk).update(dispatched_at=timezone.now(), dispatch_count=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile()["rebuilt"]["display"] == []
    assert Job.objects.filter(kind="process_uploads").count() == 2  # the world's upload and this one


def test_deleting_a_half_built_image_removes_its_tiles_and_thumbnail(world, settings,
                                                                    django_capture_on_commit_callbacks):
    image = world.image
    Image.objects.filter(pk=image.pk).update(pyramid_status=PyramidStatus.PENDING, pyramid_levels=[], thumbnail="")
    image.refresh_from_db()
    leftover = [f"pyramids/{image.pk}/2/0_0", f"pyramids/{image.pk}/3/1_0", f"thumbnails/{image.pk}.jpg",
                f"superpixels/{image.pk}/300.bin"]
    for name in leftover:
        default_storage.save(name, ContentFile(b"x"))
    with django_capture_on_commit_callbacks(execute=True):
        image_delete(image=image)
    assert not [name for name in leftover if default_storage.exists(name)]
    assert not default_storage.exists(image.file.name)


def test_orphan_files_go_after_the_grace_period_and_owned_ones_stay(world, settings):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "ORPHAN_FILE_GRACE_SECONDS": 3600}
    media = Path(settings.MEDIA_ROOT)
    old = time.time() - 7200
    orphans = ["pyramids/999999/0/0_0", "thumbnails/999999.jpg", "superpixels/999999/300.bin",
               f"projects/{world.project.pk}/images/ab/abcdef.jpg"]
    young = "pyramids/999998/0/0_0"
    for name in orphans + [young]:
        default_storage.save(name, ContentFile(b"x"))
    for name in orphans:
        os.utime(media / name, (old, old))
    owned = [world.image.file.name, world.image.thumbnail.name]
    for name in owned:
        os.utime(media / name, (old, old))
    removed = orphan_files_sweep()
    assert removed == {"pyramid_tiles": 1, "thumbnails": 1, "superpixels": 1, "images": 1}
    assert not [n for n in orphans if default_storage.exists(n)]
    assert default_storage.exists(young) and all(default_storage.exists(n) for n in owned)


def test_stale_temp_files_of_dead_requests_go(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.ANNOTATOR = {**settings.ANNOTATOR, "TEMP_FILE_MAX_AGE_SECONDS": 600}
    stale_file = tmp_path / "tmpab12.upload.jpg"
    stale_dir = tmp_path / "upload-xyz"
    (stale_dir / "sub").mkdir(parents=True)
    (stale_dir / "sub" / "member.png").write_bytes(b"x")
    stale_file.write_bytes(b"x")
    live = tmp_path / "tmpcd34.upload.zip"
    live.write_bytes(b"x")
    old = time.time() - 1200
    for path in (stale_file, stale_dir, stale_dir / "sub", stale_dir / "sub" / "member.png"):
        os.utime(path, (old, old))
    assert temp_files_sweep() == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmpcd34.upload.zip"]


def test_a_manager_reprocesses_what_is_missing_or_one_image(world, django_capture_on_commit_callbacks):
    from django.urls import reverse

    from tests.api.conftest import client_for

    client = client_for(world.users["manager"])
    url = reverse("project-reprocess", kwargs={"project_pk": world.project.pk})
    with django_capture_on_commit_callbacks(execute=True):
        nothing = client.post(url, {}, format="json")
    assert nothing.status_code == 200 and nothing.json()["jobs"] == []
    Image.objects.filter(pk=world.image.pk).update(pyramid_status=PyramidStatus.FAILED, rebuild_attempts=3)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(url, {}, format="json")
    assert started.status_code == 202 and len(started.json()["jobs"]) == 1
    world.image.refresh_from_db()
    assert world.image.pyramid_status == PyramidStatus.READY and world.image.rebuild_attempts == 0
    # One image, rebuilt although it is ready.
    with django_capture_on_commit_callbacks(execute=True):
        one = client.post(reverse("image-reprocess", kwargs={"pk": world.image.pk}))
    assert one.status_code == 202
    job = Job.objects.get(pk=one.json()["jobs"][0]["id"])
    assert job.status == JobStatus.SUCCEEDED and job.result["processed"] == [world.image.pk]
