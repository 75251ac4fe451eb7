"""docker-compose.yml cannot run here (no Docker engine); keep it structurally valid and in step with settings."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_describes_the_production_stack():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker-cpu", "worker-gpu", "migrate"} <= set(services)
    for name in ("web", "worker-cpu", "worker-gpu"):
        env = services[name]["environment"]
        assert env["DJANGO_ENV"] == "production"
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["CELERY_BROKER_URL"].startswith("redis://")
    assert "--queues" in services["worker-gpu"]["command"] and "gpu" in services["worker-gpu"]["command"]


def test_every_setting_read_from_the_environment_is_documented_in_the_readme():
    settings_text = (ROOT / "annotator" / "settings.py").read_text()
    names = set(re.findall(r'env(?:_bool|_int|_list)?\("([A-Z0-9_]+)"', settings_text))
    names |= set(re.findall(r'os\.environ\.get\("([A-Z0-9_]+)"', settings_text))
    readme = (ROOT / "README.md").read_text()
    missing = sorted(n for n in names if f"`{n}`" not in readme)
    assert not missing, f"settings read these variables but README does not document them: {missing}"
