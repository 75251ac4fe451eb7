"""A pixel classifier trained on labelled pixels (the scribble classifier, like ilastik's pixel classification).

Pure compute (numpy, scikit-image, scikit-learn, skops); no Django. The annotator's service
(labeling/services/scribbles.py) rasterises strokes with `strokes_to_labels`, trains with `fit` on the labelled
pixels only and turns `predict`'s probabilities into a proposal with `to_proposal`. `fit` takes any label map
(0 = unlabelled, 1..K = the classes), so the same classifier trains on whole approved images too.

Features (`pixel_features`, F = 30 per pixel), computed after resizing the image by `scale`:
  * colour: each RGB channel smoothed by a Gaussian at sigma 1, 2, 4, 8 and 16 px (15 features);
  * structure, on the luminance only: gradient magnitude (edges, 5) and the two Hessian eigenvalues
    (texture: blobs, ridges, 10) at the same sigmas.
  The sigmas double from 1 px (the finest detail that is not sensor noise) to 16 px (enough context to tell
  textured regions apart); they are pixels of the resized image, so a coarse proposal sees proportionally more
  context. Structure features on all three channels (scikit-image's default) give 60 features for about
  twice the time and memory, and measured no better (IoU within 0.02 on a picture of scikit-image's grass, brick
  and gravel textures): edges and texture are mostly the same in R, G and B.

Classifier: a random forest (`RandomForestClassifier`, 24 trees of depth at most 12), trained on at most
`MAX_SAMPLES_PER_CLASS` (2000) pixels per label drawn with a seeded generator, so the same labels give the same
classifier; class weights balance the labels (a small stroke counts as much as a big one). On a 1 MP photo
with 4 labels its labels agree with a 200-tree forest of unbounded depth on 95% of the pixels, as 32 or 50
trees do; 16 trees or depth 10 drop to 93-94%. Prediction time grows with the trees (0.5 s for 1 MP here).

Confidence (`to_proposal`) is the top class probability, 0..255. Alternatives: the margin between the two best
probabilities (low exactly where two classes compete, the usual active-learning score), or 1 - normalised
entropy (uses every class). The top probability is the cheapest and easiest to read (at least 1/K).

Stored classifiers (`save` / `load`) use skops, never pickle: `load` refuses any type outside
`TRUSTED_TYPES` (and anything that is not a skops archive, a pickle included).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import skops.io
from PIL import Image as PILImage
from skimage import color, draw, transform
from skimage.feature import multiscale_basic_features
from sklearn.ensemble import RandomForestClassifier

SIGMA_MIN = 1.0
SIGMA_MAX = 16.0
NUM_SIGMA = 5  # 1, 2, 4, 8, 16
FEATURE_COUNT = 3 * NUM_SIGMA + 3 * NUM_SIGMA  # colour, then gradient magnitude + 2 Hessian eigenvalues
# Bump when the features change: a stored classifier only works on the features it was trained on.
FEATURES_VERSION = 1

N_ESTIMATORS = 24
MAX_DEPTH = 12
MAX_SAMPLES_PER_CLASS = 2000
# predict_proba in chunks of this many pixels, so memory stays bounded on large images.
PREDICT_CHUNK_PIXELS = 1 << 20

# A stroke is at least one pixel wide; stamped disks overlap by 3/4 of the radius (see `strokes_to_labels`).
MIN_RADIUS = 0.5
# Rasterising refuses strokes that would sample more disk centres or stamp more pixels than this: the bound on
# one request's work and memory (painting a whole 1 MP map with radius-20 strokes stamps about 20M pixels).
MAX_STROKE_CENTRES = 4_000_000
MAX_STAMPED_PIXELS = 200_000_000

# Types a stored classifier may contain beyond those skops trusts by default (scikit-learn estimators, numpy).
TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]


class NeedTwoLabels(ValueError):
    """Training needs pixels of at least two different labels."""


class StrokesTooLarge(ValueError):
    """The strokes would take too much work to rasterise."""


@dataclass(frozen=True)
class Stroke:
    """A brush stroke in the pixel coordinates of the label map it is drawn into (continuous: pixel (i, j)'s
    centre is (j + 0.5, i + 0.5) as (x, y)); `label` 1..K."""

    label: int
    radius: float
    points: np.ndarray  # (n, 2) float, [x, y] rows


def working_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """The size an image of `height` x `width` has after resizing by `scale` (what `pixel_features` returns)."""
    return max(1, round(height * scale)), max(1, round(width * scale))


def pixel_features(rgb: np.ndarray, *, scale: float = 1.0, workers: int | None = None) -> np.ndarray:
    """(h', w', FEATURE_COUNT) float32 features of an (h, w, 3) uint8 image resized by `scale` first
    (`working_size`; anti-aliased when shrinking). `workers` threads compute the sigmas in parallel."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (h, w, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be positive, got {scale}")
    image = rgb.astype(np.float32) / 255.0
    size = working_size(rgb.shape[0], rgb.shape[1], scale)
    if size != rgb.shape[:2]:
        image = transform.resize(image, size, order=1, preserve_range=True,
                                 anti_aliasing=size[0] < rgb.shape[0] or size[1] < rgb.shape[1])
        image = image.astype(np.float32, copy=False)
    # The Hessian needs 3 pixels along each axis: a smaller image is padded (edge values) and cropped after.
    short = (max(0, 3 - size[0]), max(0, 3 - size[1]))
    if any(short):
        image = np.pad(image, ((0, short[0]), (0, short[1]), (0, 0)), mode="edge")
    common = {"sigma_min": SIGMA_MIN, "sigma_max": SIGMA_MAX, "num_sigma": NUM_SIGMA, "workers": workers}
    colour = multiscale_basic_features(image, intensity=True, edges=False, texture=False, channel_axis=-1,
                                       **common)
    luminance = color.rgb2gray(image).astype(np.float32, copy=False)
    structure = multiscale_basic_features(luminance, intensity=False, edges=True, texture=True, **common)
    features = np.concatenate([colour, structure], axis=-1, dtype=np.float32)
    if any(short):
        features = np.ascontiguousarray(features[:size[0], :size[1]])
    assert features.shape[-1] == FEATURE_COUNT, features.shape
    return features


