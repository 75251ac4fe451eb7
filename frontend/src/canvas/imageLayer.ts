// The image layer: a tile pyramid loaded on demand. Only tiles visible at the level chosen for the current
// zoom are requested (nearest the centre first, at most `maxConcurrent` at a time, ones scrolled away are
// aborted); while they load, the nearest coarser tile already loaded is drawn in their place, and the coarsest
// level is always requested first so even a 20k × 20k image shows something after one small download.
import type { Program } from "./glUtil";
import { LruMap, pyramidTileRect, tileRange, tilesByDistance, type ImagePyramid } from "./tiles";
import { pyramidLevelFor, type Rect, type Viewport } from "./viewport";

/** Fetches one tile's encoded bytes (JPEG or WebP). Must reject on HTTP errors and honour `signal`. */
export type FetchTile = (url: string, signal: AbortSignal) => Promise<Blob>;

/** Tile (level, x, y) drawn whole, or only over `under` (a missing finer tile it stands in for). */
interface TileDraw {
  level: number;
  x: number;
  y: number;
  under: [number, number, number] | null;
}

export interface FrameContext {
  viewport: Viewport;
  cssWidth: number;
  cssHeight: number;
  dpr: number;
  /** Image-space rect the canvas shows. */
  visible: Rect;
  /**
   * A reduced-quality frame while the user interacts on software WebGL: image tiles are sampled nearest instead
   * of bilinear (a quarter of the texel reads; SwiftShader pays each one per pixel). The next still frame is exact.
   */
  interactive: boolean;
}

export interface ImageLayerOptions {
  maxTextures: number;
  maxConcurrent: number;
  fetchTile: FetchTile;
  onTileLoaded: () => void;
  onTileError: (tile: { level: number; x: number; y: number }, error: unknown) => void;
}

/** A failed tile is retried at most this often while it stays visible. */
const RETRY_MS = 5000;

const keyOf = (level: number, x: number, y: number) => `${level}/${x}/${y}`;

export class ImageLayer {
  private pyramid: ImagePyramid | null = null;
  private generation = 0;
  private readonly textures = new LruMap<string, WebGLTexture>();
  private readonly loading = new Map<string, AbortController>();
  private readonly failedAt = new Map<string, number>();
  private wanted: [number, number, number][] = [];
  private usedLastFrame = new Set<string>();
  private contextLost = false;
  /** Overrides the tiles' bilinear minification in interactive frames (see FrameContext.interactive). */
  private nearestSampler: WebGLSampler | null = null;

  constructor(
    private gl: WebGL2RenderingContext,
    private program: Program,
    private readonly options: ImageLayerOptions,
  ) {}

  setPyramid(pyramid: ImagePyramid | null): void {
    this.abortAll();
    this.deleteTextures();
    this.failedAt.clear();
    this.wanted = [];
    this.generation++;
    this.pyramid = pyramid;
  }

  get loadingCount(): number {
    return this.loading.size;
  }

  /** Draw the visible tiles (with coarser fallbacks) and queue loads for missing ones. Returns tiles drawn. */
  draw(frame: FrameContext): number {
    const p = this.pyramid;
    if (!p || this.contextLost) return 0;
    const gl = this.gl;
    const top = p.levels.length - 1;
    const level = pyramidLevelFor(frame.viewport.scale, p.levels.length, frame.dpr);

    const ready: [number, number, number][] = [];
    // A missing tile is covered by the part of its nearest loaded ancestor over it, not by the whole ancestor:
    // drawing whole ancestors under the loaded tiles doubled the fill of frames where tiles stream in.
    const fallbacks: TileDraw[] = [];
    const wantedTop: [number, number, number][] = [];
    const wantedLevel: [number, number, number][] = [];
    const seenTop = new Set<string>();

    const extent = p.tileSize * 2 ** level;
    const [, , cols, rows] = p.levels[level];
    const range = tileRange(frame.visible, extent, extent, cols, rows);
    for (const [x, y] of tilesByDistance(range, frame.visible, extent, extent)) {
      if (this.textures.peek(keyOf(level, x, y))) {
        ready.push([level, x, y]);
        continue;
      }
      wantedLevel.push([level, x, y]);
      for (let m = level + 1; m <= top; m++) {
        const ax = x >> (m - level);
        const ay = y >> (m - level);
        const key = keyOf(m, ax, ay);
        if (this.textures.peek(key)) {
          fallbacks.push({ level: m, x: ax, y: ay, under: [level, x, y] });
          break;
        }
        if (m === top && !seenTop.has(key)) {
          seenTop.add(key);
          wantedTop.push([m, ax, ay]);
        }
      }
    }

    const draws = fallbacks.concat(ready.map(([l, x, y]): TileDraw => ({ level: l, x, y, under: null })));
    const used = new Set<string>();
    if (draws.length) {
      gl.useProgram(this.program.program);
      const u = this.program.uniforms;
      gl.uniform2f(u.uCanvas, frame.cssWidth, frame.cssHeight);
      gl.uniform1i(u.uImage, 0);
      gl.activeTexture(gl.TEXTURE0);
      gl.bindSampler(0, frame.interactive ? this.sampler() : null);
      if (p.hasAlpha) {
        gl.enable(gl.BLEND);
        gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
      } else {
        gl.disable(gl.BLEND);
      }
      const v = frame.viewport;
      for (const { level: l, x, y, under } of draws) {
        const key = keyOf(l, x, y);
        const texture = this.textures.get(key)!;
        used.add(key);
        const r = pyramidTileRect(p, l, x, y);
        // The image pixels drawn: the whole tile, or (a fallback) the missing tile's area within it.
        const a = under ? pyramidTileRect(p, ...under) : r;
        const f = 2 ** l;
        gl.bindTexture(gl.TEXTURE_2D, texture);
        gl.uniform4f(u.uRect, a.x * v.scale + v.x, a.y * v.scale + v.y, (a.x + a.width) * v.scale + v.x, (a.y + a.height) * v.scale + v.y);
        gl.uniform2f(u.uTexOrigin, (a.x - r.x) / f / r.tileW, (a.y - r.y) / f / r.tileH);
        gl.uniform2f(u.uTexSize, a.width / f / r.tileW, a.height / f / r.tileH);
        gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
      }
    }
    gl.bindSampler(0, null);
    this.usedLastFrame = used;
    this.wanted = wantedTop.concat(wantedLevel);
    this.pump();
    return draws.length;
  }

