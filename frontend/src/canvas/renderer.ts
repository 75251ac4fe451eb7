// The canvas renderer: one WebGL2 <canvas> showing an image tile pyramid with the label map on top.
//
// Usage:
//   const r = new Renderer(canvas, { fetchTile }); // sizes itself to the canvas' CSS box (ResizeObserver)
//   r.setImage(pyramid); r.setLabels(source); r.setPalette(colors); r.setViewport(fitImage(...));
//   r.on("frame", (s) => ...);                // typed events: frame, tileerror, contextlost, contextrestored
//   after editing label tile (tx, ty): bump its revision in the source, then r.invalidate(tx, ty, rect?)
//   r.destroy();                               // when the editor unmounts
// Every setter schedules a render on the next animation frame; renderNow() draws synchronously.
import { createProgram, type Program } from "./glUtil";
import { ImageLayer, type FetchTile, type FrameContext } from "./imageLayer";
import { LabelLayer, type LabelPrograms, type LabelStyle } from "./labelLayer";
import { WorkerPacker } from "./labelPacker";
import type { PaletteFallback, RGBA } from "./palette";
import { IMAGE_FS, labelFragmentShader, QUAD_VS } from "./shaders";
import { labelAt, type ImagePyramid, type LabelSource } from "./tiles";
import { screenToImage, visibleImageRect, type Rect, type Viewport } from "./viewport";

export type { FetchTile } from "./imageLayer";
export type { LabelStyle } from "./labelLayer";
export type { PaletteFallback, RGBA } from "./palette";
export type { ImagePyramid, LabelSource } from "./tiles";

export interface RendererOptions {
  /** Canvas background behind the image, [r, g, b] 0-255. Default [32, 32, 32]. */
  background?: [number, number, number];
  /** Image tile textures kept (LRU). Default 256. */
  maxImageTextures?: number;
  /** Image tile requests in flight at once. Default 6. */
  maxConcurrentLoads?: number;
  /** Label tiles resident on the GPU at most (1 MB each at 512 px). Default 128. */
  maxLabelLayers?: number;
  /** Label uploads per frame stop after this many ms (at least one is done); the rest follow next frames. Default 4. */
  uploadBudgetMs?: number;
  /**
   * Pack label tiles seen for the first time in a Web Worker (edge flags of 512² pixels: 3-15 ms of main-thread
   * time each otherwise); meanwhile a coarser or finer level already on the GPU stands in. Default: true where
   * Web Workers exist.
   */
  packLabelsInWorker?: boolean;
  /** How image tiles are loaded (the app passes src/api's loader: only src/api talks to the server). */
  fetchTile: FetchTile;
  /** Resize the drawing buffer automatically when the canvas' CSS box or devicePixelRatio changes. Default true. */
  observeResize?: boolean;
  /**
   * Drawing-buffer scale while the user pans, zooms or paints, on software WebGL only (SwiftShader, llvmpipe):
   * there every frame costs CPU time per pixel, so moving frames render at this fraction of the resolution and
   * the full-resolution frame follows `interactionIdleMs` after the last interaction. Default 0.5; 1 disables.
   */
  interactiveScale?: number;
  /** Default 200 ms. */
  interactionIdleMs?: number;
}

export interface FrameStats {
  /** Time spent in renderNow (CPU side; includes the GPU only when waitForGpu was asked). */
  ms: number;
  imageTiles: number;
  labelTiles: number;
  labelUploads: number;
  /** Label tiles not drawn yet: left for later frames by the upload budget, or being packed in the worker. */
  pendingUploads: number;
  imageLoads: number;
}

export interface RendererEvents {
  frame: FrameStats;
  tileerror: { level: number; x: number; y: number; error: unknown };
  contextlost: undefined;
  contextrestored: undefined;
}

type Listener<T> = (event: T) => void;

const IMAGE_UNIFORMS = ["uRect", "uCanvas", "uTexSize", "uTexOrigin", "uImage"];
const LABEL_UNIFORMS = [
  "uRect", "uCanvas", "uTexSize", "uTexOrigin", "uLabels", "uPalette", "uLayer", "uSize", "uEdge",
];

