"""Label checks (job kind "label_check", task `workers.tasks.check_labels`, GPU queue): the label-error finder.

A trained pixel classifier (the project's best by default) predicts every approved image, and each approved
segment is scored by how much the model's confident prediction of its class disagrees with it
(`workers.runners.label_check`, README "Label-error finder"). Nothing is written into any annotation: each image
gets `label_error_score` (its worst segment's 1 - IoU, None when no segment could be judged) and `label_check`
(the model, the approved annotation and version it read, the judged segments worst first). A re-run rewrites
both, so a redelivered job is safe. An image that cannot be read or predicted is listed in `result.errors`.
"""

import logging
from typing import Any

from labeling.models import Image, Job, JobStatus, LabelClass, ModelFormat, Segment, TrainedModel
from labeling.selectors import agreement_step, annotation_labelling, approved_label_maps
from labeling.services.jobs import JobCancelled
from labeling.services.trained_models import ImageUnreadable, PrelabelFailed, _load_runner, image_rgb
from workers.runners import pixel_forest
from workers.runners.label_check import image_score, segment_checks
from workers.runners.own_models import ModelRunError, describe_failure

logger = logging.getLogger(__name__)

MAX_SEGMENTS_KEPT = 20  # judged segments stored per image, worst first
MAX_ERRORS_KEPT = 200


class LabelCheckFailed(Exception):
    """A check that cannot go on (the message is what the job's `error` shows)."""


def _image_check(image: Image, *, classifier, manifest: dict, model_index: dict[int, int],
                 confidence: float) -> tuple[float | None, dict[str, Any]]:
    annotation = image.approved_annotation
    labelling = annotation_labelling(annotation=annotation, step=agreement_step(image))
    rgb = image_rgb(image)
    try:
        probabilities = pixel_forest.predict_probabilities(classifier, rgb, max_side=int(manifest["max_side"]))
    except (MemoryError, ValueError) as exc:
        raise ModelRunError(describe_failure(exc)) from exc
    del rgb
    checks = segment_checks(labelling.label_map,
                            {sid: model_index.get(c, 0) for sid, c in labelling.classes.items()},
                            probabilities, confidence=confidence)
    instances = dict(Segment.objects.filter(annotation=annotation).values_list("segment_id", "instance"))
    judged = sorted((c for c in checks if c.disagreement is not None), key=lambda c: (-c.disagreement, c.segment_id))
    segments = [{**c.as_dict(), "class_id": labelling.classes.get(c.segment_id),
                 "instance": instances.get(c.segment_id)} for c in judged[:MAX_SEGMENTS_KEPT]]
    return image_score(checks), {"annotation": annotation.pk, "version": annotation.version,
                                 "judged": len(judged), "segments": segments}


def label_check_run(*, job: Job, progress) -> dict[str, Any]:
    """The work of a label check (see the module note)."""
    trained_model = TrainedModel.objects.filter(pk=job.params["trained_model_id"], project=job.project).first()
    if trained_model is None or trained_model.format != ModelFormat.PIXEL_FOREST:
        raise LabelCheckFailed("the model was deleted before the check ran")
    confidence = float(job.params.get("confidence", 0.8))
    classes = list(LabelClass.objects.filter(project=job.project))
    manifest = trained_model.manifest
    problem = pixel_forest.manifest_problems(manifest, classes={c.name: c.kind for c in classes})
    if problem:
        raise LabelCheckFailed(f"the model's manifest no longer fits the project: {problem}")
    try:
        classifier = _load_runner(trained_model).classifier
    except PrelabelFailed as exc:
        raise LabelCheckFailed(str(exc)) from exc
    index_of_name = {name: k for k, name in enumerate(pixel_forest.manifest_class_names(manifest), start=1)}
    model_index = {c.pk: index_of_name[c.name] for c in classes if c.name in index_of_name}

    images = list(approved_label_maps(project=job.project).select_related("approved_annotation__image"))
    result: dict[str, Any] = {"trained_model": trained_model.pk, "model_name": trained_model.name,
                              "confidence": confidence, "images": len(images), "checked": 0, "flagged": 0,
                              "failed": 0, "errors": []}
    for done, image in enumerate(images, start=1):
        try:
            score, check = _image_check(image, classifier=classifier, manifest=manifest, model_index=model_index,
                                        confidence=confidence)
        except (ImageUnreadable, ModelRunError) as exc:
            logger.warning("label check of image %s failed: %s", image.pk, exc)
            result["failed"] += 1
            if len(result["errors"]) < MAX_ERRORS_KEPT:
                result["errors"].append({"image_id": image.pk, "name": image.original_name, "message": str(exc)})
        else:
            check.update(model=trained_model.pk, model_name=trained_model.name, confidence=confidence,
                         job=job.pk)
            Image.objects.filter(pk=image.pk).update(label_error_score=score, label_check=check)
            result["checked"] += 1
            result["flagged"] += int(score is not None and score >= 0.5)
        Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(result=result)
        if not progress(done / max(1, len(images))):
            raise JobCancelled()
    if result["failed"] and not result["checked"]:
        first = result["errors"][0]
        raise LabelCheckFailed(f"every image failed ({result['failed']}); image {first['image_id']} "
                               f"({first['name']}): {first['message']}")
    return result