  private sampler(): WebGLSampler | null {
    if (!this.nearestSampler) {
      const gl = this.gl;
      this.nearestSampler = gl.createSampler();
      gl.samplerParameteri(this.nearestSampler, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
      gl.samplerParameteri(this.nearestSampler, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
      gl.samplerParameteri(this.nearestSampler, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
      gl.samplerParameteri(this.nearestSampler, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    }
    return this.nearestSampler;
  }

  /** Start loads for wanted tiles, most important first; abort loads no longer wanted. */
  private pump(): void {
    const p = this.pyramid;
    if (!p) return;
    const wantedKeys = new Set(this.wanted.map(([l, x, y]) => keyOf(l, x, y)));
    for (const [key, controller] of this.loading) {
      if (!wantedKeys.has(key)) {
        controller.abort();
        this.loading.delete(key);
      }
    }
    const now = performance.now();
    for (const [level, x, y] of this.wanted) {
      if (this.loading.size >= this.options.maxConcurrent) break;
      const key = keyOf(level, x, y);
      if (this.loading.has(key) || this.textures.peek(key)) continue;
      const failed = this.failedAt.get(key);
      if (failed !== undefined && now - failed < RETRY_MS) continue;
      void this.load(p, level, x, y);
    }
  }

  private async load(p: ImagePyramid, level: number, x: number, y: number): Promise<void> {
    const key = keyOf(level, x, y);
    const generation = this.generation;
    const controller = new AbortController();
    this.loading.set(key, controller);
    try {
      const blob = await this.options.fetchTile(p.tileUrl(level, x, y), controller.signal);
      // createImageBitmap decodes off the main thread.
      const bitmap = await createImageBitmap(blob, { premultiplyAlpha: p.hasAlpha ? "premultiply" : "none" });
      if (generation !== this.generation || controller.signal.aborted || this.contextLost) {
        bitmap.close();
        return;
      }
      this.upload(key, bitmap);
      this.failedAt.delete(key);
      this.options.onTileLoaded();
    } catch (error) {
      if (controller.signal.aborted || generation !== this.generation) return;
      this.failedAt.set(key, performance.now());
      this.options.onTileError({ level, x, y }, error);
    } finally {
      if (this.loading.get(key) === controller) this.loading.delete(key);
      if (generation === this.generation) this.pump();
    }
  }

  private upload(key: string, bitmap: ImageBitmap): void {
    const gl = this.gl;
    const texture = gl.createTexture();
    if (!texture) {
      bitmap.close();
      return;
    }
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
    // Zoomed in, each image pixel is drawn as a sharp square, like the label map over it: annotators see the
    // pixels they label. Linear magnification would also blend each tile's edge texel with a clamped copy of
    // itself instead of its neighbour tile, leaving a visible seam every 256 image pixels.
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
    bitmap.close();
    this.textures.set(key, texture);
    while (this.textures.size > this.options.maxTextures) {
      const evicted = this.textures.evictOldest(this.usedLastFrame);
      if (!evicted) break;
      gl.deleteTexture(evicted[1]);
    }
  }

  private abortAll(): void {
    for (const controller of this.loading.values()) controller.abort();
    this.loading.clear();
  }

  private deleteTextures(): void {
    if (!this.contextLost) for (const [, texture] of this.textures.entries()) this.gl.deleteTexture(texture);
    this.textures.clear();
    this.usedLastFrame = new Set();
  }

  /** The context is gone: its textures are invalid; loads that finish meanwhile are dropped. */
  loseContext(): void {
    this.contextLost = true;
    this.nearestSampler = null;
    this.textures.clear();
    this.abortAll();
    this.generation++;
  }

  restoreContext(gl: WebGL2RenderingContext, program: Program): void {
    this.gl = gl;
    this.program = program;
    this.contextLost = false;
    this.failedAt.clear();
  }

  destroy(): void {
    this.abortAll();
    this.deleteTextures();
    if (this.nearestSampler && !this.contextLost) this.gl.deleteSampler(this.nearestSampler);
    this.nearestSampler = null;
    this.generation++;
    this.pyramid = null;
  }
}