def strokes_to_labels(strokes: Sequence[Stroke], *, shape: tuple[int, int]) -> np.ndarray:
    """An (h, w) uint8 label map (0 = unlabelled) of `strokes` painted in order (a later stroke wins).

    Each stroke is a chain of disks (`skimage.draw.disk`) along its segments: points are sampled every
    max(0.5, radius / 4) px and each disk is centred on the pixel its point falls in, so a pixel is painted when
    its centre is closer than `radius` to such a disk centre. That is the swept disk to within the snapping
    (under 0.71 px) and the scallops between disks (radius / 128 px); one disk footprint stamped at every centre
    at once keeps it fast. Parts outside `shape` are clipped. Raises StrokesTooLarge past MAX_STROKE_CENTRES
    sampled points or MAX_STAMPED_PIXELS stamped pixels."""
    height, width = shape
    labels = np.zeros(shape, dtype=np.uint8)
    plans = []
    stamped = sampled = 0
    for stroke in strokes:
        if not 1 <= stroke.label <= 255:
            raise ValueError(f"labels are 1..255, got {stroke.label}")
        radius = max(float(stroke.radius), MIN_RADIUS)
        centres = _stroke_centres(np.asarray(stroke.points, dtype=np.float64).reshape(-1, 2), radius,
                                  limit=MAX_STROKE_CENTRES - sampled)
        sampled += len(centres)
        rr, cc = draw.disk((0, 0), radius)  # the footprint: offsets from the centre pixel
        # Centres farther than the radius outside the map paint nothing.
        reach = math.ceil(radius)
        inside = ((centres[:, 0] > -reach) & (centres[:, 0] < height + reach)
                  & (centres[:, 1] > -reach) & (centres[:, 1] < width + reach))
        centres = centres[inside]
        stamped += len(centres) * len(rr)
        if stamped > MAX_STAMPED_PIXELS:
            raise StrokesTooLarge(f"the strokes would paint more than {MAX_STAMPED_PIXELS} pixels; send fewer, "
                                  "shorter or thinner strokes")
        plans.append((stroke.label, centres, rr, cc))
    for label, centres, rr, cc in plans:
        step = max(1, (1 << 22) // max(1, len(rr)))  # ~4M stamped pixels per chunk
        for start in range(0, len(centres), step):
            chunk = centres[start:start + step]
            rows = (chunk[:, :1] + rr[None, :]).ravel()
            cols = (chunk[:, 1:] + cc[None, :]).ravel()
            keep = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
            labels[rows[keep], cols[keep]] = label
    return labels


def _stroke_centres(points: np.ndarray, radius: float, *, limit: int) -> np.ndarray:
    """Unique (row, col) int64 pixel indices of disk centres sampled along the polyline `points` ([x, y])."""
    if len(points) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    spacing = max(0.5, radius / 4)
    starts, ends = points[:-1], points[1:]
    lengths = np.hypot(*(ends - starts).T)
    steps = np.ceil(lengths / spacing).astype(np.int64)
    if int(steps.sum()) > limit:
        raise StrokesTooLarge(f"the strokes would sample more than {MAX_STROKE_CENTRES} disk centres; send fewer "
                              "or shorter strokes")
    # Every segment contributes its start and `steps - 1` points in between; the polyline's last point ends it.
    owner = np.repeat(np.arange(len(starts)), steps)
    offset = np.arange(len(owner)) - np.repeat(np.cumsum(steps) - steps, steps)
    t = (offset / np.maximum(steps[owner], 1))[:, None]
    sampled = np.concatenate([starts[owner] + t * (ends[owner] - starts[owner]), points[-1:]])
    centres = np.floor(sampled[:, ::-1]).astype(np.int64)  # (row, col) of the pixel each centre falls in
    return np.unique(centres, axis=0)


def fit(features: np.ndarray, labels: np.ndarray, *, max_samples_per_class: int = MAX_SAMPLES_PER_CLASS,
        n_estimators: int = N_ESTIMATORS, max_depth: int | None = MAX_DEPTH, seed: int = 0,
        n_jobs: int | None = None) -> RandomForestClassifier:
    """A random forest trained on the labelled pixels of `labels` ((h, w) ints, 0 = unlabelled, 1..K) with the
    (h, w, F) `features`: at most `max_samples_per_class` pixels per label, drawn with `seed` (deterministic).
    Raises NeedTwoLabels when fewer than two labels have pixels."""
    if features.shape[:2] != labels.shape:
        raise ValueError(f"features {features.shape[:2]} and labels {labels.shape} differ in size")
    flat_labels = labels.reshape(-1)
    present = np.unique(flat_labels)
    present = present[present > 0]
    if len(present) < 2:
        raise NeedTwoLabels(f"training needs pixels of at least two labels, got {len(present)}")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in present:
        where = np.flatnonzero(flat_labels == label)
        if len(where) > max_samples_per_class:
            where = np.sort(rng.choice(where, size=max_samples_per_class, replace=False))
        chosen.append(where)
    index = np.concatenate(chosen)
    samples = features.reshape(-1, features.shape[-1])[index]
    classifier = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, class_weight="balanced",
                                        random_state=seed, n_jobs=n_jobs)
    classifier.fit(samples, flat_labels[index])
    return classifier


