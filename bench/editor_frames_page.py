"""Page-side code of bench/editor_frames.py: JavaScript run in the editor through Playwright's evaluate.

Each snippet runs inside the editor page (which exposes `window.__editor = {session, renderer, autosave}`);
keeping the timing loops in the page avoids a Playwright round trip per frame.
"""

GPU_JS = """() => {
  const gl = document.createElement("canvas").getContext("webgl2");
  if (!gl) return null;
  const ext = gl.getExtension("WEBGL_debug_renderer_info");
  const out = {
    renderer: ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER),
    vendor: ext ? gl.getParameter(ext.UNMASKED_VENDOR_WEBGL) : gl.getParameter(gl.VENDOR),
    version: gl.getParameter(gl.VERSION),
  };
  gl.getExtension("WEBGL_lose_context")?.loseContext();
  return out;
}"""

# Timing wrappers around renderer/session internals (instance properties shadowing the class methods).
INSTRUMENT_JS = """() => {
  if (window.__benchAcc) return window.__benchAcc.ok;
  const { session, renderer: r } = window.__editor;
  const acc = { imageDraw: 0, labelUpload: 0, labelApplyPacked: 0, labelRequestPack: 0, labelTexSub: 0,
                palette: 0, gpuWait: 0, mapPaint: 0, emit: 0, uploads: 0 };
  const wrap = (obj, name, key, count) => {
    const f = obj && obj[name];
    if (typeof f !== "function") return false;
    obj[name] = function (...args) {
      const t = performance.now();
      try { return f.apply(this, args); } finally { acc[key] += performance.now() - t; if (count) acc[count]++; }
    };
    return true;
  };
  const ok = {
    imageDraw: wrap(r.image, "draw", "imageDraw"),
    labelUpload: wrap(r.labels, "upload", "labelUpload", "uploads"),
    labelApplyPacked: wrap(r.labels, "applyPacked", "labelApplyPacked"),
    labelRequestPack: wrap(r.labels, "requestPack", "labelRequestPack"),
    labelTexSub: wrap(r.labels, "writeTexels", "labelTexSub"),
    palette: wrap(r.labels, "syncPalette", "palette"),
    gpuWait: wrap(r.gl, "readPixels", "gpuWait"),
    mapPaint: wrap(session.map, "paint", "mapPaint"),
    emit: wrap(session, "emit", "emit"),
  };
  const take = () => { const c = { ...acc }; for (const k in acc) acc[k] = 0; return c; };
  // Skip drawing the image layer and/or the label layer until the returned function restores them.
  const stubLayers = ({ image, labels }) => {
    const own = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
    const saved = [[r.image, own(r.image, "draw"), r.image.draw], [r.labels, own(r.labels, "draw"), r.labels.draw]];
    if (image) r.image.draw = () => 0;
    if (labels) r.labels.draw = () => ({ drawn: 0, uploads: 0, pending: 0, packing: 0 });
    return () => { for (const [o, wasOwn, f] of saved) { if (wasOwn) o.draw = f; else delete o.draw; } };
  };
  window.__benchAcc = { ok, take, stubLayers };
  return ok;
}"""

# Resolves once the view is idle: no image tile loads in flight and no label uploads pending.
WAIT_IDLE_JS = """async (timeoutMs) => {
  const r = window.__editor.renderer;
  const t0 = performance.now();
  let s, quiet = 0;
  for (;;) {
    await new Promise((res) => requestAnimationFrame(res));
    s = r.renderNow();
    quiet = s.imageLoads === 0 && s.pendingUploads === 0 ? quiet + 1 : 0;
    if (quiet >= 3) return { ...s, waited_ms: performance.now() - t0 };
    if (performance.now() - t0 > timeoutMs) return { ...s, waited_ms: performance.now() - t0, timeout: true };
  }
}"""

