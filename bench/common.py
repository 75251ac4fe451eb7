"""What every benchmark here needs: logging, `manage.py`, a server process on a free port of 127.0.0.1, the
machine's CPU counters, and how to launch Debian's Chromium."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# Headless, no sandbox (root), no calls home (the network is closed), WebGL through SwiftShader.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


def log(*args) -> None:
    print("[bench]", *args, file=sys.stderr, flush=True)


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict, *args: str, timeout: float = 600) -> None:
    """Run `manage.py` with `env`; its output goes to stderr with the rest of the progress."""
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=timeout,
                   stdout=sys.stderr)


def machine_busy_seconds() -> float:
    """CPU seconds spent non-idle by the whole machine (all cores) since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    busy = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


def children_of(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    found = [pid]
    for p in found:
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            kids = []
        found.extend(int(k) for k in kids)
    return found


class ServerProcess:
    """A web server of this project on a free port of 127.0.0.1, in a session of its own so it stops whole."""

    def __init__(self, command: Callable[[str], list[str]], env: dict, log_path: Path, *, name: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.cmd = command(f"127.0.0.1:{self.port}")
        self.name = name
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.log_file = None

    def start(self, timeout: float = 60) -> None:
        """Start and wait until the API answers (401 for an anonymous /api/auth/me/ is an answer)."""
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.base + "/api/auth/me/", timeout=2):
                    return
            except urllib.error.HTTPError as exc:
                if exc.code in (401, 403):
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {timeout}s:\n{self.tail()}")

    def pids(self) -> list[int]:
        return children_of(self.proc.pid) if self.proc else []

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the session this script started, nothing else
                self.proc.wait(timeout=5)
        if self.log_file:
            self.log_file.close()


# ---- CPU accounting

def cpu_snapshot() -> dict[int, tuple[int, int, float]]:
    """pid -> (start time, parent pid, CPU seconds incl. reaped children) of every process."""
    tick = os.sysconf("SC_CLK_TCK")
    snap = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                f = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
                snap[int(entry.name)] = (int(f[19]), int(f[1]), sum(int(x) for x in f[11:15]) / tick)
            except (OSError, IndexError, ValueError):
                pass
    return snap


def descendants(snap: dict, root: int) -> set[int]:
    tree, frontier = {root}, {root}
    while frontier:
        frontier = {pid for pid, (_, ppid, _) in snap.items() if ppid in frontier and pid not in tree}
        tree |= frontier
    return tree


def other_cpu_seconds(before: dict, after: dict, root: int) -> float:
    """CPU used meanwhile by processes outside this benchmark's process tree (other jobs on the machine).

    Only processes alive at both snapshots count (a short-lived one shows up in its parent's reaped-children
    time); this script, runserver, the Playwright driver and Chromium are all descendants of `root`.
    """
    ours = descendants(before, root) | descendants(after, root)
    return sum(after[pid][2] - before[pid][2] for pid in before.keys() & after.keys()
               if pid not in ours and before[pid][0] == after[pid][0])


def server_cpu_seconds(server: ServerProcess) -> float:
    """CPU seconds used so far by the web server (it shares this machine's cores with the browser)."""
    snap = cpu_snapshot()
    return sum(snap[pid][2] for pid in descendants(snap, server.proc.pid) if pid in snap) if server.proc else 0.0


def ensure_database(url: str, recreate: bool) -> str:
    """Create the database if missing (or drop and recreate it with --recreate-db); returns server version."""
    import psycopg

    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing a non-local database host {parts.hostname!r}: benchmarks stay on 127.0.0.1")
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and recreate:
            log(f"dropping database {name}")
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')
        return conn.execute("SHOW server_version").fetchone()[0]
