"""Run a project's own segmentation model (TorchScript or ONNX) on an image and turn its outputs into a label
map + segment rows. Pure compute: no Django models, no Celery; the manifest format is in `model_manifest`.

Safety: nothing a user sends is unpickled. A TorchScript file is only opened by `torch.jit.load` (whose C++
reader resolves TorchScript types only, never Python callables) after a check that it is a TorchScript archive
(a zip with `code/` and `constants.pkl`); a `torch.save` checkpoint or a raw pickle is refused up front. ONNX
files are parsed as protobuf, must be self-contained (no external data files) and run in onnxruntime.

Postprocessing rules (documented in the README too):
- segments never overlap: instance masks are painted in ascending score order, so the higher score wins;
- a stuff class gets one segment per image (its parts merged; score = the largest part score for instance and
  panoptic outputs, the mean pixel confidence for semantic ones);
- a thing class gets one segment per instance; a semantic output into a thing class becomes one instance per
  8-connected component; instance numbers count from 1 by descending score.
"""

from __future__ import annotations

import io
import math
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from PIL import Image as PILImage
from scipy import ndimage

from workers.runners.model_manifest import OUTPUT_ROLES, REQUIRED_ROLES, Manifest

FORMATS = ("torchscript", "onnx")
FILE_EXTENSIONS = {"torchscript": "pt", "onnx": "onnx"}
# Bytes of float32 work arrays per chunk when upsampling C score maps to full resolution.
_CHUNK_BYTES = 64 * 1024 * 1024


class ModelFileError(ValueError):
    """An uploaded model file is not an acceptable TorchScript archive or ONNX model."""


class ModelOutputError(ValueError):
    """A model's outputs do not have the shapes its manifest's output kind promises."""


class ModelRunError(RuntimeError):
    """Running a model failed (an exception inside the model, out of memory, a runtime error)."""


@dataclass(frozen=True)
class PredictedSegment:
    segment_id: int
    class_name: str
    instance: int | None  # numbered for thing classes, None for stuff
    score: float


@dataclass
class Prediction:
    label_map: np.ndarray  # uint32 (height, width), 0 = unlabeled
    segments: list[PredictedSegment]
    # Set by learners that give per-pixel class probabilities (the trained pixel classifier): the image's score
    # and its map as an 8-bit PNG (labeling.services.uncertainty says what they mean).
    uncertainty: float | None = None
    uncertainty_png: bytes | None = None


@dataclass(frozen=True)
class Placement:
    """Where the image sits in the model input: rows/cols [0, content) hold it, the rest is letterbox padding."""

    input_size: tuple[int, int]
    content: tuple[int, int]


# ---------------------------------------------------------------- model files


def detect_format(head: bytes, *, is_zip: bool) -> str:
    """"torchscript" or "onnx" from a file's first bytes; refuses pickles with a message saying why."""
    if is_zip:
        return "torchscript"
    if head[:1] == b"\x80" or head[:2] in (b"(d", b"(l", b"}q", b"]q"):
        raise ModelFileError(
            "this file is a Python pickle (e.g. torch.save of a model or state_dict); pickles are never loaded "
            "here because loading one runs arbitrary code. Export the model with torch.jit.script(model).save(path) "
            "or torch.onnx.export."
        )
    return "onnx"


def check_torchscript_archive(archive: zipfile.ZipFile, *, max_bytes: int) -> None:
    """Refuse anything but a TorchScript archive before torch sees it (a torch.save checkpoint is a zip too)."""
    names = archive.namelist()
    roots = {name.split("/", 1)[0] for name in names}
    if len(roots) != 1:
        raise ModelFileError("not a TorchScript archive: the zip must hold exactly one top-level folder")
    root = roots.pop()
    has_code = any(name.startswith(f"{root}/code/") for name in names)
    if not has_code or f"{root}/constants.pkl" not in names:
        if f"{root}/data.pkl" in names:
            raise ModelFileError(
                "this is a torch.save checkpoint (a pickle), not a TorchScript archive; checkpoints are never "
                "loaded here because unpickling runs arbitrary code. Save the model with "
                "torch.jit.script(model).save(path) (or torch.jit.trace) instead."
            )
        raise ModelFileError("not a TorchScript archive (no code/ folder or constants.pkl); save the model with "
                             "torch.jit.save")
    total = sum(info.file_size for info in archive.infolist())
    if total > max_bytes:
        raise ModelFileError(f"the TorchScript archive unpacks to {total} bytes, more than the {max_bytes} allowed")


