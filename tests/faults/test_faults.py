"""Faults injected for real, on whatever database the suite runs against (SQLite locally, PostgreSQL in CI) and
on both brokers: a redis-server the test starts on its own port and kills, and kombu's filesystem transport (the
embedded default) whose folder the test takes away. Each scenario ends with every acknowledged write present,
every accepted image fully processed, no job left queued or running, no orphan file and errors in the JSON shape.
"""

import contextlib
import io
import os
import signal
import socket
import subprocess
import threading
import time
import zipfile

import pytest
import requests

from labeling.models import Image, Job, JobStatus, Superpixels
from labeling.services.projects import project_create
from tests.api.conftest import make_user
from tests.faults.harness import (
    QUICK_RECOVERY,
    FilesystemBroker,
    Redis,
    Web,
    assert_json_error,
    base_env,
    check_nothing_lost_or_stuck,
    fully_processed,
    photo_jpeg,
    report,
    session_for,
    wait_until,
    worker,
)
from tests.integration.workers import print_logs, stop_worker

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.django_db(transaction=True)]

RECOVERY_TIMEOUT = 240  # only ends a stuck test; recovery is measured and reported, not asserted against a clock


@pytest.fixture(params=["filesystem", "redis"])
def broker(request, tmp_path):
    if request.param == "redis":
        server = Redis(tmp_path / "redis")
        server.start()
        yield server
        server.kill()
    else:
        yield FilesystemBroker(tmp_path / "broker")


@pytest.fixture
def redis_server(tmp_path):
    """A Redis of the test's own, killed by PID whatever happens."""
    server = Redis(tmp_path / "redis")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def manager(db):
    return make_user("manager")


@pytest.fixture
def project(manager):
    return project_create(user=manager, name="Faults", kind="semantic")


def upload(api, web, project, files: list[tuple[str, bytes]]) -> requests.Response:
    return api.post(f"{web.url}/api/projects/{project.pk}/images/",
                    files=[("files", (name, data, "application/octet-stream")) for name, data in files], timeout=120)


def accepted_ids(response) -> list[int]:
    return [r["image_id"] for r in response.json()["results"] if r["status"] == "accepted"]


def no_active_jobs() -> bool:
    return not Job.objects.filter(status__in=(JobStatus.QUEUED, JobStatus.RUNNING)).exists()


def test_broker_down_during_uploads(broker, tmp_path, manager, project):
    """Uploads go on while the broker is down: 201 saying processing is delayed, and the work starts by itself
    when the broker is back (the sweep sends what never reached it)."""
    env = base_env(tmp_path, broker, **QUICK_RECOVERY)
    web, work = Web(tmp_path, env).start(), worker(tmp_path, env)
    api = session_for(manager)
    seed = iter(range(1000))
    acknowledged: list[int] = []
    try:
        first = upload(api, web, project, [(f"{i}.jpg", photo_jpeg(next(seed))) for i in range(2)])
        assert first.status_code == 201 and first.json()["processing_delayed"] is False, first.text[:500]
        acknowledged += accepted_ids(first)

        broker.kill()
        for batch in range(3):
            response = upload(api, web, project, [(f"down-{batch}-{i}.jpg", photo_jpeg(next(seed))) for i in range(2)])
            assert response.status_code == 201, response.text[:500]
            body = response.json()
            assert body["processing_delayed"] is True and "queue" in body["message"]
            assert body["job"]["status"] == "queued" and body["job"]["dispatched_at"] is None
            acknowledged += accepted_ids(response)
        # Re-sending the same files while the broker is still down: duplicates, naming the stored images.
        again = upload(api, web, project, [("again.jpg", photo_jpeg(1))])
        assert again.status_code == 200 and again.json()["results"][0]["status"] == "duplicate"
        jobs = api.get(f"{web.url}/api/projects/{project.pk}/jobs/", timeout=30)
        assert jobs.status_code == 200

        broker.start()
        back = time.monotonic()
        wait_until(lambda: fully_processed(acknowledged) and no_active_jobs(), timeout=RECOVERY_TIMEOUT,
                   what="every image processed after the broker came back")
        recovery = time.monotonic() - back
    finally:
        web.stop()
        stop_worker(work)
        print_logs(tmp_path)
    assert len(acknowledged) == 8
    check_nothing_lost_or_stuck(image_ids=acknowledged, temp_dir=tmp_path / "upload-tmp")
    report("broker_down_during_uploads", broker, writes_acknowledged=len(acknowledged),
           writes_present=Image.objects.filter(pk__in=acknowledged).count(),
           images_processed=len(acknowledged) if fully_processed(acknowledged) else 0,
           seconds_to_recovery=round(recovery, 1))


