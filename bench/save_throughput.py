#!/usr/bin/env python
"""Label-map save throughput: saves/s of a 640x480 map with 20 segments, N concurrent clients, over HTTP.

Starts the app as in production (gunicorn, DJANGO_ENV=production, PostgreSQL through DATABASE_URL) on a free
port of 127.0.0.1, sets it up through `manage.py` (migrate, users) and the HTTP API (project, class, image,
members, one annotation per client user), then runs `--repeats` timed runs of `--duration` seconds in which
every client loops: save -> next version. Prints one JSON object on stdout; progress goes to stderr.

    cd /work/main && . .venv/bin/activate && python bench/save_throughput.py [--duration 20] [--repeats 3]

Each client is its own user with its own annotation of one shared image (per-user, as in real use: an
annotation is per (image, user)). Every save sends both tiles of the map (512x480 and 128x480) with 20 moved
blobs and the 20-row segment table, so the server really decodes, recomputes stats and writes.

Not a unit test: nothing is asserted, numbers are reported (medians). Only 127.0.0.1 is contacted.
"""

import argparse
import base64
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ServerProcess, ensure_database, log, machine_busy_seconds, manage  # noqa: E402
from labeling.masks.tiles import encode_tile, split_map  # noqa: E402  (pure numpy/zlib, no Django needed)

WIDTH, HEIGHT = 640, 480
N_SEGMENTS = 20
TILE_SIZE = 512
GRID_COLS, GRID_ROWS = 5, 4  # 20 cells of 128x120 px: column 4 lies in tile (1, 0), the rest in tile (0, 0)
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/annotator_bench"
REFERENCE_LABEL_STUDIO = 11
REQUEST_TIMEOUT = 30


# --------------------------------------------------------------------------------------------------- payloads

def make_frames(n: int, seed: int) -> list[np.ndarray]:
    """n label maps: 20 blobs (ellipse + rectangle union) in a 5x4 grid, random-walking a few px per frame.

    Blobs stay inside their cell, so all 20 ids are painted in every frame and both tiles change every frame.
    """
    rng = np.random.default_rng(seed)
    cw, ch = WIDTH // GRID_COLS, HEIGHT // GRID_ROWS
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    cells = [(c, r) for r in range(GRID_ROWS) for c in range(GRID_COLS)]
    rx = rng.integers(18, 34, N_SEGMENTS)
    ry = rng.integers(16, 30, N_SEGMENTS)
    off = rng.integers(-12, 13, (N_SEGMENTS, 2)).astype(float)
    frames = []
    for _ in range(n):
        off += rng.integers(-3, 4, off.shape)
        np.clip(off, -20, 20, out=off)
        label_map = np.zeros((HEIGHT, WIDTH), dtype=np.uint32)
        for i, (c, r) in enumerate(cells):
            cx = c * cw + cw / 2 + off[i, 0]
            cy = r * ch + ch / 2 + off[i, 1]
            x0, x1 = int(cx - rx[i]), int(cx + rx[i]) + 1
            y0, y1 = int(cy - ry[i]), int(cy + ry[i]) + 1
            sub_x, sub_y = xx[y0:y1, x0:x1], yy[y0:y1, x0:x1]
            ellipse = ((sub_x - cx) / rx[i]) ** 2 + ((sub_y - cy) / ry[i]) ** 2 <= 1.0
            # A rectangular "handle" sticking out to the lower right makes the shape less regular.
            handle = (sub_x >= cx) & (sub_x <= cx + rx[i]) & (sub_y >= cy) & (sub_y <= cy + ry[i] * 0.6)
            label_map[y0:y1, x0:x1][ellipse | handle] = i + 1
        frames.append(label_map)
    return frames


