"""Real processes for fault tests: a gunicorn web server, Celery workers and a redis-server, each on ports and
folders of its own, started and killed by the test (by PID), all pointed at the test database and media folder.

Each scenario ends with `check_nothing_lost_or_stuck`, and reports what it measured (`report`): bench/faults.py
runs this suite in both configurations and prints the table.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import requests
from django.conf import settings
from rest_framework.authtoken.models import Token

from labeling.models import ACTIVE_JOB_STATUSES, Image, Job, PyramidStatus, Superpixels
from tests.integration.workers import ROOT, database_url, new_queue_name, start_worker

# Fast superpixels, so "fully processed" includes them without minutes of SLIC.
FAST_SUPERPIXELS = {"ANNOTATOR_SUPERPIXEL_GRANULARITIES": "40", "ANNOTATOR_SUPERPIXEL_MAX_SIDE": "256",
                    "ANNOTATOR_SUPERPIXELS_AFTER_UPLOAD": "1"}
# The sweep, leases and re-sends on a test's time scale (the defaults are 30 s, 60 s and 60 s). bench/faults.py
# --default-timings sets ANNOTATOR_FAULTS_DEFAULT_TIMINGS=1 to measure recovery with the shipped defaults.
QUICK_RECOVERY = {"ANNOTATOR_RECONCILE_INTERVAL_SECONDS": "1", "ANNOTATOR_JOB_LEASE_SECONDS": "3",
                  "ANNOTATOR_JOB_REDISPATCH_SECONDS": "3"}
if os.environ.get("ANNOTATOR_FAULTS_DEFAULT_TIMINGS") == "1":
    QUICK_RECOVERY = {"ANNOTATOR_RECONCILE_INTERVAL_SECONDS": "30", "ANNOTATOR_JOB_LEASE_SECONDS": "60",
                      "ANNOTATOR_JOB_REDISPATCH_SECONDS": "60"}


def photo_jpeg(seed: int, width: int = 640, height: int = 480) -> bytes:
    """A smooth, photo-like JPEG (small on disk, unique per seed)."""
    import io

    import numpy as np
    from PIL import Image as PILImage

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * (1 + seed % 5)) % 256, (y * (1 + seed % 7)) % 256, (x + y + seed * 37) % 256], axis=-1)
    noisy = np.clip(base + rng.integers(-8, 8, size=base.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(noisy).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, *, timeout: float, what: str, interval: float = 0.2):
    """Poll until `condition()` is truthy; the timeout only ends a test that is stuck (never a measurement)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class Redis:
    """A redis-server of the test's own that keeps nothing on disk: killing it loses every queued message."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=open(self.folder / "redis.log", "a"), stderr=subprocess.STDOUT,
        )
        wait_until(self._answers, timeout=30, what="redis-server to answer")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


class FilesystemBroker:
    """kombu's filesystem transport in a folder of the test's own. 'Down' is its queue folder gone (replaced by
    a file, so a send fails as it would on a lost volume); 'up' puts it back."""

    def __init__(self, folder: Path):
        self.folder = folder
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)

    url = "filesystem://"

    def env(self) -> dict[str, str]:
        return {"CELERY_BROKER_URL": self.url, "ANNOTATOR_BROKER_DIR": str(self.folder)}

    def kill(self) -> None:
        queue = self.folder / "queue"
        queue.rename(self.folder / "queue-away")
        queue.write_bytes(b"")

    def start(self) -> None:
        queue = self.folder / "queue"
        if (self.folder / "queue-away").exists():
            queue.unlink()
            (self.folder / "queue-away").rename(queue)


def broker_env(broker) -> dict[str, str]:
    if isinstance(broker, Redis):
        return {"CELERY_BROKER_URL": broker.url}
    return broker.env()


def base_env(tmp_path: Path, broker, **extra: str) -> dict[str, str]:
    """What every process of a scenario shares: the test database and media, the broker, queues, temp folder."""
    queue = getattr(broker, "queue", None) or new_queue_name("faults")
    broker.queue = queue
    env = {
        "DATABASE_URL": database_url(), "DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "ANNOTATOR_CPU_QUEUE": queue, "ANNOTATOR_GPU_QUEUE": queue + "-gpu",
        "ANNOTATOR_UPLOAD_TEMP_DIR": str(tmp_path / "upload-tmp"),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        **broker_env(broker), **FAST_SUPERPIXELS,
    }
    env.update(extra)
    return env


class Web:
    """gunicorn serving the app (one sync worker), development settings: DEBUG on, as the issue found it."""

    def __init__(self, tmp_path: Path, env: dict[str, str], name: str = "web"):
        self.port = free_port()
        self.env = {**os.environ, **env}
        self.log = tmp_path / f"{name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Web":
        Path(self.env["ANNOTATOR_UPLOAD_TEMP_DIR"]).mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "annotator.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                 "--workers", "1", "--timeout", "300", "--graceful-timeout", "5", "--no-control-socket"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            wait_until(self._answers, timeout=120, what="gunicorn to answer")
        except BaseException:
            self.kill()
            raise
        return self

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {self.log.read_text()[-3000:]}")
        try:
            return requests.get(self.url + "/api/auth/me/", timeout=2).status_code in (401, 403)
        except requests.RequestException:
            return False

    def kill(self) -> None:
        """SIGKILL the master and its workers at once (an OOM kill, a deploy that does not wait)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the whole group: no worker outlives its master
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