def test_messages_lost_with_a_broker_that_keeps_nothing(tmp_path, manager, project, redis_server):
    """Uploads answered 201, their messages in a Redis without persistence, then Redis restarts empty before any
    worker ran them: the database still has the jobs, and the sweep sends them again."""
    broker = redis_server
    env = base_env(tmp_path, broker, **QUICK_RECOVERY)
    web = Web(tmp_path, env).start()
    api = session_for(manager)
    work = None
    try:
        response = upload(api, web, project, [(f"{i}.jpg", photo_jpeg(200 + i)) for i in range(3)])
        assert response.status_code == 201 and response.json()["processing_delayed"] is False
        acknowledged = accepted_ids(response)
        broker.kill()
        broker.start()  # empty: the messages are gone
        work = worker(tmp_path, env)
        back = time.monotonic()
        wait_until(lambda: fully_processed(acknowledged) and no_active_jobs(), timeout=RECOVERY_TIMEOUT,
                   what="the lost jobs to be sent again and run")
        recovery = time.monotonic() - back
        assert Job.objects.get(kind="process_uploads").dispatch_count >= 2
    finally:
        web.stop()
        if work is not None:
            stop_worker(work)
        print_logs(tmp_path)
    check_nothing_lost_or_stuck(image_ids=acknowledged, temp_dir=tmp_path / "upload-tmp")
    report("messages_lost_with_broker", broker, writes_acknowledged=len(acknowledged),
           writes_present=Image.objects.filter(pk__in=acknowledged).count(),
           images_processed=len(acknowledged), seconds_to_recovery=round(recovery, 1))


