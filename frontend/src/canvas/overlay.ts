// A 2D canvas stacked over the renderer's canvas for tool feedback (polygon vertices, brush cursor). Tools draw
// in image coordinates; the overlay applies the current viewport, so they never see the transform. Line widths
// and handle sizes are in CSS pixels at every zoom.
//
// Tools either draw directly (clear() then drawPolygon/drawCircle after each pointer move) or register a
// painter with addPainter(): painters are re-run on requestDraw(), which setViewport() and resizes call, so
// tool graphics follow pans and zooms without the tool knowing about them.
import { imageToScreen, type Point, type Viewport } from "./viewport";

export type Ring = ReadonlyArray<readonly [number, number]>;

export interface PolygonStyle {
  /** Close the ring back to its first vertex. Default true. */
  closed?: boolean;
  /** Stroke colour (any CSS colour). Default "#00e5ff". */
  color?: string;
  /** Fill colour for closed rings (even-odd, so inner rings are holes). Default none. */
  fill?: string | null;
  /** CSS pixels. Default 1.5. */
  lineWidth?: number;
  /** Draw a square handle on every vertex. Default false. */
  vertexHandles?: boolean;
  /** The vertex being dragged or hovered, drawn larger and filled. */
  activeVertex?: { ring: number; index: number } | null;
  /** Handle half-size in CSS pixels. Default 4. */
  handleRadius?: number;
}

export interface CircleStyle {
  color?: string;
  fill?: string | null;
  lineWidth?: number;
}

export type Painter = (overlay: Overlay) => void;

/** [r, g, b, a], 0-255. */
export type RGBA = readonly [number, number, number, number];

/** A binary mask placed in the image (core/raster's RegionMask has this shape). */
export interface MaskBitmap {
  x0: number;
  y0: number;
  width: number;
  height: number;
  data: Uint8Array;
}

function maskCanvas(mask: MaskBitmap, fill: RGBA | null, outline: RGBA | null): HTMLCanvasElement {
  const { width, height, data } = mask;
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const image = new ImageData(width, height);
  const px = new Uint32Array(image.data.buffer);
  const pack = (c: RGBA | null) => (c ? ((c[3] << 24) | (c[2] << 16) | (c[1] << 8) | c[0]) >>> 0 : 0); // little-endian RGBA
  const fillPx = pack(fill);
  const edgePx = pack(outline);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!data[i]) continue;
      const edge = outline && (x === 0 || y === 0 || x === width - 1 || y === height - 1 ||
        !data[i - 1] || !data[i + 1] || !data[i - width] || !data[i + width]);
      px[i] = edge ? edgePx : fillPx;
    }
  }
  canvas.getContext("2d")!.putImageData(image, 0, 0);
  return canvas;
}

export class Overlay {
  readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private view: Viewport = { scale: 1, x: 0, y: 0 };
  private cssWidth = 1;
  private cssHeight = 1;
  private dpr = 1;
  private readonly painters = new Set<Painter>();
  private readonly maskCache = new WeakMap<Uint8Array, { key: string; canvas: HTMLCanvasElement }>();
  private raf = 0;
  private observer: ResizeObserver | null = null;
  /**
   * Nothing is drawn. A blank overlay is not cleared again and is made fully transparent (CSS opacity 0, which
   * still takes pointer events): a changed 2D canvas is re-uploaded and blended over the WebGL canvas by the
   * compositor on every frame, which on software WebGL cost ~8 ms per pan frame with nothing to show.
   */
  private blank = true;

  constructor(canvas: HTMLCanvasElement, options: { observeResize?: boolean } = {}) {
    // A CPU-backed canvas: in Chromium's GPU-accelerated 2D canvas (SwiftShader here) a repaint that only
    // clears was sometimes lost, so the SAM prompt dot stayed on screen after Enter cleared the prompts (the
    // painters had run with no prompts). Overlay drawing is small and mask bitmaps are built on the CPU anyway.
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    if (!ctx) throw new Error("2D canvas is not available");
    this.canvas = canvas;
    this.ctx = ctx;
    this.canvas.style.opacity = "0";
    this.resize();
    if ((options.observeResize ?? true) && typeof ResizeObserver !== "undefined") {
      this.observer = new ResizeObserver(() => this.resize());
      this.observer.observe(canvas);
    }
  }

  get viewport(): Viewport {
    return { ...this.view };
  }

  /** Use the same viewport as the renderer; repaints the registered painters. */
  setViewport(v: Viewport): void {
    this.view = { scale: v.scale, x: v.x, y: v.y };
    this.requestDraw();
  }

