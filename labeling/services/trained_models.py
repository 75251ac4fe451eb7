"""A project's own models: upload (validated without unpickling anything), delete, and pre-label jobs.

The compute core is workers/runners/own_models.py (pure; pixel classifiers trained here: pixel_forest.py); this
module owns storage, rows and jobs.

Pre-label jobs (`kind="prelabel"`, task `workers.tasks.run_prelabel` on the GPU queue): the model is loaded once;
a model that cannot be loaded, or whose classes left the project, fails the job. Each image is then predicted
and written into that model's pre-label annotation of the image (no annotator, `trained_model` set), replacing
what an earlier run wrote. An image that fails (the model raises or runs out of memory, the image cannot be
read) is listed in `result.errors` and skipped; the job fails only when every image failed. Re-running an image
writes the same content again, so a redelivered job is safe. A trained pixel classifier also scores each image's
uncertainty (`image_uncertainty_save`; `result.uncertainty_scored` counts them).
"""

import hashlib
import json
import logging
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from PIL import Image as PILImage
from PIL import ImageOps

from labeling.errors import Conflict, Forbidden, ValidationFailed
from labeling.ingest.images import pillow_pixel_limit
from labeling.models import (
    Annotation,
    Image,
    Job,
    JobStatus,
    LabelClass,
    ModelFormat,
    Project,
    SegmentSource,
    TaskState,
    TrainedModel,
)
from labeling.services.jobs import JobCancelled, job_create, job_enqueue
from labeling.services.labelmaps import SegmentInput, labelmap_replace
from labeling.services.stored_files import stored_file_replace
from labeling.services.uncertainty import uncertainty_map_path
from workers.runners.device import pick_device
from workers.runners.model_manifest import ManifestError, parse_manifest
from workers.runners.own_models import (
    FILE_EXTENSIONS,
    ModelFileError,
    ModelOutputError,
    ModelRunError,
    OwnModelRunner,
    Prediction,
    cached_runner,
    describe_failure,
    inspect_model_file,
)

if TYPE_CHECKING:
    from workers.runners.pixel_forest import PixelForestRunner

logger = logging.getLogger(__name__)

PRELABEL_KIND = "prelabel"
MAX_ERRORS_KEPT = 200


class PrelabelFailed(Exception):
    """A pre-label job that cannot go on (the message is what the job's `error` shows)."""


# A trained pixel classifier is a skops archive (workers/runners/pixel_forest.py).
MODEL_FILE_EXTENSIONS = {**FILE_EXTENSIONS, ModelFormat.PIXEL_FOREST: "skops"}


def model_storage_path(*, project_id: int, sha256: str, format: str) -> str:
    return f"models/{project_id}/{sha256}.{MODEL_FILE_EXTENSIONS[format]}"


def project_class_kinds(project: Project) -> dict[str, str]:
    return dict(LabelClass.objects.filter(project=project).values_list("name", "kind"))


def _manifest_json(raw: Any) -> Any:
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", errors="replace")
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"manifest: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                                   code="bad_manifest", extra={"field": "manifest"}) from exc
    return raw


def manifest_validate(*, project: Project, raw: Any):
    """Parse and check a manifest against the project's classes; a violation is a 400 naming the field."""
    try:
        return parse_manifest(_manifest_json(raw), classes=project_class_kinds(project))
    except ManifestError as exc:
        raise ValidationFailed(f"manifest: {exc.message}", code="bad_manifest",
                               extra={"field": exc.field or "manifest"}) from exc


def _read_upload(upload: UploadedFile) -> tuple[bytes, str]:
    limit = settings.ANNOTATOR["MAX_MODEL_BYTES"]
    if upload.size is not None and upload.size > limit:
        raise ValidationFailed(f"the model file is {upload.size} bytes; the limit is {limit}",
                               code="model_too_large", extra={"limit": limit})
    upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ValidationFailed(f"the model file is larger than the {limit}-byte limit", code="model_too_large",
                               extra={"limit": limit})
    if not data:
        raise ValidationFailed("the model file is empty", code="bad_model_file")
    return data, hashlib.sha256(data).hexdigest()


def may_upload_torchscript(user) -> bool:
    """TorchScript is a program, not just weights: `torch.jit.load` has no safe mode and a scripted forward can
    read files. Any user may create a project (and manage it), so only staff, whom the operator trusts with
    code on the workers, may upload TorchScript; everyone else uploads ONNX. `None` is an internal caller."""
    return user is None or bool(user.is_staff or user.is_superuser)


