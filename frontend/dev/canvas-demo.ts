// Standalone check of the canvas layer with synthetic data: a label map with `segments` random rectangles and
// ellipses (ids anywhere in 1..2^32-1) and an image pyramid drawn from the same shapes, so image and labels
// must line up. Drag to pan, wheel to zoom, hover highlights, click selects, "b" paints with a brush.
// window.demo exposes the renderer and a benchmark helper for Playwright.
import { fitImage, Overlay, panBy, Renderer, screenToImage, zoomAt } from "../src/canvas/index";
import type { ImagePyramid, LabelSource, RGBA, Viewport } from "../src/canvas/index";

const params = new URLSearchParams(location.search);
const SIZE = Number(params.get("size") ?? 4096);
const SEGMENTS = Number(params.get("segments") ?? 1000);
const DELAY = Number(params.get("delay") ?? 0);
const IMAGE_TILE = 256;
const LABEL_TILE = 512;
const LIMITS = { min: 0.005, max: 64 };

// Well-known ids for visual checks (painted last, so intact).
export const SPECIAL = {
  max: 0xffffffff, // crosses four label tiles: its outline must be continuous across tile borders
  hidden: 123456789, // palette alpha 0: must not be drawn
  missing: 0xdeadbeef, // not in the palette: drawn with the id-hash fallback colour
  tileExact: 77, // exactly label tile (2, 0): [1024, 1536) × [0, 512)
  neighbour: 78, // touches tileExact across the x = 1536 tile border
};

function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(Number(params.get("seed") ?? 1));

interface Shape {
  kind: "rect" | "ellipse";
  id: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

// --- label map ----------------------------------------------------------------------------------------------

class DemoLabels implements LabelSource {
  readonly width = SIZE;
  readonly height = SIZE;
  readonly tileSize = LABEL_TILE;
  readonly cols = Math.ceil(SIZE / LABEL_TILE);
  readonly rows = Math.ceil(SIZE / LABEL_TILE);
  private readonly tiles = new Map<number, Uint32Array>();
  private readonly revisions = new Map<number, number>();

  tile(tx: number, ty: number): Uint32Array | undefined {
    return this.tiles.get(ty * this.cols + tx);
  }

  tileRevision(tx: number, ty: number): number {
    return this.revisions.get(ty * this.cols + tx) ?? 0;
  }

  tileWidth(tx: number): number {
    return Math.min(LABEL_TILE, SIZE - tx * LABEL_TILE);
  }

  private ensure(tx: number, ty: number): Uint32Array {
    const key = ty * this.cols + tx;
    let t = this.tiles.get(key);
    if (!t) {
      t = new Uint32Array(this.tileWidth(tx) * Math.min(LABEL_TILE, SIZE - ty * LABEL_TILE));
      this.tiles.set(key, t);
    }
    return t;
  }

  /** Fill row spans; returns the touched tiles with their tile-local dirty rects. */
  paint(s: Shape): Map<number, { tx: number; ty: number; x0: number; y0: number; x1: number; y1: number }> {
    const touched = new Map<number, { tx: number; ty: number; x0: number; y0: number; x1: number; y1: number }>();
    const y0 = Math.max(0, Math.floor(s.y0));
    const y1 = Math.min(SIZE, Math.ceil(s.y1));
    const cx = (s.x0 + s.x1) / 2, cy = (s.y0 + s.y1) / 2, rx = (s.x1 - s.x0) / 2, ry = (s.y1 - s.y0) / 2;
    for (let y = y0; y < y1; y++) {
      let xa = s.x0, xb = s.x1;
      if (s.kind === "ellipse") {
        const dy = (y + 0.5 - cy) / ry;
        if (Math.abs(dy) >= 1) continue;
        const half = rx * Math.sqrt(1 - dy * dy);
        xa = cx - half;
        xb = cx + half;
      }
      const a = Math.max(0, Math.round(xa));
      const b = Math.min(SIZE, Math.round(xb));
      if (b <= a) continue;
      const ty = Math.floor(y / LABEL_TILE);
      for (let tx = Math.floor(a / LABEL_TILE); tx <= Math.floor((b - 1) / LABEL_TILE); tx++) {
        const t = this.ensure(tx, ty);
        const w = this.tileWidth(tx);
        const ly = y - ty * LABEL_TILE;
        const la = Math.max(0, a - tx * LABEL_TILE);
        const lb = Math.min(w, b - tx * LABEL_TILE);
        t.fill(s.id, ly * w + la, ly * w + lb);
        const key = ty * this.cols + tx;
        const r = touched.get(key);
        if (!r) touched.set(key, { tx, ty, x0: la, y0: ly, x1: lb, y1: ly + 1 });
        else Object.assign(r, { x0: Math.min(r.x0, la), x1: Math.max(r.x1, lb), y1: ly + 1 });
      }
    }
    for (const key of touched.keys()) this.revisions.set(key, (this.revisions.get(key) ?? 0) + 1);
    return touched;
  }

