"""Scribble proposals: the annotator paints a few strokes per class, a pixel classifier trained on those pixels
proposes a label for every other pixel of a region, with a confidence (issue 17, "Model in the loop").

The compute core is workers/runners/pixel_classifier.py (pure); this module validates the request, reads the
region of the stored image, keeps recent features and encodes the answer. The runner, scikit-image and
scikit-learn are imported inside `scribble_proposal`, so a web process loads them on its first proposal, never
at startup.

Work is capped by `resolution`: "coarse" classifies the region at a scale where it has at most 0.25 MP, "full"
at most 1 MP (a region larger than that is classified scaled down and the answer upsampled to the region's
size; `scale` says so). Measured on 2 cores for a 1 MP region: bench/scribble_latency.py.

Feature cache: computing the features is the largest cost of a proposal and depends only on the image, the
region and the scale, so the features of the last few (image, region, scale) stay in this process's memory:
successive strokes on the same view skip them. The cache is per process (a web worker that has not seen the
image computes them once), holds at most FEATURE_CACHE_ENTRIES entries and FEATURE_CACHE_BYTES in all (a 1 MP
region's features take 120 MB, a 0.25 MP one 30 MB), and forgets the least recently used entry first.
"""

from __future__ import annotations

import base64
import io
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image as PILImage
from PIL import ImageOps

from labeling.errors import Conflict, ValidationFailed
from labeling.ingest.images import pillow_pixel_limit, to_display_rgb
from labeling.models import Image, LabelClass

logger = logging.getLogger(__name__)

# Pixels of the region the classifier works on, per resolution.
RESOLUTIONS = {"coarse": 250_000, "full": 1_000_000}
# The most pixels an answer's rasters hold: a larger region is answered coarser (the client scales it).
MAX_ANSWER_PIXELS = 4_000_000
MAX_POINTS = 50_000  # over all strokes of a request
RADIUS_MIN = 0.5  # image pixels
RADIUS_MAX = 256.0
FEATURE_CACHE_ENTRIES = 4
FEATURE_CACHE_BYTES = 256 * 1024 * 1024
# Threads of one proposal (feature sigmas, the forest's trees): a web process shares the machine with others.
THREADS = max(1, min(4, os.cpu_count() or 1))

_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class _Stroke:
    class_id: int | None
    radius: float
    points: np.ndarray  # (n, 2) [x, y] in image pixels