def encode_payloads(frames: list[np.ndarray], class_id: int) -> list[bytes]:
    """JSON bodies without their leading `{"base_version": N, `, which is prepended per request."""
    segments = [{"segment_id": i, "class_id": class_id} for i in range(1, N_SEGMENTS + 1)]
    bodies = []
    for label_map in frames:
        tiles = [
            {"tx": tx, "ty": ty, "data": base64.b64encode(encode_tile(arr)).decode("ascii")}
            for (tx, ty), arr in sorted(split_map(label_map, tile_size=TILE_SIZE).items(), key=lambda kv: kv[0][::-1])
        ]
        rest = json.dumps({"tiles": tiles, "segments": segments}, separators=(",", ":"))
        bodies.append(rest[1:].encode("ascii"))  # drop the opening brace
    return bodies


def png_bytes() -> bytes:
    from io import BytesIO

    from PIL import Image

    rng = np.random.default_rng(0)
    gradient = np.linspace(0, 255, WIDTH, dtype=np.uint8)[None, :, None].repeat(HEIGHT, 0).repeat(3, 2)
    noise = rng.integers(0, 32, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    buf = BytesIO()
    Image.fromarray(gradient // 2 + noise).save(buf, format="PNG")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------- server

USER_SNIPPET = """
import os
from django.contrib.auth import get_user_model
User = get_user_model()
for name in os.environ["BENCH_USERS"].split(","):
    user, _ = User.objects.get_or_create(username=name)
    user.set_password(os.environ["BENCH_PASSWORD"])
    user.is_active = True
    user.save()
"""


def proc_cpu_seconds(pids) -> dict[int, float]:
    """CPU seconds (user + system, all threads) of each live process."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    return found


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> dict[int, float]:
    """Per process CPU used between two snapshots; a process that appeared meanwhile counts from zero."""
    return {pid: after[pid] - before.get(pid, 0.0) for pid in after}


def postgres_pids(database: str) -> list[int]:
    """The server's own processes (WAL writer, checkpointer...) and the backends connected to `database`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() not in ("postgres", "postmaster"):
                    continue
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            is_backend = "(" in title or "[local]" in title
            if not is_backend or f" {database} " in title:
                pids.append(int(entry.name))
    return pids


def gunicorn_server(env: dict, *, app: str, workers: int, threads: int, worker_class: str,
                    log_path: Path) -> ServerProcess:
    """gunicorn as in production; `server.describe` says how it ran (with the port left out)."""

    def command(bind: str) -> list[str]:
        cmd = [sys.executable, "-m", "gunicorn", app, "--bind", bind, "--workers", str(workers),
               "--worker-class", worker_class, "--timeout", "60", "--graceful-timeout", "5"]
        return cmd + (["--threads", str(threads)] if worker_class == "gthread" else [])

    server = ServerProcess(command, env, log_path, name="gunicorn")
    server.describe = " ".join(["gunicorn"] + server.cmd[3:]).replace(server.base[len("http://"):], "127.0.0.1:<port>")
    return server


# ------------------------------------------------------------------------------------------------------- API

class Api:
    def __init__(self, base: str, token: str | None = None):
        self.base = base
        self.s = requests.Session()
        if token:
            self.s.headers["Authorization"] = f"Token {token}"

    def call(self, method: str, path: str, expect=(200, 201), **kw):
        r = self.s.request(method, self.base + path, timeout=REQUEST_TIMEOUT, **kw)
        if r.status_code not in expect:
            raise RuntimeError(f"{method} {path} -> {r.status_code}: {r.text[:500]}")
        return r.json()


def login(base: str, username: str, password: str) -> Api:
    token = Api(base).call("POST", "/api/auth/token/", json={"username": username, "password": password})["token"]
    return Api(base, token)


def setup_data(base: str, usernames: list[str], password: str) -> tuple[int, list[tuple[Api, int, int]]]:
    """Project, class, image, members; returns (class_id, [(api, annotation_id, version) per client])."""
    apis = [login(base, u, password) for u in usernames]
    owner = apis[0]
    project = owner.call("POST", "/api/projects/", json={"name": f"bench {usernames[0]}", "kind": "instance"})
    pid = project["id"]
    cls = owner.call("POST", f"/api/projects/{pid}/classes/",
                     json={"name": "car", "kind": "thing", "color": "#ff0000"})
    upload = owner.call("POST", f"/api/projects/{pid}/images/",
                        files=[("files", ("bench.png", png_bytes(), "image/png"))])
    image_id = upload["results"][0]["image_id"]
    if image_id is None:
        raise RuntimeError(f"image upload rejected: {upload['results'][0]}")
    for name in usernames[1:]:
        owner.call("POST", f"/api/projects/{pid}/members/", json={"username": name, "role": "annotator"})
    clients = []
    for api in apis:
        ann = api.call("POST", f"/api/images/{image_id}/annotations/")
        if (ann["width"], ann["height"], ann["tile_size"]) != (WIDTH, HEIGHT, TILE_SIZE):
            raise RuntimeError(f"unexpected annotation geometry: {ann}")
        clients.append((api, ann["id"], ann["version"]))
    return cls["id"], clients


# ---------------------------------------------------------------------------------------------------- client

class Client:
    def __init__(self, api: Api, annotation_id: int, version: int, bodies: list[bytes], keepalive: bool = True):
        self.api = api
        self.url = f"{api.base}/api/annotations/{annotation_id}/save/"
        self.detail_url = f"{api.base}/api/annotations/{annotation_id}/"
        self.version = version
        self.bodies = bodies
        self.i = 0
        self.headers = {"Content-Type": "application/json"}
        if not keepalive:
            # A new TCP connection per save, as a reverse proxy without upstream keep-alive does.
            self.headers["Connection"] = "close"

    def save_once(self) -> tuple[bool, float, str | None]:
        body = b'{"base_version":%d,' % self.version + self.bodies[self.i % len(self.bodies)]
        self.i += 1
        t0 = time.perf_counter()
        try:
            r = self.api.s.post(self.url, data=body, headers=self.headers, timeout=REQUEST_TIMEOUT)
        except requests.RequestException as exc:
            return False, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"[:200]
        elapsed = time.perf_counter() - t0
        if r.status_code == 200:
            self.version = r.json()["version"]
            return True, elapsed, None
        if r.status_code == 409:  # stale base: resync so the next save can succeed
            try:
                self.version = self.api.s.get(self.detail_url, timeout=REQUEST_TIMEOUT).json()["version"]
            except (requests.RequestException, ValueError, KeyError):
                pass
        return False, elapsed, f"{r.status_code}: {r.text[:200]}"

    def run_for(self, seconds: float, barrier: threading.Barrier, out: dict) -> None:
        ok, latencies, errors = 0, [], []
        barrier.wait()
        start = out["start"]
        end = start + seconds
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            success, elapsed, err = self.save_once()
            finished = time.perf_counter()
            if finished > end:  # in flight at the bell: not counted either way
                break
            if success:
                ok += 1
                latencies.append(elapsed)
            else:
                errors.append(err)
        out.setdefault("results", []).append((ok, latencies, errors))


def timed_run(clients: list[Client], seconds: float, server: ServerProcess | None, database: str = "") -> dict:
    out: dict = {}
    barrier = threading.Barrier(len(clients) + 1)
    threads = [threading.Thread(target=c.run_for, args=(seconds, barrier, out), daemon=True) for c in clients]
    for t in threads:
        t.start()
    server_pids = server.pids() if server else []
    cpu0 = (time.process_time(), proc_cpu_seconds(server_pids), proc_cpu_seconds(postgres_pids(database)),
            machine_busy_seconds())
    out["start"] = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join(seconds + REQUEST_TIMEOUT + 10)
    wall = time.perf_counter() - out["start"]
    cpu1 = (time.process_time(), proc_cpu_seconds(server_pids), proc_cpu_seconds(postgres_pids(database)),
            machine_busy_seconds())
    client_cpu = cpu1[0] - cpu0[0]
    per_worker = cpu_delta(cpu0[1], cpu1[1])
    server_cpu = sum(per_worker.values())
    # Postgres backends that exited during the run are lost; persistent connections (CONN_MAX_AGE) keep them.
    pg_cpu = sum(cpu_delta(cpu0[2], cpu1[2]).values())
    other_cpu = max(0.0, (cpu1[3] - cpu0[3]) - client_cpu - server_cpu - pg_cpu)
    ok = sum(r[0] for r in out["results"])
    latencies = [x for r in out["results"] for x in r[1]]
    errors = [e for r in out["results"] for e in r[2]]
    return {
        "saves": ok,
        "saves_per_s": round(ok / seconds, 2),
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5],
        "latency_ms": percentiles(latencies),
        "cpu_s": {"client": round(client_cpu, 2), "gunicorn": round(server_cpu, 2), "postgres": round(pg_cpu, 2),
                  # Everything else the machine did meanwhile (other users' jobs, kernel): a noisy neighbour
                  # shows up here and makes the run not comparable.
                  "other": round(other_cpu, 2),
                  "wall": round(wall, 2)},
        # Master first, then workers: one busy worker and idle others means keep-alive connections piled up.
        "gunicorn_process_cpu_s": [round(per_worker[p], 2) for p in server_pids if p in per_worker],
        "server_cpu_ms_per_save": round(1000 * server_cpu / ok, 1) if ok else None,
        "_latencies": latencies,
    }


def percentiles(latencies: list[float]) -> dict:
    if not latencies:
        return {"p50": None, "p95": None}
    arr = np.asarray(latencies) * 1000
    return {"p50": round(float(np.percentile(arr, 50)), 1), "p95": round(float(np.percentile(arr, 95)), 1)}


# ------------------------------------------------------------------------------------------------------ main

def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=20.0, help="seconds per timed run (default 20)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs; the median is reported (default 3)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of untimed saves first (default 3)")
    p.add_argument("--clients", type=int, default=4, help="concurrent clients, one user each (default 4)")
    p.add_argument("--pool", type=int, default=50, help="pre-encoded payloads per client (default 50)")
    # Default from a sweep on the 2-core machine (4 keep-alive clients, 3 x 15 s each, median saves/s):
    #   sync x4 35.5 (runs 35.5-35.7, CPU evenly spread) | gthread 4x1 29-35 | gthread 4x1 without keep-alive 29.5
    #   | sync x5 31.6 | gthread 4x2 32.9 | gthread 2x2 without keep-alive 29.5 | gthread 2x4 13.9.
    # gthread workers keep a client's connection, and which worker accepts it is luck: two or more of the
    # 4 connections often land on one worker (one GIL) while another worker idles, so gthread figures swing from
    # run to run (2x4: all on one worker, 72 ms CPU per save from GIL contention). Sync workers answer one
    # request per connection, so every save is balanced; CPU-bound saves gain nothing from threads anyway.
    p.add_argument("--worker-class", default="sync", help="gunicorn worker class (default sync)")
    p.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    p.add_argument("--threads", type=int, default=4, help="threads per worker, gthread only (default 4)")
    p.add_argument("--app", default="annotator.wsgi:application",
                   help="WSGI application for gunicorn (default annotator.wsgi:application; for A/B experiments)")
    p.add_argument("--no-keepalive", dest="keepalive", action="store_false",
                   help="close the connection after every save (default: one persistent connection per client)")
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DB),
                   help=f"PostgreSQL URL on 127.0.0.1 (default $DATABASE_URL or {DEFAULT_DB})")
    p.add_argument("--recreate-db", action="store_true",
                   help="drop and recreate the benchmark database first (it must be a throwaway database)")
    p.add_argument("--max-runtime", type=float, default=900.0, help="abort after this many seconds (default 900)")
    args = p.parse_args()

    t_start = time.monotonic()
    # Hard bound on the whole run: SIGALRM raises in the main thread, and the finally blocks stop gunicorn.
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("--max-runtime exceeded")))
    signal.alarm(int(args.max_runtime))

    pg_version = ensure_database(args.database_url, args.recreate_db)
    work = Path(tempfile.mkdtemp(prefix="annotator-bench-"))
    password = secrets.token_urlsafe(24)
    run_id = uuid.uuid4().hex[:8]
    usernames = [f"bench-{run_id}-{i}" for i in range(args.clients)]
    env = {
        **os.environ,
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_COOKIES": "0",
        "DATABASE_URL": args.database_url,
        # Media and the filesystem Celery broker go to a throwaway folder, not the checkout's var/.
        "ANNOTATOR_VAR_DIR": str(work / "var"),
        "ANNOTATOR_LOG_LEVEL": "WARNING",
    }
    env.pop("DJANGO_DEBUG", None)
    server = gunicorn_server(env, app=args.app, workers=args.workers, threads=args.threads,
                             worker_class=args.worker_class, log_path=work / "gunicorn.log")
    runs: list[dict] = []
    gunicorn_log_tail = ""
    try:
        log("migrate")
        manage(env, "migrate", "--noinput")
        log(f"creating {args.clients} users")
        manage({**env, "BENCH_USERS": ",".join(usernames), "BENCH_PASSWORD": password}, "shell", "-c", USER_SNIPPET)

        log(f"starting {server.describe}")
        server.start()
        try:
            class_id, setup = setup_data(server.base, usernames, password)
            log(f"encoding {args.pool} payloads x {args.clients} clients")
            clients = [
                Client(api, aid, version, encode_payloads(make_frames(args.pool, seed=1000 + k), class_id),
                       keepalive=args.keepalive)
                for k, (api, aid, version) in enumerate(setup)
            ]
            if args.warmup > 0:
                log(f"warm-up {args.warmup:g}s")
                warm = timed_run(clients, args.warmup, None)
                log(f"warm-up: {warm['saves_per_s']} saves/s, {warm['errors']} errors {warm['error_samples']}")
            for i in range(args.repeats):
                run = timed_run(clients, args.duration, server, urlsplit(args.database_url).path.lstrip("/"))
                log(f"run {i + 1}/{args.repeats}: {run['saves_per_s']} saves/s, p50 {run['latency_ms']['p50']} ms, "
                    f"{run['errors']} errors, cpu {run['cpu_s']}")
                runs.append(run)
        finally:
            server.stop()
            if any(r["errors"] for r in runs):
                gunicorn_log_tail = server.tail(10)
    finally:
        signal.alarm(0)
        shutil.rmtree(work, ignore_errors=True)

    all_latencies = [x for r in runs for x in r.pop("_latencies")]
    result = {
        "benchmark": "labelmap_save_throughput",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "postgresql": pg_version,
        },
        "server": server.describe,
        "database": "postgresql",
        "clients": args.clients,
        "client_model": "one user + own annotation of one shared image per client; threads, pre-encoded bodies",
        "client_keepalive": args.keepalive,
        "map": f"{WIDTH}x{HEIGHT}",
        "tiles_per_save": 2,
        "segments": N_SEGMENTS,
        "duration_s": args.duration,
        "repeats": args.repeats,
        "saves_per_s_median": round(statistics.median(r["saves_per_s"] for r in runs), 2),
        "runs": runs,
        "latency_ms": percentiles(all_latencies),
        "errors": sum(r["errors"] for r in runs),
        "reference_label_studio_saves_per_s": REFERENCE_LABEL_STUDIO,
        "target_saves_per_s": 55,
        "elapsed_s": round(time.monotonic() - t_start, 1),
    }
    if gunicorn_log_tail:
        result["gunicorn_log_tail"] = gunicorn_log_tail
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
