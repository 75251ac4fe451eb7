"""The browser's SAM decoder (onnxruntime-web in the editor's Web Worker, real Chromium, WASM threads under
cross-origin isolation) gives the server's masks for the shared fixture's prompts (tests/golden/sam/)."""

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from pycocotools import mask as mask_utils

from labeling.services.projects import label_class_create, project_create
from tests.e2e.conftest import shot
from tests.e2e.sam_helpers import (
    golden_cases,
    golden_meta,
    overlay_rgba,
    route_golden_sam,
    upload_image,
)
from tests.e2e.test_editor_flow import PASSWORD, open_editor

pytestmark = pytest.mark.django_db(transaction=True)


def test_browser_decoder_matches_the_server_masks(live_server, new_page):
    meta = golden_meta()
    height, width = meta["original_size"]
    user = get_user_model().objects.create_user("parity", password=PASSWORD)
    project = project_create(user=user, name="SAM parity", kind="instance")
    label_class_create(project=project, name="thing", kind="thing", color="#ff0000")
    image_id = upload_image(project, user, width, height)

    page = new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    route_golden_sam(page, image_id)
    open_editor(page, live_server.url, "parity", image_id)
    page.goto(f"{live_server.url}/app/images/{image_id}?sam_path=worker&sam_decoder=fp32")
    page.wait_for_function("window.__editor && window.__editor.renderer.viewport.scale > 0")
    assert page.evaluate("crossOriginIsolated") is True
    page.keyboard.press("s")
    page.wait_for_function("window.__editor.sam.engine.state === 'ready'", timeout=60_000)
    engine = page.evaluate("(() => { const e = window.__editor.sam.engine; "
                           "return {path: e.path, threads: e.threads, isolated: e.isolated, "
                           "worker: e.workerReady}; })()")
    assert engine == {"path": "worker", "threads": 2, "isolated": True, "worker": True}

    report = []
    for case in golden_cases():
        got = page.evaluate(
            """async (c) => {
                 const r = await window.__editor.sam.engine.decode({points: c.points, labels: c.labels, box: c.box},
                                                                  c.multimask);
                 return {path: r.path, scores: r.scores,
                         masks: r.masks.map(m => ({x0: m.x0, y0: m.y0, width: m.width, height: m.height,
                                                   data: Array.from(m.data)}))};
               }""", case)
        assert got["path"] == "worker"
        assert len(got["masks"]) == len(case["masks"])
        for mine, expected in zip(got["masks"], case["masks"]):
            full = np.zeros((height, width), dtype=bool)
            if mine["width"]:
                crop = np.array(mine["data"], dtype=bool).reshape(mine["height"], mine["width"])
                full[mine["y0"]:mine["y0"] + mine["height"], mine["x0"]:mine["x0"] + mine["width"]] = crop
            server = mask_utils.decode({"size": expected["rle"]["size"],
                                        "counts": expected["rle"]["counts"].encode()}).astype(bool)
            differing = int((full != server).sum())
            report.append((case["name"], expected["output"], differing, expected["near_threshold"]))
            # Only a pixel whose logit is within float noise (1e-3) of the threshold may flip between builds.
            assert differing <= expected["near_threshold"], report[-1]
        np.testing.assert_allclose(got["scores"], [m["score"] for m in case["masks"]], atol=1e-4)
    print("SAM parity (browser worker vs server), [case, output, differing pixels, near-threshold]:", report)
    # Most masks are identical; the rest differ by a pixel or two at the threshold (float rounding in the
    # decoder builds and in torch's float32 upscaling against the browser's float64 one).
    assert sum(r[2] == 0 for r in report) >= len(report) - 3, report

    # The tool's preview of the first prompt is the server's mask, where the image shows it: the overlay's
    # preview fill over a pixel inside the mask, none over one outside (the mask is the fixture embedding's, not
    # the uploaded noise image's).
    first = golden_cases()[0]
    server = mask_utils.decode({"size": first["masks"][0]["rle"]["size"],
                                "counts": first["masks"][0]["rle"]["counts"].encode()}).astype(bool)
    (px, py) = first["points"][0]
    sx, sy = page.evaluate("""([x, y]) => { const r = document.querySelector('[data-testid=editor-overlay]')
        .getBoundingClientRect(); const v = window.__editor.renderer.viewport;
        return [r.left + x * v.scale + v.x, r.top + y * v.scale + v.y]; }""", [px, py])
    before = page.evaluate("window.__editor.sam.tool.latencies.length")
    page.mouse.click(sx, sy)
    page.wait_for_function(f"window.__editor.sam.tool.latencies.length > {before}")
    ys, xs = np.nonzero(server)
    inside = (int(xs[len(xs) // 2]), int(ys[len(ys) // 2]))
    outside_ys, outside_xs = np.nonzero(~server)
    outside = (int(outside_xs[0]), int(outside_ys[0]))
    assert overlay_rgba(page, *inside)[3] > 0 and overlay_rgba(page, *outside)[3] == 0
    shot(page, "sam-parity-preview")
    page.keyboard.press("Escape")

    # Nothing left the machine: the ORT runtime came from our static files.
    outside = [u for u in requests if not u.startswith(live_server.url)]
    assert requests and not outside, outside
    assert any("/static/app/ort/ort-wasm-simd-threaded.wasm" in u for u in requests)
    shot(page, "sam-parity")
