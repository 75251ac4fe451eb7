"""The pixel classifier (`workers.runners.pixel_classifier`) as a project model trained on approved label maps:
format "pixel_forest", a skops file. Pure compute (numpy); no Django. The service side is
labeling/services/training.py (training jobs) and labeling/services/trained_models.py (pre-label jobs).

Training works at a reduced resolution: every image is resized so that its longest side is at most `max_side`
(`working_scale`), its features computed there, and its approved label map (as class indices 1..K, 0 unlabelled)
sampled at the same pixel centres (`resample_nearest`). From each image at most `samples_per_image` pixels of
every class are drawn (`sample_pixels`, seeded), so a large image or a large class does not drown the others;
the pixel classifier's `fit` then caps each class at `max_samples_per_class` overall and balances the classes.

Prediction: probabilities at the working resolution, upsampled bilinearly to the image (`to_proposal`); each pixel
takes its most probable class, and segments are built as for an uploaded semantic model (stuff: one segment per
class; thing: one instance per 8-connected component; score: the mean confidence of its pixels).

Uncertainty (per pixel, at the working resolution): u = 1 - the top class probability, in [0, 1 - 1/K]; the
image's score is the mean of u. The map is stored as an 8-bit greyscale PNG of round(255 u).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image as PILImage

from workers.runners import pixel_classifier
from workers.runners.own_models import ModelRunError, Prediction, class_map_to_prediction, describe_failure

FORMAT = "pixel_forest"
FILE_EXTENSION = "skops"
LEARNER = "pixel_classifier"


# ---------------------------------------------------------------- sampling and splits


def working_scale(height: int, width: int, max_side: int) -> float:
    """The resize factor that brings the longest side to at most `max_side` (never enlarges)."""
    return min(1.0, max_side / max(height, width))


def resample_nearest(array: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """`array` (h, w) sampled at the pixel centres of a (H', W') grid covering the same extent: output pixel
    (i, j) takes source pixel (floor((i + 0.5) h / H'), floor((j + 0.5) w / W')). Labels never blend."""
    src_h, src_w = array.shape[:2]
    rows = np.minimum(((2 * np.arange(shape[0]) + 1) * src_h) // (2 * shape[0]), src_h - 1)
    cols = np.minimum(((2 * np.arange(shape[1]) + 1) * src_w) // (2 * shape[1]), src_w - 1)
    return array[np.ix_(rows, cols)]


def class_index_map(label_map: np.ndarray, segment_classes: Mapping[int, int]) -> np.ndarray:
    """Segment ids -> class indices (uint8, 0 = unlabelled or a segment without a known class)."""
    top = int(label_map.max(initial=0))
    if top < 1 << 20:  # the usual small ids: one lookup table, no sort
        lut = np.zeros(top + 1, dtype=np.uint8)
        for segment_id, index in segment_classes.items():
            if 0 < segment_id <= top:
                lut[segment_id] = index
        return lut[label_map]
    ids, inverse = np.unique(label_map, return_inverse=True)
    lut = np.array([segment_classes.get(int(i), 0) if i else 0 for i in ids], dtype=np.uint8)
    return lut[inverse].reshape(label_map.shape)


def sample_pixels(labels: np.ndarray, *, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices (ascending) of at most `per_class` pixels of each label > 0 in `labels`, drawn without
    replacement; every pixel of a label with fewer. Deterministic for a given generator state."""
    flat = labels.reshape(-1)
    chosen = []
    for label in np.unique(flat):
        if label == 0:
            continue
        where = np.flatnonzero(flat == label)
        if len(where) > per_class:
            where = rng.choice(where, size=per_class, replace=False)
        chosen.append(where)
    if not chosen:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate(chosen))


def train_val_split(image_ids: Sequence[int], *, seed: int, val_share: float) -> tuple[list[int], list[int]]:
    """A seeded split of `image_ids` (order-independent): round(val_share x n) images for validation, at least
    one when there are two or more images and val_share > 0, never all of them."""
    ids = sorted(int(i) for i in image_ids)
    if len(ids) < 2 or val_share <= 0:
        return ids, []
    count = min(len(ids) - 1, max(1, round(val_share * len(ids))))
    order = np.random.default_rng(seed).permutation(len(ids))
    val = sorted(ids[i] for i in order[:count])
    return [i for i in ids if i not in set(val)], val


@dataclass
class PixelSamples:
    features: np.ndarray  # (n, F) float32
    labels: np.ndarray  # (n,) uint8, 1..K


def image_samples(rgb: np.ndarray, class_index: np.ndarray, *, max_side: int, per_class: int,
                  rng: np.random.Generator) -> PixelSamples:
    """Features and class indices of the sampled pixels of one image. `class_index` is the image's class index
    map at its full size or at any regular reduction of it (it is resampled to the working size)."""
    features = pixel_classifier.pixel_features(rgb, scale=working_scale(rgb.shape[0], rgb.shape[1], max_side))
    labels = resample_nearest(class_index, features.shape[:2])
    index = sample_pixels(labels, per_class=per_class, rng=rng)
    return PixelSamples(features=features.reshape(-1, features.shape[-1])[index], labels=labels.reshape(-1)[index])