  /** Match the backing store to the CSS size × devicePixelRatio (automatic unless observeResize is off). */
  resize(cssWidth = this.canvas.clientWidth, cssHeight = this.canvas.clientHeight, dpr = window.devicePixelRatio || 1): void {
    if (cssWidth <= 0 || cssHeight <= 0) return;
    this.cssWidth = cssWidth;
    this.cssHeight = cssHeight;
    this.dpr = dpr;
    const width = Math.round(cssWidth * dpr);
    const height = Math.round(cssHeight * dpr);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width; // resizing also clears the backing store
      this.canvas.height = height;
      this.setBlank(true);
    }
    this.requestDraw();
  }

  toScreen(p: Point): Point {
    return imageToScreen(this.view, p);
  }

  clear(): void {
    if (this.blank) return;
    this.ctx.setTransform(1, 0, 0, 1, 0, 0);
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.setBlank(true);
  }

  /** True while nothing is drawn on the overlay. */
  get isBlank(): boolean {
    return this.blank;
  }

  private setBlank(blank: boolean): void {
    if (this.blank === blank) return;
    this.blank = blank;
    this.canvas.style.opacity = blank ? "0" : "";
  }

  /** Rings in image coordinates ([x, y] vertices, as in a segment's `rings`). */
  drawPolygon(rings: ReadonlyArray<Ring>, style: PolygonStyle = {}): void {
    const ctx = this.begin();
    const closed = style.closed ?? true;
    const color = style.color ?? "#00e5ff";
    ctx.beginPath();
    for (const ring of rings) {
      ring.forEach(([x, y], i) => {
        const p = this.toScreen({ x, y });
        if (i === 0) ctx.moveTo(p.x, p.y);
        else ctx.lineTo(p.x, p.y);
      });
      if (closed && ring.length > 2) ctx.closePath();
    }
    if (closed && style.fill) {
      ctx.fillStyle = style.fill;
      ctx.fill("evenodd");
    }
    ctx.strokeStyle = color;
    ctx.lineWidth = style.lineWidth ?? 1.5;
    ctx.lineJoin = "round";
    ctx.stroke();
    if (!style.vertexHandles && !style.activeVertex) return;
    const r = style.handleRadius ?? 4;
    rings.forEach((ring, ri) =>
      ring.forEach(([x, y], vi) => {
        const active = style.activeVertex?.ring === ri && style.activeVertex.index === vi;
        if (!active && !style.vertexHandles) return;
        const p = this.toScreen({ x, y });
        const size = active ? r * 1.5 : r;
        ctx.fillStyle = active ? color : "#ffffff";
        ctx.fillRect(p.x - size, p.y - size, size * 2, size * 2);
        ctx.lineWidth = 1;
        ctx.strokeStyle = active ? "#ffffff" : color;
        ctx.strokeRect(p.x - size, p.y - size, size * 2, size * 2);
      }),
    );
  }

  /** A circle of `radius` image pixels around `center` (image coordinates), e.g. the brush cursor. */
  drawCircle(center: Point, radius: number, style: CircleStyle = {}): void {
    const ctx = this.begin();
    const p = this.toScreen(center);
    ctx.beginPath();
    ctx.arc(p.x, p.y, Math.max(0.5, radius * this.view.scale), 0, Math.PI * 2);
    if (style.fill) {
      ctx.fillStyle = style.fill;
      ctx.fill();
    }
    ctx.strokeStyle = style.color ?? "#ffffff";
    ctx.lineWidth = style.lineWidth ?? 1.5;
    ctx.stroke();
  }

  /** A numbered marker at an image point (review comments), a fixed size in CSS pixels at every zoom. */
  drawPin(at: Point, label: string, style: { color?: string; active?: boolean } = {}): void {
    const ctx = this.begin();
    const p = this.toScreen(at);
    const r = style.active ? 11 : 9;
    ctx.beginPath();
    ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
    ctx.fillStyle = style.color ?? "#ffb300";
    ctx.fill();
    ctx.strokeStyle = "#000000";
    ctx.lineWidth = style.active ? 2.5 : 1.5;
    ctx.stroke();
    ctx.fillStyle = "#000000";
    ctx.font = "bold 11px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(label, p.x, p.y + 0.5);
  }

  /**
   * A picture stretched over the image rect (x, y)-(x + width, y + height) in image pixels, e.g. a heat map
   * (the whole image) or a proposal over a region of it.
   */
  drawPicture(picture: CanvasImageSource, width: number, height: number, x = 0, y = 0): void {
    const ctx = this.begin();
    const p = this.toScreen({ x, y });
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(picture, p.x, p.y, width * this.view.scale, height * this.view.scale);
  }

  /**
   * A binary mask in image pixels (`data[y * width + x]`, 1 = in, placed at x0, y0), filled with `fill` and/or
   * outlined with `outline` (pixels with an outside 4-neighbour), e.g. a SAM preview. The rasterised bitmap is
   * cached per mask `data`, so redraws on pan/zoom cost one drawImage.
   */
  drawMask(mask: MaskBitmap, style: { fill?: RGBA | null; outline?: RGBA | null } = {}): void {
    if (!mask.width || !mask.height) return;
    const key = `${style.fill ?? ""}|${style.outline ?? ""}`;
    let cached = this.maskCache.get(mask.data);
    if (!cached || cached.key !== key) {
      cached = { key, canvas: maskCanvas(mask, style.fill ?? null, style.outline ?? null) };
      this.maskCache.set(mask.data, cached);
    }
    const ctx = this.begin();
    const p = this.toScreen({ x: mask.x0, y: mask.y0 });
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(cached.canvas, p.x, p.y, mask.width * this.view.scale, mask.height * this.view.scale);
  }

  /** Register a painter run on every requestDraw (after a clear). Returns the function that removes it. */
  addPainter(painter: Painter): () => void {
    this.painters.add(painter);
    this.requestDraw();
    return () => {
      this.painters.delete(painter);
      this.requestDraw();
    };
  }

  /** Clear and re-run the painters on the next animation frame (coalesced); direct drawings are cleared too. */
  requestDraw(): void {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.drawNow();
    });
  }

  drawNow(): void {
    this.clear();
    for (const painter of this.painters) painter(this);
  }

  destroy(): void {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
    this.observer?.disconnect();
    this.painters.clear();
    this.clear();
  }

  /** Drawing in CSS pixels: the backing store is dpr times larger. */
  private begin(): CanvasRenderingContext2D {
    this.setBlank(false);
    this.ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    return this.ctx;
  }

  /** Canvas size in CSS pixels. */
  get size(): { width: number; height: number } {
    return { width: this.cssWidth, height: this.cssHeight };
  }
}
