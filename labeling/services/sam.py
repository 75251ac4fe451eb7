"""SAM on the server: configuration, image embeddings (gpu-queue jobs), the decoder files, server-side decode
and "segment everything" proposals.

The compute core is workers/runners/sam.py (pure). This module reads settings, loads images and embeddings
from storage, writes `ImageEmbedding` / `Proposal` rows and files, and enqueues the `embeddings` and
`proposals` jobs (tasks `workers.tasks.compute_embeddings` / `workers.tasks.segment_everything`, routed to
the gpu queue by CELERY_TASK_ROUTES).

Storage layout (keyed by model so a new checkpoint never reuses old results):
    embeddings/<model_key>/<image sha256>.f16   little-endian float16 [C, 64, 64]; duplicates share it
    sam/<model_key>/decoder.onnx                 float32 prompt decoder (workers.runners.sam contract)
    sam/<model_key>/decoder.quant.onnx           uint8 dynamically quantised variant
"""

from __future__ import annotations

import hashlib
import logging
import math
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from PIL import Image as PILImage

from labeling.errors import ApplicationError, Conflict, NotFound, ValidationFailed
from labeling.ingest.images import pillow_pixel_limit, to_display_rgb
from labeling.models import ACTIVE_JOB_STATUSES, Image, ImageEmbedding, Job, Proposal
from labeling.services.jobs import JobCancelled, job_create, job_enqueue
from labeling.services.stored_files import stored_file_replace
from workers.runners import sam as runner
from workers.runners.device import pick_device

logger = logging.getLogger(__name__)



class SamUnavailable(ApplicationError):
    status_code = 503
    default_code = "sam_unavailable"


# ---- configuration ----


@dataclass(frozen=True)
class SamConfig:
    model_type: str
    checkpoint: str
    model_key: str


def _unavailable_reason() -> str:
    checkpoint = settings.ANNOTATOR.get("SAM_CHECKPOINT") or ""
    model_type = settings.ANNOTATOR.get("SAM_MODEL_TYPE") or ""
    if not checkpoint:
        return ("no SAM checkpoint is configured: set ANNOTATOR_SAM_CHECKPOINT to a segment-anything checkpoint "
                "file (and ANNOTATOR_SAM_MODEL_TYPE to its type); superpixels still work without it")
    if model_type not in runner.MODEL_TYPES:
        return f"ANNOTATOR_SAM_MODEL_TYPE is {model_type!r}; use one of {', '.join(runner.MODEL_TYPES)}"
    if not Path(checkpoint).is_file():
        return f"ANNOTATOR_SAM_CHECKPOINT is {checkpoint!r}, which is not a readable file"
    return ""


def sam_config() -> SamConfig:
    """The configured model, or SamUnavailable (503) saying what to set."""
    reason = _unavailable_reason()
    if reason:
        raise SamUnavailable(reason)
    checkpoint = settings.ANNOTATOR["SAM_CHECKPOINT"]
    model_type = settings.ANNOTATOR["SAM_MODEL_TYPE"]
    try:
        key = runner.model_key(model_type, checkpoint)  # hashed once per process (cached by size and mtime)
    except OSError as exc:
        raise SamUnavailable(f"cannot read ANNOTATOR_SAM_CHECKPOINT {checkpoint!r}: {exc}") from exc
    return SamConfig(model_type=model_type, checkpoint=checkpoint, model_key=key)


def embedding_path(*, model_key: str, sha256: str) -> str:
    return f"embeddings/{model_key}/{sha256}.f16"


def decoder_path(*, model_key: str, quantized: bool = False) -> str:
    """Where the model's decoder of this code's format lives (files of an older format are never read)."""
    return f"sam/{model_key}/decoder-v{runner.DECODER_FORMAT}{'.quant' if quantized else ''}.onnx"


def decoder_version(*, model_key: str) -> str:
    """Names what the browser caches: the model and the decoder format (part of the decoder's URL and ETag)."""
    return f"{model_key}.v{runner.DECODER_FORMAT}"


def sam_status() -> dict[str, Any]:
    """What GET /api/sam/ reports: whether SAM works here and where the browser gets the decoder."""
    model_type = settings.ANNOTATOR.get("SAM_MODEL_TYPE") or ""
    try:
        config = sam_config()
    except SamUnavailable as exc:
        return {"available": False, "reason": exc.message, "model_type": model_type, "model_key": None,
                "decoder_available": False}
    return {"available": True, "reason": "", "model_type": config.model_type, "model_key": config.model_key,
            "decoder_available": default_storage.exists(decoder_path(model_key=config.model_key))}