export class Renderer {
  readonly canvas: HTMLCanvasElement;
  private readonly interactiveScale: number;
  private readonly interactionIdleMs: number;
  private gl: WebGL2RenderingContext;
  private imageProgram!: Program;
  private labelPrograms!: LabelPrograms;
  private vao: WebGLVertexArrayObject | null = null;
  private quad: WebGLBuffer | null = null;
  private readonly image: ImageLayer;
  private readonly labels: LabelLayer;
  private readonly options: Required<Omit<RendererOptions, "fetchTile" | "packLabelsInWorker">>;
  private view: Viewport = { scale: 1, x: 0, y: 0 };
  private cssWidth = 1;
  private cssHeight = 1;
  private dpr = 1;
  private raf = 0;
  // Reduced-resolution rendering while interacting on a software rasteriser (see RendererOptions).
  private readonly softwareGl: boolean;
  private renderScale = 1;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private lastSize = { cssW: 0, cssH: 0, dpr: 1, deviceW: 0, deviceH: 0 };
  private lost = false;
  private destroyed = false;
  private observer: ResizeObserver | null = null;
  private readonly listeners: { [K in keyof RendererEvents]: Set<Listener<RendererEvents[K]>> } = {
    frame: new Set(),
    tileerror: new Set(),
    contextlost: new Set(),
    contextrestored: new Set(),
  };

  constructor(canvas: HTMLCanvasElement, options: RendererOptions) {
    this.canvas = canvas;
    this.options = {
      background: options.background ?? [32, 32, 32],
      maxImageTextures: options.maxImageTextures ?? 256,
      maxConcurrentLoads: options.maxConcurrentLoads ?? 6,
      maxLabelLayers: options.maxLabelLayers ?? 128,
      uploadBudgetMs: options.uploadBudgetMs ?? 4,
      observeResize: options.observeResize ?? true,
      interactiveScale: options.interactiveScale ?? 0.5,
      interactionIdleMs: options.interactionIdleMs ?? 200,
    };
    const gl = canvas.getContext("webgl2", {
      alpha: false,
      antialias: false,
      depth: false,
      stencil: false,
      premultipliedAlpha: true,
      preserveDrawingBuffer: false,
      powerPreference: "high-performance",
    });
    if (!gl) throw new Error("WebGL2 is not available");
    this.gl = gl;
    this.softwareGl = isSoftwareRenderer(gl);
    this.interactiveScale = this.options.interactiveScale;
    this.interactionIdleMs = this.options.interactionIdleMs;
    this.initGl();
    this.image = new ImageLayer(gl, this.imageProgram, {
      maxTextures: this.options.maxImageTextures,
      maxConcurrent: this.options.maxConcurrentLoads,
      fetchTile: options.fetchTile,
      onTileLoaded: () => this.requestRender(),
      onTileError: (tile, error) => this.emit("tileerror", { ...tile, error }),
    });
    const inWorker = options.packLabelsInWorker ?? typeof Worker !== "undefined";
    this.labels = new LabelLayer(gl, this.labelPrograms, {
      maxLayers: this.options.maxLabelLayers,
      packer: inWorker ? new WorkerPacker() : null,
      onPacked: () => this.requestRender(),
    });
    canvas.addEventListener("webglcontextlost", this.onContextLost);
    canvas.addEventListener("webglcontextrestored", this.onContextRestored);
    this.resize();
    if (this.options.observeResize && typeof ResizeObserver !== "undefined") {
      this.observer = new ResizeObserver((entries) => this.onResizeObserved(entries));
      try {
        this.observer.observe(canvas, { box: "device-pixel-content-box" });
      } catch {
        this.observer.observe(canvas);
      }
    }
  }

  // --- content -----------------------------------------------------------------------------------------------

  /** The image pyramid to show (null: none). Drops every cached tile of the previous image. */
  setImage(pyramid: ImagePyramid | null): void {
    this.image.setPyramid(pyramid);
    this.requestRender();
  }

  /** The label map to draw over the image (null: none). Must have the image's width and height. */
  setLabels(source: LabelSource | null): void {
    this.labels.setSource(source);
    this.requestRender();
  }

  /**
   * Colours per segment id, [r, g, b, a] 0-255; a = 0 hides a segment. Ids not in the map are drawn with
   * `fallback`: "id-hash" (default, a stable colour derived from the id, so new segments never go invisible)
   * or a fixed RGBA ([0, 0, 0, 0] hides them). Cost: rebuilding a 4-byte-per-id palette texture; no tile
   * is re-uploaded.
   */
  setPalette(colors: ReadonlyMap<number, RGBA>, fallback: PaletteFallback = "id-hash"): void {
    this.labels.setPalette(colors, fallback);
    this.requestRender();
  }

  setStyle(style: Partial<LabelStyle>): void {
    this.labels.style = { ...this.labels.style, ...style };
    this.requestRender();
  }

  get style(): Readonly<LabelStyle> {
    return this.labels.style;
  }

