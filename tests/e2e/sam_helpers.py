"""Helpers for the SAM e2e tests: an image of a given size through the real upload service, the fixture
(tests/golden/sam/) served in place of the SAM endpoints."""

import io
import json
from pathlib import Path

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from labeling.services.images import images_upload

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "sam"


def upload_image(project, user, width, height, seed=0):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(pixels).save(buf, format="PNG")
    upload = SimpleUploadedFile(f"sam-{seed}.png", buf.getvalue(), content_type="image/png")
    batch = images_upload(project=project, files=[upload], user=user)  # eager Celery: pyramid built here
    return batch.results[0].image_id


def golden_meta():
    return json.loads((GOLDEN / "meta.json").read_text())


def golden_cases():
    return json.loads((GOLDEN / "prompts.json").read_text())["cases"]


def route_golden_sam(page, image_id):
    """Answer the SAM endpoints the browser decoder needs with the shared fixture's bytes."""
    meta = golden_meta()
    status = {"available": True, "reason": "", "model_type": "tiny", "model_key": meta["model_key"],
              "decoder": {"url": "/api/sam/decoder/", "quantized_url": "/api/sam/decoder/?quantized=1",
                          "available": True},
              "embedding_size": 1024}
    page.route("**/api/sam/", lambda route: route.fulfill(status=200, content_type="application/json",
                                                         body=json.dumps(status)))
    page.route("**/api/sam/decoder/**", lambda route: route.fulfill(
        status=200, content_type="application/octet-stream", body=(GOLDEN / "decoder.onnx").read_bytes()))
    headers = {
        "X-Embedding-Shape": ",".join(map(str, meta["shape"])),
        "X-Embedding-Input-Size": ",".join(map(str, meta["input_size"])),
        "X-Embedding-Original-Size": ",".join(map(str, meta["original_size"])),
        "X-Embedding-Model": meta["model_key"],
        "ETag": '"golden"',
    }
    page.route(f"**/api/images/{image_id}/embedding/", lambda route: route.fulfill(
        status=200, content_type="application/octet-stream", headers=headers,
        body=(GOLDEN / "embedding.f16").read_bytes()))


def overlay_rgba(page, x, y):
    """The overlay canvas's [r, g, b, a] over image pixel (x, y), after the next two animation frames (a
    requested redraw has run by then)."""
    return page.evaluate(
        """async ([x, y]) => {
             for (let i = 0; i < 2; i++) await new Promise((r) => requestAnimationFrame(r));
             const canvas = document.querySelector('[data-testid=editor-overlay]');
             const v = window.__editor.renderer.viewport, dpr = canvas.width / canvas.clientWidth;
             const sx = Math.floor(((x + 0.5) * v.scale + v.x) * dpr);
             const sy = Math.floor(((y + 0.5) * v.scale + v.y) * dpr);
             return Array.from(canvas.getContext('2d').getImageData(sx, sy, 1, 1).data); }""", [x, y])