# The pan/zoom path. Per animation frame, with `settleMs`: first let the GPU process finish compositing the
# previous frame (it does so at the same vsync that runs this callback; in software WebGL that takes 5-15 ms of
# the one GPU thread, which the next readPixels would otherwise wait for): wait settleMs, then drain (a timed
# 1-pixel readPixels, `drainMs`: whatever GPU work is still queued). Then the view change and
# renderNow({waitForGpu}), timed: the editor's own CPU + GPU cost of the frame. `stubLayers` replaces the image
# and label draws by no-ops for the pass (the environment's floor: the same loop drawing only the clear).
PAN_ZOOM_JS = """async ({ frames, waitForGpu, settleMs, stubLayers, maxScale, fitScale }) => {
  const { session, renderer: r } = window.__editor;
  const { width: W, height: H } = r.size;
  const imgW = session.data.image.width, imgH = session.data.image.height;
  const acc = window.__benchAcc;
  const restore = acc.stubLayers({ image: stubLayers, labels: stubLayers });
  const pixel = new Uint8Array(4);
  let scale = fitScale, cx = imgW / 2, cy = imgH / 2;
  const rows = [], intervals = [];
  let last = null;
  try {
    for (let k = 0; k < frames; k++) {
      const ts = await new Promise((res) => requestAnimationFrame(res));
      if (last !== null) intervals.push(ts - last);
      last = ts;
      let drainMs = 0;
      if (settleMs) {
        await new Promise((res) => setTimeout(res, settleMs));
        const t = performance.now();
        r.gl.readPixels(0, 0, 1, 1, r.gl.RGBA, r.gl.UNSIGNED_BYTE, pixel);
        drainMs = performance.now() - t;
      }
      if (k % 2 === 0) {
        // Pan 40 CSS px in a slowly turning direction, bouncing off the image border.
        const a = (2 * Math.PI * 3 * k) / frames;
        cx += (40 * Math.cos(a)) / scale;
        cy += (40 * Math.sin(a)) / scale;
        cx = Math.min(imgW, Math.max(0, cx));
        cy = Math.min(imgH, Math.max(0, cy));
      } else {
        // Zoom about the canvas centre: log-scale triangle wave fit -> max -> fit, twice over the run.
        const u = ((2 * k) / frames) % 1;
        const tri = u < 0.5 ? 2 * u : 2 - 2 * u;
        scale = fitScale * Math.pow(maxScale / fitScale, tri);
      }
      const t0 = performance.now();
      r.interacting(); // as the editor's wheel/drag/keyboard handlers do before every view change
      r.setViewport({ scale, x: W / 2 - cx * scale, y: H / 2 - cy * scale });
      acc.take();
      const s = r.renderNow({ waitForGpu });
      rows.push({ ...s, ...acc.take(), frameMs: performance.now() - t0, drainMs, scale });
    }
  } finally {
    restore();
  }
  return { rows, intervals };
}"""

# One synchronous loop: no Playwright round trips and no event-loop turns between steps.
BRUSH_JS = """({ steps, radius }) => {
  const { session, renderer: r } = window.__editor;
  const acc = window.__benchAcc;
  const v = r.viewport, { width: W, height: H } = r.size;
  // The stroke: left to right across 80% of the canvas, two sine periods of +-30% of its height.
  const at = (i) => {
    const t = i / steps;
    return [(W * (0.1 + 0.8 * t) - v.x) / v.scale, (H * (0.5 + 0.3 * Math.sin(4 * Math.PI * t)) - v.y) / v.scale];
  };
  const paint = [], render = [], combined = [], parts = [];
  let dist = 0;
  const [x0, y0] = at(0);
  session.beginStroke(x0, y0, radius, false);
  r.renderNow({ waitForGpu: true });
  acc.take();
  let prev = [x0, y0];
  for (let i = 1; i <= steps; i++) {
    const p = at(i);
    dist += Math.hypot(p[0] - prev[0], p[1] - prev[1]);
    prev = p;
    const t0 = performance.now();
    session.extendStroke(p[0], p[1]);
    const t1 = performance.now();
    const paintAcc = acc.take();
    const s = r.renderNow({ waitForGpu: true });
    const t2 = performance.now();
    paint.push(t1 - t0);
    render.push(t2 - t1);
    combined.push(t2 - t0);
    parts.push({ paint: paintAcc, render: acc.take(), stats: s });
  }
  const te = performance.now();
  session.endStroke();
  const endStrokeMs = performance.now() - te;
  return { paint, render, combined, parts, endStrokeMs, stepPx: dist / steps, scale: v.scale,
           segment: session.activeSegment };
}"""

# Where the GPU time goes at a fixed view: the same frame with the label layer, the image layer or both
# skipped (their draw methods stubbed for the measurement, then restored). Synchronous, waitForGpu.
GPU_SPLIT_JS = """({ frames }) => {
  const r = window.__editor.renderer;
  const modes = { full: {}, image_only: { labels: true }, labels_only: { image: true },
                  clear_only: { image: true, labels: true } };
  const out = {};
  for (const [name, skip] of Object.entries(modes)) {
    const restore = window.__benchAcc.stubLayers(skip);
    try {
      r.renderNow({ waitForGpu: true });
      const ms = [];
      for (let i = 0; i < frames; i++) ms.push(r.renderNow({ waitForGpu: true }).ms);
      out[name] = ms;
    } finally {
      restore();
    }
  }
  const s = r.renderNow({ waitForGpu: true });
  return { ms: out, imageTiles: s.imageTiles, labelTiles: s.labelTiles, scale: r.viewport.scale };
}"""