def scribble_proposal(*, image: Image, user, strokes: Sequence[Mapping[str, Any]], resolution: str,
                      region: Sequence[int] | None = None) -> dict[str, Any]:
    """A proposal for `region` ([x, y, w, h] in image pixels, default the whole image) from `strokes`
    ([{"class_id": int | None, "radius": float, "points": [[x, y], ...]}] in image pixel coordinates, pixel
    (i, j)'s centre at (j + 0.5, i + 0.5); class_id None paints "background": a label the classifier learns,
    proposed as unlabelled). Raises ValidationFailed (400) with a code per problem; see the API view."""
    started = time.perf_counter()
    if resolution not in RESOLUTIONS:
        raise ValidationFailed(f"resolution is one of {sorted(RESOLUTIONS)}, got {resolution!r}",
                               code="invalid_resolution")
    x, y, w, h = _validate_region(region, image)
    parsed = _validate_strokes(strokes, image)
    classes = _stroke_classes(parsed, image)
    if len(classes) < 2:
        raise ValidationFailed("paint strokes of at least two different labels (classes, or a class and "
                               "background)", code="need_two_labels", extra={"labels": len(classes)})
    scale = min(1.0, math.sqrt(RESOLUTIONS[resolution] / (w * h)))

    from workers.runners import pixel_classifier as runner  # heavy (scikit-learn): loaded on first use

    features_started = time.perf_counter()
    features, cached = _features(image, (x, y, w, h), scale)
    features_s = time.perf_counter() - features_started

    fit_started = time.perf_counter()
    work_h, work_w = features.shape[:2]
    sx, sy = work_w / w, work_h / h
    label_of = {class_id: index + 1 for index, class_id in enumerate(classes)}
    runner_strokes = [
        runner.Stroke(label=label_of[s.class_id], radius=s.radius * math.sqrt(sx * sy),
                      points=(s.points - (x, y)) * (sx, sy))
        for s in parsed
    ]
    try:
        labels = runner.strokes_to_labels(runner_strokes, shape=(work_h, work_w))
    except runner.StrokesTooLarge as exc:
        raise ValidationFailed(str(exc), code="strokes_too_large") from exc
    try:
        classifier = runner.fit(features, labels, n_jobs=THREADS)
    except runner.NeedTwoLabels as exc:
        raise ValidationFailed("the strokes inside the region hold fewer than two different labels; paint "
                               "at least two inside it", code="need_two_labels",
                               extra={"labels": int(len(np.unique(labels[labels > 0])))}) from exc
    fit_s = time.perf_counter() - fit_started

    predict_started = time.perf_counter()
    probabilities = runner.predict(classifier, features)
    # Upsampled to the region's own size, but never past MAX_ANSWER_PIXELS: the client maps a coarser raster
    # onto the region (its size says how coarse), and memory stays bounded whatever region a client asks for.
    out = min(1.0, math.sqrt(MAX_ANSWER_PIXELS / (w * h)))
    label_map, confidence = runner.to_proposal(probabilities, size=(max(1, round(h * out)), max(1, round(w * out))))
    if None in label_of:  # background is proposed as unlabelled
        label_map[label_map == label_of[None]] = 0
    predict_s = time.perf_counter() - predict_started

    answer = {
        "region": [x, y, w, h],
        "scale": round(scale, 6),
        "resolution": resolution,
        "classes": classes,
        "labels": _png_base64(label_map),
        "confidence": _png_base64(confidence),
        "cached": cached,
    }
    total = time.perf_counter() - started
    answer["seconds"] = {"features": round(features_s, 4), "fit": round(fit_s, 4),
                         "predict": round(predict_s, 4), "total": round(total, 4)}
    logger.info("scribble proposal image=%s user=%s region=%s scale=%.3f %s features=%.2fs%s fit=%.2fs "
                "predict=%.2fs total=%.2fs", image.pk, getattr(user, "pk", None), answer["region"], scale,
                resolution, features_s, " (cached)" if cached else "", fit_s, predict_s, total)
    return answer


# ---- validation ----


def _validate_region(region: Sequence[int] | None, image: Image) -> tuple[int, int, int, int]:
    if region is None:
        return 0, 0, image.width, image.height
    try:
        x, y, w, h = (int(v) for v in region)
    except (TypeError, ValueError):
        raise ValidationFailed("region is [x, y, w, h] in image pixels", code="invalid_region") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > image.width or y + h > image.height:
        raise ValidationFailed(f"region [{x}, {y}, {w}, {h}] must have a positive size and lie inside the "
                               f"{image.width}x{image.height} image", code="invalid_region",
                               extra={"width": image.width, "height": image.height})
    return x, y, w, h


def _validate_strokes(strokes: Sequence[Mapping[str, Any]], image: Image) -> list[_Stroke]:
    if not strokes:
        raise ValidationFailed("paint at least one stroke per label", code="no_strokes")
    total = sum(_point_count(s.get("points")) for s in strokes)
    if total > MAX_POINTS:
        raise ValidationFailed(f"the strokes have {total} points; at most {MAX_POINTS}", code="too_many_points",
                               extra={"points": total, "max_points": MAX_POINTS})
    parsed = []
    for index, stroke in enumerate(strokes):
        where = {"stroke": index}
        radius = stroke.get("radius")
        if not isinstance(radius, (int, float)) or not RADIUS_MIN <= radius <= RADIUS_MAX:
            raise ValidationFailed(f"stroke {index}: radius is {RADIUS_MIN}..{RADIUS_MAX} image pixels, got "
                                   f"{radius!r}", code="invalid_radius", extra=where)
        try:
            points = np.asarray(stroke.get("points"), dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            points = np.zeros((0, 3))
        if points.ndim != 2 or points.shape[0] == 0 or points.shape[1] != 2:
            raise ValidationFailed(f"stroke {index}: points is a non-empty list of [x, y]", code="invalid_points",
                                   extra=where)
        # A point may lie up to one radius outside the image (a drag past the edge); its in-image part counts.
        margin = float(radius)
        if not (np.isfinite(points).all()
                and (points[:, 0] >= -margin).all() and (points[:, 0] <= image.width + margin).all()
                and (points[:, 1] >= -margin).all() and (points[:, 1] <= image.height + margin).all()):
            raise ValidationFailed(f"stroke {index}: points must lie inside the {image.width}x{image.height} "
                                   "image (up to one radius outside)", code="invalid_points", extra=where)
        class_id = stroke.get("class_id")
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, int)):
            raise ValidationFailed(f"stroke {index}: class_id is a class id or null", code="unknown_class",
                                   extra=where)
        parsed.append(_Stroke(class_id=class_id, radius=float(radius), points=points))
    return parsed