  /** Overwrite a whole tile (benchmark: the worst case of a brush stroke). */
  scribbleTile(tx: number, ty: number, id: number, phase: number): void {
    const t = this.ensure(tx, ty);
    const w = this.tileWidth(tx);
    for (let y = 0; y < t.length / w; y++) {
      const split = (y * 3 + phase * 7) % w;
      t.fill(id, y * w, y * w + split);
    }
    const key = ty * this.cols + tx;
    this.revisions.set(key, (this.revisions.get(key) ?? 0) + 1);
  }
}

function makeShapes(): Shape[] {
  const shapes: Shape[] = [];
  for (let i = 0; i < SEGMENTS; i++) {
    const w = 20 + random() * random() * 400;
    const h = 20 + random() * random() * 400;
    const x0 = random() * (SIZE - w);
    const y0 = random() * (SIZE - h);
    const id = 1 + Math.floor(random() * 0xfffffffe);
    shapes.push({ kind: random() < 0.5 ? "rect" : "ellipse", id, x0, y0, x1: x0 + w, y1: y0 + h });
  }
  shapes.push({ kind: "rect", id: SPECIAL.max, x0: 400, y0: 430, x1: 640, y1: 600 });
  shapes.push({ kind: "ellipse", id: SPECIAL.hidden, x0: 700, y0: 150, x1: 950, y1: 350 });
  shapes.push({ kind: "ellipse", id: SPECIAL.missing, x0: 150, y0: 100, x1: 350, y1: 300 });
  shapes.push({ kind: "rect", id: SPECIAL.tileExact, x0: 1024, y0: 0, x1: 1536, y1: 512 });
  shapes.push({ kind: "rect", id: SPECIAL.neighbour, x0: 1536, y0: 100, x1: 1700, y1: 300 });
  return shapes;
}

function makePalette(shapes: Shape[]): Map<number, RGBA> {
  const colors = new Map<number, RGBA>();
  for (const s of shapes) {
    const hue = random() * 360;
    colors.set(s.id, hslToRgba(hue, 0.85, 0.55));
  }
  colors.set(SPECIAL.max, [255, 40, 40, 255]);
  colors.set(SPECIAL.hidden, [0, 255, 0, 0]);
  colors.delete(SPECIAL.missing);
  colors.set(SPECIAL.tileExact, [40, 120, 255, 255]);
  colors.set(SPECIAL.neighbour, [40, 220, 90, 255]);
  return colors;
}

function hslToRgba(h: number, s: number, l: number): RGBA {
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return 255 * (l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1)));
  };
  return [Math.round(f(0)), Math.round(f(8)), Math.round(f(4)), 255];
}

// --- image pyramid ------------------------------------------------------------------------------------------

function pyramidLevels(): [number, number, number, number][] {
  const levels: [number, number, number, number][] = [];
  let w = SIZE, h = SIZE;
  for (;;) {
    levels.push([w, h, Math.ceil(w / IMAGE_TILE), Math.ceil(h / IMAGE_TILE)]);
    if (w <= IMAGE_TILE && h <= IMAGE_TILE) break;
    w = Math.ceil(w / 2);
    h = Math.ceil(h / 2);
  }
  return levels;
}

