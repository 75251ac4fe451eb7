"""Training jobs (kind "train", task `workers.tasks.train_model`, GPU queue): a pixel classifier learns from the
project's approved label maps and becomes one of its models (origin "trained", format "pixel_forest").

Which images (README "Learning from approved labels"): when any approved image has a stored split, the approved
images of split "train" train and those of split "val" validate (test and unassigned images are left out);
otherwise a seeded split of all approved images (`val_share`, 20 %, by `seed`). Validation uses the evaluation
code of the Evaluations tab (`labeling.masks.evaluation`): per-class IoU and mIoU of the predicted class map
against each approved map. The pixel classifier gives per-class masks only, so in instance and panoptic projects
too it is scored by mIoU (its pre-labels still split thing classes into connected components).

The job is safe to repeat: a redelivered job whose model was already registered returns it; a run that lost its
lease stops before registering anything. Progress: reading and sampling the training images 0-60 %, fitting
60-75 %, validating 75-97 %.
"""

import hashlib
import logging
import time
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from labeling.masks.agreement import Labelling
from labeling.masks.evaluation import Evaluator
from labeling.models import Image, Job, LabelClass, ModelFormat, ModelOrigin, TaskState, TrainedModel
from labeling.selectors import agreement_step, annotation_labelling, approved_label_maps
from labeling.services.jobs import JobCancelled
from labeling.services.learning import best_trained_model
from labeling.services.trained_models import ImageUnreadable, image_rgb, model_storage_path, prelabel_start
from workers.runners import pixel_forest
from workers.runners.pixel_classifier import FEATURES_VERSION, NeedTwoLabels, to_proposal
from workers.runners.pixel_classifier import save as save_classifier

logger = logging.getLogger(__name__)

MAX_CLASSES = 255  # class indices are uint8


class TrainingFailed(Exception):
    """A training that cannot go on (the message is what the job's `error` shows)."""


def training_split(images: list[Image], *, seed: int, val_share: float) -> tuple[list[Image], list[Image], str]:
    """(train, val, how): the stored split when any of the images has one, else a seeded split."""
    if any(image.split for image in images):
        return ([i for i in images if i.split == "train"], [i for i in images if i.split == "val"], "stored")
    by_id = {image.pk: image for image in images}
    train_ids, val_ids = pixel_forest.train_val_split(list(by_id), seed=seed, val_share=val_share)
    return [by_id[i] for i in train_ids], [by_id[i] for i in val_ids], "seeded"


def _class_index(image: Image, *, index_of_class: dict[int, int]) -> np.ndarray:
    """The approved map as class indices (1..C by project class order), reduced like agreement on huge images."""
    labelling = annotation_labelling(annotation=image.approved_annotation, step=agreement_step(image))
    return pixel_forest.class_index_map(labelling.label_map,
                                        {sid: index_of_class.get(c, 0) for sid, c in labelling.classes.items()})


def _check(progress, fraction: float) -> None:
    if not progress(fraction):
        raise JobCancelled()


def _unique_name(project_id: int) -> str:
    taken = set(TrainedModel.objects.filter(project_id=project_id).values_list("name", flat=True))
    number = TrainedModel.objects.filter(project_id=project_id, origin=ModelOrigin.TRAINED).count() + 1
    while f"Pixel classifier {number}" in taken:
        number += 1
    return f"Pixel classifier {number}"


def _job_result(model: TrainedModel, prelabel_job: Job | None = None) -> dict[str, Any]:
    training = model.training or {}
    return {"trained_model": model.pk, "name": model.name, "learner": training.get("learner"),
            "train_images": len(training.get("train_image_ids", [])),
            "val_images": len(training.get("val_image_ids", [])), "val": training.get("val"),
            "seconds": training.get("seconds"),
            "prelabel_job": prelabel_job.pk if prelabel_job else training.get("prelabel_job")}