def _point_count(points: Any) -> int:
    try:
        return len(points)
    except TypeError:
        return 0  # not a list: its stroke is refused below


def _stroke_classes(strokes: list[_Stroke], image: Image) -> list[int | None]:
    """The strokes' distinct labels in label order: class ids ascending, then None (background) if painted."""
    ids = sorted({s.class_id for s in strokes if s.class_id is not None})
    known = set(LabelClass.objects.filter(project_id=image.project_id, pk__in=ids).values_list("pk", flat=True))
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ValidationFailed(f"no class {unknown[0]} in this image's project", code="unknown_class",
                               extra={"class_ids": unknown})
    classes: list[int | None] = list(ids)
    if any(s.class_id is None for s in strokes):
        classes.append(None)
    return classes


# ---- features: the region read from storage, cached ----


def _features(image: Image, region: tuple[int, int, int, int], scale: float) -> tuple[np.ndarray, bool]:
    """The region's pixel features at `scale`, and whether they came from the cache."""
    from workers.runners import pixel_classifier as runner

    key = (image.pk, image.sha256, region, scale, runner.FEATURES_VERSION)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found, True
    rgb, scale_left = _region_rgb(image, region, scale)
    features = runner.pixel_features(rgb, scale=scale_left, workers=THREADS)
    features.setflags(write=False)  # shared by later requests
    if features.nbytes <= FEATURE_CACHE_BYTES:
        with _cache_lock:
            _cache[key] = features
            _cache.move_to_end(key)
            while len(_cache) > FEATURE_CACHE_ENTRIES or sum(f.nbytes for f in _cache.values()) > FEATURE_CACHE_BYTES:
                _cache.popitem(last=False)
    return features, False


def feature_cache_clear() -> None:
    with _cache_lock:
        _cache.clear()


def _region_rgb(image: Image, region: tuple[int, int, int, int], scale: float) -> tuple[np.ndarray, float]:
    """The region as (h, w, 3) uint8, upright, already reduced by Pillow as far as it can without going below
    `scale` (JPEG decodes at 1/2..1/8 for free; `reduce` box-averages), and the scale still to apply to it."""
    x, y, w, h = region
    try:
        with pillow_pixel_limit(settings.ANNOTATOR["MAX_IMAGE_PIXELS"]), \
                default_storage.open(image.file.name, "rb") as source, PILImage.open(source) as img:
            if scale < 1 and img.format in ("JPEG", "MPO"):
                size = (math.ceil(image.width * scale), math.ceil(image.height * scale))
                if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # stored rotated by 90 degrees
                    size = size[::-1]
                img.draft("RGB", size)
            img.load()
            ImageOps.exif_transpose(img, in_place=True)
            rgb = to_display_rgb(img)
            if rgb.mode != "RGB":
                rgb = rgb.convert("RGB")
            fx, fy = rgb.width / image.width, rgb.height / image.height
            box = (math.floor(x * fx), math.floor(y * fy), min(rgb.width, math.ceil((x + w) * fx)),
                   min(rgb.height, math.ceil((y + h) * fy)))
            factor = max(1, int(min(fx, fy) / scale)) if scale < 1 else 1
            part = rgb.reduce(factor, box=box) if factor > 1 else rgb.crop(box)
            array = np.asarray(part)
    except (OSError, ValueError, PILImage.DecompressionBombError) as exc:
        raise Conflict(f"the image could not be read: {exc}", code="image_unreadable") from exc
    # What is left to reach the working size of the region (runner.working_size of (h, w) at `scale`).
    work_w = max(1, round(w * scale))
    return array, work_w / array.shape[1]


def _png_base64(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    PILImage.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