/** Draws one tile from the shapes: a grey gradient, shapes in muted grey, and the tile's address. */
async function drawImageTile(shapes: Shape[], levels: [number, number, number, number][], level: number, x: number, y: number): Promise<Blob> {
  const [lw, lh] = levels[level];
  const tw = Math.min(IMAGE_TILE, lw - x * IMAGE_TILE);
  const th = Math.min(IMAGE_TILE, lh - y * IMAGE_TILE);
  const canvas = new OffscreenCanvas(tw, th);
  const ctx = canvas.getContext("2d")!;
  const f = 2 ** level;
  const ox = x * IMAGE_TILE * f, oy = y * IMAGE_TILE * f;
  ctx.setTransform(1 / f, 0, 0, 1 / f, -ox / f, -oy / f);
  const g = ctx.createLinearGradient(0, 0, SIZE, SIZE);
  g.addColorStop(0, "#3a4150");
  g.addColorStop(1, "#6b5f4f");
  ctx.fillStyle = g;
  ctx.fillRect(ox, oy, IMAGE_TILE * f, IMAGE_TILE * f);
  ctx.fillStyle = "#9a9a9a";
  ctx.strokeStyle = "#202020";
  ctx.lineWidth = f;
  for (const s of shapes) {
    if (s.x1 < ox || s.y1 < oy || s.x0 > ox + IMAGE_TILE * f || s.y0 > oy + IMAGE_TILE * f) continue;
    ctx.beginPath();
    if (s.kind === "rect") ctx.rect(s.x0, s.y0, s.x1 - s.x0, s.y1 - s.y0);
    else ctx.ellipse((s.x0 + s.x1) / 2, (s.y0 + s.y1) / 2, (s.x1 - s.x0) / 2, (s.y1 - s.y0) / 2, 0, 0, Math.PI * 2);
    ctx.fill();
    ctx.stroke();
  }
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#ffffffa0";
  ctx.font = "11px monospace";
  ctx.fillText(`L${level} ${x},${y}`, 4, 14);
  return canvas.convertToBlob({ type: "image/jpeg", quality: 0.85 });
}

// --- page ---------------------------------------------------------------------------------------------------

const stage = document.getElementById("stage")!;
if (params.get("w")) {
  stage.style.width = `${params.get("w")}px`;
  stage.style.height = `${params.get("h") ?? 800}px`;
}
const glCanvas = document.getElementById("gl") as HTMLCanvasElement;
const overlayCanvas = document.getElementById("overlay") as HTMLCanvasElement;
const statsEl = document.getElementById("stats")!;

const shapes = makeShapes();
const labels = new DemoLabels();
const t0 = performance.now();
for (const s of shapes) labels.paint(s);
const paintMs = performance.now() - t0;
const palette = makePalette(shapes);
const levels = pyramidLevels();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// ?urls=blob: every tile is drawn up front into a blob: URL and loaded by the renderer's default fetch path.
// Otherwise tiles are drawn on request through a custom fetchTile ("synthetic:" URLs), which scales to 20k².
const blobUrls = new Map<string, string>();
if (params.get("urls") === "blob") {
  for (let level = 0; level < levels.length; level++) {
    for (let y = 0; y < levels[level][3]; y++) {
      for (let x = 0; x < levels[level][2]; x++) {
        blobUrls.set(`${level}/${x}/${y}`, URL.createObjectURL(await drawImageTile(shapes, levels, level, x, y)));
      }
    }
  }
}
const renderer = new Renderer(glCanvas, {
  fetchTile: blobUrls.size
    ? async (url) => (await fetch(url)).blob() // blob: URLs made above; a dev page, not the app
    : async (url) => {
        const [level, x, y] = url.slice("synthetic:".length).split("/").map(Number);
        if (DELAY) await sleep(DELAY * (level === levels.length - 1 ? 0.2 : 1));
        return drawImageTile(shapes, levels, level, x, y);
      },
});
const pyramid: ImagePyramid = {
  width: SIZE,
  height: SIZE,
  tileSize: IMAGE_TILE,
  levels,
  tileUrl: (level, x, y) => blobUrls.get(`${level}/${x}/${y}`) ?? `synthetic:${level}/${x}/${y}`,
};
renderer.setImage(pyramid);
renderer.setLabels(labels);
renderer.setPalette(palette);
renderer.setStyle({ opacity: 0.5, mode: "fill" });