def fit_samples(samples: Sequence[PixelSamples], *, n_estimators: int, max_depth: int | None,
                max_samples_per_class: int, seed: int) -> tuple[Any, dict[str, Any]]:
    """A classifier trained on the pooled samples, and its round's metrics (pixels used, accuracy on them)."""
    features = np.concatenate([s.features for s in samples])
    labels = np.concatenate([s.labels for s in samples])
    # `fit` takes (h, w, F) maps: the pooled samples are a 1-pixel-wide column.
    classifier = pixel_classifier.fit(features[:, None, :], labels[:, None], n_estimators=n_estimators,
                                      max_depth=max_depth, max_samples_per_class=max_samples_per_class, seed=seed)
    predicted = pixel_classifier.predict(classifier, features[:, None, :])[:, 0].argmax(axis=-1) + 1
    per_class = {int(k): int((labels == k).sum()) for k in np.unique(labels)}
    return classifier, {"sampled_pixels": int(len(labels)), "pixels_per_class": per_class,
                        "train_pixel_accuracy": float((predicted == labels).mean()) if len(labels) else None}


# ---------------------------------------------------------------- prediction and uncertainty


def predict_probabilities(classifier: Any, rgb: np.ndarray, *, max_side: int) -> np.ndarray:
    """(h', w', K) class probabilities at the working resolution."""
    features = pixel_classifier.pixel_features(rgb, scale=working_scale(rgb.shape[0], rgb.shape[1], max_side))
    return pixel_classifier.predict(classifier, features)


def uncertainty_map(probabilities: np.ndarray) -> np.ndarray:
    """(h', w') float32: 1 - the top class probability of each pixel."""
    return (1.0 - probabilities.max(axis=-1)).astype(np.float32)


def uncertainty_score(uncertainty: np.ndarray) -> float:
    """The image's uncertainty: the mean over its pixels."""
    return float(uncertainty.mean(dtype=np.float64)) if uncertainty.size else 0.0


def uncertainty_png(uncertainty: np.ndarray) -> bytes:
    """The map as an 8-bit greyscale PNG: round(255 u)."""
    values = np.clip(np.rint(uncertainty * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(values, mode="L").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


class PixelForestRunner:
    """One loaded pixel classifier; `predict` has the shape of `OwnModelRunner.predict`."""

    format = FORMAT

    def __init__(self, classifier: Any):
        self.classifier = classifier

    @classmethod
    def load(cls, data: bytes) -> PixelForestRunner:
        return cls(pixel_classifier.load(data))

    def predict(self, rgb: np.ndarray, *, manifest: Mapping[str, Any], class_kinds: Mapping[str, str]) -> Prediction:
        """The pre-label of one image: label map and segments at full size, and its uncertainty. A failure inside
        the classifier (out of memory, ...) is a ModelRunError, listed per image by the job."""
        names = manifest_class_names(manifest)
        try:
            probabilities = predict_probabilities(self.classifier, rgb, max_side=int(manifest["max_side"]))
            labels, confidence = pixel_classifier.to_proposal(probabilities, size=rgb.shape[:2])
        except (MemoryError, ValueError) as exc:
            raise ModelRunError(describe_failure(exc)) from exc
        class_of = labels.astype(np.int32) - 1
        class_of[class_of >= len(names)] = -1
        prediction = class_map_to_prediction(class_of, confidence.astype(np.float32) / 255.0, class_names=names,
                                             class_kinds=class_kinds)
        uncertainty = uncertainty_map(probabilities)
        prediction.uncertainty = uncertainty_score(uncertainty)
        prediction.uncertainty_png = uncertainty_png(uncertainty)
        return prediction


def manifest_class_names(manifest: Mapping[str, Any]) -> list[str]:
    """Class names by index 1..K (position k - 1) from the manifest's class_map {"1": name, ...}."""
    class_map = manifest.get("class_map") or {}
    count = max((int(k) for k in class_map), default=0)
    return [class_map.get(str(k), "") for k in range(1, count + 1)]


def manifest_problems(manifest: Mapping[str, Any], *, classes: Mapping[str, str]) -> str | None:
    """Why a stored pixel_forest manifest no longer fits the project (a class it writes is gone), or None."""
    names = manifest_class_names(manifest)
    missing = sorted({n for n in names if n not in classes})
    if missing:
        return f"the classes {', '.join(map(repr, missing))} are no longer in the project"
    side = manifest.get("max_side")
    if not isinstance(side, int) or side < 1:
        return "max_side is missing"
    return None


# One loaded classifier per worker process, as for uploaded models.
_cached: dict[str, Any] = {}


def cached_runner(*, key: str, read) -> PixelForestRunner:
    if _cached.get("key") == key:
        return _cached["runner"]
    _cached.clear()
    runner = PixelForestRunner.load(read())
    _cached.update(key=key, runner=runner)
    return runner