def _onnx_model(data: bytes):
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # noqa: BLE001 - protobuf raises various types for garbage
        raise ModelFileError("not a TorchScript archive or an ONNX model (the file does not parse as either)") from exc
    if not model.graph.node and not model.graph.output:
        raise ModelFileError("not a TorchScript archive or an ONNX model (the file does not parse as either)")
    # Every tensor, not only initializers: a Constant node's attribute or a subgraph's tensor may also point at
    # "external data", which onnxruntime would read from a file relative to the server's working directory.
    for tensor in _all_tensors(model.graph):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            raise ModelFileError("the ONNX model keeps tensors in external data files; upload a single-file model "
                                 "(onnx.save_model(model, path, save_as_external_data=False))")
    weights = {t.name for t in model.graph.initializer}
    if len([i for i in model.graph.input if i.name not in weights]) != 1:
        raise ModelFileError("the ONNX model must take exactly one input (the image batch)")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 - onnx.checker.ValidationError and friends
        raise ModelFileError(f"the ONNX model is invalid: {str(exc).splitlines()[0][:300]}") from exc
    return model


def _all_tensors(graph) -> Iterator[Any]:
    """Every TensorProto of a graph: initializers, tensor attributes and those of nested subgraphs."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _all_tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _all_tensors(subgraph)


# ---------------------------------------------------------------- preprocessing


def preprocess(rgb: np.ndarray, manifest: Manifest) -> tuple[np.ndarray, Placement]:
    """An (H, W, 3) uint8 image -> the (1, 3, h, w) float32 model input and where the image sits in it."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
    height, width = rgb.shape[:2]
    in_h, in_w = manifest.input_size
    if manifest.resize == "letterbox":
        factor = min(in_h / height, in_w / width)
        content = (max(1, min(in_h, round(height * factor))), max(1, min(in_w, round(width * factor))))
    else:
        content = (in_h, in_w)
    resized = np.asarray(PILImage.fromarray(rgb).resize((content[1], content[0]), PILImage.Resampling.BILINEAR))
    if manifest.channels == "BGR":
        resized = resized[..., ::-1]
    norm = manifest.normalize
    values = resized.astype(np.float32) / np.float32(norm.scale)
    values = (values - np.asarray(norm.mean, np.float32)) / np.asarray(norm.std, np.float32)
    batch = np.zeros((1, 3, in_h, in_w), dtype=np.float32)  # letterbox padding is 0 after normalising: the mean
    batch[0, :, : content[0], : content[1]] = values.transpose(2, 0, 1)
    return batch, Placement(input_size=(in_h, in_w), content=content)


# ---------------------------------------------------------------- output parsing


def _squeeze_batch(array: np.ndarray, ndim: int, role: str, shape_hint: str) -> np.ndarray:
    if array.ndim == ndim + 1 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != ndim:
        raise ModelOutputError(f"output {role!r} has shape {list(array.shape)}, expected {shape_hint}")
    return array


