#!/usr/bin/env python
"""Project dashboard load time at 1,000 and 10,000 images (the issue: "plots load fast on 10k images").

Fills a throwaway PostgreSQL database (default postgres://postgres@127.0.0.1:5432/annotator_bench_dashboard,
dropped and recreated) with one project of N images in a realistic mix of states, 8 annotators, 20 segments per
annotation, every transition that led there spread over 60 days, consensus agreements on 10% of the images and
gold scores on 2%, then times what GET /api/projects/{id}/dashboard/ does: `labeling.dashboard.project_dashboard`
plus serialising the answer (median of --repeats; the first, cold run is reported apart). Prints one JSON object.

    cd /work/main && . .venv/bin/activate && python bench/dashboard.py [--sizes 1000 10000] [--repeats 5]

Not a test: nothing is asserted. Only 127.0.0.1 is contacted.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ensure_database, log  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/annotator_bench_dashboard"
STATES = [("approved", 0.4), ("submitted", 0.2), ("rejected", 0.1), ("in_progress", 0.2), ("new", 0.1)]
PATHS = {  # image-level transitions that lead to each state
    "new": [],
    "in_progress": [("new", "in_progress")],
    "submitted": [("new", "in_progress"), ("in_progress", "submitted")],
    "rejected": [("new", "in_progress"), ("in_progress", "submitted"), ("submitted", "rejected")],
    "approved": [("new", "in_progress"), ("in_progress", "submitted"), ("submitted", "approved")],
}
ANNOTATION_STATE = {"in_progress": "draft", "submitted": "submitted", "rejected": "rejected", "approved": "approved"}


def populate(n_images: int) -> int:
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from labeling.models import Annotation, Image, LabelClass, Membership, Project, Role, Segment, TaskTransition

    rng = np.random.default_rng(0)
    User = get_user_model()
    manager = User.objects.create_user(f"bench-manager-{n_images}")
    project = Project.objects.create(name=f"Dashboard bench {n_images}", kind="panoptic", created_by=manager,
                                     annotators_per_image=1, gold_share=0.02)
    Membership.objects.create(project=project, user=manager, role=Role.MANAGER)
    annotators = [User.objects.create_user(f"bench-{n_images}-annotator-{i}") for i in range(8)]
    Membership.objects.bulk_create([Membership(project=project, user=u, role=Role.ANNOTATOR) for u in annotators])
    classes = [LabelClass.objects.create(project=project, name=f"class {i}", kind="thing" if i < 6 else "stuff",
                                         number=i + 1, color=f"#{(i * 2654435761) & 0xFFFFFF:06x}", order=i)
               for i in range(10)]
    now = timezone.now()
    states = rng.choice([s for s, _ in STATES], size=n_images, p=[p for _, p in STATES])
    started = [now - timezone.timedelta(days=int(d), minutes=int(m))
               for d, m in zip(rng.integers(1, 60, n_images), rng.integers(0, 1440, n_images), strict=True)]
    images = Image.objects.bulk_create([
        Image(project=project, file=f"bench/{i}.jpg", original_name=f"{i:05d}.jpg", format="JPEG", width=1920,
              height=1080, size_bytes=400_000, sha256=f"{n_images:08d}{i:056d}", state=str(states[i]),
              pyramid_status="ready", agreement=float(rng.uniform(0.4, 1.0)) if rng.random() < 0.1 else None)
        for i in range(n_images)
    ], batch_size=2000)
    Image.objects.filter(pk__in=[i.pk for i in images]).update(created_at=now - timezone.timedelta(days=60))
    annotations, owners = [], []
    for i, image in enumerate(images):
        if states[i] == "new":
            continue
        who = annotators[int(rng.integers(0, len(annotators)))]
        annotations.append(Annotation(image=image, annotator=who, state=ANNOTATION_STATE[str(states[i])],
                                      gold_score=float(rng.uniform(0.5, 1.0)) if rng.random() < 0.02 else None))
        owners.append(i)
    Annotation.objects.bulk_create(annotations, batch_size=2000)
    approved = [(images[i].pk, a.pk) for i, a in zip(owners, annotations, strict=True) if states[i] == "approved"]
    for image_id, annotation_id in approved:  # few thousand small updates: fine for setup
        Image.objects.filter(pk=image_id).update(approved_annotation_id=annotation_id)
    segments = []
    for a in annotations:
        for sid in range(1, 21):
            c = classes[int(rng.integers(0, len(classes)))]
            segments.append(Segment(annotation=a, segment_id=sid, label_class=c, area=int(rng.integers(50, 20000)),
                                    instance=sid if c.kind == "thing" else None))
    Segment.objects.bulk_create(segments, batch_size=5000)
    transitions, times = [], []
    for i, a in zip(owners, annotations, strict=True):
        t = started[i]
        for step, (from_state, to_state) in enumerate(PATHS[str(states[i])]):
            at = t + timezone.timedelta(hours=step * 6)
            transitions.append(TaskTransition(image=images[i], actor=a.annotator, from_state=from_state,
                                              to_state=to_state))
            times.append(at)
            if to_state in ("submitted", "approved", "rejected"):
                transitions.append(TaskTransition(image=images[i], annotation=a, actor=a.annotator,
                                                  from_state="draft" if to_state == "submitted" else "submitted",
                                                  to_state=to_state))
                times.append(at)
    TaskTransition.objects.bulk_create(transitions, batch_size=5000)
    # auto_now_add overwrites any time given on create (on the instances too): set the intended ones after.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.executemany(f"UPDATE {TaskTransition._meta.db_table} SET created_at = %s WHERE id = %s",
                           list(zip(times, [t.pk for t in transitions], strict=True)))
        # As autovacuum would after such a load: without statistics PostgreSQL plans nested loops over the fresh
        # tables (15 s instead of 0.2 s at 10k images, measured).
        cursor.execute("ANALYZE")
    log(f"{n_images} images: {len(annotations)} annotations, {len(segments)} segments, "
        f"{len(transitions)} transitions")
    return project.pk


def time_dashboard(project_id: int, repeats: int) -> dict:
    from django.db import connection, reset_queries

    from labeling.api.workflow import DashboardSerializer
    from labeling.dashboard import project_dashboard
    from labeling.models import Project

    def once() -> tuple[float, int, int]:
        project = Project.objects.get(pk=project_id)
        reset_queries()
        t = time.perf_counter()
        body = json.dumps(DashboardSerializer(project_dashboard(project=project)).data)
        return (time.perf_counter() - t) * 1000, len(body), len(connection.queries)

    cold, size, queries = once()
    warm = [once()[0] for _ in range(repeats)]
    return {"cold_ms": round(cold, 1), "median_ms": round(statistics.median(warm), 1),
            "runs_ms": [round(w, 1) for w in warm], "response_bytes": size, "queries": queries}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DASHBOARD_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    version = ensure_database(args.database_url, recreate=True)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = True  # counts queries (connection.queries)
    call_command("migrate", verbosity=0)
    results = {}
    for n in args.sizes:
        t = time.perf_counter()
        project_id = populate(n)
        setup_s = time.perf_counter() - t
        results[str(n)] = {"setup_s": round(setup_s, 1), **time_dashboard(project_id, args.repeats)}
        log(f"{n} images: {results[str(n)]}")
    print(json.dumps({
        "benchmark": "project_dashboard",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "postgresql": version},
        "what": "labeling.dashboard.project_dashboard + DashboardSerializer + json.dumps, in process",
        "images": results,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
