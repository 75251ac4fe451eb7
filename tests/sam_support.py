"""A tiny random-weight SAM for tests, the golden fixture and benchmarks: the real segment_anything classes
(workers.runners.sam's "tiny" architecture), saved as a state-dict checkpoint like a real one."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import torch

from workers.runners import sam as sam_runner

# Random init gives mask logits of about ±0.02, so many pixels sit at the threshold and flip with any float
# rounding; scaling the hypernetworks' last layers makes the masks crisp (logits of a few units).
LOGIT_GAIN = 200.0


def make_tiny_sam(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    sam = sam_runner.build_sam("tiny").eval()
    with torch.no_grad():
        for mlp in sam.mask_decoder.output_hypernetworks_mlps:
            mlp.layers[-1].weight.mul_(LOGIT_GAIN)
    return sam


def save_tiny_checkpoint(path: Path, seed: int = 0) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(make_tiny_sam(seed).state_dict(), path)
    return path


@cache
def tiny_checkpoint(seed: int = 0) -> str:
    """A checkpoint file shared by the tests of one process (a temporary folder, removed at exit)."""
    folder = tempfile.mkdtemp(prefix="annotator-tiny-sam-")
    import atexit
    import shutil

    atexit.register(shutil.rmtree, folder, True)
    return str(save_tiny_checkpoint(Path(folder) / f"tiny-{seed}.pt", seed))


@cache
def _decoder_bytes(quantized: bool) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "decoder.onnx"
        sam_runner.export_decoder_onnx(sam_runner.load_sam("tiny", tiny_checkpoint()), path, quantize=quantized)
        return path.read_bytes()


def use_tiny_sam(settings_obj=None, *, with_decoders: bool = True, **extra) -> None:
    """Configure the tiny model as the server's SAM. With pytest-django's `settings` fixture pass it; without,
    Django's settings are changed directly, which the autouse `_isolated_media` override undoes after the test.

    `with_decoders` puts the decoder files (exported once per test process) into storage, so jobs skip the
    ~2 s export; tests of the export itself pass False.
    """
    from django.conf import settings as django_settings
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from labeling.services.sam import decoder_path

    target = settings_obj if settings_obj is not None else django_settings
    target.ANNOTATOR = {**django_settings.ANNOTATOR, "SAM_CHECKPOINT": tiny_checkpoint(), "SAM_MODEL_TYPE": "tiny",
                        "SAM_PROPOSAL_POINTS_PER_SIDE": 4, **extra}
    if with_decoders:
        key = sam_runner.model_key("tiny", tiny_checkpoint())
        for quantized in (False, True):
            name = decoder_path(model_key=key, quantized=quantized)
            if not default_storage.exists(name):
                default_storage.save(name, ContentFile(_decoder_bytes(quantized)))


def compute_embedding(image) -> None:
    """The image's embedding through the real job function (tiny model)."""
    from labeling.services.sam import embeddings_compute

    result = embeddings_compute(image_ids=[image.pk], progress=lambda fraction: True)
    assert result["failed"] == [], result