def named_outputs(raw: Any, manifest: Manifest) -> dict[str, np.ndarray]:
    """Find each role's array in a model's raw outputs: a tensor, a dict, a tuple/list in role order, or a
    torchvision detection result (a list of dicts, possibly after a losses dict)."""
    roles = REQUIRED_ROLES[manifest.output]
    all_roles = OUTPUT_ROLES[manifest.output]
    if isinstance(raw, (list, tuple)):
        dicts = [item for item in raw if isinstance(item, Mapping)]
        lists_of_dicts = [item for item in raw if isinstance(item, (list, tuple)) and item
                          and isinstance(item[0], Mapping)]
        if lists_of_dicts:
            raw = lists_of_dicts[-1][0]
        elif dicts and len(dicts) == len(raw) == 1:
            raw = dicts[0]
    if isinstance(raw, np.ndarray):
        if len(roles) != 1:
            raise ModelOutputError(f"the model returned one array; {manifest.output} needs {', '.join(roles)}")
        return {roles[0]: raw}
    if isinstance(raw, Mapping):
        found = {}
        for role in all_roles:
            name = manifest.output_name(role)
            if name in raw:
                found[role] = raw[name]
        if len(roles) == 1 and roles[0] not in found and len(raw) == 1:
            found[roles[0]] = next(iter(raw.values()))  # a single output needs no name
        missing = [role for role in roles if role not in found]
        if missing:
            wanted = ", ".join(f"{role!r} (looked for {manifest.output_name(role)!r})" for role in missing)
            raise ModelOutputError(
                f"the model has no output for {wanted}; its outputs are {', '.join(map(repr, raw))}. "
                "Name them in the manifest's output_names."
            )
        return {role: _as_array(value, role) for role, value in found.items()}
    if isinstance(raw, (list, tuple)):
        if len(raw) < len(roles) or not all(isinstance(v, np.ndarray) for v in raw):
            raise ModelOutputError(
                f"the model returned {len(raw)} values; {manifest.output} reads {', '.join(all_roles)} in that order"
            )
        return {role: raw[i] for i, role in enumerate(all_roles) if i < len(raw)}
    raise ModelOutputError(f"cannot read the model's output of type {type(raw).__name__}")


