#!/usr/bin/env python
"""Editor frame times in Chromium: pan/zoom and brush on a 4096x4096 image with 1000 segments, and the time to
first view of a 20000x20000 image.

Sets up a throwaway instance of the app (SQLite, media and the filesystem broker in a temporary folder, Celery
eager so uploads build their pyramid in-process), starts `manage.py runserver` on a free port of 127.0.0.1,
and drives the built frontend (frontend/dist) in /usr/bin/chromium through Playwright (1400x900, SwiftShader
WebGL). Prints one JSON object on stdout; progress goes to stderr.

    cd /work/main && . .venv/bin/activate && python bench/editor_frames.py [--frames 200] [--max-runtime 900]

What is measured (all in the page, with performance.now(); the editor exposes `window.__editor`):
  pan/zoom   200 frames alternating a pan (40 CSS px) and a zoom step (log scale, fit <-> 4x, twice), one
             animation frame each, so tiles stream in as in real use; per frame `renderer.interacting()`,
             `renderer.setViewport(v)` and `renderer.renderNow({waitForGpu})`. Passes, in this order:
               own_cold / own_warm   first / second traversal. Each frame first lets the GPU process finish
                                     compositing the previous frame (--settle-ms, 10, then a timed 1-pixel
                                     readPixels: `drain_ms`), then times the frame itself with the GPU waited
                                     for: the editor's own CPU + GPU cost. own_cold is the headline.
               gpu_wait_after_raf_warm  the same without settling: the frame's GPU wait also covers the
                                     compositor's work on the previous frame (on the same GPU thread).
               pipelined_warm        no GPU waits: frames pipeline as in real use; rAF intervals = frame rate.
               floor_nothing_drawn   as gpu_wait_after_raf_warm with the image and label draws stubbed out: what
                                     this machine's compositor costs any page that redraws a canvas this size.
               pipelined_cold        pipelined_warm in a fresh browser context (cold HTTP cache and GPU), run
                                     after the brush and drag phases.
  brush      one stroke of 200 steps (radius 20, zoom 1), all in one synchronous page.evaluate: per step
             `session.extendStroke` (paint) then `renderer.renderNow({waitForGpu: true})` (render).
  input      a real mouse drag (page.mouse, 100 moves) with the brush tool, recording the intervals between
             requestAnimationFrame callbacks (what the user sees) and the app's own render times.
  first view fresh browser context per load (cold HTTP cache, already logged in): navigation start -> first
             frame that drew an image tile, and -> first frame with every visible tile of the fitted level
             drawn and no tile loads in flight. Median of 3.

Render-time breakdowns come from timing wrappers put around a few renderer internals at run time
(`renderer.image.draw`, `renderer.labels.upload` / `applyPacked` / `requestPack` / `writeTexels` /
`syncPalette`, `gl.readPixels`, `session.map.paint`, `session.emit`); the app itself is not changed. If a
name is missing (the code moved on), it shows `false` in the output's `instrumented` and its column stays 0
(its time lands in `other`).
`gpu_frame_by_layer_ms` stubs the image or label layer's draw for a few frames at a fixed view, then restores it.

Not a test: nothing is asserted. Only 127.0.0.1 is contacted. The whole run is bounded by --max-runtime.
"""

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    ServerProcess,
    cpu_snapshot,
    log,
    machine_busy_seconds,
    manage,
    other_cpu_seconds,
    server_cpu_seconds,
)
from bench.editor_frames_page import (  # noqa: E402
    BRUSH_JS,
    DRAG_START_JS,
    DRAG_STOP_JS,
    FIRST_VIEW_COLLECT_JS,
    FIRST_VIEW_INIT_JS,
    GPU_JS,
    GPU_SPLIT_JS,
    INSTRUMENT_JS,
    PAN_ZOOM_JS,
    WAIT_IDLE_JS,
)

VIEWPORT = {"width": 1400, "height": 900}
TARGET_P95_MS = 16