const overlay = new Overlay(overlayCanvas);
let view: Viewport = fitImage(SIZE, SIZE, renderer.size.width, renderer.size.height, 20);
function setView(v: Viewport) {
  view = v;
  renderer.setViewport(v);
  overlay.setViewport(v);
}
setView(view);

// A demo polygon (with a hole) drawn through a painter, so it follows pans and zooms.
const demoRings: [number, number][][] = [
  [[2200, 2200], [2700, 2250], [2600, 2700], [2250, 2650]],
  [[2350, 2350], [2500, 2380], [2450, 2500]],
];
overlay.addPainter((o) => o.drawPolygon(demoRings, { color: "#00e5ff", fill: "#00e5ff22", vertexHandles: true, activeVertex: { ring: 0, index: 1 } }));
let cursor: { x: number; y: number } | null = null;
let brushOn = false;
const BRUSH_RADIUS = 30;
const BRUSH_ID = 0xabcdef01;
palette.set(BRUSH_ID, [255, 255, 255, 255]);
renderer.setPalette(palette);
overlay.addPainter((o) => {
  if (brushOn && cursor) o.drawCircle(cursor, BRUSH_RADIUS, { color: "#ffffff" });
});

// Frame-time log.
const frameTimes: number[] = [];
renderer.onFrame((ms) => {
  frameTimes.push(ms);
  if (frameTimes.length > 240) frameTimes.shift();
});
setInterval(() => {
  const s = percentiles(frameTimes);
  statsEl.textContent =
    `frames ${frameTimes.length}  p50 ${s.p50.toFixed(2)} ms  p95 ${s.p95.toFixed(2)} ms (CPU side)\n` +
    `scale ${view.scale.toFixed(3)}  segments ${SEGMENTS}  paint ${paintMs.toFixed(0)} ms`;
}, 500);

// --- input --------------------------------------------------------------------------------------------------

let drag: { x: number; y: number } | null = null;
glCanvas.addEventListener("pointerdown", (e) => {
  glCanvas.setPointerCapture(e.pointerId);
  drag = { x: e.offsetX, y: e.offsetY };
  if (brushOn) brushAt(e.offsetX, e.offsetY);
});
glCanvas.addEventListener("pointermove", (e) => {
  cursor = screenToImage(view, { x: e.offsetX, y: e.offsetY });
  if (drag && brushOn) brushAt(e.offsetX, e.offsetY);
  else if (drag) {
    setView(panBy(view, e.offsetX - drag.x, e.offsetY - drag.y));
    drag = { x: e.offsetX, y: e.offsetY };
  } else {
    const id = renderer.pickSegment(e.offsetX, e.offsetY);
    if (id !== (renderer.style.highlight ?? 0)) renderer.setStyle({ highlight: id || null });
  }
  overlay.requestDraw();
});
glCanvas.addEventListener("pointerup", (e) => {
  if (drag && !brushOn && Math.hypot(e.offsetX - drag.x, e.offsetY - drag.y) < 1) {
    const id = renderer.pickSegment(e.offsetX, e.offsetY);
    renderer.setStyle({ selected: id || null });
  }
  drag = null;
});
glCanvas.addEventListener("wheel", (e) => {
  e.preventDefault();
  setView(zoomAt(view, { x: e.offsetX, y: e.offsetY }, Math.pow(1.0015, -e.deltaY), LIMITS));
}, { passive: false });

function brushAt(sx: number, sy: number) {
  const c = screenToImage(view, { x: sx, y: sy });
  const touched = labels.paint({ kind: "ellipse", id: BRUSH_ID, x0: c.x - BRUSH_RADIUS, y0: c.y - BRUSH_RADIUS, x1: c.x + BRUSH_RADIUS, y1: c.y + BRUSH_RADIUS });
  for (const t of touched.values()) renderer.invalidate(t.tx, t.ty, { x: t.x0, y: t.y0, width: t.x1 - t.x0, height: t.y1 - t.y0 });
}