  /**
   * Label tile (tx, ty) (level 0, tileSize px) changed. A revision change alone is enough for a full re-upload;
   * `rect` (tile-local pixels) limits it to that area, and must then cover every change since the last frame.
   */
  invalidate(tx: number, ty: number, rect?: Rect): void {
    this.labels.invalidate(tx, ty, rect);
    this.requestRender();
  }

  // --- view --------------------------------------------------------------------------------------------------

  setViewport(v: Viewport): void {
    this.view = { scale: v.scale, x: v.x, y: v.y };
    this.requestRender();
  }

  /** Whether label tiles are packed in the label-pack worker (false once the worker failed to start). */
  get labelsPackedInWorker(): boolean {
    return this.labels.packsInWorker;
  }

  get viewport(): Viewport {
    return { ...this.view };
  }

  /** Canvas size in CSS pixels. */
  get size(): { width: number; height: number; dpr: number } {
    return { width: this.cssWidth, height: this.cssHeight, dpr: this.dpr };
  }

  /** Match the drawing buffer to the canvas' CSS size × devicePixelRatio (automatic unless observeResize is off). */
  resize(): void {
    const dpr = window.devicePixelRatio || 1;
    this.applySize(this.canvas.clientWidth, this.canvas.clientHeight, dpr, 0, 0);
  }

  private onResizeObserved(entries: ResizeObserverEntry[]): void {
    const entry = entries[entries.length - 1];
    const dpr = window.devicePixelRatio || 1;
    const box = entry.contentBoxSize?.[0];
    const device = entry.devicePixelContentBoxSize?.[0];
    this.applySize(
      box ? box.inlineSize : entry.contentRect.width,
      box ? box.blockSize : entry.contentRect.height,
      dpr,
      device?.inlineSize ?? 0,
      device?.blockSize ?? 0,
    );
  }

  /** True when frames are drawn by a CPU rasteriser (headless Chromium's SwiftShader, Mesa's llvmpipe). */
  get isSoftwareRendered(): boolean {
    return this.softwareGl;
  }