def _check_model(data: bytes, manifest, *, user=None) -> tuple[str, dict[str, list[int]]]:
    """Load the file (TorchScript or ONNX only; pickles refused) and run it once on a blank input."""
    try:
        fmt = inspect_model_file(data)
        if fmt == "torchscript" and not may_upload_torchscript(user):
            raise Forbidden("TorchScript models are code and only staff may upload them; export the model to "
                            "ONNX (torch.onnx.export) and upload that", code="torchscript_not_allowed",
                            extra={"field": "file"})
        runner = OwnModelRunner.load(data=data, format=fmt, device="cpu")
    except (ModelFileError, zipfile.BadZipFile) as exc:
        raise ValidationFailed(str(exc), code="bad_model_file") from exc
    signature = runner.onnx_signature()
    if signature is not None:
        shape, dtype, _outputs = signature
        if dtype != "tensor(float)":
            raise ValidationFailed(f"the ONNX model's input is {dtype}; it must take float32 (tensor(float))",
                                   code="bad_model_file")
        expected = [1, 3, *manifest.input_size]
        if len(shape) != 4 or any(isinstance(d, int) and d != e for d, e in zip(shape, expected)):
            raise ValidationFailed(
                f"the ONNX model's input shape is {shape}; the manifest's input_size needs {expected}",
                code="bad_manifest", extra={"field": "input_size"},
            )
    try:
        shapes = runner.trial_run(manifest)
    except ModelOutputError as exc:
        raise ValidationFailed(f"the model's outputs do not match the manifest: {exc}", code="bad_manifest",
                               extra={"field": "output"}) from exc
    except ModelRunError as exc:
        raise ValidationFailed(f"a trial run on a blank {manifest.input_size[1]}x{manifest.input_size[0]} image "
                               f"failed: {exc}", code="model_failed") from exc
    return fmt, shapes