const outlineBox = document.getElementById("outline") as HTMLInputElement;
const brushBox = document.getElementById("brush") as HTMLInputElement;
outlineBox.addEventListener("change", () => renderer.setStyle({ mode: outlineBox.checked ? "outline" : "fill" }));
brushBox.addEventListener("change", () => (brushOn = brushBox.checked));
(document.getElementById("opacity") as HTMLInputElement).addEventListener("input", (e) =>
  renderer.setStyle({ opacity: Number((e.target as HTMLInputElement).value) }),
);
document.getElementById("fit")!.addEventListener("click", () => setView(fitImage(SIZE, SIZE, renderer.size.width, renderer.size.height, 20)));
window.addEventListener("keydown", (e) => {
  if (e.key === "o") outlineBox.click();
  if (e.key === "b") brushBox.click();
  if (e.key === "f") document.getElementById("fit")!.click();
});

// --- benchmark helpers (driven from Playwright) ------------------------------------------------------------

function percentiles(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN);
  return { p50: at(0.5), p95: at(0.95), mean: s.reduce((a, b) => a + b, 0) / (s.length || 1), n: s.length };
}

async function idle(timeoutMs = 20000) {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const s = renderer.renderNow();
    if (!s.imageLoads && !s.pendingUploads) return s;
    if (performance.now() > end) return s;
    await sleep(20);
  }
}

type Scenario = "pan" | "zoom" | "brush-tile" | "brush-rect" | "static";

/** Render `frames` frames changing the view or the labels before each; returns renderNow timings. */
async function bench(scenario: Scenario, frames = 120, waitForGpu = true) {
  const start = { ...view };
  const cpu: number[] = [];
  const uploads: number[] = [];
  const { width, height } = renderer.size;
  const centre = { x: width / 2, y: height / 2 };
  for (let i = 0; i < frames; i++) {
    if (scenario === "pan") setView(panBy(view, 40 * Math.cos(i / 10), 25 * Math.sin(i / 7)));
    if (scenario === "zoom") setView(zoomAt(view, centre, i % 60 < 30 ? 1.1 : 1 / 1.1, LIMITS));
    if (scenario === "brush-tile" || scenario === "brush-rect") {
      const c = screenToImage(view, centre);
      const tx = Math.floor(c.x / LABEL_TILE), ty = Math.floor(c.y / LABEL_TILE);
      if (scenario === "brush-tile") {
        labels.scribbleTile(tx, ty, BRUSH_ID + (i % 2), i);
        renderer.invalidate(tx, ty);
      } else {
        const r = 40;
        const x = tx * LABEL_TILE + 60 + ((i * 13) % 380), y = ty * LABEL_TILE + 60 + ((i * 29) % 380);
        const touched = labels.paint({ kind: "ellipse", id: BRUSH_ID + (i % 2), x0: x - r, y0: y - r, x1: x + r, y1: y + r });
        for (const t of touched.values()) renderer.invalidate(t.tx, t.ty, { x: t.x0, y: t.y0, width: t.x1 - t.x0, height: t.y1 - t.y0 });
      }
    }
    const s = renderer.renderNow({ waitForGpu });
    cpu.push(s.ms);
    uploads.push(s.labelUploads);
    await sleep(0); // let tile loads finish, as real frames would
  }
  setView(start);
  return { scenario, waitForGpu, ...percentiles(cpu), uploadsPerFrame: percentiles(uploads).mean };
}

/** Pan through requestAnimationFrame as a user would; returns the intervals between displayed frames. */
async function rafPan(frames = 120) {
  const intervals: number[] = [];
  let last = performance.now();
  for (let i = 0; i < frames; i++) {
    setView(panBy(view, 40 * Math.cos(i / 10), 25 * Math.sin(i / 7)));
    const now = await new Promise<number>((r) => requestAnimationFrame(r));
    if (i > 0) intervals.push(now - last);
    last = now;
  }
  return { scenario: "raf-pan", ...percentiles(intervals) };
}

function loseContext(restoreAfterMs = 200) {
  const ext = (glCanvas.getContext("webgl2") as WebGL2RenderingContext).getExtension("WEBGL_lose_context");
  ext?.loseContext();
  setTimeout(() => ext?.restoreContext(), restoreAfterMs);
}

Object.assign(window, {
  demo: { renderer, overlay, labels, palette, SPECIAL, setView, get view() { return view; }, idle, bench, rafPan, loseContext, fitImage, zoomAt, panBy },
});