  /**
   * The user is panning, zooming or painting. On software WebGL the next frames render at `interactiveScale`
   * resolution, and a full-resolution frame follows once interaction has paused; elsewhere this does nothing.
   */
  interacting(): void {
    if (!this.softwareGl || this.interactiveScale >= 1 || this.destroyed) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.setRenderScale(1), this.interactionIdleMs);
    this.setRenderScale(this.interactiveScale);
  }

  private setRenderScale(scale: number): void {
    if (this.renderScale === scale) return;
    this.renderScale = scale;
    const { cssW, cssH, dpr, deviceW, deviceH } = this.lastSize;
    this.applySize(cssW, cssH, dpr, deviceW, deviceH);
  }

  private applySize(cssW: number, cssH: number, dpr: number, deviceW: number, deviceH: number): void {
    if (cssW <= 0 || cssH <= 0) return; // hidden: keep the last size
    this.lastSize = { cssW, cssH, dpr, deviceW, deviceH };
    // The device-pixel box is exact where supported, but emulated devicePixelRatio (e.g. headless Chromium)
    // reports CSS pixels there: only trust it when it agrees with css × dpr.
    const near = (device: number, css: number) => (device && Math.abs(device - css * dpr) <= 1 ? device : Math.round(css * dpr));
    const scale = this.renderScale;
    const width = Math.max(1, Math.round(near(deviceW, cssW) * scale));
    const height = Math.max(1, Math.round(near(deviceH, cssH) * scale));
    this.cssWidth = cssW;
    this.cssHeight = cssH;
    // The layers size outlines and pick pyramid levels from device pixels per CSS pixel: the scaled buffer's.
    this.dpr = dpr * scale;
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.requestRender();
  }

  /** Label id under a canvas point (CSS pixels, e.g. event.offsetX/Y), read on the CPU; 0 = none. */
  pickSegment(screenX: number, screenY: number): number {
    const source = this.labels.labelSource;
    if (!source) return 0;
    const p = screenToImage(this.view, { x: screenX, y: screenY });
    return labelAt(source, p.x, p.y);
  }

  // --- rendering ---------------------------------------------------------------------------------------------

  /** Render on the next animation frame; many calls in one frame render once. */
  requestRender(): void {
    if (this.raf || this.destroyed || this.lost) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.renderNow();
    });
  }

  /**
   * Render synchronously. `waitForGpu` blocks until the GPU finished (a 1-pixel readback) so `ms` is the real
   * frame cost: for benchmarks only.
   */
  renderNow(options: { waitForGpu?: boolean } = {}): FrameStats {
    const start = performance.now();
    const stats: FrameStats = { ms: 0, imageTiles: 0, labelTiles: 0, labelUploads: 0, pendingUploads: 0, imageLoads: 0 };
    if (this.destroyed || this.lost) return stats;
    if (this.raf) {
      cancelAnimationFrame(this.raf);
      this.raf = 0;
    }
    const gl = this.gl;
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    const [r, g, b] = this.options.background;
    gl.clearColor(r / 255, g / 255, b / 255, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    gl.bindVertexArray(this.vao);
    const frame: FrameContext = {
      viewport: this.view,
      cssWidth: this.cssWidth,
      cssHeight: this.cssHeight,
      dpr: this.dpr,
      visible: visibleImageRect(this.view, this.cssWidth, this.cssHeight),
      interactive: this.renderScale < 1,
    };
    stats.imageTiles = this.image.draw(frame);
    const labelStats = this.labels.draw(frame, start + this.options.uploadBudgetMs);
    gl.bindVertexArray(null);
    stats.labelTiles = labelStats.drawn;
    stats.labelUploads = labelStats.uploads;
    stats.pendingUploads = labelStats.pending + labelStats.packing;
    stats.imageLoads = this.image.loadingCount;
    if (options.waitForGpu) gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4));
    if (labelStats.pending) this.requestRender();
    stats.ms = performance.now() - start;
    this.emit("frame", stats);
    return stats;
  }

  // --- events ------------------------------------------------------------------------------------------------

  /** Subscribe to an event; returns the unsubscribe function. */
  on<K extends keyof RendererEvents>(type: K, listener: Listener<RendererEvents[K]>): () => void {
    this.listeners[type].add(listener);
    return () => this.listeners[type].delete(listener);
  }

  /** Shorthand for on("frame", ...) with the frame time in ms. */
  onFrame(listener: (ms: number) => void): () => void {
    return this.on("frame", (stats) => listener(stats.ms));
  }

  private emit<K extends keyof RendererEvents>(type: K, event: RendererEvents[K]): void {
    for (const listener of this.listeners[type]) listener(event);
  }

  // --- GL lifetime -------------------------------------------------------------------------------------------

  private initGl(): void {
    const gl = this.gl;
    this.imageProgram = createProgram(gl, QUAD_VS, IMAGE_FS, IMAGE_UNIFORMS);
    this.labelPrograms = {
      exact: createProgram(gl, QUAD_VS, labelFragmentShader("exact"), LABEL_UNIFORMS),
      any: createProgram(gl, QUAD_VS, labelFragmentShader("any"), LABEL_UNIFORMS),
    };
    this.vao = gl.createVertexArray();
    gl.bindVertexArray(this.vao);
    this.quad = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, this.quad);
    gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([0, 0, 1, 0, 0, 1, 1, 1]), gl.STATIC_DRAW);
    gl.enableVertexAttribArray(0);
    gl.vertexAttribPointer(0, 2, gl.FLOAT, false, 0, 0);
    gl.bindVertexArray(null);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
  }

  private readonly onContextLost = (event: Event): void => {
    event.preventDefault(); // lets the browser restore the context
    this.lost = true;
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
    this.image.loseContext();
    this.labels.loseContext();
    this.emit("contextlost", undefined);
  };

  private readonly onContextRestored = (): void => {
    if (this.destroyed) return;
    this.lost = false;
    this.initGl();
    this.image.restoreContext(this.gl, this.imageProgram);
    this.labels.restoreContext(this.gl, this.labelPrograms);
    this.emit("contextrestored", undefined);
    this.requestRender();
  };

  /** Stop rendering and loading, and free the GPU resources. The canvas can be reused for a new Renderer. */
  destroy(): void {
    if (this.destroyed) return;
    clearTimeout(this.idleTimer);
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
    this.observer?.disconnect();
    this.canvas.removeEventListener("webglcontextlost", this.onContextLost);
    this.canvas.removeEventListener("webglcontextrestored", this.onContextRestored);
    this.image.destroy();
    this.labels.destroy();
    const gl = this.gl;
    if (!gl.isContextLost()) {
      gl.deleteProgram(this.imageProgram.program);
      gl.deleteProgram(this.labelPrograms.exact.program);
      gl.deleteProgram(this.labelPrograms.any.program);
      gl.deleteBuffer(this.quad);
      gl.deleteVertexArray(this.vao);
    }
    this.destroyed = true;
    for (const set of Object.values(this.listeners)) set.clear();
  }
}

/** Whether WebGL runs on a CPU rasteriser; the unmasked renderer string names it where the browser tells. */
function isSoftwareRenderer(gl: WebGL2RenderingContext): boolean {
  const info = gl.getExtension("WEBGL_debug_renderer_info");
  const name = String(info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
  return /swiftshader|llvmpipe|softpipe|software/i.test(name);
}