def _zip_of_photos(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(count):
            archive.writestr(f"batch/{i:03d}.jpg", photo_jpeg(500 + i, 1024, 768))
    return buffer.getvalue()


def test_web_process_killed_during_a_zip_ingest(broker, tmp_path, manager, project):
    """SIGKILL of gunicorn while a ZIP is ingested: every image it saved is named by a held job, which the sweep
    sends once the hold ran out; the killed request's spooled body and unpacked members are removed."""
    env = base_env(tmp_path, broker, **QUICK_RECOVERY, ANNOTATOR_UPLOAD_HOLD_SECONDS="2",
                   ANNOTATOR_TEMP_FILE_MAX_AGE_SECONDS="0")
    web = Web(tmp_path, env).start()
    api = session_for(manager)
    archive = _zip_of_photos(120)
    outcome: dict = {}

    def post():
        try:
            outcome["response"] = upload(api, web, project, [("batch.zip", archive)])
        except requests.RequestException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=post)
    thread.start()
    work = None
    try:
        wait_until(lambda: Image.objects.filter(project=project).count() >= 3 or "response" in outcome,
                   timeout=120, interval=0.02, what="the ingest to store its first images")
        assert "response" not in outcome, "the ingest finished before the kill; make the archive larger"
        web.kill()
        thread.join(timeout=60)
        assert "error" in outcome  # the client saw the connection drop
        saved = list(Image.objects.filter(project=project).values_list("pk", flat=True))
        assert 3 <= len(saved) < 120
        # Every saved image is named by a job (held, not yet sent).
        named = set()
        for job in Job.objects.filter(kind="process_uploads"):
            named.update(job.params["image_ids"])
        assert set(saved) <= named
        work = worker(tmp_path, env)
        started = time.monotonic()
        wait_until(lambda: fully_processed(saved) and no_active_jobs(), timeout=RECOVERY_TIMEOUT,
                   what="the images of the killed request to be processed")
        recovery = time.monotonic() - started
        # The sweep removed the killed request's spooled body and unpacked members (max age 0 in this test).
        wait_until(lambda: not any((tmp_path / "upload-tmp").iterdir()), timeout=60,
                   what="the killed request's temp files to be removed")
        # A worker whose sweep keeps temp files for the usual hour, so the retry's own files are left alone.
        stop_worker(work)
        env["ANNOTATOR_TEMP_FILE_MAX_AGE_SECONDS"] = "3600"
        work = worker(tmp_path, env, name="worker-2")
        # The rest of the archive can be sent again: what was stored is reported as duplicate, the rest accepted.
        web2 = Web(tmp_path, env, name="web-2").start()
        try:
            retry = upload(api, web2, project, [("batch.zip", archive)])
        finally:
            web2.stop()
        assert retry.status_code == 201, retry.text[:300]
        statuses = [r["status"] for r in retry.json()["results"]]
        assert statuses.count("duplicate") == len(saved) and statuses.count("accepted") == 120 - len(saved)
        everything = list(Image.objects.filter(project=project).values_list("pk", flat=True))
        wait_until(lambda: fully_processed(everything) and no_active_jobs(), timeout=RECOVERY_TIMEOUT,
                   what="the re-sent archive to be processed")
    finally:
        web.kill()
        if work is not None:
            stop_worker(work)
        print_logs(tmp_path)
    # A file stored by the killed request whose row never committed is an orphan: manage.py reconcile's
    # stored-files pass removes it (grace 0 here).
    from django.core.management import call_command

    with pytest.MonkeyPatch.context() as patch:
        from django.conf import settings

        patch.setitem(settings.ANNOTATOR, "ORPHAN_FILE_GRACE_SECONDS", 0)
        call_command("reconcile", stdout=io.StringIO())
    check_nothing_lost_or_stuck(image_ids=everything, temp_dir=tmp_path / "upload-tmp")
    report("web_killed_during_zip_ingest", broker, writes_acknowledged=0, images_saved_before_kill=len(saved),
           writes_present=len(saved), images_processed=len(everything), seconds_to_recovery=round(recovery, 1))