def check_mask_size(image: Image) -> None:
    """SAM masks are upscaled to the image's size (float32 logits per chosen output); refuse images whose
    masks would need more than ANNOTATOR_SAM_MAX_MASK_PIXELS pixels, before any memory is spent."""
    limit = int(settings.ANNOTATOR["SAM_MAX_MASK_PIXELS"])
    if image.width * image.height > limit:
        raise ValidationFailed(
            f"this image has {image.width}x{image.height} pixels; SAM masks are limited to {limit} pixels "
            "(ANNOTATOR_SAM_MAX_MASK_PIXELS): use the brush, polygons or superpixels on it",
            code="image_too_large", extra={"limit": limit},
        )


# ---- the model in a worker process ----

_models: dict[tuple[str, str, str, str], Any] = {}
_models_lock = threading.Lock()


def _worker_model(config: SamConfig):
    """The loaded model, once per worker process (lazily: importing this module loads nothing)."""
    device = pick_device()
    key = (config.model_type, config.checkpoint, config.model_key, device)
    with _models_lock:
        if key not in _models:
            _models.clear()  # a new checkpoint replaces the old one; never keep two large models
            try:
                _models[key] = runner.load_sam(config.model_type, config.checkpoint, device)
            except runner.SamCheckpointError as exc:
                raise SamUnavailable(str(exc), code="sam_checkpoint_invalid") from exc
        return _models[key], device


def decoders_export(*, config: SamConfig, sam=None, quantize: bool = True, force: bool = False) -> list[str]:
    """Write the float32 decoder (and with `quantize` the uint8 one) of the configured model into storage,
    missing ones only unless `force`; returns the paths written. Loads the model when `sam` is not given."""
    written = []
    for quantized in (False, True) if quantize else (False,):
        name = decoder_path(model_key=config.model_key, quantized=quantized)
        if default_storage.exists(name) and not force:
            continue
        if sam is None:
            sam, _ = _worker_model(config)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "decoder.onnx"
            runner.export_decoder_onnx(sam, out, quantize=quantized)
            stored_file_replace(name, out.read_bytes())
        written.append(name)
    return written


# ---- embeddings ----


def _embedding_row(*, sha256: str, model_key: str) -> ImageEmbedding | None:
    row = ImageEmbedding.objects.filter(sha256=sha256, model_key=model_key).first()
    if row is not None and default_storage.exists(row.file):
        return row
    return None


def _load_rgb(image: Image) -> tuple[np.ndarray, tuple[int, int]]:
    """The image as HxWx3 uint8 (huge images decoded at a reduced size first) and its (h, w)."""
    original = (image.height, image.width)
    target_h, target_w = runner.preprocess_shape(*original)
    with default_storage.open(image.file.name, "rb") as source, \
            pillow_pixel_limit(settings.ANNOTATOR["MAX_IMAGE_PIXELS"]):
        img = PILImage.open(source)
        # Only a big image is reduced before the exact resize (JPEG decodes at 1/2..1/8 for free), keeping at
        # least twice the encoder's input size; smaller ones go through exactly SamPredictor's path.
        if max(img.size) > 4 * runner.TARGET_LENGTH:
            img.draft("RGB", (2 * target_w, 2 * target_h))
            factor = int(min(img.size[0] / (2 * target_w), img.size[1] / (2 * target_h)))
            if factor > 1:
                img = img.reduce(factor)
        img.load()
        rgb = to_display_rgb(img).convert("RGB")
    return np.asarray(rgb), original


def _embedding_store(*, image: Image, config: SamConfig, embedding: runner.Embedding) -> ImageEmbedding:
    name = embedding_path(model_key=config.model_key, sha256=image.sha256)
    stored_file_replace(name, runner.embedding_to_bytes(embedding.data))
    fields = {"file": name, "shape": list(embedding.data.shape), "original_size": list(embedding.original_size),
              "input_size": list(embedding.input_size)}
    try:
        with transaction.atomic():
            row, _ = ImageEmbedding.objects.update_or_create(sha256=image.sha256, model_key=config.model_key,
                                                             defaults=fields)
    except IntegrityError:
        # Another worker created it meanwhile (same image bytes, same model: same result).
        ImageEmbedding.objects.filter(sha256=image.sha256, model_key=config.model_key).update(**fields)
        row = ImageEmbedding.objects.get(sha256=image.sha256, model_key=config.model_key)
    return row