def training_run(*, job: Job, progress) -> dict[str, Any]:
    """The work of a training job (see the module note)."""
    started = time.monotonic()
    project = job.project
    done = TrainedModel.objects.filter(project=project, origin=ModelOrigin.TRAINED, training__job=job.pk).first()
    if done is not None:
        return _job_result(done)  # a redelivery after the model was registered
    params = job.params["params"]
    seed = params["seed"]

    classes = list(LabelClass.objects.filter(project=project).order_by("order", "id"))
    index_of_class = {c.pk: position for position, c in enumerate(classes, start=1)}
    approved = list(approved_label_maps(project=project).select_related("approved_annotation__image"))
    if not approved:
        raise TrainingFailed("no image is approved: a model learns from approved labels")
    train, val, split = training_split(approved, seed=seed, val_share=params["val_share"])
    if not train:
        raise TrainingFailed("no approved image is in the train split (set some approved images' split to train, "
                             "or clear every split to let training choose)")

    # Read and sample every training image.
    rng = np.random.default_rng(seed)
    samples, used, skipped = [], [], []
    for done_count, image in enumerate(train, start=1):
        try:
            rgb = image_rgb(image)
        except ImageUnreadable as exc:
            logger.warning("training job %s: image %s skipped: %s", job.pk, image.pk, exc)
            skipped.append({"image_id": image.pk, "name": image.original_name, "message": str(exc)})
        else:
            sample = pixel_forest.image_samples(rgb, _class_index(image, index_of_class=index_of_class),
                                                max_side=params["max_side"], per_class=params["samples_per_image"],
                                                rng=rng)
            del rgb
            if len(sample.labels):
                samples.append(sample)
                used.append(image.pk)
        _check(progress, 0.6 * done_count / len(train))
    if not used:
        first = f": {skipped[0]['message']}" if skipped else ""
        raise TrainingFailed(f"no training image could be read or had labelled pixels{first}")
    labels_present = sorted({int(k) for s in samples for k in np.unique(s.labels)})
    if len(labels_present) < 2:
        raise TrainingFailed(f"the approved training images hold {len(labels_present)} class(es); a model needs "
                             "labelled pixels of at least two classes")
    if len(labels_present) > MAX_CLASSES:
        raise TrainingFailed(f"the pixel classifier learns at most {MAX_CLASSES} classes")
    # Model indices 1..K over the classes present (the forest's outputs), in project class order.
    compact = np.zeros(len(classes) + 1, dtype=np.uint8)
    compact[labels_present] = np.arange(1, len(labels_present) + 1)
    for sample in samples:
        sample.labels = compact[sample.labels]
    model_classes = [classes[k - 1] for k in labels_present]

    # Fit (one round: a forest is trained once).
    fit_started = time.monotonic()
    try:
        classifier, round_metrics = pixel_forest.fit_samples(
            samples, n_estimators=params["n_estimators"], max_depth=params["max_depth"],
            max_samples_per_class=params["max_samples_per_class"], seed=seed)
    except NeedTwoLabels as exc:
        raise TrainingFailed(str(exc)) from exc
    round_metrics = {"round": 1, **round_metrics, "seconds": round(time.monotonic() - fit_started, 3)}
    del samples
    _check(progress, 0.75)

    # Validate with the Evaluations tab's code: semantic mIoU of the class maps. Every class counts as stuff
    # here, since the prediction is one class map (no instances) and only the semantic numbers are kept.
    evaluator = Evaluator({c.pk: "stuff" for c in classes})
    class_of_index = {k: c.pk for k, c in enumerate(model_classes, start=1)}
    validated = []
    for done_count, image in enumerate(val, start=1):
        try:
            rgb = image_rgb(image)
        except ImageUnreadable as exc:
            skipped.append({"image_id": image.pk, "name": image.original_name, "message": str(exc)})
        else:
            truth = annotation_labelling(annotation=image.approved_annotation, step=agreement_step(image))
            probabilities = pixel_forest.predict_probabilities(classifier, rgb, max_side=params["max_side"])
            del rgb
            predicted, _confidence = to_proposal(probabilities, size=truth.label_map.shape)
            evaluator.add(truth, Labelling(label_map=predicted.astype(np.uint32), classes=class_of_index))
            validated.append(image.pk)
        _check(progress, 0.75 + 0.22 * done_count / len(val))
    val_metrics = None
    if validated:
        semantic = evaluator.result().semantic.as_dict()
        val_metrics = {"images": len(validated), **semantic}

    data = save_classifier(classifier)
    sha256 = hashlib.sha256(data).hexdigest()
    manifest = {
        "learner": pixel_forest.LEARNER,
        "output": "class_probabilities",
        "class_map": {str(k): c.name for k, c in enumerate(model_classes, start=1)},
        "max_side": params["max_side"],
        "features_version": FEATURES_VERSION,
    }
    training = {
        "learner": job.params["learner"],
        "job": job.pk,
        "trigger": job.params.get("trigger", "manual"),
        "params": params,
        "split": split,
        "train_image_ids": used,
        "val_image_ids": validated,
        "skipped": skipped,
        "approved_image_ids": sorted(i.pk for i in approved),
        "classes": [{"index": k, "id": c.pk, "name": c.name} for k, c in enumerate(model_classes, start=1)],
        "rounds": [round_metrics],
        "val": val_metrics,
        "seconds": round(time.monotonic() - started, 3),
    }
    _check(progress, 0.98)  # still this run's job (not cancelled, lease not lost) before anything is registered
    model = _register(job=job, data=data, sha256=sha256, manifest=manifest, training=training)
    prelabel_job = _prelabel_new_images(model)
    if prelabel_job is not None:
        model.training["prelabel_job"] = prelabel_job.pk
        TrainedModel.objects.filter(pk=model.pk).update(training=model.training)
    return _job_result(model, prelabel_job)


def _register(*, job: Job, data: bytes, sha256: str, manifest: dict, training: dict) -> TrainedModel:
    project = job.project
    name = model_storage_path(project_id=project.pk, sha256=sha256, format=ModelFormat.PIXEL_FOREST)
    if not default_storage.exists(name):
        saved = default_storage.save(name, ContentFile(data))
        if saved != name:  # a concurrent writer of the same bytes won; keep one copy
            default_storage.delete(saved)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return TrainedModel.objects.create(
                    project=project, name=_unique_name(project.pk), format=ModelFormat.PIXEL_FOREST, file=name,
                    sha256=sha256, size_bytes=len(data), manifest=manifest, origin=ModelOrigin.TRAINED,
                    training=training, created_by=job.created_by,
                )
        except IntegrityError:  # another model took the name meanwhile: the next number
            continue
    raise TrainingFailed("could not find a free model name")


def _prelabel_new_images(model: TrainedModel) -> Job | None:
    """With `prelabel_new` on: the best trained model pre-labels the images nobody started."""
    project = model.project
    if not project.prelabel_new:
        return None
    best = best_trained_model(project=project) or model
    ids = list(Image.objects.filter(project=project, state=TaskState.NEW).order_by("id").values_list("id", flat=True))
    if not ids:
        return None
    return prelabel_start(trained_model=best, image_ids=ids, user=model.created_by)