def _long_superpixels_job(project, manager, count: int):
    """Images stored directly (no upload processing) and one superpixels job over them that takes a while."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    ids = []
    for seed in range(count):
        data = photo_jpeg(900 + seed, 1600, 1200)
        name = default_storage.save(f"projects/{project.pk}/images/{seed:02d}/{seed}.jpg", ContentFile(data))
        image = Image.objects.create(project=project, file=name, original_name=f"{seed}.jpg", format="JPEG",
                                     width=1600, height=1200, size_bytes=len(data), sha256=f"{seed:064d}",
                                     pyramid_status="ready", thumbnail=name)
        ids.append(image.pk)
    return ids


SLOW_SUPERPIXELS = {"ANNOTATOR_SUPERPIXEL_GRANULARITIES": "300,1200", "ANNOTATOR_SUPERPIXEL_MAX_SIDE": "1600",
                    "ANNOTATOR_SUPERPIXELS_AFTER_UPLOAD": "0"}


def test_worker_killed_in_the_middle_of_a_job(broker, tmp_path, manager, project, settings):
    """SIGKILL of the worker running a job: its lease runs out (3 s here, independent of Redis's visibility
    timeout, left at one hour), the sweep of a second worker runs the job again, and it finishes exactly once."""
    from labeling.services.superpixels import superpixels_enqueue

    env = base_env(tmp_path, broker, **QUICK_RECOVERY, **SLOW_SUPERPIXELS,
                   ANNOTATOR_BROKER_VISIBILITY_TIMEOUT="3600")
    image_ids = _long_superpixels_job(project, manager, 4)
    first = worker(tmp_path, env, name="worker-1")
    second = None
    try:
        web = Web(tmp_path, env).start()  # the job is created through the web process's settings
        try:
            response = session_for(manager).post(f"{web.url}/api/images/{image_ids[0]}/superpixels/", timeout=30)
        finally:
            web.stop()
        assert response.status_code in (200, 202), response.text[:300]
        settings.ANNOTATOR = {**settings.ANNOTATOR, "SUPERPIXEL_GRANULARITIES": [300, 1200]}
        Job.objects.filter(kind="superpixels").delete()
        job = superpixels_enqueue(image_ids=image_ids, user=manager)
        # The test process has no broker of the scenario's; the worker's sweep sends the job (never dispatched).
        job = wait_until(lambda: Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, progress__gt=0).first(),
                         timeout=RECOVERY_TIMEOUT, interval=0.05, what="the first worker to start the job")
        assert job.progress < 0.75, "the job got too far before the kill; make it longer"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed = time.monotonic()
        second = worker(tmp_path, env, name="worker-2")
        done = wait_until(lambda: Job.objects.filter(pk=job.pk, status__in=("succeeded", "failed")).first(),
                          timeout=RECOVERY_TIMEOUT, what="the second worker to finish the job")
        recovery = time.monotonic() - killed
    finally:
        stop_worker(first)
        if second is not None:
            stop_worker(second)
        print_logs(tmp_path)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.attempts == 2 and done.lease_expires_at is None
    rows = sorted(Superpixels.objects.filter(image_id__in=image_ids).values_list("image_id", "granularity"))
    assert rows == sorted((i, g) for i in image_ids for g in (300, 1200))
    assert not Job.objects.filter(status__in=("queued", "running")).exists()
    report("worker_killed_mid_job", broker, writes_acknowledged=1, writes_present=1, images_processed=len(image_ids),
           seconds_to_recovery=round(recovery, 1))


def test_a_job_longer_than_its_lease_and_the_visibility_timeout_runs_once(tmp_path, manager, project, settings,
                                                                         redis_server):
    """A job that outlives its lease period (the heartbeat renews it) and Redis's visibility timeout (1 s here:
    the message is delivered again to a second worker while the first still runs it) runs as one live copy."""
    from labeling.services.superpixels import superpixels_enqueue

    broker = redis_server
    env = base_env(tmp_path, broker, **SLOW_SUPERPIXELS, ANNOTATOR_RECONCILE_INTERVAL_SECONDS="1",
                   ANNOTATOR_JOB_LEASE_SECONDS="2", ANNOTATOR_BROKER_VISIBILITY_TIMEOUT="1")
    image_ids = _long_superpixels_job(project, manager, 6)
    workers = [worker(tmp_path, env, name=f"worker-{n}") for n in (1, 2)]
    try:
        settings.ANNOTATOR = {**settings.ANNOTATOR, "SUPERPIXEL_GRANULARITIES": [300, 1200]}
        job = superpixels_enqueue(image_ids=image_ids, user=manager)
        done = wait_until(lambda: Job.objects.filter(pk=job.pk, status__in=("succeeded", "failed")).first(),
                          timeout=RECOVERY_TIMEOUT, what="the job to finish")
    finally:
        for process in workers:
            stop_worker(process)
        print_logs(tmp_path)
    logs = "".join((tmp_path / f"worker-{n}.log").read_text() for n in (1, 2))
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.attempts == 1, "a second copy ran"
    rows = sorted(Superpixels.objects.filter(image_id__in=image_ids).values_list("image_id", "granularity"))
    assert rows == sorted((i, g) for i in image_ids for g in (300, 1200))
    seconds = (done.finished_at - done.started_at).total_seconds()
    report("job_longer_than_lease", broker, writes_acknowledged=1, writes_present=1, images_processed=len(image_ids),
           job_seconds=round(seconds, 1), redeliveries_left_alone=logs.count("this delivery leaves it alone"))


def test_a_body_over_the_limit_is_refused_from_its_content_length(tmp_path, manager, project):
    """413 in the JSON shape before the body is read: nothing reaches the temp folder."""
    broker = FilesystemBroker(tmp_path / "broker")
    env = base_env(tmp_path, broker, ANNOTATOR_MAX_REQUEST_BYTES=str(10 * 1024 * 1024))
    web = Web(tmp_path, env).start()
    token = session_for(manager).headers["Authorization"]
    try:
        with socket.create_connection(("127.0.0.1", web.port), timeout=60) as conn:
            conn.sendall((f"POST /api/projects/{project.pk}/images/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          f"Authorization: {token}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                          f"Content-Length: {2 * 1024**3}\r\n\r\n").encode() + b"--x\r\n" + b"\0" * 65536)
            raw = b""
            while b"\r\n\r\n" not in raw or len(raw.split(b"\r\n\r\n", 1)[1]) < 20:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                raw += chunk
        head, body = raw.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 413"), head
        assert b"request_too_large" in body and b"application/json" in head
        assert not any((tmp_path / "upload-tmp").iterdir())
        # An ordinary upload right after is fine.
        ok = upload(session_for(manager), web, project, [("ok.jpg", photo_jpeg(3))])
        assert ok.status_code == 201
    finally:
        web.stop()


def test_errors_from_a_dead_broker_and_bad_input_have_the_json_shape(tmp_path, manager, project, redis_server):
    """Through gunicorn with DEBUG on: nothing answers an HTML page; every error names its request id."""
    broker = redis_server
    env = base_env(tmp_path, broker)
    web = Web(tmp_path, env).start()
    api = session_for(manager)
    try:
        broker.kill()
        refused = upload(api, web, project, [("notes.txt", b"not an image")])
        body = assert_json_error(refused, 422)
        assert body["code"] == "nothing_accepted" and body["extra"]["results"][0]["code"]
        for path in (f"/api/images/{10**9}/", f"/api/projects/{project.pk}/unknown/"):
            assert_json_error(api.get(web.url + path, timeout=30), 404)
        traced = api.get(f"{web.url}/api/images/{10**9}/", headers={"X-Request-ID": "trace-me-42"}, timeout=30)
        assert assert_json_error(traced, 404)["request_id"] == "trace-me-42"
        for path in (f"/api/images/{10**9}/embedding/", f"/api/images/{10**9}/proposals/"):
            assert api.options(web.url + path, timeout=30).status_code < 500
    finally:
        web.stop()


def _noise_jpeg(seed: int, width: int, height: int) -> bytes:
    import numpy as np
    from PIL import Image as PILImage

    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


@contextlib.contextmanager
def small_disk(path, size: str):
    """A tmpfs of `size` mounted at `path`: a disk that really fills up."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_answers_507_frees_the_temp_file_at_once_and_loses_nothing(tmp_path, manager, project,
                                                                                settings):
    """The spool folder fills while a request body is written to it: 507 in the JSON shape and the partial file
    removed before the answer, so the next upload works at once. The media disk fills while images are stored:
    the batch stops with a reason per file, the partial file goes, and the images stored before it are kept."""
    broker = FilesystemBroker(tmp_path / "broker")
    spool = tmp_path / "spool"
    media = tmp_path / "media"
    with small_disk(spool, "16m"), small_disk(media, "3m"):
        env = base_env(tmp_path, broker, ANNOTATOR_UPLOAD_TEMP_DIR=str(spool))
        web = Web(tmp_path, env).start()
        api = session_for(manager)
        try:
            too_big = upload(api, web, project, [("huge.jpg", os.urandom(20 * 1024 * 1024))])
            body = assert_json_error(too_big, 507)
            assert body["code"] == "insufficient_storage"
            assert list(spool.iterdir()) == [], "the partial spool file is still there"

            small = [(f"small-{i}.jpg", photo_jpeg(40 + i, 320, 240)) for i in range(2)]
            stored = upload(api, web, project, small)
            assert stored.status_code == 201, stored.text[:300]
            kept = accepted_ids(stored)

            big = [(f"noise-{i}.jpg", _noise_jpeg(i, 1200, 900)) for i in range(4)]  # 1.3 MB each: fills 3 MB
            filled = upload(api, web, project, big)
            if filled.status_code == 201:  # some fitted before the disk filled
                results = filled.json()["results"]
            else:
                results = assert_json_error(filled, 507)["extra"]["results"]
            codes = [r["code"] for r in results if r["status"] != "accepted"]
            assert codes and set(codes) == {"insufficient_storage"}, results
            kept += [r["image_id"] for r in results if r["status"] == "accepted"]
            # No partial file: every stored image file belongs to a row, whole.
            rows = {im.file.name: im.size_bytes for im in Image.objects.filter(project=project)}
            on_disk = {str(p.relative_to(media)): p.stat().st_size for p in (media / "projects").rglob("*")
                       if p.is_file()}
            assert on_disk == rows
            assert sorted(Image.objects.filter(project=project).values_list("pk", flat=True)) == sorted(kept)
        finally:
            web.stop()
    report("full_disk", broker, writes_acknowledged=len(kept), writes_present=len(kept), images_processed=None,
           seconds_to_recovery=0.0)


