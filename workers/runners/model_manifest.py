"""The manifest of a project's own model: how to feed it an image and how to read its outputs. Pure, no Django.

A manifest is a JSON object (unknown keys are refused, so a typo never silently falls back to a default):

```
{
  "input_size": [512, 512],              # [height, width] of the model input (required)
  "resize": "stretch",                   # "stretch" (default) or "letterbox" (keep aspect, pad bottom/right)
  "channels": "RGB",                     # "RGB" (default) or "BGR": channel order of the input tensor
  "normalize": {"scale": 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
                                         # x = (pixel / scale - mean) / std; defaults: 255, [0,0,0], [1,1,1]
  "output": "semantic_logits",           # "semantic_logits" | "instance_masks" | "panoptic" (required)
  "class_map": {"1": "road", "2": "car"},# model class index -> project class name (required; a list works too:
                                         # ["background", "road"]; null or unlisted indices stay unlabeled)
  "activation": "softmax",               # semantic only: "softmax" (default), "sigmoid" or "none" (probabilities)
  "score_threshold": 0.5,                # instance / panoptic: predictions scoring below it are dropped
  "mask_threshold": 0.5,                 # instance: a mask pixel is on when its value is above it
  "output_names": {"masks": "masks"}     # role -> ONNX output name / TorchScript dict key (defaults: the role)
}
```

The input is one float32 tensor `[1, 3, height, width]`. Outputs, by kind (a leading batch axis of 1 is
optional everywhere):

- `semantic_logits`: role `logits`, `[C, h, w]` scores per class (any resolution; upsampled bilinearly).
- `instance_masks`: roles `masks` `[N, h, w]` or `[N, 1, h, w]` (probabilities, e.g. torchvision Mask R-CNN),
  `scores` `[N]`, `labels` `[N]` (class indices); extra outputs such as `boxes` are ignored.
- `panoptic`: roles `segment_map` `[h, w]` integers (0 = unlabeled, k >= 1 is row k-1 of the labels),
  `labels` `[S]` and optionally `scores` `[S]`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

OUTPUT_KINDS = ("semantic_logits", "instance_masks", "panoptic")
# Which named outputs each kind reads, in the order a tuple output is read; the rest are optional.
OUTPUT_ROLES: dict[str, tuple[str, ...]] = {
    "semantic_logits": ("logits",),
    "instance_masks": ("masks", "scores", "labels"),
    "panoptic": ("segment_map", "labels", "scores"),
}
REQUIRED_ROLES: dict[str, tuple[str, ...]] = {
    "semantic_logits": ("logits",),
    "instance_masks": ("masks", "scores", "labels"),
    "panoptic": ("segment_map", "labels"),
}
RESIZE_MODES = ("stretch", "letterbox")
CHANNEL_ORDERS = ("RGB", "BGR")
ACTIVATIONS = ("softmax", "sigmoid", "none")
MAX_INPUT_SIDE = 8192
MAX_CLASS_INDEX = 65535
_KEYS = {
    "input_size", "resize", "channels", "normalize", "output", "class_map", "activation", "score_threshold",
    "mask_threshold", "output_names",
}


class ManifestError(ValueError):
    """A manifest violates the schema; `field` names the offending key (for the API's 400)."""

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Normalize:
    scale: float = 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class Manifest:
    input_size: tuple[int, int]  # (height, width)
    output: str
    class_map: dict[int, str]  # model class index -> project class name
    resize: str = "stretch"
    channels: str = "RGB"
    normalize: Normalize = field(default_factory=Normalize)
    activation: str = "softmax"
    score_threshold: float = 0.5
    mask_threshold: float = 0.5
    output_names: dict[str, str] = field(default_factory=dict)

    def output_name(self, role: str) -> str:
        return self.output_names.get(role, role)

    @property
    def class_names(self) -> list[str]:
        """The project classes the model writes, in model index order, each once."""
        return list(dict.fromkeys(self.class_map[i] for i in sorted(self.class_map)))

    def to_json(self) -> dict[str, Any]:
        """The normalised manifest (defaults filled in), as stored on the model row."""
        return {
            "input_size": list(self.input_size),
            "resize": self.resize,
            "channels": self.channels,
            "normalize": {"scale": self.normalize.scale, "mean": list(self.normalize.mean),
                          "std": list(self.normalize.std)},
            "output": self.output,
            "class_map": {str(i): self.class_map[i] for i in sorted(self.class_map)},
            "activation": self.activation,
            "score_threshold": self.score_threshold,
            "mask_threshold": self.mask_threshold,
            "output_names": dict(self.output_names),
        }


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ManifestError(f"{name} must be a finite number, got {value!r}", field=name.split("[")[0])
    return float(value)


def _choice(raw: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str) -> str:
    value = raw.get(key, default)
    if value not in choices:
        raise ManifestError(f"{key} must be one of {', '.join(repr(c) for c in choices)}, got {value!r}", field=key)
    return value


def _input_size(value: Any) -> tuple[int, int]:
    if (
        not isinstance(value, (list, tuple)) or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise ManifestError(f"input_size must be [height, width] in whole pixels, got {value!r}", field="input_size")
    if not all(1 <= v <= MAX_INPUT_SIDE for v in value):
        raise ManifestError(f"input_size sides must lie in 1..{MAX_INPUT_SIDE}, got {value!r}", field="input_size")
    return int(value[0]), int(value[1])


def _triple(value: Any, name: str, *, positive: bool) -> tuple[float, float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or len(value) not in (1, 3):
        raise ManifestError(f"{name} must be a number or a list of 3 numbers (one per channel), got {value!r}",
                            field="normalize")
    numbers = [_number(v, name) for v in value]
    if positive and not all(v > 0 for v in numbers):
        raise ManifestError(f"{name} values must be greater than 0, got {value!r}", field="normalize")
    if len(numbers) == 1:
        numbers = numbers * 3
    return numbers[0], numbers[1], numbers[2]


def _normalize(value: Any) -> Normalize:
    if value is None:
        return Normalize()
    if not isinstance(value, Mapping):
        raise ManifestError("normalize must be an object {scale, mean, std}", field="normalize")
    unknown = sorted(set(value) - {"scale", "mean", "std"})
    if unknown:
        raise ManifestError(f"normalize has unknown keys {unknown}; allowed: scale, mean, std", field="normalize")
    scale = _number(value.get("scale", 255), "normalize.scale")
    if scale <= 0:
        raise ManifestError("normalize.scale must be greater than 0", field="normalize")
    return Normalize(
        scale=scale,
        mean=_triple(value.get("mean", 0.0), "normalize.mean", positive=False),
        std=_triple(value.get("std", 1.0), "normalize.std", positive=True),
    )


def _class_index(key: Any) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        index = key
    elif isinstance(key, str) and key.strip().isdigit():
        index = int(key.strip())
    else:
        raise ManifestError(f"class_map keys must be model class indices (0, 1, ...), got {key!r}", field="class_map")
    if index > MAX_CLASS_INDEX:
        raise ManifestError(f"class_map index {index} is larger than {MAX_CLASS_INDEX}", field="class_map")
    return index


def _class_map(value: Any, classes: Mapping[str, str] | None) -> dict[int, str]:
    if isinstance(value, list):
        value = dict(enumerate(value))
    if not isinstance(value, Mapping) or not value:
        raise ManifestError(
            'class_map must map model class indices to project class names, e.g. {"1": "car"}', field="class_map"
        )
    mapped: dict[int, str] = {}
    for key, name in value.items():
        index = _class_index(key)
        if index in mapped:
            raise ManifestError(f"class_map names index {index} twice", field="class_map")
        if name is None:
            continue  # explicitly unmapped, e.g. "background"
        if not isinstance(name, str) or not name.strip():
            raise ManifestError(f"class_map[{index}] must be a project class name or null, got {name!r}",
                                field="class_map")
        mapped[index] = name.strip()
    if not mapped:
        raise ManifestError("class_map maps no model class to a project class", field="class_map")
    if classes is not None:
        missing = sorted({name for name in mapped.values() if name not in classes})
        if missing:
            known = ", ".join(sorted(classes)) or "none"
            raise ManifestError(
                f"class_map names classes this project does not have: {', '.join(missing)} (classes: {known})",
                field="class_map",
            )
    return dict(sorted(mapped.items()))


def _threshold(raw: Mapping[str, Any], key: str) -> float:
    value = _number(raw.get(key, 0.5), key)
    if not 0.0 <= value <= 1.0 and key == "score_threshold":
        raise ManifestError(f"{key} must lie in 0..1, got {value}", field=key)
    return value


def _output_names(value: Any, output: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ManifestError("output_names must be an object {role: output name}", field="output_names")
    roles = OUTPUT_ROLES[output]
    names: dict[str, str] = {}
    for role, name in value.items():
        if role not in roles:
            raise ManifestError(f"output_names: {output} outputs have no role {role!r}; roles: {', '.join(roles)}",
                                field="output_names")
        if not isinstance(name, str) or not name:
            raise ManifestError(f"output_names.{role} must be a non-empty string", field="output_names")
        names[role] = name
    return names


def parse_manifest(raw: Any, *, classes: Mapping[str, str] | None = None) -> Manifest:
    """Validate a manifest (a parsed JSON object). `classes` maps the project's class names to their kind
    ("thing"/"stuff"); when given, every class_map name must be one of them. Raises ManifestError."""
    if not isinstance(raw, Mapping):
        raise ManifestError("the manifest must be a JSON object")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ManifestError(f"unknown manifest keys {unknown}; allowed: {', '.join(sorted(_KEYS))}",
                            field=str(unknown[0]))
    for key in ("input_size", "output", "class_map"):
        if key not in raw:
            raise ManifestError(f"the manifest needs {key!r}", field=key)
    output = _choice(raw, "output", OUTPUT_KINDS, "")
    return Manifest(
        input_size=_input_size(raw["input_size"]),
        output=output,
        class_map=_class_map(raw["class_map"], classes),
        resize=_choice(raw, "resize", RESIZE_MODES, "stretch"),
        channels=_choice(raw, "channels", CHANNEL_ORDERS, "RGB"),
        normalize=_normalize(raw.get("normalize")),
        activation=_choice(raw, "activation", ACTIVATIONS, "softmax"),
        score_threshold=_threshold(raw, "score_threshold"),
        mask_threshold=_threshold(raw, "mask_threshold"),
        output_names=_output_names(raw.get("output_names"), output),
    )
