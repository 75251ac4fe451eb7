"""Learning from approved labels: starting trainings (by hand or by the loop) and choosing the best trained model.

The training itself runs on a worker (`labeling/services/training.py`, job kind "train", task
`workers.tasks.train_model` on the GPU queue). This module stays light (no scikit-learn, no image decoding): the
workflow services call `retrain_on_approval` from every approval.

The loop (README "Learning from approved labels"):
- after an approval commits, when the project's `retrain_every` is N > 0 and at least N images are approved now
  that were not when the newest trained model was trained, a training is queued, unless one is already queued or
  running (one active training per project: its dedup key);
- after a training, when `prelabel_new` is on, a pre-label job runs the best trained model (`best_trained_model`)
  over the images nobody has started (state new).
"""

from typing import Any

from django.db import transaction

from labeling.errors import ValidationFailed
from labeling.models import ACTIVE_JOB_STATUSES, Job, ModelFormat, ModelOrigin, Project, TrainedModel
from labeling.selectors import approved_label_maps
from labeling.services.jobs import job_create, job_enqueue

TRAIN_KIND = "train"
LEARNERS = ("pixel_classifier",)

# Each learner's hyper-parameters: name -> (type, minimum, maximum, default). A training records them all.
# Training on whole approved images has its own defaults (more trees and samples than a scribble proposal,
# which must answer in a second or two); they are written here so that the web process never imports
# scikit-learn to check them.
LEARNER_PARAMS: dict[str, dict[str, tuple[type, float, float, Any]]] = {
    "pixel_classifier": {
        # Images are resized so their longest side is at most this many pixels (features, labels, predictions).
        "max_side": (int, 32, 4096, 512),
        # Pixels drawn from each class of each training image, so no image or class drowns the rest.
        "samples_per_image": (int, 10, 100_000, 2000),
        # Cap on each class's pixels over all images (the forest balances the classes on top).
        "max_samples_per_class": (int, 100, 1_000_000, 50_000),
        "n_estimators": (int, 1, 500, 32),
        "max_depth": (int, 1, 64, 12),
        # Seeds the pixel draws, the forest and the 80/20 split used when no approved image has a stored split.
        "seed": (int, 0, 2**31 - 1, 0),
        "val_share": (float, 0.0, 0.5, 0.2),
    },
}