def embedding_batch_size(setting: int, device: str) -> int:
    """Images per encoder batch; 0 means automatic: 4 on a GPU, 1 on the CPU, where a batch of four ViT-B inputs
    was no faster than one at a time and peaked at 12 GB of memory (bench/sam_embedding.py)."""
    if setting > 0:
        return setting
    return 4 if str(device).startswith("cuda") else 1


def embeddings_compute(*, image_ids: Sequence[int], progress: Callable[[float], bool]) -> dict[str, Any]:
    """The `embeddings` job: encode the images that have no embedding for the configured model yet, in batches
    of ANNOTATOR_SAM_BATCH_SIZE; also exports the decoders if missing. Safe to repeat (existing ones skipped);
    one unreadable image fails alone."""
    config = sam_config()
    computed, skipped, failed = [], [], []
    todo: list[Image] = []
    seen: set[str] = set()
    for image in Image.objects.filter(pk__in=list(image_ids)).order_by("pk"):
        if image.sha256 in seen or _embedding_row(sha256=image.sha256, model_key=config.model_key):
            skipped.append(image.pk)  # a duplicate in this batch or already computed: shares the file
            continue
        seen.add(image.sha256)
        todo.append(image)
    sam, device = _worker_model(config)
    decoders_export(config=config, sam=sam)
    batch_size = embedding_batch_size(int(settings.ANNOTATOR["SAM_BATCH_SIZE"]), device)
    total = max(len(todo), 1)
    for start in range(0, len(todo), batch_size):
        batch, arrays, sizes = [], [], []
        for image in todo[start:start + batch_size]:
            try:
                array, size = _load_rgb(image)
            except Exception as exc:  # noqa: BLE001 - recorded per image, the batch goes on
                logger.exception("cannot read image %s for its embedding", image.pk)
                failed.append({"image_id": image.pk, "error": f"{type(exc).__name__}: {exc}"[:500]})
                continue
            batch.append(image)
            arrays.append(array)
            sizes.append(size)
        for image, embedding in zip(batch, runner.embed_images(sam, arrays, device, original_sizes=sizes)):
            _embedding_store(image=image, config=config, embedding=embedding)
            computed.append(image.pk)
        if progress(min(start + batch_size, len(todo)) / total) is False:
            raise JobCancelled()
    return {"model_key": config.model_key, "computed": computed, "skipped": skipped, "failed": failed}


def _active_embedding_job(*, image: Image) -> Job | None:
    # Active embedding jobs are few (one per upload batch): checking params in Python works on every database.
    for job in Job.objects.filter(kind="embeddings", project=image.project_id, status__in=ACTIVE_JOB_STATUSES):
        if image.pk in (job.params or {}).get("image_ids", []):
            return job
    return None


def decoders_missing(config: SamConfig) -> bool:
    """The model's decoder files of this code's format are not in storage yet (new model or new format)."""
    return not all(default_storage.exists(decoder_path(model_key=config.model_key, quantized=q)) for q in (False, True))


def embeddings_enqueue(*, image_ids: Iterable[int], user=None) -> Job | None:
    """One `embeddings` job for the images (of one project) that lack an embedding; None when all have one
    and the decoders exist. With every embedding there but the decoders missing (e.g. after an upgrade that
    changed the decoder format), the job only exports the decoders. Raises SamUnavailable without a model."""
    config = sam_config()
    images = list(Image.objects.filter(pk__in=sorted(set(image_ids))).order_by("pk"))
    missing = [im for im in images if not _embedding_row(sha256=im.sha256, model_key=config.model_key)]
    if not missing:
        if not images or not decoders_missing(config):
            return None
        job, created = job_create(kind="embeddings", project=images[0].project,
                                  params={"image_ids": [images[0].pk], "model_key": config.model_key}, user=user,
                                  dedup_key=f"decoders:{config.model_key}:v{runner.DECODER_FORMAT}")
        if created:
            job_enqueue(job)
        return job
    for image in missing:
        job = _active_embedding_job(image=image)
        if job is not None and len(missing) == 1:
            return job
    ids = [im.pk for im in missing]
    dedup = "embeddings:" + hashlib.sha256(f"{config.model_key}:{ids}".encode()).hexdigest()[:40]
    job, created = job_create(kind="embeddings", project=missing[0].project,
                              params={"image_ids": ids, "model_key": config.model_key}, user=user, dedup_key=dedup)
    if created:
        job_enqueue(job)
    return job