def worker(tmp_path: Path, env: dict[str, str], name: str = "worker", **extra: str) -> subprocess.Popen:
    """A Celery worker, returned once it is consuming (its log says "ready")."""
    queue = env["ANNOTATOR_CPU_QUEUE"]
    log = tmp_path / f"{name}.log"
    process = start_worker(queues=[queue, env["ANNOTATOR_GPU_QUEUE"]], log_path=log, **{**env, **extra})

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the worker exited: {log.read_text()[-3000:]}")
        return " ready." in log.read_text()

    wait_until(ready, timeout=180, what=f"{name} to be ready")
    return process


def session_for(user) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {Token.objects.get_or_create(user=user)[0].key}"
    return session


def assert_json_error(response: requests.Response, status: int | None = None) -> dict:
    """An error answer in the one shape, never an HTML page."""
    assert "application/json" in response.headers.get("Content-Type", ""), response.text[:500]
    body = response.json()
    assert {"message", "code", "extra", "request_id"} <= set(body), body
    assert body["request_id"] == response.headers.get("X-Request-ID")
    if status is not None:
        assert response.status_code == status, body
    return body


def fully_processed(image_ids) -> bool:
    images = list(Image.objects.filter(pk__in=image_ids))
    if len(images) != len(set(image_ids)):
        return False
    wanted = int(FAST_SUPERPIXELS["ANNOTATOR_SUPERPIXEL_GRANULARITIES"])
    with_grids = set(Superpixels.objects.filter(image_id__in=image_ids, granularity=wanted)
                     .values_list("image_id", flat=True))
    return all(im.pyramid_status == PyramidStatus.READY and im.thumbnail and im.pk in with_grids for im in images)


def stored_files() -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def check_nothing_lost_or_stuck(*, image_ids, temp_dir: Path | None = None) -> None:
    """The end of every scenario: every accepted image present and fully processed, no job left queued or
    running, no stored file that no row owns, no temp file left behind."""
    assert fully_processed(image_ids)
    active = list(Job.objects.filter(status__in=ACTIVE_JOB_STATUSES).values("pk", "kind", "status"))
    assert active == [], active
    images = Image.objects.all()
    owned = {im.file.name for im in images} | {im.thumbnail.name for im in images if im.thumbnail}
    owned |= set(Superpixels.objects.values_list("file", flat=True))
    ids = {str(im.pk) for im in images}
    for name in stored_files():
        top = name.split("/", 1)[0]
        if top == "pyramids" or top == "superpixels":
            assert name.split("/")[1] in ids, f"orphan {name}"
        elif top in ("projects", "thumbnails"):
            if "/images/" in name or top == "thumbnails":
                assert name in owned, f"orphan {name}"
    if temp_dir is not None and temp_dir.exists():
        assert sorted(p.name for p in temp_dir.iterdir()) == []


def report(scenario: str, broker, **metrics) -> None:
    """Append the scenario's measurements for bench/faults.py (when it runs the suite)."""
    path = os.environ.get("ANNOTATOR_FAULTS_REPORT")
    if not path:
        return
    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    kind = "redis" if isinstance(broker, Redis) else "filesystem"
    with open(path, "a") as out:
        out.write(json.dumps({"scenario": scenario, "database": db, "broker": kind, **metrics}) + "\n")