def summarize(values) -> dict:
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"n": 0, "p50": None, "p95": None, "max": None, "mean": None}
    arr = np.asarray(vals)
    return {
        "n": len(vals),
        "p50": round(float(np.percentile(arr, 50)), 2),
        "p95": round(float(np.percentile(arr, 95)), 2),
        "max": round(float(arr.max()), 2),
        "mean": round(float(arr.mean()), 2),
    }


def median(values):
    vals = [v for v in values if v is not None]
    return round(float(np.median(vals)), 1) if vals else None


# ------------------------------------------------------------------------------------------------------- setup

# Runs under `manage.py shell -c` with the benchmark's environment; writes a JSON summary to $BENCH_OUT.
SETUP_SNIPPET = r'''
import json, os, time
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.masks.tiles import encode_tile, split_map
from labeling.models import Image, PyramidStatus
from labeling.services.images import images_upload
from labeling.services.labelmaps import SegmentInput, TileUpdate, annotation_get_or_create, labelmap_save
from labeling.services.projects import label_class_create, project_create

work = Path(os.environ["BENCH_WORK"])
size = int(os.environ["BENCH_IMAGE_SIZE"])
n_segments = int(os.environ["BENCH_SEGMENTS"])
big = int(os.environ["BENCH_BIG_SIZE"])
out = {"timings_s": {}}

user = get_user_model().objects.create_user(username=os.environ["BENCH_USER"], password=os.environ["BENCH_PASSWORD"])
project = project_create(user=user, name="editor frames bench", kind="instance")
cls = label_class_create(project=project, name="object", kind="thing", color="#e6194b")


def upload(name, data):
    t = time.monotonic()
    batch = images_upload(project=project, files=[SimpleUploadedFile(name, data, content_type="image/jpeg")],
                          user=user)
    result = batch.results[0]
    if result.status != "accepted":
        raise SystemExit(f"upload of {name} was {result.status}: {result.code} {result.message}")
    image = Image.objects.get(pk=result.image_id)
    if image.pyramid_status != PyramidStatus.READY:
        raise SystemExit(f"pyramid of {name} is {image.pyramid_status} (is CELERY_TASK_ALWAYS_EAGER set?)")
    info = {"id": image.pk, "width": image.width, "height": image.height, "file_bytes": len(data),
            "pyramid_tile_size": image.pyramid_tile_size, "pyramid_levels": image.pyramid_levels,
            "upload_and_pyramid_s": round(time.monotonic() - t, 2)}
    return image, info


# (a) a photo-like JPEG: smooth colour fields at two scales plus fine grain.
t = time.monotonic()
rng = np.random.default_rng(1)
def smooth(cells, tenths):
    low = rng.integers(0, 256, (cells, cells, 3), dtype=np.uint8)
    up = np.asarray(PILImage.fromarray(low).resize((size, size), PILImage.BICUBIC), dtype=np.int16)
    return (up - 128) * tenths // 10
pixels = 128 + smooth(12, 8) + smooth(96, 3) + rng.integers(-10, 11, (size, size, 3), dtype=np.int16)
photo_path = work / "photo.jpg"
PILImage.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(photo_path, format="JPEG", quality=90)
del pixels
out["timings_s"]["make_photo"] = round(time.monotonic() - t, 2)
image, out["image"] = upload("bench-4096.jpg", photo_path.read_bytes())
photo_path.unlink()

# 1000 segments: one irregular blob (ellipse + a rectangle sticking out) per randomly chosen grid cell, so the
# blobs do not overlap and every id has pixels.
t = time.monotonic()
cols = int(np.ceil(np.sqrt(n_segments)))
rows = int(np.ceil(n_segments / cols))
cw, ch = size / cols, size / rows
cells = rng.permutation(cols * rows)[:n_segments]
label_map = np.zeros((size, size), dtype=np.uint32)
for i, cell in enumerate(cells, start=1):
    c, r = int(cell) % cols, int(cell) // cols
    x0, y0, x1, y1 = int(c * cw), int(r * ch), int((c + 1) * cw), int((r + 1) * ch)
    h, w = y1 - y0, x1 - x0
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.35, 0.65)
    rx, ry = w * rng.uniform(0.18, 0.34), h * rng.uniform(0.18, 0.34)
    blob = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
    hx1 = int(min(w - 1, cx + rx * rng.uniform(0.6, 1.4)))
    hy0, hy1 = int(max(0, cy - ry * 0.3)), int(min(h - 1, cy + ry * rng.uniform(0.5, 1.3)))
    blob[hy0:hy1, int(cx):hx1] = True
    label_map[y0:y1, x0:x1][blob] = i
annotation, _ = annotation_get_or_create(image=image, user=user)
tiles = [TileUpdate(tx=tx, ty=ty, data=encode_tile(arr))
         for (tx, ty), arr in split_map(label_map, tile_size=annotation.tile_size).items()]
saved = labelmap_save(annotation=annotation, user=user, base_version=annotation.version, tiles=tiles,
                      segments=[SegmentInput(segment_id=i, class_id=cls.pk) for i in range(1, n_segments + 1)],
                      deleted_segment_ids=[])
out["annotation"] = {"id": annotation.pk, "version": saved.annotation.version, "tiles": len(tiles),
                     "tile_size": annotation.tile_size, "segments": len(saved.segments),
                     "labelled_fraction": round(float((label_map > 0).mean()), 3)}
del label_map
out["timings_s"]["label_map"] = round(time.monotonic() - t, 2)

# (b) the big image: three gradients, cheap to make (about 2.4 GB of memory for a moment at 20000 px).
t = time.monotonic()
big_path = work / "big.jpg"
gradient = PILImage.linear_gradient("L").resize((big, big))
channels = (gradient, gradient.transpose(PILImage.Transpose.ROTATE_90),
            PILImage.radial_gradient("L").resize((big, big)))
rgb = PILImage.merge("RGB", channels)
del gradient, channels
rgb.save(big_path, format="JPEG", quality=80)
del rgb
out["timings_s"]["make_big"] = round(time.monotonic() - t, 2)
data = big_path.read_bytes()
big_path.unlink()
_, out["big_image"] = upload(f"bench-{big}.jpg", data)
del data
Path(os.environ["BENCH_OUT"]).write_text(json.dumps(out))
'''