def embeddings_enqueue_after_upload(*, image_ids: list[int]) -> Job | None:
    """Hook at the end of upload processing: embeddings for the processed images when SAM is configured."""
    if not image_ids or not settings.ANNOTATOR["SAM_EMBED_AFTER_UPLOAD"]:
        return None
    reason = _unavailable_reason()
    if reason:
        if settings.ANNOTATOR.get("SAM_CHECKPOINT"):
            # Configured but unusable here (e.g. the file is missing on this worker): say so, don't stay silent.
            logger.warning("SAM embeddings not enqueued after upload: %s", reason)
        return None
    try:
        return embeddings_enqueue(image_ids=image_ids)
    except SamUnavailable:
        logger.warning("SAM embeddings not enqueued: %s", _unavailable_reason() or "checkpoint unreadable")
        return None


@dataclass(frozen=True)
class EmbeddingFile:
    row: ImageEmbedding
    model_key: str


def image_embedding_get(*, image: Image) -> EmbeddingFile:
    """The stored embedding of the image for the configured model, or NotFound `embedding_missing` with the
    active job computing it (if any)."""
    config = sam_config()
    row = _embedding_row(sha256=image.sha256, model_key=config.model_key)
    if row is None:
        job = _active_embedding_job(image=image)
        raise NotFound("this image has no SAM embedding yet; POST to this URL to compute it",
                       code="embedding_missing", extra={"job": job.pk if job else None})
    return EmbeddingFile(row=row, model_key=config.model_key)


def image_embedding_request(*, image: Image, user) -> Job | None:
    """Compute the image's embedding: its job, or None when it already exists."""
    return embeddings_enqueue(image_ids=[image.pk], user=user)


# ---- server-side decode ----

_sessions: dict[tuple[str, int, bool], Any] = {}
_embedding_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_EMBEDDING_CACHE_SIZE = 8  # a few recent images: an annotator clicks many times on one image
_cache_lock = threading.Lock()
DECODERS = ("fp32", "quantized")


def _decoder_session(config: SamConfig, *, quantized: bool = False) -> tuple[Any, bool]:
    """The cached onnxruntime session of the model's decoder, and whether it is the quantised one: asked for
    and missing, the float32 decoder answers instead (the editor must get a mask either way)."""
    threads = max(int(settings.ANNOTATOR["SAM_DECODER_THREADS"]), 1)
    with _cache_lock:
        session = _sessions.get((config.model_key, threads, quantized))
    if session is not None:
        return session, quantized
    if quantized and not default_storage.exists(decoder_path(model_key=config.model_key, quantized=True)):
        quantized = False
    key = (config.model_key, threads, quantized)
    with _cache_lock:
        session = _sessions.get(key)
    if session is not None:
        return session, quantized
    name = decoder_path(model_key=config.model_key, quantized=quantized)
    if not default_storage.exists(name):
        raise SamUnavailable(
            "the SAM decoder has not been exported yet: run `python manage.py export_sam_decoder` (the first "
            "embedding job also writes it)", code="decoder_missing")
    with default_storage.open(name, "rb") as f:
        session = runner.decoder_session(f.read(), threads=threads)
    with _cache_lock:
        for stale in [k for k in _sessions if k[0] != config.model_key]:
            del _sessions[stale]  # one model at a time (its two decoders may both be in use)
        _sessions[key] = session
    return session, quantized


def _embedding_array(row: ImageEmbedding) -> np.ndarray:
    with _cache_lock:
        cached = _embedding_cache.get(row.file)
        if cached is not None:
            _embedding_cache.move_to_end(row.file)
            return cached
    with default_storage.open(row.file, "rb") as f:
        array = runner.embedding_from_bytes(f.read(), row.shape).astype(np.float32)
    with _cache_lock:
        _embedding_cache[row.file] = array
        while len(_embedding_cache) > _EMBEDDING_CACHE_SIZE:
            _embedding_cache.popitem(last=False)
    return array


def _validate_prompts(*, points, labels, box, width: int, height: int) -> None:
    if len(points) != len(labels):
        raise ValidationFailed(f"{len(points)} points but {len(labels)} labels", code="invalid_prompt")
    if not points and box is None:
        raise ValidationFailed("give at least one point or a box", code="invalid_prompt")
    if len(points) > runner.MAX_PROMPT_POINTS:
        raise ValidationFailed(f"at most {runner.MAX_PROMPT_POINTS} points", code="invalid_prompt")
    for label in labels:
        if label not in (0, 1):
            raise ValidationFailed("labels are 1 (include) or 0 (exclude)", code="invalid_prompt")
    for x, y in points:
        if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= width and 0 <= y <= height):
            raise ValidationFailed(f"point ({x}, {y}) is outside the {width}x{height} image", code="invalid_prompt")
    if box is not None:
        x0, y0, x1, y1 = box
        if not all(math.isfinite(v) for v in box) or not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
            raise ValidationFailed(f"box {list(box)} must be [x0, y0, x1, y1] with x0 < x1, y0 < y1 inside the "
                                   f"{width}x{height} image", code="invalid_prompt")


