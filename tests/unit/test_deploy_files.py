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


def _queues(command: list[str]) -> list[str]:
    return command[command.index("--queues") + 1].split(",")


def test_each_worker_consumes_its_queue_and_the_embedded_worker_both():
    from django.conf import settings

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    env = services["web"]["environment"]
    # The queue names the web process routes to are the ones the workers consume.
    assert _queues(services["worker-cpu"]["command"]) == [env["ANNOTATOR_CPU_QUEUE"]] == ["cpu"]
    assert _queues(services["worker-gpu"]["command"]) == [env["ANNOTATOR_GPU_QUEUE"]] == ["gpu"]
    assert settings.CELERY_TASK_DEFAULT_QUEUE == "cpu" and settings.CELERY_GPU_QUEUE == "gpu"
    gpu_tasks = {name for name, route in settings.CELERY_TASK_ROUTES.items() if route["queue"] == "gpu"}
    assert gpu_tasks == {"workers.tasks.compute_embeddings", "workers.tasks.segment_everything",
                         "workers.tasks.run_prelabel", "workers.tasks.train_model", "workers.tasks.check_labels"}
    run_sh = (ROOT / "scripts" / "run.sh").read_text()
    both = r'--queues "\$\{ANNOTATOR_CPU_QUEUE:-cpu\},\$\{ANNOTATOR_GPU_QUEUE:-gpu\}"'
    assert re.search(r"celery -A annotator worker " + both, run_sh), "the embedded worker must consume both queues"


def test_every_setting_read_from_the_environment_is_documented_in_the_readme():
    settings_text = (ROOT / "annotator" / "settings.py").read_text()
    names = set(re.findall(r'env(?:_bool|_int|_list)?\("([A-Z0-9_]+)"', settings_text))
    names |= set(re.findall(r'os\.environ\.get\("([A-Z0-9_]+)"', settings_text))
    readme = (ROOT / "README.md").read_text()
    missing = sorted(n for n in names if f"`{n}`" not in readme)
    assert not missing, f"settings read these variables but README does not document them: {missing}"