def frontend_build_info() -> dict:
    manifest = ROOT / "frontend" / "dist" / ".vite" / "manifest.json"
    if not manifest.exists():
        raise SystemExit("frontend/dist is not built: run `cd frontend && npm run build` first")
    built = manifest.stat().st_mtime
    newer = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "frontend" / "src").rglob("*.ts")
                   if p.stat().st_mtime > built and not p.name.endswith(".d.ts"))
    return {"dist_built_at": dt.datetime.fromtimestamp(built, dt.UTC).isoformat(timespec="seconds"),
            "src_files_newer_than_dist": newer}


# ---------------------------------------------------------------------------------------------- page scripts

# ----------------------------------------------------------------------------------------------- phases

def breakdown(rows: list[dict], keys: list[str], total_key: str | None = None) -> dict:
    """Mean and p95 of each timed component; `other` = total minus the components (when total_key given)."""
    out = {}
    for key in keys:
        out[key] = summarize(r.get(key, 0.0) for r in rows)
    if total_key:
        out["other"] = summarize(r[total_key] - sum(r.get(k, 0.0) for k in keys if k != "labelTexSub")
                                 for r in rows)
    return {k: {"mean": v["mean"], "p95": v["p95"]} for k, v in out.items()}


RENDER_PARTS = ["labelUpload", "labelApplyPacked", "labelRequestPack", "labelTexSub", "imageDraw", "palette",
                "gpuWait"]


