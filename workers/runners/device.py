"""Which torch device runners use: "cuda" when a GPU is visible, else "cpu"; `ANNOTATOR_DEVICE` overrides.

Runners call `pick_device()` when they load a model (never at import time), so a worker started with
`ANNOTATOR_DEVICE=cpu` on a GPU machine, or `cuda:1` to pick a card, does what it is told.
"""

from __future__ import annotations

import os

import torch
from django.conf import settings


def _configured_device() -> str:
    # Read through Django settings when they are configured (the worker), so the variable has one owner;
    # pure tests without Django fall back to the environment.
    if settings.configured:
        return str(settings.ANNOTATOR.get("DEVICE", "") or "")
    return os.environ.get("ANNOTATOR_DEVICE", "")


def pick_device(override: str | None = None) -> str:
    """The torch device string for model runners: `override`, else ANNOTATOR_DEVICE, else cuda/cpu."""
    chosen = (override if override is not None else _configured_device()).strip()
    if chosen:
        return chosen
    return "cuda" if torch.cuda.is_available() else "cpu"