def training_params(*, learner: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """The learner's complete hyper-parameters: the given ones checked, the rest at their defaults. A wrong name,
    type or range is a 400 naming the field."""
    if learner not in LEARNERS:
        raise ValidationFailed(f"learner must be one of {', '.join(LEARNERS)}", code="unknown_learner",
                               extra={"field": "learner"})
    table = LEARNER_PARAMS[learner]
    params = params or {}
    if not isinstance(params, dict):
        raise ValidationFailed("params must be an object", code="invalid", extra={"field": "params"})
    unknown = sorted(set(params) - set(table))
    if unknown:
        raise ValidationFailed(f"params: unknown {', '.join(unknown)}; {learner} takes {', '.join(table)}",
                               code="invalid", extra={"field": f"params.{unknown[0]}"})
    out: dict[str, Any] = {}
    for name, (kind, low, high, default) in table.items():
        value = params.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
            raise ValidationFailed(f"params.{name} must be {'an integer' if kind is int else 'a number'}",
                                   code="invalid", extra={"field": f"params.{name}"})
        if not low <= value <= high:
            raise ValidationFailed(f"params.{name} must be between {low} and {high}", code="invalid",
                                   extra={"field": f"params.{name}"})
        out[name] = kind(value)
    return out


def training_dedup_key(project_id: int) -> str:
    return f"train:{project_id}"


def training_start(*, project: Project, learner: str = "pixel_classifier", params: dict[str, Any] | None = None,
                   user=None, trigger: str = "manual") -> Job:
    """Queue a training on the project's approved labels; with one already queued or running, that job.

    The model does not exist until the job succeeds: its `result.trained_model` then names it."""
    full = training_params(learner=learner, params=params)
    if not approved_label_maps(project=project).exists():
        raise ValidationFailed("no image is approved yet: a model learns from approved labels",
                               code="no_approved_images")
    with transaction.atomic():
        job, created = job_create(kind=TRAIN_KIND, project=project, user=user,
                                  params={"learner": learner, "params": full, "trigger": trigger},
                                  dedup_key=training_dedup_key(project.pk))
        if created:
            job_enqueue(job)
    return job


def newest_trained_model(*, project: Project) -> TrainedModel | None:
    return TrainedModel.objects.filter(project=project, origin=ModelOrigin.TRAINED).order_by("-id").first()


def best_trained_model(*, project: Project) -> TrainedModel | None:
    """The trained model with the best validation mIoU (one without validation counts as 0); the newest wins ties.

    Models trained at different times were validated on different images, so this is a heuristic: the newest
    model has seen the most labels, and only a clearly better score keeps an older one."""
    best, best_score = None, -1.0
    for model in TrainedModel.objects.filter(project=project, origin=ModelOrigin.TRAINED).order_by("id"):
        score = ((model.training or {}).get("val") or {}).get("miou")
        score = float(score) if isinstance(score, (int, float)) else 0.0
        if score >= best_score:
            best, best_score = model, score
    return best


def approved_since_last_training(*, project: Project) -> int:
    """Approved images the newest trained model did not see approved (all approved images without one)."""
    approved = set(approved_label_maps(project=project).values_list("id", flat=True))
    newest = newest_trained_model(project=project)
    seen = set((newest.training or {}).get("approved_image_ids", [])) if newest else set()
    return len(approved - seen)


def retrain_if_due(*, project_id: int) -> Job | None:
    """Queue a training when `retrain_every` approvals have piled up since the newest trained model (see the
    module note); None when none is due or one is already queued or running."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None or project.retrain_every <= 0:
        return None
    if Job.objects.filter(project=project, kind=TRAIN_KIND, status__in=ACTIVE_JOB_STATUSES).exists():
        return None
    if approved_since_last_training(project=project) < project.retrain_every:
        return None
    return training_start(project=project, trigger="retrain_every")


def retrain_on_approval(*, project_id: int) -> None:
    """Called inside an approval's transaction: checks the loop once it committed, outside the image's lock. A
    failure there is logged, never the approval's error (it is committed by then)."""
    transaction.on_commit(lambda: retrain_if_due(project_id=project_id), robust=True)


LABEL_CHECK_KIND = "label_check"
# A pixel counts as confident when the model's top class probability is at least this (README "Label-error
# finder"); the rule itself is workers/runners/label_check.py, run by labeling/services/label_check.py.
LABEL_CHECK_CONFIDENCE = 0.8


def label_check_start(*, project: Project, trained_model: TrainedModel | None = None,
                      confidence: float = LABEL_CHECK_CONFIDENCE, user=None) -> Job:
    """Queue a label check: a trained pixel classifier (the best one by default) scores every approved image's
    segments against its confident predictions, writing no pre-labels. One check per project at a time: while
    one is queued or running, that job."""
    if trained_model is None:
        trained_model = best_trained_model(project=project)
        if trained_model is None:
            raise ValidationFailed("no trained model yet: train one from the approved labels first",
                                   code="no_trained_model")
    if trained_model.project_id != project.pk or trained_model.format != ModelFormat.PIXEL_FOREST:
        raise ValidationFailed("the label check runs a model trained in this project (a pixel classifier)",
                               code="invalid", extra={"field": "trained_model"})
    if not approved_label_maps(project=project).exists():
        raise ValidationFailed("no image is approved yet: the check compares a model with approved labels",
                               code="no_approved_images")
    with transaction.atomic():
        job, created = job_create(kind=LABEL_CHECK_KIND, project=project, user=user,
                                  params={"trained_model_id": trained_model.pk, "confidence": float(confidence)},
                                  dedup_key=f"label_check:{project.pk}")
        if created:
            job_enqueue(job)
    return job