def sam_decode(*, image: Image, points: Sequence[Sequence[float]], labels: Sequence[int],
               box: Sequence[float] | None, multimask: bool, user, decoder: str = "fp32") -> dict[str, Any]:
    """Masks for prompts in image pixel coordinates, from the stored embedding with the ONNX decoder (the
    encoder never runs here); `decoder` "quantized" uses the uint8 one (as the browser does by default), else
    float32. Missing embedding or decoder: Conflict `embedding_missing` / `decoder_missing` after enqueueing the
    job that makes it."""
    config = sam_config()
    check_mask_size(image)
    _validate_prompts(points=points, labels=labels, box=box, width=image.width, height=image.height)
    row = _embedding_row(sha256=image.sha256, model_key=config.model_key)
    if row is None:
        job = embeddings_enqueue(image_ids=[image.pk], user=user)
        raise Conflict("this image's SAM embedding is being computed; try again when its job has finished",
                       code="embedding_missing", extra={"job": job.pk if job else None})
    if not default_storage.exists(decoder_path(model_key=config.model_key)):
        job = embeddings_enqueue(image_ids=[image.pk], user=user)  # exports the decoders
        raise Conflict("the SAM decoder is being exported; try again when its job has finished",
                       code="decoder_missing", extra={"job": job.pk if job else None})
    session, quantized = _decoder_session(config, quantized=decoder == "quantized")
    inputs = runner.decoder_inputs(points, labels, box, row.original_size)
    masks = runner.predict_masks(session, _embedding_array(row), inputs, row.original_size, multimask=multimask)
    return {"model_key": config.model_key, "decoder": "quantized" if quantized else "fp32",
            "masks": [m.as_dict() for m in masks]}


# ---- segment everything ----


def proposals_enqueue(*, image: Image, user) -> Job:
    """Start "segment everything" for the image (computing its embedding first if needed)."""
    config = sam_config()
    check_mask_size(image)
    job, created = job_create(kind="proposals", project=image.project,
                              params={"image_id": image.pk, "model_key": config.model_key}, user=user,
                              dedup_key=f"proposals:{config.model_key}:{image.pk}")
    if created:
        job_enqueue(job)
    return job


def proposals_generate(*, image_id: int, progress: Callable[[float], bool]) -> dict[str, Any]:
    """The `proposals` job: point-grid masks decoded from the stored embedding (computed here when missing);
    the result replaces the image's proposals for this model."""
    config = sam_config()
    image = Image.objects.get(pk=image_id)
    row = _embedding_row(sha256=image.sha256, model_key=config.model_key)
    if row is None:
        embeddings_compute(image_ids=[image.pk], progress=lambda fraction: progress(0.2 * fraction))
        row = _embedding_row(sha256=image.sha256, model_key=config.model_key)
        if row is None:
            raise RuntimeError(f"the embedding of image {image.pk} could not be computed")
    sam, device = _worker_model(config)
    embedding = runner.Embedding(data=_embedding_array(row), input_size=tuple(row.input_size),
                                 original_size=tuple(row.original_size))
    options = runner.ProposalSettings(points_per_side=int(settings.ANNOTATOR["SAM_PROPOSAL_POINTS_PER_SIDE"]))
    try:
        masks = runner.propose_masks(sam, embedding, settings=options, device=device,
                                     progress=lambda fraction: progress(0.2 + 0.75 * fraction))
    except runner.ProposalsCancelled as exc:
        raise JobCancelled() from exc
    proposals_store(image=image, model_key=config.model_key, masks=masks)
    return {"model_key": config.model_key, "image_id": image.pk, "proposals": len(masks)}


def proposals_store(*, image: Image, model_key: str, masks: Sequence[runner.MaskPrediction]) -> list[Proposal]:
    """Replace the image's proposals for the model with `masks` (image-sized, as the browser decodes them)."""
    for mask in masks:
        if list(mask.rle["size"]) != [image.height, image.width]:
            raise ValidationFailed(f"a proposal of size {mask.rle['size']} for a {image.width}x{image.height} image",
                                   code="invalid_proposal")
    with transaction.atomic():
        Proposal.objects.filter(image=image, model_key=model_key).delete()
        return Proposal.objects.bulk_create([
            Proposal(image=image, model_key=model_key, rle=m.rle, bbox=m.bbox, area=m.area, score=m.score)
            for m in masks
        ])