def login(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/app/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(lambda url: "/app/login" not in url)


def wait_saved(page, timeout_ms: int = 60_000) -> bool:
    try:
        page.wait_for_function("window.__editor.autosave.status.state === 'saved'", timeout=timeout_ms)
        return True
    except Exception:  # noqa: BLE001 - reported, not fatal
        log("warning: autosave did not reach 'saved'")
        return False


def gpu_split(page, frames: int = 15) -> dict:
    res = page.evaluate(GPU_SPLIT_JS, {"frames": frames})
    out = {name: median(ms) for name, ms in res["ms"].items()}
    out.update(scale=round(res["scale"], 4), image_tiles=res["imageTiles"], label_tiles=res["labelTiles"])
    return out


def set_view_js(scale_expr: str) -> str:
    """JS that centres the image at `scale_expr` (may use `fit`) and returns the viewport."""
    return f"""(fit) => {{ const {{ session, renderer: r }} = window.__editor; const {{ width: W, height: H }} = r.size;
        const img = session.data.image; const scale = {scale_expr};
        r.setViewport({{ scale, x: W / 2 - img.width * scale / 2, y: H / 2 - img.height * scale / 2 }});
        return r.viewport; }}"""


def pan_zoom_pass(page, frames: int, fit_scale: float, max_scale: float, *, wait_for_gpu: bool,
                  settle_ms: float = 0, stub_layers: bool = False, server: ServerProcess | None = None) -> dict:
    cpu0 = server_cpu_seconds(server) if server else 0.0
    res = page.evaluate(PAN_ZOOM_JS, {"frames": frames, "waitForGpu": wait_for_gpu, "settleMs": settle_ms,
                                      "stubLayers": stub_layers, "maxScale": max_scale, "fitScale": fit_scale})
    rows = res["rows"]
    out = {
        "frame_ms": summarize(r["frameMs"] for r in rows),
        "raf_interval_ms": summarize(res["intervals"]),
        "raf_intervals_over_20ms": sum(1 for x in res["intervals"] if x > 20),
    }
    if server:
        # Tile requests served meanwhile: a cold pass shares the 2 cores with the server's Python.
        out["server_cpu_s"] = round(server_cpu_seconds(server) - cpu0, 2)
        out["pass_wall_s"] = round(sum(res["intervals"]) / 1000, 2)
    if settle_ms:
        out["settle_ms"] = settle_ms
        out["drain_ms"] = summarize(r["drainMs"] for r in rows)
        out["drain_plus_frame_ms"] = summarize(r["drainMs"] + r["frameMs"] for r in rows)
    if not stub_layers:
        out.update({
            "breakdown_ms": breakdown(rows, RENDER_PARTS, "ms"),
            "label_uploads_per_frame_mean": round(float(np.mean([r["labelUploads"] for r in rows])), 2),
            "frames_with_label_uploads": sum(1 for r in rows if r["labelUploads"]),
            "frames_with_tiles_not_drawn_yet": sum(1 for r in rows if r["pendingUploads"]),
            "image_tiles_per_frame_mean": round(float(np.mean([r["imageTiles"] for r in rows])), 1),
            "label_tiles_per_frame_mean": round(float(np.mean([r["labelTiles"] for r in rows])), 1),
        })
    return out


def open_editor(page, base: str, image: dict) -> dict:
    page.goto(f"{base}/app/images/{image['id']}")
    page.wait_for_function("window.__editor?.renderer && window.__editor.renderer.viewport.scale !== 1")
    idle = page.evaluate(WAIT_IDLE_JS, 60_000)
    if idle.get("timeout"):
        log("warning: tiles still loading after 60 s")
    return page.evaluate("""() => { const r = window.__editor.renderer;
        return { size: r.size, viewport: r.viewport, segments: window.__editor.session.table.all().length,
                 labelsPackedInWorker: r.labelsPackedInWorker }; }""")


def measure_pipelined_cold(browser, server: ServerProcess, storage: dict, image: dict, args) -> dict:
    """The pan/zoom path as the user sees it: a fresh context (cold HTTP cache and GPU), no GPU waits, so frames
    pipeline as in real use; the rAF intervals are the frame rate on screen."""
    context = browser.new_context(viewport=VIEWPORT, storage_state=storage)
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        info = open_editor(page, server.base, image)
        page.evaluate(INSTRUMENT_JS)
        log(f"pan/zoom: {args.frames} frames, pipelined_cold (fresh context)")
        return pan_zoom_pass(page, args.frames, info["viewport"]["scale"], args.max_scale, wait_for_gpu=False,
                             server=server)
    finally:
        context.close()


def measure_editor(browser, server: ServerProcess, username: str, password: str, image: dict, args, result: dict):
    """Login, then pan/zoom, brush and real-input drag on the 4096^2 image. Returns the storage state."""
    base = server.base
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        login(page, base, username, password)
        storage = context.storage_state()
        result["machine"]["gpu"] = page.evaluate(GPU_JS)

        log(f"opening the editor of image {image['id']} ({image['width']}x{image['height']})")
        t = time.monotonic()
        info = open_editor(page, base, image)
        log(f"editor open and idle after {time.monotonic() - t:.1f}s")
        result["canvas"] = [info["size"]["width"], info["size"]["height"]]
        result["device_pixel_ratio"] = info["size"]["dpr"]
        result["segments_loaded_in_editor"] = info["segments"]
        result["labels_packed_in_worker"] = info["labelsPackedInWorker"]
        result["editor_open_idle_s"] = round(time.monotonic() - t, 2)
        instrumented = page.evaluate(INSTRUMENT_JS)
        result["instrumented"] = instrumented
        fit_scale = info["viewport"]["scale"]

        # ---- pan/zoom (see PAN_ZOOM_JS); the first pass is the first traversal (tiles streaming in).
        passes = {}
        plan = (("own_cold", {"wait_for_gpu": True, "settle_ms": args.settle_ms}),
                ("own_warm", {"wait_for_gpu": True, "settle_ms": args.settle_ms}),
                ("gpu_wait_after_raf_warm", {"wait_for_gpu": True}),
                ("pipelined_warm", {"wait_for_gpu": False}),
                ("floor_nothing_drawn", {"wait_for_gpu": True, "stub_layers": True}))
        for name, how in plan:
            log(f"pan/zoom: {args.frames} frames, {name}")
            passes[name] = pan_zoom_pass(page, args.frames, fit_scale, args.max_scale, server=server, **how)
            page.evaluate(WAIT_IDLE_JS, 30_000)
        result["pan_zoom_ms"] = {
            "frames": args.frames,
            "scale_range": [round(fit_scale, 4), args.max_scale],
            "pan_step_css_px": 40,
            # The headline: the editor's own frame (view change, draw, GPU finished), first traversal.
            "p50": passes["own_cold"]["frame_ms"]["p50"],
            "p95": passes["own_cold"]["frame_ms"]["p95"],
            "max": passes["own_cold"]["frame_ms"]["max"],
            "passes": passes,
        }

        # ---- GPU time by layer, at fit and at zoom 1
        page.evaluate(set_view_js("fit"), fit_scale)
        page.evaluate(WAIT_IDLE_JS, 60_000)
        result["gpu_frame_by_layer_ms"] = {"note": "median renderNow({waitForGpu}) ms at a fixed view with layers "
                                           "skipped; no uploads", "fit": gpu_split(page)}

        # ---- brush at zoom 1
        page.evaluate(set_view_js("1"), fit_scale)
        page.evaluate(WAIT_IDLE_JS, 60_000)
        result["gpu_frame_by_layer_ms"]["zoom_1"] = gpu_split(page)
        wait_saved(page)
        log(f"brush: {args.brush_steps} steps, radius {args.radius}")
        brush = page.evaluate(BRUSH_JS, {"steps": args.brush_steps, "radius": args.radius})
        paint_rows = [p["paint"] for p in brush["parts"]]
        render_rows = [{**p["render"], "ms": p["stats"]["ms"]} for p in brush["parts"]]
        paint_parts = breakdown(paint_rows, ["mapPaint", "emit"])
        paint_parts["mask_and_rest"] = {
            "mean": round(float(np.mean([a - b["mapPaint"] - b["emit"]
                                         for a, b in zip(brush["paint"], paint_rows)])), 2)}
        result["brush_step_ms"] = {
            "steps": args.brush_steps, "radius": args.radius, "scale": brush["scale"],
            "step_length_image_px": round(brush["stepPx"], 1),
            "paint": summarize(brush["paint"]),
            "render": summarize(brush["render"]),
            "combined": summarize(brush["combined"]),
            "paint_breakdown_ms": paint_parts,
            "render_breakdown_ms": breakdown(render_rows, RENDER_PARTS, "ms"),
            "label_uploads_per_step_mean": round(float(np.mean([p["render"]["uploads"] for p in brush["parts"]])), 2),
            "label_tiles_drawn_mean": round(float(np.mean([p["stats"]["labelTiles"] for p in brush["parts"]])), 1),
            "steps_with_pending_uploads": sum(1 for p in brush["parts"] if p["stats"]["pendingUploads"]),
            "end_stroke_ms": round(brush["endStrokeMs"], 1),
        }
        saved = wait_saved(page)
        result["brush_step_ms"]["autosave_saved_after_stroke"] = saved

        # ---- real input: a mouse drag with the brush tool
        page.evaluate(WAIT_IDLE_JS, 30_000)
        box = page.get_by_test_id("editor-overlay").bounding_box()
        n = args.drag_moves
        points = [(box["x"] + box["width"] * (0.15 + 0.7 * i / n),
                   box["y"] + box["height"] * (0.5 + 0.25 * np.sin(2 * np.pi * i / n))) for i in range(n + 1)]
        log(f"mouse drag: {n} moves")
        page.evaluate(DRAG_START_JS)
        page.mouse.move(*points[0])
        t = time.monotonic()
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y)
        page.mouse.up()
        drag_wall = time.monotonic() - t
        rec = page.evaluate(DRAG_STOP_JS)
        downs = [p["t"] for p in rec["pointer"] if p["type"] == "pointerdown"]
        ups = [p["t"] for p in rec["pointer"] if p["type"] == "pointerup"]
        t0 = downs[0] if downs else rec["raf"][0]
        t1 = ups[-1] if ups else rec["raf"][-1]
        raf = [ts for ts in rec["raf"] if t0 <= ts <= t1 + 17]
        intervals = [b - a for a, b in zip(raf, raf[1:])]
        frames = [f for f in rec["frames"] if t0 <= f["t"] <= t1 + 17]
        result["input_frame_interval_ms"] = {
            **summarize(intervals),
            "intervals_over_20ms": sum(1 for x in intervals if x > 20),
            "moves": n,
            "pointermoves_received": sum(1 for p in rec["pointer"] if p["type"] == "pointermove"),
            "drag_ms": round(t1 - t0, 1),
            "drag_wall_s_python": round(drag_wall, 2),
            "app_renders": len(frames),
            "app_render_ms": summarize(f["ms"] for f in frames),
            "app_render_label_uploads_mean": (round(float(np.mean([f["labelUploads"] for f in frames])), 2)
                                              if frames else None),
            "autosave_states_during_drag": [s["state"] for s in rec["status"] if t0 <= s["t"] <= t1],
            "long_tasks_ms": [round(x["ms"]) for x in rec["longTasks"] if t0 <= x["t"] <= t1],
        }
        wait_saved(page)
        return storage
    finally:
        context.close()