def trained_model_create(*, project: Project, name: str, upload: UploadedFile | None, manifest: Any,
                         user) -> TrainedModel:
    """Validate and store a model. Nothing is written unless the file, the manifest and a trial run all pass."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name: give the model a name", code="invalid", extra={"field": "name"})
    if len(name) > 200:
        raise ValidationFailed("name: at most 200 characters", code="invalid", extra={"field": "name"})
    if TrainedModel.objects.filter(project=project, name=name).exists():
        raise ValidationFailed(f"name: this project already has a model called {name!r}", code="duplicate_name",
                               extra={"field": "name"})
    if upload is None:
        raise ValidationFailed("file: choose a TorchScript (.pt) or ONNX (.onnx) file", code="invalid",
                               extra={"field": "file"})
    parsed = manifest_validate(project=project, raw=manifest)
    data, sha256 = _read_upload(upload)
    fmt, _shapes = _check_model(data, parsed, user=user)
    storage_name = model_storage_path(project_id=project.pk, sha256=sha256, format=fmt)
    stored_here = False
    if not default_storage.exists(storage_name):
        upload.seek(0)
        saved = default_storage.save(storage_name, File(upload))
        stored_here = True
        if saved != storage_name:  # a concurrent upload of the same file won; keep one copy
            default_storage.delete(saved)
    try:
        with transaction.atomic():
            return TrainedModel.objects.create(
                project=project, name=name, format=fmt, file=storage_name, sha256=sha256, size_bytes=len(data),
                manifest=parsed.to_json(), created_by=user if user and user.pk else None,
            )
    except IntegrityError as exc:
        if stored_here and not TrainedModel.objects.filter(file=storage_name).exists():
            default_storage.delete(storage_name)
        raise ValidationFailed(f"name: this project already has a model called {name!r}", code="duplicate_name",
                               extra={"field": "name"}) from exc


def trained_model_delete(*, trained_model: TrainedModel) -> None:
    """Delete the row (its pre-labels stay, no longer linked) and, once committed, its file if unshared."""
    name = trained_model.file

    def remove_file() -> None:
        if not TrainedModel.objects.filter(file=name).exists() and default_storage.exists(name):
            default_storage.delete(name)

    with transaction.atomic():
        trained_model.delete()
        transaction.on_commit(remove_file)


# ---------------------------------------------------------------- pre-label jobs


def prelabel_start(*, trained_model: TrainedModel, image_ids: list[int] | None = None, all_images: bool = False,
                   state: str | None = None, user=None) -> Job:
    """Queue a pre-label job over the chosen images (ids, or all images, optionally of one task state)."""
    images = Image.objects.filter(project_id=trained_model.project_id)
    if all_images:
        if state:
            if state not in TaskState.values:
                raise ValidationFailed(f"state must be one of {', '.join(TaskState.values)}", code="invalid",
                                       extra={"field": "state"})
            images = images.filter(state=state)
        ids = list(images.order_by("id").values_list("id", flat=True))
    else:
        wanted = list(dict.fromkeys(image_ids or []))
        ids = list(images.filter(pk__in=wanted).order_by("id").values_list("id", flat=True))
        unknown = sorted(set(wanted) - set(ids))
        if unknown:
            raise ValidationFailed("some images are not in this project", code="unknown_image",
                                   extra={"image_ids": unknown[:100]})
    if not ids:
        raise ValidationFailed("no images to pre-label", code="no_images")
    digest = hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
    with transaction.atomic():
        job, created = job_create(
            kind=PRELABEL_KIND,
            project=trained_model.project,
            params={"trained_model_id": trained_model.pk, "image_ids": ids},
            user=user,
            dedup_key=f"prelabel:{trained_model.pk}:{digest}",
        )
        if created:
            job_enqueue(job)
    return job


class ImageUnreadable(Exception):
    pass


def image_rgb(image: Image) -> np.ndarray:
    """The stored image as an (H, W, 3) uint8 array (already validated and made upright at upload)."""
    try:
        with pillow_pixel_limit(settings.ANNOTATOR["MAX_IMAGE_PIXELS"]):
            with default_storage.open(image.file.name, "rb") as fh, PILImage.open(fh) as img:
                upright = ImageOps.exif_transpose(img)
                rgb = np.asarray(upright.convert("RGB"))
    except (OSError, ValueError, PILImage.DecompressionBombError) as exc:
        raise ImageUnreadable(f"the image could not be read: {exc}") from exc
    if rgb.shape[:2] != (image.height, image.width):
        raise ImageUnreadable(f"the stored image is {rgb.shape[1]}x{rgb.shape[0]}, expected "
                               f"{image.width}x{image.height}")
    return rgb


def prelabel_annotation(*, image: Image, trained_model: TrainedModel) -> Annotation:
    """The model's pre-label annotation of the image, created on first use (one per image and model)."""
    with transaction.atomic():
        # Serialise creation per model: two jobs of one model must not each create a pre-label of one image.
        TrainedModel.objects.select_for_update().filter(pk=trained_model.pk).exists()
        annotation = Annotation.objects.filter(
            image=image, annotator__isnull=True, trained_model=trained_model
        ).order_by("id").first()
        if annotation is None:
            annotation = Annotation.objects.create(
                image=image, annotator=None, trained_model=trained_model,
                tile_size=settings.ANNOTATOR["LABELMAP_TILE_SIZE"],
            )
    return annotation


def prelabel_write(*, image: Image, trained_model: TrainedModel, prediction: Prediction,
                   classes: dict[str, LabelClass]) -> Annotation:
    """Replace the content of the model's pre-label annotation of the image with a prediction."""
    if prediction.label_map.shape != (image.height, image.width):
        raise ValueError(f"prediction is {prediction.label_map.shape}, image is {(image.height, image.width)}")
    annotation = prelabel_annotation(image=image, trained_model=trained_model)
    rows = [
        SegmentInput(segment_id=s.segment_id, class_id=classes[s.class_name].pk, instance=s.instance,
                     source=SegmentSource.MODEL, score=round(float(s.score), 6))
        for s in prediction.segments
    ]
    try:
        return labelmap_replace(annotation=annotation, label_map=prediction.label_map, segments=rows)
    except Conflict as exc:  # another run of this model kept writing the image meanwhile
        raise PrelabelFailed(f"image {image.pk}: the pre-label kept changing while it was written") from exc


def _read_model_file(trained_model: TrainedModel) -> bytes:
    with default_storage.open(trained_model.file, "rb") as fh:
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != trained_model.sha256:
        raise ModelFileError("the stored model file does not match its checksum")
    return data


