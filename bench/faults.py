"""Faults injected for real, measured: runs the tests/faults suite (each scenario kills a broker, a worker or the
web process, fills a disk or drops database connections, then checks that nothing was lost or left stuck) in the
embedded configuration (SQLite) and/or on PostgreSQL, with both brokers (filesystem and a Redis of its own), and
prints one JSON row per scenario and configuration:

    writes acknowledged, writes present afterwards, images fully processed, seconds to recovery, passed.

Targets: 0 lost, 0 stuck, recovery <= 120 s in every scenario. By default the sweep, lease and re-send run on a
test's time scale (1 s, 3 s, 3 s); `--default-timings` uses the shipped defaults (30 s, 60 s, 60 s), which is
what an operator sees (slower: minutes per scenario).

    python bench/faults.py                          # embedded (SQLite) and PostgreSQL, if it answers
    python bench/faults.py --configs embedded --default-timings
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import ROOT, log  # noqa: E402

CONFIGS = {
    "embedded": {"DATABASE_URL": "", "CELERY_BROKER_URL": ""},
    "postgres": {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/annotator",
                 "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"},
}


def run(config: str, default_timings: bool, select: str) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.jsonl"
        junit = Path(folder) / "junit.xml"
        env = {**os.environ, **CONFIGS[config], "ANNOTATOR_FAULTS_REPORT": str(report),
               "ANNOTATOR_FAULTS_DEFAULT_TIMINGS": "1" if default_timings else "0",
               "ANNOTATOR_VAR_DIR": str(Path(folder) / "var")}
        env = {k: v for k, v in env.items() if v != ""}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/faults",
                   f"--junitxml={junit}"] + (["-k", select] if select else [])
        log(f"{config}: {' '.join(command[2:])}")
        completed = subprocess.run(command, cwd=ROOT, env=env, stdout=sys.stderr)
        rows = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
        for row in rows:
            row["configuration"] = config
            # A killed request acknowledged nothing yet stored some images: those are present, not negative loss.
            row["lost"] = max(0, row.get("writes_acknowledged", 0) - row.get("writes_present", 0))
        failed = _failed_tests(junit)
        return rows + [{"configuration": config, "scenario": name, "passed": False} for name in failed] + (
            [{"configuration": config, "pytest_exit": completed.returncode}] if completed.returncode not in (0,)
            else [])


def _failed_tests(junit: Path) -> list[str]:
    if not junit.exists():
        return []
    import xml.etree.ElementTree as ET

    return [case.get("name") for case in ET.parse(junit).iter("testcase")
            if case.find("failure") is not None or case.find("error") is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=["embedded", "postgres"])
    parser.add_argument("--default-timings", action="store_true")
    parser.add_argument("-k", dest="select", default="", help="pytest -k expression to run some scenarios")
    args = parser.parse_args()
    rows = []
    for config in args.configs:
        rows += run(config, args.default_timings, args.select)
    recoveries = [r["seconds_to_recovery"] for r in rows if "seconds_to_recovery" in r]
    summary = {
        "machine": f"{os.cpu_count()} cores",
        "timings": "defaults (sweep 30 s, lease 60 s, re-send 60 s)" if args.default_timings
        else "test (sweep 1 s, lease 3 s, re-send 3 s)",
        "scenarios": rows,
        "lost": sum(r.get("lost", 0) for r in rows),
        "failed": [r for r in rows if r.get("passed") is False or "pytest_exit" in r],
        "max_seconds_to_recovery": max(recoveries) if recoveries else None,
        "target_met": all(r.get("lost", 0) == 0 for r in rows) and not any(
            r.get("passed") is False for r in rows) and (not recoveries or max(recoveries) <= 120),
    }
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
