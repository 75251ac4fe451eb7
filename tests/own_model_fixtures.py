"""Tiny real models for the own-model tests: scripted `nn.Module`s (TorchScript) and an ONNX export, whose
outputs are simple functions of the input colours, so the expected label maps are known exactly.

The input is normalised to 0..1 (scale 255, mean 0, std 1): a pure red pixel is (1, 0, 0).
"""

import functools
import io
import warnings

import numpy as np
import torch
from PIL import Image as PILImage
from torch import Tensor, nn


class SemanticNet(nn.Module):
    """Logits [1, 3, h, w]: class 0 scores 0.5 everywhere, class 1 is 10 x red, class 2 is 10 x green."""

    def forward(self, x: Tensor) -> Tensor:
        r = x[:, 0:1]
        g = x[:, 1:2]
        return torch.cat([torch.full_like(r, 0.5), r * 10.0, g * 10.0], dim=1)


class InstanceNet(nn.Module):
    """Mask R-CNN-like dict: one mask per colour channel (red 0.9, green 0.7, blue 0.2), labels 1, 1, 2."""

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        masks = x[0].unsqueeze(1)  # [3, 1, h, w]
        scores = torch.tensor([0.9, 0.7, 0.2])
        labels = torch.tensor([1, 1, 2])
        return {"boxes": torch.zeros(3, 4), "labels": labels, "scores": scores, "masks": masks}


class PanopticNet(nn.Module):
    """(segment_map, labels, scores): 1 where red, 2 where green (green wins), label 1 then 2."""

    def forward(self, x: Tensor):
        r = x[0, 0] > 0.5
        g = x[0, 1] > 0.5
        segment_map = torch.where(g, 2, torch.where(r, 1, 0)).to(torch.int64)
        return segment_map, torch.tensor([1, 2]), torch.tensor([0.95, 0.8])


class FailingNet(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        raise RuntimeError("deliberate failure inside the model")


class HogNet(nn.Module):
    """Asks for 4 TiB: the allocator refuses, as a model that does not fit in memory would."""

    def forward(self, x: Tensor) -> Tensor:
        big = torch.ones([1 << 40], dtype=torch.float32)
        return x + big.sum()


def _semantic(x: Tensor) -> Tensor:
    r = x[:, 0:1]
    return torch.cat([torch.full_like(r, 0.5), r * 10.0, x[:, 1:2] * 10.0], dim=1)


class FailsOnGreenNet(nn.Module):
    """SemanticNet that passes the upload's trial run (a blank image) but raises on any image with green."""

    def forward(self, x: Tensor) -> Tensor:
        if bool((x[:, 1] > 0.5).any()):
            raise RuntimeError("deliberate failure on green pixels")
        return _semantic(x)


class HogsOnContentNet(nn.Module):
    """SemanticNet that passes the trial run, then runs out of memory on any non-blank image."""

    def forward(self, x: Tensor) -> Tensor:
        if bool((x > 0.1).any()):
            big = torch.ones([1 << 40], dtype=torch.float32)
            return _semantic(x) + big.sum()
        return _semantic(x)


def torchscript_bytes(module: nn.Module) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script's deprecation notice
        torch.jit.save(torch.jit.script(module.eval()), buf)
    return buf.getvalue()


@functools.lru_cache(maxsize=4)
def onnx_semantic_bytes(size: tuple[int, int] = (16, 16)) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(SemanticNet().eval(), torch.zeros(1, 3, *size), buf, dynamo=False,
                          input_names=["image"], output_names=["logits"])
    return buf.getvalue()


def pickle_bytes(obj) -> bytes:
    """What a user gets from torch.save: a pickle (zip container) that must never be loaded."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def manifest(output: str, **extra) -> dict:
    base = {
        "input_size": [16, 16],
        "normalize": {"scale": 255, "mean": [0, 0, 0], "std": [1, 1, 1]},
        "output": output,
        "class_map": {"1": "car", "2": "road"},
    }
    base.update(extra)
    return base


def blob_image(width: int = 64, height: int = 48) -> np.ndarray:
    """Two red squares (cars) in the top half, a green band (road) along the bottom, black elsewhere."""
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[4:20, 4:20, 0] = 255
    rgb[4:20, 40:56, 0] = 255
    rgb[32:, :, 1] = 255
    return rgb


def png_of(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def create_model(project, *, data: bytes, manifest_json: dict, name: str = "model", user=None):
    """Register a model through the real upload service (file checks, manifest, trial run)."""
    import json

    from django.core.files.uploadedfile import SimpleUploadedFile

    from labeling.services.trained_models import trained_model_create

    return trained_model_create(project=project, name=name, upload=SimpleUploadedFile("model.bin", data),
                                manifest=json.dumps(manifest_json), user=user)