def measure_first_view(browser, base: str, storage: dict, image: dict, loads: int, timeout_s: float) -> dict:
    runs = []
    for i in range(loads):
        context = browser.new_context(viewport=VIEWPORT, storage_state=storage)  # own, empty HTTP cache
        try:
            context.add_init_script(FIRST_VIEW_INIT_JS)
            page = context.new_page()
            page.set_default_timeout(int(timeout_s * 1000))
            t = time.monotonic()
            page.goto(f"{base}/app/images/{image['id']}", wait_until="commit")
            timed_out = False
            try:
                page.wait_for_function("window.__benchFv && window.__benchFv.full !== undefined",
                                       timeout=int(timeout_s * 1000))
            except Exception:  # noqa: BLE001 - a slow load is a result, recorded as null
                timed_out = True
            fv = page.evaluate(FIRST_VIEW_COLLECT_JS)
            run = {
                "first_tile_ms": round(fv["firstTile"], 1) if fv.get("firstTile") is not None else None,
                "all_visible_tiles_ms": round(fv["full"], 1) if fv.get("full") is not None else None,
                "editor_mounted_ms": round(fv["editorAt"], 1) if fv.get("editorAt") is not None else None,
                "first_frame_ms": round(fv["firstFrame"], 1) if fv.get("firstFrame") is not None else None,
                "html_response_end_ms": round(fv["navigation"]["responseEnd"], 1) if fv.get("navigation") else None,
                "fitted_level": ((fv.get("fullStats") or {}).get("expected") or {}).get("level"),
                "tiles_drawn_at_full": (fv.get("fullStats") or {}).get("imageTiles"),
                "first_tile_scale": (fv.get("firstTileStats") or {}).get("scale"),
                "tile_requests": fv["tileRequests"],
                "tile_bytes": fv["tileBytes"],
                "tile_errors": fv["tileErrors"],
                "frames": fv["frames"],
                "timed_out": timed_out,
                "wall_s": round(time.monotonic() - t, 2),
            }
            log(f"first view {i + 1}/{loads}: first tile {run['first_tile_ms']} ms, "
                f"all visible {run['all_visible_tiles_ms']} ms, {run['tile_requests']} tile requests")
            runs.append(run)
        finally:
            context.close()
    return {
        "first_tile": median(r["first_tile_ms"] for r in runs),
        "all_visible_tiles": median(r["all_visible_tiles_ms"] for r in runs),
        "editor_mounted": median(r["editor_mounted_ms"] for r in runs),
        "loads": loads,
        "runs": runs,
    }


