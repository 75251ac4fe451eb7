import io
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image as PILImage


def pytest_report_header(config):
    """Name the database and broker the run used (CI output must show them)."""
    try:
        from django.conf import settings

        db = settings.DATABASES["default"]
        where = db.get("HOST") or "local file"
        broker = settings.CELERY_BROKER_URL
        return [f"database: {db['ENGINE'].rsplit('.', 1)[-1]} {where}:{db.get('PORT') or ''} name={db['NAME']}",
                f"broker: {broker}"]
    except Exception as exc:  # noqa: BLE001 - the header is informational
        return [f"database/broker: unknown ({exc})"]


def png_bytes(width=32, height=24, seed=0, mode="RGB") -> bytes:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    arr = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    if channels == 1:
        arr = arr[..., 0]
    buf = io.BytesIO()
    PILImage.fromarray(arr, mode=None).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(width=32, height=24, seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(arr).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def per_image_calls(monkeypatch):
    """Counts the export formats' per-image computations (a stored artifact is streamed without one)."""
    from labeling.exports import EXPORTERS

    calls = []
    for name, chosen in list(EXPORTERS.items()):
        def counted(image, context, compute=chosen.per_image):
            calls.append((context.format, image.id))
            return compute(image, context)
        monkeypatch.setitem(EXPORTERS, name, replace(chosen, per_image=counted))
    return calls