DRAG_START_JS = """() => {
  const { renderer: r, autosave } = window.__editor;
  const rec = { raf: [], frames: [], status: [], pointer: [], longTasks: [], on: true };
  const loop = (ts) => { rec.raf.push(ts); if (rec.on) requestAnimationFrame(loop); };
  requestAnimationFrame(loop);
  // Main-thread tasks over 50 ms (whatever ran them: the app's panels, saves, or the browser's own work).
  rec.longObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) rec.longTasks.push({ t: e.startTime, ms: e.duration });
  });
  rec.longObserver.observe({ type: "longtask" });
  rec.offFrame = r.on("frame", (s) => rec.frames.push({ t: performance.now(), ...s }));
  rec.offStatus = autosave.onStatus((s) => rec.status.push({ t: performance.now(), state: s.state }));
  rec.onPointer = (e) => rec.pointer.push({ t: performance.now(), type: e.type });
  for (const type of ["pointerdown", "pointermove", "pointerup"]) window.addEventListener(type, rec.onPointer, true);
  window.__benchRec = rec;
}"""

DRAG_STOP_JS = """async () => {
  const rec = window.__benchRec;
  await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
  rec.on = false;
  rec.longObserver.disconnect();
  rec.offFrame();
  rec.offStatus();
  for (const type of ["pointerdown", "pointermove", "pointerup"]) window.removeEventListener(type, rec.onPointer, true);
  return { raf: rec.raf, frames: rec.frames, status: rec.status, pointer: rec.pointer, longTasks: rec.longTasks };
}"""

# Installed before any page script: hooks the renderer the moment the editor publishes window.__editor.
FIRST_VIEW_INIT_JS = """(() => {
  const fv = { frames: 0, tileErrors: 0 };
  window.__benchFv = fv;
  try { performance.setResourceTimingBufferSize(10000); } catch (e) {}
  const expectedTiles = (editor, r) => {
    const img = editor.session?.data?.image;
    const levels = img?.pyramid_levels;
    if (!levels || !levels.length) return null;
    const v = r.viewport, { width: W, height: H, dpr } = r.size;
    const deviceScale = v.scale * dpr;
    let level = 0;
    if (deviceScale > 0 && levels.length > 1) level = Math.floor(-Math.log2(deviceScale) + 1e-9);
    level = Math.min(levels.length - 1, Math.max(0, level));
    const extent = img.pyramid_tile_size * 2 ** level;
    const [, , cols, rows] = levels[level];
    const x = -v.x / v.scale, y = -v.y / v.scale, w = W / v.scale, h = H / v.scale;
    const clamp = (n, hi) => Math.min(hi, Math.max(0, n));
    const nx = clamp(Math.ceil((x + w) / extent), cols) - clamp(Math.floor(x / extent), cols);
    const ny = clamp(Math.ceil((y + h) / extent), rows) - clamp(Math.floor(y / extent), rows);
    return { level, tiles: Math.max(0, nx) * Math.max(0, ny) };
  };
  let editor;
  Object.defineProperty(window, "__editor", {
    configurable: true,
    get() { return editor; },
    set(value) {
      editor = value;
      fv.editorAt = performance.now();
      const r = value.renderer;
      r.on("tileerror", () => fv.tileErrors++);
      r.on("frame", (s) => {
        const now = performance.now();
        fv.frames++;
        if (fv.firstFrame === undefined) fv.firstFrame = now;
        if (s.imageTiles > 0 && fv.firstTile === undefined) {
          fv.firstTile = now;
          fv.firstTileStats = { ...s, scale: r.viewport.scale };
        }
        if (fv.full === undefined && s.imageTiles > 0 && s.imageLoads === 0 && s.pendingUploads === 0) {
          const exp = expectedTiles(value, r);
          if (exp === null || s.imageTiles >= exp.tiles) {
            fv.full = now;
            fv.fullStats = { ...s, scale: r.viewport.scale, expected: exp };
          }
        }
      });
    },
  });
})();"""

FIRST_VIEW_COLLECT_JS = """() => {
  const fv = window.__benchFv;
  const nav = performance.getEntriesByType("navigation")[0];
  const tiles = performance.getEntriesByType("resource")
    .filter((e) => /\\/api\\/images\\/\\d+\\/tiles\\//.test(e.name));
  return {
    ...fv,
    navigation: nav ? { responseEnd: nav.responseEnd, domContentLoaded: nav.domContentLoadedEventEnd } : null,
    tileRequests: tiles.length,
    tileBytes: tiles.reduce((n, e) => n + (e.encodedBodySize || 0), 0),
  };
}"""