# ------------------------------------------------------------------------------------------------------ main

def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=200, help="pan/zoom frames per pass (default 200)")
    p.add_argument("--max-scale", type=float, default=4.0, help="largest zoom of the pan/zoom path (default 4)")
    p.add_argument("--settle-ms", type=float, default=10.0,
                   help="own_* passes: ms after each animation frame for the compositor to finish (default 10)")
    p.add_argument("--brush-steps", type=int, default=200, help="steps of the brush stroke (default 200)")
    p.add_argument("--radius", type=int, default=20, help="brush radius in image px (default 20)")
    p.add_argument("--drag-moves", type=int, default=100, help="mouse moves of the real-input drag (default 100)")
    p.add_argument("--first-view-loads", type=int, default=3, help="fresh loads of the big image (default 3)")
    p.add_argument("--first-view-timeout", type=float, default=120.0, help="seconds per first-view load (default 120)")
    p.add_argument("--image-size", type=int, default=4096, help="side of the edited image (default 4096)")
    p.add_argument("--segments", type=int, default=1000, help="segments in its label map (default 1000)")
    p.add_argument("--big-size", type=int, default=20000, help="side of the first-view image (default 20000)")
    p.add_argument("--max-runtime", type=float, default=900.0, help="abort after this many seconds (default 900)")
    args = p.parse_args()

    t_start = time.monotonic()
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("--max-runtime exceeded")))
    signal.alarm(int(args.max_runtime))

    result: dict = {
        "benchmark": "editor_frames",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]},
        "frontend_build": frontend_build_info(),
        "canvas": None,
        "image": f"{args.image_size}x{args.image_size}",
        "segments": args.segments,
        "target_p95_ms": TARGET_P95_MS,
    }
    if result["frontend_build"]["src_files_newer_than_dist"]:
        log("warning: frontend sources changed after the last build; measuring frontend/dist as built: "
            + ", ".join(result["frontend_build"]["src_files_newer_than_dist"]))
    work = Path(tempfile.mkdtemp(prefix="annotator-editor-bench-"))
    username = f"bench-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "DJANGO_ENV": "development",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "ANNOTATOR_VAR_DIR": str(work / "var"),
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "ANNOTATOR_LOG_LEVEL": "WARNING",
    }
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "STORAGE_BACKEND", "DJANGO_MEDIA_ROOT", "ANNOTATOR_BROKER_DIR",
                 "DJANGO_DEBUG"):
        env.pop(name, None)  # SQLite, local media and the broker all inside the temporary folder
    server = ServerProcess(lambda bind: [sys.executable, "manage.py", "runserver", "--noreload", bind], env,
                           work / "runserver.log", name="runserver")
    exit_code = 0
    try:
        t = time.monotonic()
        log(f"migrate (temporary folder {work})")
        manage(env, "migrate", "--noinput")
        log(f"creating data: {args.image_size}^2 image + {args.segments} segments, {args.big_size}^2 image "
            "(pyramids built in-process)")
        setup_out = work / "setup.json"
        manage({**env, "BENCH_WORK": str(work), "BENCH_OUT": str(setup_out), "BENCH_USER": username,
                "BENCH_PASSWORD": password, "BENCH_IMAGE_SIZE": str(args.image_size),
                "BENCH_SEGMENTS": str(args.segments), "BENCH_BIG_SIZE": str(args.big_size)},
               "shell", "-c", SETUP_SNIPPET, timeout=max(60.0, args.max_runtime - (time.monotonic() - t_start)))
        setup = json.loads(setup_out.read_text())
        for key in ("image", "big_image"):
            levels = setup[key].pop("pyramid_levels")
            setup[key]["pyramid"] = {"levels": len(levels), "tiles": sum(c * r for _, _, c, r in levels)}
        result["setup"] = {**setup, "total_s": round(time.monotonic() - t, 1)}
        log(f"setup done in {result['setup']['total_s']}s: {json.dumps(setup['timings_s'])}, "
            f"big image pyramid {setup['big_image']['upload_and_pyramid_s']}s")

        log("starting runserver")
        server.start()
        result["server"] = "manage.py runserver --noreload 127.0.0.1:<port> (DEBUG, SQLite)"
        from playwright.sync_api import sync_playwright

        cpu0 = (cpu_snapshot(), machine_busy_seconds(), time.monotonic())
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                result["machine"]["chromium"] = browser.version
                storage = measure_editor(browser, server, username, password, setup["image"], args, result)
                result["pan_zoom_ms"]["passes"]["pipelined_cold"] = measure_pipelined_cold(
                    browser, server, storage, setup["image"], args)
                log(f"first view of {args.big_size}x{args.big_size}: {args.first_view_loads} fresh loads")
                result[f"first_view_{args.big_size}_ms"] = measure_first_view(
                    browser, server.base, storage, setup["big_image"], args.first_view_loads, args.first_view_timeout)
            finally:
                browser.close()
        other = other_cpu_seconds(cpu0[0], cpu_snapshot(), os.getpid())
        busy, wall = machine_busy_seconds() - cpu0[1], time.monotonic() - cpu0[2]
        # Browser phases only. `other_processes` is CPU used meanwhile by processes that are not this benchmark
        # (its server, Playwright and Chromium): if it is large, the run is not comparable with a quiet one.
        result["cpu_s"] = {"machine_busy": round(busy, 1), "other_processes": round(other, 1),
                           "wall": round(wall, 1), "cores": os.cpu_count()}
    except BaseException as exc:  # noqa: BLE001 - report what was measured, then fail
        result["error"] = f"{type(exc).__name__}: {exc}"
        tail = server.tail()
        if tail:
            log("runserver log tail:\n" + tail)
        exit_code = 1
    finally:
        signal.alarm(0)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    # Frame *intervals* are at least one display refresh (16.7 ms at 60 Hz), so they are not held to the 16 ms
    # budget; `intervals_over_20ms` counts the missed refreshes instead.
    checks = {}
    if result.get("pan_zoom_ms"):
        checks["pan_zoom_p95"] = result["pan_zoom_ms"]["p95"]
    if result.get("brush_step_ms"):
        checks["brush_combined_p95"] = result["brush_step_ms"]["combined"]["p95"]
    result["meets_target_p95"] = {k: (v is not None and v < TARGET_P95_MS) for k, v in checks.items()}
    result["elapsed_s"] = round(time.monotonic() - t_start, 1)
    print(json.dumps(result, indent=2))
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