def test_database_connections_terminated_under_saves(tmp_path, manager, project, settings):
    """pg_terminate_backend on the web process's connections between and during saves: health checks replace a
    dead persistent connection before a request uses it; a save that lost its connection mid-way answers 503 in
    the JSON shape and is resent with the same Idempotency-Key. Every acknowledged save is present, once."""
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip("pg_terminate_backend needs PostgreSQL (CI runs this suite on it)")
    import uuid

    import numpy as np
    from django.db import connection

    from labeling.models import Annotation, Membership, Revision, Role
    from labeling.services.projects import label_class_create
    from tests.api.test_labelmap_save import tiles_payload

    annotator = make_user("annotator")
    Membership.objects.create(project=project, user=annotator, role=Role.ANNOTATOR)
    road = label_class_create(project=project, name="road", kind="stuff", color="#808080")
    image = Image.objects.create(project=project, file="x.jpg", original_name="x.jpg", format="JPEG", width=640,
                                 height=480, size_bytes=1, sha256="f" * 64, pyramid_status="ready")
    annotation = Annotation.objects.create(image=image, annotator=annotator)
    broker = FilesystemBroker(tmp_path / "broker")
    web = Web(tmp_path, base_env(tmp_path, broker, DATABASE_CONN_MAX_AGE="600")).start()
    api = session_for(annotator)
    saves, unavailable, terminated = 30, 0, 0
    try:
        for version in range(saves):
            label_map = np.zeros((480, 640), dtype=np.uint32)
            label_map[: 10 + version * 10, :] = 1
            body = {"base_version": version, "tiles": tiles_payload(label_map),
                    "segments": [{"segment_id": 1, "class_id": road.pk}]}
            key = uuid.uuid4().hex
            if version % 3 == 1:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                    terminated += cursor.fetchone()[0]
            for _ in range(5):
                response = api.post(f"{web.url}/api/annotations/{annotation.pk}/save/", json=body,
                                    headers={"Idempotency-Key": key}, timeout=60)
                if response.status_code != 503:
                    break
                assert assert_json_error(response)["code"] == "database_unavailable"
                unavailable += 1
            assert response.status_code == 200, response.text[:500]
            assert response.json()["version"] == version + 1
    finally:
        web.stop()
    annotation.refresh_from_db()
    assert terminated >= saves // 3, "the web process held no connection to terminate"
    assert annotation.version == saves
    assert list(Revision.objects.filter(annotation=annotation).values_list("version", flat=True)) == list(
        range(1, saves + 1))
    report("database_connections_terminated", broker, writes_acknowledged=saves, writes_present=annotation.version,
           images_processed=None, seconds_to_recovery=0.0, answered_503=unavailable, backends_terminated=terminated)