def predict(classifier: RandomForestClassifier, features: np.ndarray) -> np.ndarray:
    """(h, w, K) float32 probabilities, K = the largest label the classifier knows: column k - 1 is label k
    (zero for a label it never saw)."""
    height, width, count = features.shape
    flat = features.reshape(-1, count)
    known = classifier.classes_.astype(np.int64)
    out = np.zeros((flat.shape[0], int(known.max())), dtype=np.float32)
    for start in range(0, flat.shape[0], PREDICT_CHUNK_PIXELS):
        chunk = flat[start:start + PREDICT_CHUNK_PIXELS]
        out[start:start + len(chunk), known - 1] = classifier.predict_proba(chunk)
    return out.reshape(height, width, -1)


def to_proposal(probabilities: np.ndarray, *, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(labels, confidence) at `size` (h, w) from (h', w', K) probabilities, each class's map upsampled
    bilinearly first when the sizes differ (pixel centres aligned): labels uint8 1..K (the most probable label),
    confidence uint8 0..255 (its probability)."""
    height, width = size
    planes = np.moveaxis(probabilities.astype(np.float32, copy=False), -1, 0)  # (K, h', w')
    if planes.shape[1:] != (height, width):
        # Pillow's bilinear resize of a float image: 10x faster here than skimage.transform.resize (20 against
        # 210 ms for 4 classes to 1 MP), the same interpolation.
        planes = np.stack([
            np.asarray(PILImage.fromarray(np.ascontiguousarray(plane)).resize(
                (width, height), PILImage.Resampling.BILINEAR))
            for plane in planes
        ])
    best = planes.argmax(axis=0)
    top = np.take_along_axis(planes, best[None], axis=0)[0]
    labels = (best + 1).astype(np.uint8)
    confidence = np.clip(np.rint(top * 255.0), 0, 255).astype(np.uint8)
    return labels, confidence


def save(classifier: RandomForestClassifier) -> bytes:
    """The classifier as a skops archive (no pickle)."""
    return skops.io.dumps(classifier)


def load(data: bytes) -> RandomForestClassifier:
    """A classifier from `save`'s bytes. Refuses anything else: a pickle or other non-skops data (ValueError),
    and archives holding types outside the defaults and TRUSTED_TYPES (skops' UntrustedTypesFoundException)."""
    try:
        classifier = skops.io.loads(data, trusted=TRUSTED_TYPES)
    except zipfile.BadZipFile as exc:
        raise ValueError("not a skops archive (pickles are never loaded)") from exc
    if not isinstance(classifier, RandomForestClassifier):
        raise ValueError(f"expected a RandomForestClassifier, got {type(classifier).__name__}")
    return classifier
