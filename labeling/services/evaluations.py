"""Evaluation jobs: compare an annotation set (a model's pre-labels, an annotator's work, or the imported
pre-labels) with the approved labels, over the approved images the set has an annotation of. The numbers come
from `labeling.masks.evaluation` (mIoU, PQ / SQ / RQ, mask AP by COCOeval); they are the job's result.

Images over 16 MP are compared on the same regular sample as consensus agreement (`selectors.agreement_step`),
so their pixel counts are those of the sample."""

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, F

from labeling.errors import ValidationFailed
from labeling.masks.evaluation import Evaluator
from labeling.models import Annotation, Job, LabelClass, Project, Segment, TrainedModel
from labeling.selectors import agreement_step, annotation_labelling, approved_label_maps
from labeling.services.jobs import JobCancelled, job_create, job_enqueue

SOURCES = ("model", "annotator", "import")


def _set_annotations(project: Project, params: dict[str, Any]):
    """The set's annotations of approved images, other than the approved annotation itself."""
    approved = approved_label_maps(project=project)
    # The approved annotation against itself would score 1.0 and say nothing.
    annotations = Annotation.objects.filter(image__in=approved.values("id")).exclude(pk=F("image__approved_annotation"))
    if params["source"] == "model":
        annotations = annotations.filter(annotator__isnull=True, trained_model_id=params["trained_model_id"])
    elif params["source"] == "annotator":
        annotations = annotations.filter(annotator_id=params["annotator_id"])
    else:
        annotations = annotations.filter(imported=True)
    return annotations


def evaluation_sets(*, project: Project) -> list[dict[str, Any]]:
    """The annotation sets that can be evaluated now: those with an annotation of at least one approved image."""
    approved = approved_label_maps(project=project).values("id")
    base = Annotation.objects.filter(image__in=approved).exclude(pk=F("image__approved_annotation"))
    sets = []
    models = dict(TrainedModel.objects.filter(project=project).values_list("id", "name"))
    for row in (base.filter(annotator__isnull=True, trained_model__isnull=False)
                .values("trained_model_id").annotate(n=Count("id")).order_by("trained_model_id")):
        sets.append({"source": "model", "trained_model_id": row["trained_model_id"],
                     "label": f"Model: {models.get(row['trained_model_id'], '?')}", "images": row["n"]})
    users = get_user_model().objects.in_bulk(list(base.filter(annotator__isnull=False)
                                                  .values_list("annotator_id", flat=True).distinct()))
    for row in (base.filter(annotator__isnull=False).values("annotator_id").annotate(n=Count("id"))
                .order_by("annotator_id")):
        user = users.get(row["annotator_id"])
        sets.append({"source": "annotator", "annotator_id": row["annotator_id"],
                     "label": f"Annotator: {user.get_username() if user else '?'}", "images": row["n"]})
    imported = base.filter(imported=True).count()
    if imported:
        sets.append({"source": "import", "label": "Imported pre-labels", "images": imported})
    return sets


def evaluation_enqueue(*, project: Project, user, source: str, trained_model_id: int | None = None,
                       annotator_id: int | None = None) -> Job:
    if source not in SOURCES:
        raise ValidationFailed(f"source must be one of {', '.join(SOURCES)}", code="unknown_source")
    params: dict[str, Any] = {"source": source}
    if source == "model":
        if not TrainedModel.objects.filter(project=project, pk=trained_model_id).exists():
            raise ValidationFailed("no such model in this project", code="unknown_model")
        params["trained_model_id"] = trained_model_id
    elif source == "annotator":
        if not Annotation.objects.filter(image__project=project, annotator_id=annotator_id).exists():
            raise ValidationFailed("this user has no annotation in this project", code="unknown_annotator")
        params["annotator_id"] = annotator_id
    if not _set_annotations(project, params).exists():
        raise ValidationFailed("the set has no annotation of an approved image to compare with",
                               code="nothing_to_evaluate")
    job, created = job_create(kind="evaluation", project=project, params=params, user=user)
    if created:
        job_enqueue(job)
    return job


def _scores(annotation: Annotation) -> dict[int, float]:
    return {sid: score for sid, score in Segment.objects.filter(annotation=annotation, score__isnull=False)
            .values_list("segment_id", "score")}


def evaluation_run(*, job: Job, progress) -> dict[str, Any]:
    """The work of an evaluation job: every approved image the set annotated, the approved annotation as the
    ground truth. Repeatable: nothing is written but the job's result."""
    project = job.project
    classes = list(LabelClass.objects.filter(project=project).order_by("order", "id"))
    evaluator = Evaluator({c.pk: c.kind for c in classes})
    annotations = list(_set_annotations(project, job.params).select_related("image__approved_annotation")
                       .order_by("image_id", "id"))
    for done, annotation in enumerate(annotations, 1):
        image = annotation.image
        step = agreement_step(image)
        evaluator.add(annotation_labelling(annotation=image.approved_annotation, step=step),
                      annotation_labelling(annotation=annotation, step=step), scores=_scores(annotation))
        if not progress(0.99 * done / max(1, len(annotations))):
            raise JobCancelled()
    result = evaluator.result().as_dict()
    result["params"] = job.params
    result["classes"] = {c.pk: {"name": c.name, "kind": c.kind, "color": c.color} for c in classes}
    return result