def _as_array(value: Any, role: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise ModelOutputError(f"output {role!r} is a {type(value).__name__}, not a tensor")
    return value


def check_outputs(outputs: Mapping[str, np.ndarray], manifest: Manifest) -> dict[str, list[int]]:
    """Shapes per role, after checking them against the output kind (used by the upload's trial run too)."""
    kind = manifest.output
    if kind == "semantic_logits":
        logits = _squeeze_batch(outputs["logits"], 3, "logits", "[1, C, h, w] or [C, h, w]")
        top = max(manifest.class_map)
        if logits.shape[0] <= top:
            raise ModelOutputError(
                f"the model outputs {logits.shape[0]} classes but class_map uses index {top}"
            )
        if logits.shape[1] < 1 or logits.shape[2] < 1:
            raise ModelOutputError(f"output 'logits' has an empty shape {list(logits.shape)}")
    elif kind == "instance_masks":
        masks = outputs["masks"]
        if masks.ndim == 4 and masks.shape[1] == 1:
            masks = masks[:, 0]
        if masks.ndim != 3:
            raise ModelOutputError(f"output 'masks' has shape {list(masks.shape)}, expected [N, h, w] or [N, 1, h, w]")
        n = masks.shape[0]
        for role in ("scores", "labels"):
            values = outputs[role]
            if values.ndim == 2 and values.shape[0] == 1 and n != 1:
                values = values[0]
            if values.reshape(-1).shape[0] != n:
                raise ModelOutputError(f"output {role!r} has shape {list(values.shape)}, expected [{n}] (one per mask)")
    else:
        segment_map = _squeeze_batch(outputs["segment_map"], 2, "segment_map", "[h, w] or [1, h, w]")
        if segment_map.dtype.kind not in "iub":
            raise ModelOutputError(f"output 'segment_map' must hold integers, got {segment_map.dtype}")
        labels = outputs["labels"].reshape(-1)
        if "scores" in outputs and outputs["scores"].reshape(-1).shape != labels.shape:
            raise ModelOutputError(f"output 'scores' has {outputs['scores'].size} values for {labels.size} labels")
        if segment_map.size and (int(segment_map.max()) > labels.size or int(segment_map.min()) < 0):
            raise ModelOutputError(
                f"segment_map holds ids {int(segment_map.min())}..{int(segment_map.max())} but there are "
                f"{labels.size} labels (0 = unlabeled, k = row k-1 of labels)"
            )
    return {role: list(array.shape) for role, array in outputs.items()}


# ---------------------------------------------------------------- postprocessing


def _source_coords(out_len: int, src_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear sampling (align_corners=False): for each output position, two source indices and a weight."""
    pos = (np.arange(out_len, dtype=np.float64) + 0.5) * (src_len / out_len) - 0.5
    pos = np.clip(pos, 0, src_len - 1)
    low = np.floor(pos).astype(np.intp)
    high = np.minimum(low + 1, src_len - 1)
    return low, high, (pos - low).astype(np.float32)


def _crop(array: np.ndarray, placement: Placement) -> np.ndarray:
    """The part of an output (..., h, w) that covers the image (drops letterbox padding)."""
    out_h, out_w = array.shape[-2:]
    in_h, in_w = placement.input_size
    rows = max(1, min(out_h, round(placement.content[0] * out_h / in_h)))
    cols = max(1, min(out_w, round(placement.content[1] * out_w / in_w)))
    return array[..., :rows, :cols]


def upsample_rows(scores: np.ndarray, size: tuple[int, int]) -> Callable[[int, int], np.ndarray]:
    """Bilinear upsampling of (C, h, w) to (C, H, W), produced lazily for output rows [y0, y1) so memory stays
    bounded on large images."""
    channels, src_h, src_w = scores.shape
    y_low, y_high, y_w = _source_coords(size[0], src_h)
    x_low, x_high, x_w = _source_coords(size[1], src_w)
    scores = scores.astype(np.float32, copy=False)

    def rows(y0: int, y1: int) -> np.ndarray:
        wy = y_w[y0:y1, None]
        mixed = scores[:, y_low[y0:y1], :] * (1 - wy) + scores[:, y_high[y0:y1], :] * wy  # (C, n, w)
        return mixed[:, :, x_low] * (1 - x_w) + mixed[:, :, x_high] * x_w  # (C, n, W)

    return rows


def _chunk_rows(channels: int, width: int) -> int:
    return max(1, _CHUNK_BYTES // max(1, channels * width * 4 * 4))


def _stable_softmax_max(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    best = values.argmax(axis=0)
    top = np.take_along_axis(values, best[None], axis=0)[0]
    total = np.exp(values - top[None]).sum(axis=0)
    return best, 1.0 / total


def semantic_to_prediction(
    logits: np.ndarray, *, placement: Placement, size: tuple[int, int], manifest: Manifest,
    class_kinds: Mapping[str, str],
) -> Prediction:
    """(C, h, w) class scores -> full-resolution label map: per pixel the best class; unmapped classes stay 0."""
    logits = _squeeze_batch(logits, 3, "logits", "[1, C, h, w] or [C, h, w]")
    logits = _crop(logits, placement)
    height, width = size
    channels = logits.shape[0]
    # Model class index -> position of its project class name; -1 for unmapped indices.
    names = manifest.class_names
    lut = np.full(channels + 1, -1, dtype=np.int32)
    for index, name in manifest.class_map.items():
        if index < channels:
            lut[index] = names.index(name)
    class_of = np.empty((height, width), dtype=np.int32)
    confidence = np.empty((height, width), dtype=np.float32)
    rows = upsample_rows(logits, size)
    step = _chunk_rows(channels, width)
    for y0 in range(0, height, step):
        y1 = min(height, y0 + step)
        chunk = rows(y0, y1)
        if manifest.activation == "softmax":
            best, conf = _stable_softmax_max(chunk)
        else:
            best = chunk.argmax(axis=0)
            top = np.take_along_axis(chunk, best[None], axis=0)[0]
            conf = 1.0 / (1.0 + np.exp(-top)) if manifest.activation == "sigmoid" else np.clip(top, 0.0, 1.0)
        class_of[y0:y1] = lut[best]
        confidence[y0:y1] = conf
    return class_map_to_prediction(class_of, confidence, class_names=names, class_kinds=class_kinds)


def class_map_to_prediction(
    class_of: np.ndarray, confidence: np.ndarray, *, class_names: list[str], class_kinds: Mapping[str, str],
) -> Prediction:
    """A per-pixel class choice (position in `class_names`, -1 = none) and its confidence (0..1) -> label map:
    a stuff class is one segment, a thing class one instance per 8-connected component (numbered by descending
    mean confidence); a segment's score is the mean confidence of its pixels."""
    height, width = class_of.shape
    label_map = np.zeros((height, width), dtype=np.uint32)
    segments: list[PredictedSegment] = []
    for position, name in enumerate(class_names):
        mask = class_of == position
        if not mask.any():
            continue
        if class_kinds.get(name) == "thing":
            components, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
            sums = np.bincount(components.ravel(), weights=confidence.ravel(), minlength=count + 1)
            areas = np.bincount(components.ravel(), minlength=count + 1)
            order = sorted(range(1, count + 1), key=lambda c: (-sums[c] / areas[c], c))
            instance = 0
            base = len(segments)
            lut_ids = np.zeros(count + 1, dtype=np.uint32)
            for component in order:
                instance += 1
                segment_id = base + instance
                lut_ids[component] = segment_id
                segments.append(PredictedSegment(segment_id, name, instance, float(sums[component] / areas[component])))
            label_map[mask] = lut_ids[components[mask]]
        else:
            segment_id = len(segments) + 1
            label_map[mask] = segment_id
            segments.append(PredictedSegment(segment_id, name, None, float(confidence[mask].mean())))
    return Prediction(label_map=label_map, segments=segments)


def _upsample_one(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    rows = upsample_rows(mask[None], size)
    return rows(0, size[0])[0]


def instances_to_prediction(
    masks: np.ndarray, scores: np.ndarray, labels: np.ndarray, *, placement: Placement, size: tuple[int, int],
    manifest: Manifest, class_kinds: Mapping[str, str],
) -> Prediction:
    """Per-instance masks -> label map. Higher scores win overlaps; stuff instances merge into one segment."""
    if masks.ndim == 4 and masks.shape[1] == 1:
        masks = masks[:, 0]
    scores = scores.reshape(-1).astype(np.float64)
    labels = labels.reshape(-1).astype(np.int64)
    masks = _crop(masks, placement)
    keep = [
        i for i in range(masks.shape[0])
        if math.isfinite(scores[i]) and scores[i] >= manifest.score_threshold and int(labels[i]) in manifest.class_map
    ]
    keep.sort(key=lambda i: (scores[i], -i))  # paint ascending: the most confident is painted last and wins
    label_map = np.zeros(size, dtype=np.uint32)
    # Provisional id per kept instance (stuff classes share one id per class).
    provisional: list[tuple[str, float]] = []
    stuff_ids: dict[str, int] = {}
    for i in keep:
        name = manifest.class_map[int(labels[i])]
        on = _upsample_one(masks[i].astype(np.float32), size) > manifest.mask_threshold
        if class_kinds.get(name) == "thing":
            provisional.append((name, float(scores[i])))
            label_map[on] = len(provisional)
        else:
            if name not in stuff_ids:
                provisional.append((name, float(scores[i])))
                stuff_ids[name] = len(provisional)
            else:
                old = provisional[stuff_ids[name] - 1]
                provisional[stuff_ids[name] - 1] = (name, max(old[1], float(scores[i])))
            label_map[on] = stuff_ids[name]
    return _renumber(label_map, provisional, class_kinds)


def panoptic_to_prediction(
    segment_map: np.ndarray, labels: np.ndarray, scores: np.ndarray | None, *, placement: Placement,
    size: tuple[int, int], manifest: Manifest, class_kinds: Mapping[str, str],
) -> Prediction:
    """A segment-id map + per-segment labels -> label map (nearest-neighbour upsampled: ids never blend)."""
    segment_map = _crop(_squeeze_batch(segment_map, 2, "segment_map", "[h, w]"), placement)
    labels = labels.reshape(-1).astype(np.int64)
    scores = scores.reshape(-1).astype(np.float64) if scores is not None else np.ones(labels.shape)
    lut = np.zeros(labels.size + 1, dtype=np.uint32)
    provisional: list[tuple[str, float]] = []
    stuff_ids: dict[str, int] = {}
    for k in range(1, labels.size + 1):
        label, score = int(labels[k - 1]), float(scores[k - 1])
        if label not in manifest.class_map or not (math.isfinite(score) and score >= manifest.score_threshold):
            continue
        name = manifest.class_map[label]
        if class_kinds.get(name) == "thing":
            provisional.append((name, score))
            lut[k] = len(provisional)
        elif name in stuff_ids:
            old = provisional[stuff_ids[name] - 1]
            provisional[stuff_ids[name] - 1] = (name, max(old[1], score))
            lut[k] = stuff_ids[name]
        else:
            provisional.append((name, score))
            stuff_ids[name] = lut[k] = len(provisional)
    src_h, src_w = segment_map.shape
    # Nearest neighbour by pixel centres (as PIL's NEAREST): output pixel y samples source row (y + 0.5) * src / H.
    rows = np.minimum(((2 * np.arange(size[0]) + 1) * src_h) // (2 * size[0]), src_h - 1)
    cols = np.minimum(((2 * np.arange(size[1]) + 1) * src_w) // (2 * size[1]), src_w - 1)
    label_map = lut[segment_map.astype(np.int64)[np.ix_(rows, cols)]]
    return _renumber(label_map, provisional, class_kinds)


def _renumber(
    label_map: np.ndarray, provisional: list[tuple[str, float]], class_kinds: Mapping[str, str]
) -> Prediction:
    """Drop segments that kept no pixels, give ids 1..n and number thing instances by descending score."""
    areas = np.bincount(label_map.ravel(), minlength=len(provisional) + 1)
    alive = [pid for pid in range(1, len(provisional) + 1) if areas[pid] > 0]
    alive.sort(key=lambda pid: (provisional[pid - 1][0], -provisional[pid - 1][1], pid))
    lut = np.zeros(len(provisional) + 1, dtype=np.uint32)
    segments: list[PredictedSegment] = []
    instances: dict[str, int] = {}
    for new_id, pid in enumerate(alive, start=1):
        name, score = provisional[pid - 1]
        lut[pid] = new_id
        instance = None
        if class_kinds.get(name) == "thing":
            instances[name] = instances.get(name, 0) + 1
            instance = instances[name]
        segments.append(PredictedSegment(new_id, name, instance, score))
    return Prediction(label_map=lut[label_map], segments=segments)


def outputs_to_prediction(
    outputs: Mapping[str, np.ndarray], *, placement: Placement, size: tuple[int, int], manifest: Manifest,
    class_kinds: Mapping[str, str],
) -> Prediction:
    check_outputs(outputs, manifest)
    common = {"placement": placement, "size": size, "manifest": manifest, "class_kinds": class_kinds}
    if manifest.output == "semantic_logits":
        return semantic_to_prediction(outputs["logits"], **common)
    if manifest.output == "instance_masks":
        return instances_to_prediction(outputs["masks"], outputs["scores"], outputs["labels"], **common)
    return panoptic_to_prediction(outputs["segment_map"], outputs["labels"], outputs.get("scores"), **common)


# ---------------------------------------------------------------- runners


def _to_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu").numpy()
    if isinstance(value, Mapping):
        return {str(k): _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_to_numpy(v) for v in value)
    return value


def describe_failure(exc: BaseException) -> str:
    """A readable one-line reason for a failed model call (the job and API show it)."""
    # TorchScript errors carry the script's traceback first; the cause is the last line.
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = (lines[-1] if lines else "")[:500].removeprefix("builtins.")
    lowered = text.lower()
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)) or any(
        phrase in lowered for phrase in ("out of memory", "failed to allocate", "can't allocate memory",
                                         "cannot allocate memory")
    ):
        return f"the model ran out of memory ({text})" if text else "the model ran out of memory"
    return f"the model failed: {text or type(exc).__name__}"


class OwnModelRunner:
    """One loaded model. `load()` once (per worker process, see `cached_runner`), then `predict()` per image."""

    def __init__(self, *, format: str, session: Any, device: str):
        self.format = format
        self.device = device
        self._session = session

    @classmethod
    def load(cls, *, data: bytes, format: str, device: str = "cpu") -> OwnModelRunner:
        """Load from the file's bytes; raises ModelFileError for files that are not acceptable models."""
        if format not in FORMATS:
            raise ModelFileError(f"unknown model format {format!r}")
        if format == "torchscript":
            return cls(format=format, session=_load_torchscript(data, device), device=device)
        return cls(format=format, session=_load_onnx(data, device), device=device)

    @property
    def input_names(self) -> list[str]:
        if self.format == "onnx":
            return [i.name for i in self._session.get_inputs()]
        return ["input"]

    def onnx_signature(self) -> tuple[list[Any], str, list[str]] | None:
        """(input shape, input type, output names) of an ONNX model; None for TorchScript."""
        if self.format != "onnx":
            return None
        first = self._session.get_inputs()[0]
        return list(first.shape), first.type, [o.name for o in self._session.get_outputs()]

    def run(self, batch: np.ndarray) -> Any:
        """Raw outputs as numpy (arrays, dicts, tuples); failures become ModelRunError with a readable reason."""
        try:
            if self.format == "onnx":
                names = [o.name for o in self._session.get_outputs()]
                values = self._session.run(None, {self._session.get_inputs()[0].name: batch})
                return dict(zip(names, values))
            with torch.inference_mode():
                result = self._session(torch.from_numpy(batch).to(self.device))
            return _to_numpy(result)
        except Exception as exc:  # noqa: BLE001 - anything a model raises: torch OOM, MemoryError, ORT errors
            raise ModelRunError(describe_failure(exc)) from exc

    def predict(self, rgb: np.ndarray, *, manifest: Manifest, class_kinds: Mapping[str, str]) -> Prediction:
        batch, placement = preprocess(rgb, manifest)
        outputs = named_outputs(self.run(batch), manifest)
        return outputs_to_prediction(outputs, placement=placement, size=rgb.shape[:2], manifest=manifest,
                                     class_kinds=class_kinds)

    def trial_run(self, manifest: Manifest) -> dict[str, list[int]]:
        """Run once on a blank image of the input size and check the outputs fit the manifest (upload check)."""
        blank = np.zeros((*manifest.input_size, 3), dtype=np.uint8)
        batch, _ = preprocess(blank, manifest)
        return check_outputs(named_outputs(self.run(batch), manifest), manifest)


def _load_torchscript(data: bytes, device: str):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ModelFileError("not a TorchScript archive (not a zip file)") from exc
    check_torchscript_archive(archive, max_bytes=max(len(data) * 4, 64 * 1024 * 1024))
    try:
        with warnings.catch_warnings():
            # TorchScript is deprecated in favour of torch.export, but it is the pickle-free format asked for.
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(io.BytesIO(data), map_location=device)
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError and friends for broken archives
        raise ModelFileError(f"TorchScript could not load the file: {' '.join(str(exc).split())[:300]}") from exc
    module.eval()
    return module


def _load_onnx(data: bytes, device: str):
    _onnx_model(data)
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(data, providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime's exceptions do not share a base class
        raise ModelFileError(f"onnxruntime cannot run the model: {' '.join(str(exc).split())[:300]}") from exc


def inspect_model_file(data: bytes) -> str:
    """The format of an uploaded model file ("torchscript" or "onnx"); refuses pickles and other files."""
    return detect_format(data[:8], is_zip=data[:4] == b"PK\x03\x04")


# One loaded model per worker process: consecutive pre-label jobs of the same model reuse it.
_cached: dict[str, Any] = {}


def cached_runner(*, key: str, format: str, device: str, read: Callable[[], bytes]) -> OwnModelRunner:
    """The runner for `key` (the file's checksum), loading it with `read()` only when it is not the cached one."""
    if _cached.get("key") == (key, device):
        return _cached["runner"]
    _cached.clear()  # free the previous model before loading the next
    runner = OwnModelRunner.load(data=read(), format=format, device=device)
    _cached.update(key=(key, device), runner=runner)
    return runner
