"""Reads for a project's dashboard: progress by state over time, class balance, throughput and rejection rate per
annotator, and the distributions of consensus agreement and gold scores.

Everything is a handful of aggregate queries plus one pass over the image-level transitions, so the dashboard
stays fast on 10k images (bench/dashboard.py measures it).
"""

from collections import Counter, defaultdict
from datetime import date, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from labeling.models import (
    Annotation,
    AnnotationState,
    Image,
    LabelClass,
    Project,
    Segment,
    TaskState,
    TaskTransition,
)
from labeling.selectors import approved_label_maps

# Histogram bins of scores in [0, 1]: ten of width 0.1, the last closed.
SCORE_BINS = 10
MAX_DAYS = 366


def _histogram(values: list[float]) -> list[int]:
    counts = [0] * SCORE_BINS
    for v in values:
        counts[min(SCORE_BINS - 1, max(0, int(v * SCORE_BINS)))] += 1
    return counts


def progress_by_day(project: Project) -> dict:
    """Images per state at the end of each day, from uploads and the recorded image transitions."""
    created = dict(
        Image.objects.filter(project=project).annotate(day=TruncDate("created_at")).values("day")
        .annotate(n=Count("id")).values_list("day", "n")
    )
    moves = (
        TaskTransition.objects.filter(image__project=project, annotation__isnull=True)
        .annotate(day=TruncDate("created_at")).values_list("day", "from_state", "to_state")
    )
    changes: dict[date, Counter] = defaultdict(Counter)
    for day, n in created.items():
        changes[day][TaskState.NEW] += n
    for day, from_state, to_state in moves.iterator():
        changes[day][from_state] -= 1
        changes[day][to_state] += 1
    if not changes:
        return {"days": [], "states": {s: [] for s in TaskState.values}}
    first, last = min(changes), max(max(changes), date.today())
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    running: Counter = Counter()
    for day in [d for d in changes if d < first]:  # history before the window is folded into its first day
        running.update(changes.pop(day))
    days, series = [], {s: [] for s in TaskState.values}
    day = first
    while day <= last:
        running.update(changes.get(day, Counter()))
        days.append(day.isoformat())
        for s in TaskState.values:
            series[s].append(running[s])
        day += timedelta(days=1)
    return {"days": days, "states": series}


def class_balance(project: Project) -> list[dict]:
    """Pixels and segments (instances for things) per class, in the approved labels and in all work so far."""
    classes = list(LabelClass.objects.filter(project=project).order_by("order", "id"))
    # The approved set: each approved image's approved annotation (what exporters read).
    approved_rows = dict(
        (row["label_class"], row) for row in Segment.objects.filter(
            annotation__in=approved_label_maps(project=project).values("approved_annotation"))
        .values("label_class").annotate(pixels=Sum("area"), segments=Count("id"))
    )
    all_rows = dict(
        (row["label_class"], row) for row in Segment.objects.filter(
            annotation__image__project=project, annotation__annotator__isnull=False)
        .values("label_class").annotate(pixels=Sum("area"), segments=Count("id"))
    )
    out = []
    for c in classes:
        a, b = approved_rows.get(c.pk, {}), all_rows.get(c.pk, {})
        out.append({"class_id": c.pk, "name": c.name, "color": c.color, "kind": c.kind,
                    "approved_pixels": int(a.get("pixels") or 0), "approved_segments": a.get("segments", 0),
                    "all_pixels": int(b.get("pixels") or 0), "all_segments": b.get("segments", 0)})
    return out


def annotators(project: Project) -> list[dict]:
    """Per annotator: submissions (and per day), decisions on their work, rejection rate, gold scores."""
    submitted = Q(annotation__isnull=False, to_state=AnnotationState.SUBMITTED)
    per_day = (
        TaskTransition.objects.filter(submitted, image__project=project)
        .annotate(day=TruncDate("created_at")).values("annotation__annotator", "day").annotate(n=Count("id"))
    )
    decided = (
        TaskTransition.objects.filter(image__project=project, annotation__isnull=False,
                                      to_state__in=[AnnotationState.APPROVED, AnnotationState.REJECTED])
        .values("annotation__annotator", "to_state").annotate(n=Count("id"))
    )
    gold = (
        Annotation.objects.filter(image__project=project, gold_score__isnull=False)
        .values_list("annotator", "gold_score")
    )
    rows: dict[int, dict] = {}

    def row(user_id: int) -> dict:
        return rows.setdefault(user_id, {"user_id": user_id, "submissions": 0, "per_day": {}, "approved": 0,
                                         "rejected": 0, "gold_scores": []})

    for r in per_day:
        if r["annotation__annotator"] is None:
            continue
        item = row(r["annotation__annotator"])
        item["submissions"] += r["n"]
        item["per_day"][r["day"].isoformat()] = r["n"]
    for r in decided:
        if r["annotation__annotator"] is not None:
            row(r["annotation__annotator"])[r["to_state"]] += r["n"]
    for user_id, score in gold:
        if user_id is not None:
            row(user_id)["gold_scores"].append(score)
    names = dict(project.memberships.filter(user_id__in=rows).values_list("user_id", "user__username"))
    out = []
    for user_id, item in sorted(rows.items(), key=lambda kv: names.get(kv[0], "")):
        decisions = item["approved"] + item["rejected"]
        scores = item.pop("gold_scores")
        out.append({**item, "username": names.get(user_id, f"user {user_id}"),
                    "rejection_rate": item["rejected"] / decisions if decisions else None,
                    "gold_tasks": len(scores), "gold_score": sum(scores) / len(scores) if scores else None})
    return out


def project_dashboard(*, project: Project) -> dict:
    agreements = list(Image.objects.filter(project=project, agreement__isnull=False)
                      .values_list("agreement", flat=True))
    gold_scores = list(Annotation.objects.filter(image__project=project, gold_score__isnull=False)
                       .values_list("gold_score", flat=True))
    states = dict(Image.objects.filter(project=project).values("state").annotate(n=Count("id"))
                  .values_list("state", "n"))
    return {
        "images": sum(states.values()),
        "states": {s: states.get(s, 0) for s in TaskState.values},
        "progress": progress_by_day(project),
        "classes": class_balance(project),
        "annotators": annotators(project),
        "agreement": {"count": len(agreements), "histogram": _histogram(agreements),
                      "mean": sum(agreements) / len(agreements) if agreements else None},
        "gold": {"count": len(gold_scores), "histogram": _histogram(gold_scores),
                 "mean": sum(gold_scores) / len(gold_scores) if gold_scores else None},
        "score_bins": SCORE_BINS,
    }