def _load_runner(trained_model: TrainedModel) -> "OwnModelRunner | PixelForestRunner":
    if trained_model.format == ModelFormat.PIXEL_FOREST:
        # Heavy (scikit-learn): imported where a pixel classifier runs, so web processes never load it.
        from skops.io.exceptions import UntrustedTypesFoundException

        from workers.runners import pixel_forest

        try:
            return pixel_forest.cached_runner(key=trained_model.sha256, read=lambda: _read_model_file(trained_model))
        except (ValueError, OSError, UntrustedTypesFoundException) as exc:
            raise PrelabelFailed(f"the model could not be loaded: {exc}") from exc
    try:
        return cached_runner(key=trained_model.sha256, format=trained_model.format, device=pick_device(),
                             read=lambda: _read_model_file(trained_model))
    except (ModelFileError, OSError) as exc:
        raise PrelabelFailed(f"the model could not be loaded: {exc}") from exc
    except (MemoryError, torch.OutOfMemoryError) as exc:
        raise PrelabelFailed(f"the model could not be loaded: {describe_failure(exc)}") from exc


def prelabel_run(*, job: Job, progress: Callable[[float], bool]) -> dict[str, Any]:
    """The work of a pre-label job (see the module note for what fails the job and what is only listed)."""
    trained_model = TrainedModel.objects.select_related("project").filter(pk=job.params["trained_model_id"]).first()
    if trained_model is None:
        raise PrelabelFailed("the model was deleted before the job ran")
    classes = {c.name: c for c in LabelClass.objects.filter(project_id=trained_model.project_id)}
    kinds = {name: c.kind for name, c in classes.items()}
    if trained_model.format == ModelFormat.PIXEL_FOREST:
        from workers.runners.pixel_forest import manifest_problems  # heavy: see _load_runner

        manifest = trained_model.manifest
        problem = manifest_problems(manifest, classes=kinds)
        if problem:
            raise PrelabelFailed(f"the model's manifest no longer fits the project: {problem}")
    else:
        try:
            manifest = parse_manifest(trained_model.manifest, classes=kinds)
        except ManifestError as exc:
            raise PrelabelFailed(f"the model's manifest no longer fits the project: {exc.message}") from exc
    runner = _load_runner(trained_model)

    image_ids = [int(i) for i in job.params.get("image_ids", [])]
    result: dict[str, Any] = {"trained_model": trained_model.pk, "images": len(image_ids), "labeled": 0,
                              "skipped": 0, "failed": 0, "segments": 0, "errors": []}
    for done, image_id in enumerate(image_ids, start=1):
        image = Image.objects.filter(pk=image_id, project_id=trained_model.project_id).first()
        if image is None:
            result["skipped"] += 1  # deleted since the job was queued
        else:
            try:
                rgb = image_rgb(image)
                prediction = runner.predict(rgb, manifest=manifest, class_kinds=kinds)
                del rgb
                prelabel_write(image=image, trained_model=trained_model, prediction=prediction, classes=classes)
                if prediction.uncertainty is not None and prediction.uncertainty_png is not None:
                    image_uncertainty_save(image=image, score=prediction.uncertainty, png=prediction.uncertainty_png)
                    result["uncertainty_scored"] = result.get("uncertainty_scored", 0) + 1
                result["labeled"] += 1
                result["segments"] += len(prediction.segments)
            except (ModelRunError, ModelOutputError, ImageUnreadable) as exc:
                _record_error(result, image, str(exc))
            except (MemoryError, torch.OutOfMemoryError) as exc:
                _record_error(result, image, describe_failure(exc))
            except ValidationFailed as exc:
                _record_error(result, image, f"the prediction could not be saved: {exc.message}")
        Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(result=result)
        if not progress(done / max(1, len(image_ids))):
            raise JobCancelled()
    if result["failed"] and not result["labeled"]:
        first = result["errors"][0]
        raise PrelabelFailed(
            f"every image failed ({result['failed']}); image {first['image_id']} ({first['name']}): "
            f"{first['message']}"
        )
    return result


def image_uncertainty_save(*, image: Image, score: float, png: bytes) -> None:
    """Store the image's uncertainty map (uncertainty/<id>.png), then its score: a map without a score is
    harmless, a score whose map is missing is not. See labeling/services/uncertainty.py for the definition."""
    stored_file_replace(uncertainty_map_path(image.pk), png)
    Image.objects.filter(pk=image.pk).update(uncertainty=float(score))
    image.uncertainty = float(score)


def _record_error(result: dict[str, Any], image: Image, message: str) -> None:
    logger.warning("pre-label of image %s failed: %s", image.pk, message)
    result["failed"] += 1
    if len(result["errors"]) < MAX_ERRORS_KEPT:
        result["errors"].append({"image_id": image.pk, "name": image.original_name, "message": message})
