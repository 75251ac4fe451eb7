// The label overlay: visible label tiles live in one R32UI 2D-array texture (one layer per tile, LRU reuse of
// layers), so the shader can read a neighbouring tile's pixels for outlines with the same fetch. Tiles are
// uploaded when first seen or when their revision changes (only the dirty rect when `invalidate` gave one),
// within a per-frame time budget; zoomed out, coarser point-sampled label levels keep the tile count small.
import type { Program } from "./glUtil";
import type { FrameContext } from "./imageLayer";
import { buildPaletteTable, type PaletteTable, type RGBA } from "./palette";
import {
  labelLevel,
  labelLevelCount,
  labelTileData,
  labelTileRevision,
  labelTileSize,
  LruMap,
  rangeSize,
  tileRange,
  tilesByDistance,
  type LabelSource,
} from "./tiles";
import { pyramidLevelFor, type Rect } from "./viewport";

export interface LabelStyle {
  /** Multiplies every segment's alpha, 0-1. */
  opacity: number;
  /** fill: every pixel; outline: only pixels whose 4-neighbours differ. */
  mode: "fill" | "outline";
  /** Hovered segment: drawn lighter and more opaque, with a white outline. */
  highlight: number | null;
  /** Selected segment: drawn with a `selectedColor` outline. */
  selected: number | null;
  /** Outline width in CSS pixels (at least one label pixel when zoomed out). Default 1. */
  outlineWidth?: number;
  /** [r, g, b] 0-255. Default gold [255, 214, 0]. */
  selectedColor?: [number, number, number];
}

/** Colour for ids missing from the palette: "id-hash" (default) derives one from the id; [0,0,0,0] hides them. */
export type PaletteFallback = RGBA | "id-hash";

export interface LabelLayerOptions {
  maxLayers: number;
}

interface Resident {
  layer: number;
  revision: number;
  width: number;
  height: number;
}

export interface LabelDrawStats {
  drawn: number;
  uploads: number;
  /** Tiles left for a later frame by the upload budget. */
  pending: number;
}

const keyOf = (level: number, x: number, y: number) => `${level}/${x}/${y}`;

export class LabelLayer {
  private source: LabelSource | null = null;
  private levelCount = 1;
  private texture: WebGLTexture | null = null;
  private capacity = 0;
  private readonly resident = new LruMap<string, Resident>();
  /** Tiles known to be all zeros, with the revision that was checked. */
  private readonly empty = new Map<string, number>();
  private freeLayers: number[] = [];
  /** Level-0 tiles invalidated by the caller: the union of dirty rects, or null for the whole tile. */
  private readonly dirty = new Map<string, Rect | null>();
  private table: PaletteTable = buildPaletteTable(new Map());
  private tableTexture: WebGLTexture | null = null;
  private tableStale = true;
  private fallback: PaletteFallback = "id-hash";
  style: LabelStyle = { opacity: 0.5, mode: "fill", highlight: null, selected: null };

  constructor(
    private gl: WebGL2RenderingContext,
    private program: Program,
    private readonly options: LabelLayerOptions,
  ) {}

  setSource(source: LabelSource | null): void {
    this.dropTiles();
    this.dirty.clear();
    this.source = source;
    this.levelCount = source ? labelLevelCount(source.width, source.height, source.tileSize) : 1;
  }

  get labelSource(): LabelSource | null {
    return this.source;
  }

  setPalette(colors: ReadonlyMap<number, RGBA>, fallback: PaletteFallback = "id-hash"): void {
    this.table = buildPaletteTable(colors);
    this.fallback = fallback;
    this.tableStale = true;
  }

  get paletteTable(): PaletteTable {
    return this.table;
  }

  /** Pixels of level-0 tile (tx, ty) changed; `rect` (tile-local) limits the re-upload to that area. */
  invalidate(tx: number, ty: number, rect?: Rect): void {
    const key = keyOf(0, tx, ty);
    const prev = this.dirty.get(key); // undefined: clean; null: whole tile
    const partial = rect && this.resident.peek(key) && prev !== null;
    this.dirty.set(key, partial ? (prev ? unionRect(prev, rect) : rect) : null);
    // Coarser levels sampled from this tile are re-derived on their next use.
    for (let level = 1; level < this.levelCount; level++) {
      const r = this.resident.peek(keyOf(level, tx >> level, ty >> level));
      if (r) r.revision = NaN;
      this.empty.delete(keyOf(level, tx >> level, ty >> level));
    }
    this.empty.delete(key);
  }

  draw(frame: FrameContext, deadline: number): LabelDrawStats {
    const stats: LabelDrawStats = { drawn: 0, uploads: 0, pending: 0 };
    const src = this.source;
    if (!src) return stats;
    const gl = this.gl;
    const level = pyramidLevelFor(frame.viewport.scale, this.levelCount, 1);
    const geo = labelLevel(src, level);
    const extent = src.tileSize * geo.step;
    const range = tileRange(frame.visible, extent, extent, geo.cols, geo.rows);
    this.ensureCapacity(rangeSize(range));

    const inFrame = new Set<string>();
    const toDraw: [number, number, Resident][] = [];
    for (const [x, y] of tilesByDistance(range, frame.visible, extent, extent)) {
      const key = keyOf(level, x, y);
      inFrame.add(key);
      const revision = labelTileRevision(src, level, x, y);
      let res = this.resident.get(key);
      const dirty = this.dirty.get(key);
      const stale = !res || res.revision !== revision || dirty !== undefined;
      if (stale && this.empty.get(key) !== revision) {
        if (performance.now() > deadline && stats.uploads > 0) {
          stats.pending++;
        } else {
          res = this.upload(key, level, x, y, revision, res, dirty, inFrame);
          stats.uploads++;
        }
      } else if (stale) {
        res = undefined; // known empty
      }
      if (res) toDraw.push([x, y, res]);
    }
    if (this.tableStale) this.uploadTable();
    if (!toDraw.length || !this.texture) return stats;

    gl.useProgram(this.program.program);
    const u = this.program.uniforms;
    this.setCommonUniforms(frame, geo.step);
    const v = frame.viewport;
    for (const [x, y, res] of toDraw) {
      const x0 = x * extent;
      const y0 = y * extent;
      const x1 = Math.min(src.width, x0 + extent);
      const y1 = Math.min(src.height, y0 + extent);
      gl.uniform4f(u.uRect, x0 * v.scale + v.x, y0 * v.scale + v.y, x1 * v.scale + v.x, y1 * v.scale + v.y);
      gl.uniform2f(u.uTexSize, (x1 - x0) / geo.step, (y1 - y0) / geo.step);
      gl.uniform2i(u.uSize, res.width, res.height);
      gl.uniform1i(u.uLayer, res.layer);
      gl.uniform4i(
        u.uNeighbours,
        this.neighbourLayer(level, x - 1, y, geo.cols, geo.rows),
        this.neighbourLayer(level, x + 1, y, geo.cols, geo.rows),
        this.neighbourLayer(level, x, y - 1, geo.cols, geo.rows),
        this.neighbourLayer(level, x, y + 1, geo.cols, geo.rows),
      );
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
      stats.drawn++;
    }
    return stats;
  }

  private setCommonUniforms(frame: FrameContext, step: number): void {
    const gl = this.gl;
    const u = this.program.uniforms;
    const t = this.table;
    const s = this.style;
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    gl.activeTexture(gl.TEXTURE1);
    gl.bindTexture(gl.TEXTURE_2D_ARRAY, this.texture);
    gl.activeTexture(gl.TEXTURE2);
    gl.bindTexture(gl.TEXTURE_2D, this.tableTexture);
    gl.uniform1i(u.uLabels, 1);
    gl.uniform1i(u.uTable, 2);
    gl.uniform2f(u.uCanvas, frame.cssWidth, frame.cssHeight);
    gl.uniform1i(u.uLast, this.source!.tileSize - 1);
    gl.uniform1ui(u.uHashShift, 32 - t.bits);
    gl.uniform1ui(u.uSlotMask, t.capacity - 1);
    gl.uniform1ui(u.uRowShift, Math.log2(t.width));
    gl.uniform1ui(u.uColMask, t.width - 1);
    gl.uniform1i(u.uFallbackHash, this.fallback === "id-hash" ? 1 : 0);
    const fb = this.fallback === "id-hash" ? [0, 0, 0, 0] : this.fallback;
    gl.uniform4f(u.uFallback, fb[0] / 255, fb[1] / 255, fb[2] / 255, fb[3] / 255);
    gl.uniform1i(u.uOutline, s.mode === "outline" ? 1 : 0);
    gl.uniform1f(u.uOpacity, Math.min(1, Math.max(0, s.opacity)));
    const texelCss = frame.viewport.scale * step;
    gl.uniform1f(u.uEdge, (s.outlineWidth ?? 1) / texelCss);
    gl.uniform1ui(u.uHighlight, (s.highlight ?? 0) >>> 0);
    gl.uniform1ui(u.uSelected, (s.selected ?? 0) >>> 0);
    const sc = s.selectedColor ?? [255, 214, 0];
    gl.uniform3f(u.uSelectedColor, sc[0] / 255, sc[1] / 255, sc[2] / 255);
  }

  /** Layer of a neighbouring tile for the shader: -1 = outside the map or all zeros, -2 = unknown yet. */
  private neighbourLayer(level: number, x: number, y: number, cols: number, rows: number): number {
    if (x < 0 || y < 0 || x >= cols || y >= rows) return -1;
    const key = keyOf(level, x, y);
    const res = this.resident.peek(key);
    if (res) return res.layer;
    return this.empty.has(key) ? -1 : -2;
  }

  private upload(
    key: string,
    level: number,
    x: number,
    y: number,
    revision: number,
    res: Resident | undefined,
    dirty: Rect | null | undefined,
    inFrame: Set<string>,
  ): Resident | undefined {
    const gl = this.gl;
    const src = this.source!;
    this.dirty.delete(key);
    const data = labelTileData(src, level, x, y);
    if (!data) {
      if (res) this.release(key, res);
      this.empty.set(key, revision);
      return undefined;
    }
    this.empty.delete(key);
    const { width, height } = labelTileSize(src, level, x, y);
    if (data.length !== width * height) throw new Error(`label tile ${key} has ${data.length} ids, expected ${width}×${height}`);
    const partial = res && dirty ? clipRect(dirty, width, height) : null;
    if (!res) {
      const layer = this.allocLayer(inFrame);
      if (layer < 0) return undefined;
      res = { layer, revision, width, height };
      this.resident.set(key, res);
    }
    res.revision = revision;
    gl.bindTexture(gl.TEXTURE_2D_ARRAY, this.texture);
    if (partial) {
      if (partial.width > 0 && partial.height > 0) {
        gl.pixelStorei(gl.UNPACK_ROW_LENGTH, width);
        gl.texSubImage3D(
          gl.TEXTURE_2D_ARRAY, 0, partial.x, partial.y, res.layer, partial.width, partial.height, 1,
          gl.RED_INTEGER, gl.UNSIGNED_INT, data, partial.y * width + partial.x,
        );
        gl.pixelStorei(gl.UNPACK_ROW_LENGTH, 0);
      }
    } else {
      gl.texSubImage3D(gl.TEXTURE_2D_ARRAY, 0, 0, 0, res.layer, width, height, 1, gl.RED_INTEGER, gl.UNSIGNED_INT, data);
    }
    return res;
  }

  private allocLayer(inFrame: Set<string>): number {
    const free = this.freeLayers.pop();
    if (free !== undefined) return free;
    const evicted = this.resident.evictOldest(inFrame);
    return evicted ? evicted[1].layer : -1;
  }

  private release(key: string, res: Resident): void {
    this.resident.delete(key);
    this.freeLayers.push(res.layer);
  }

  /** Grow the layer array to hold `needed` tiles (plus slack for panning); growing drops every resident tile. */
  private ensureCapacity(needed: number): void {
    if (needed <= this.capacity && this.texture) return;
    const gl = this.gl;
    const ts = this.source!.tileSize;
    const capacity = Math.min(this.options.maxLayers, Math.max(8, Math.ceil(needed * 1.5), this.capacity * 2));
    if (capacity <= this.capacity && this.texture) return;
    this.dropTiles();
    const texture = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D_ARRAY, texture);
    gl.texParameteri(gl.TEXTURE_2D_ARRAY, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D_ARRAY, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texStorage3D(gl.TEXTURE_2D_ARRAY, 1, gl.R32UI, ts, ts, capacity);
    this.texture = texture;
    this.capacity = capacity;
    this.freeLayers = Array.from({ length: capacity }, (_, i) => capacity - 1 - i);
  }

  private uploadTable(): void {
    const gl = this.gl;
    const t = this.table;
    if (!this.tableTexture) this.tableTexture = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, this.tableTexture);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RG32UI, t.width, t.height, 0, gl.RG_INTEGER, gl.UNSIGNED_INT, t.data);
    this.tableStale = false;
  }

  /** Forget every uploaded tile and free the array texture (it is re-created at the right size on next draw). */
  private dropTiles(): void {
    if (this.texture && !this.gl.isContextLost()) this.gl.deleteTexture(this.texture);
    this.texture = null;
    this.capacity = 0;
    this.resident.clear();
    this.empty.clear();
    this.freeLayers = [];
  }

  loseContext(): void {
    this.texture = null;
    this.tableTexture = null;
    this.dropTiles();
  }

  restoreContext(gl: WebGL2RenderingContext, program: Program): void {
    this.gl = gl;
    this.program = program;
    this.tableStale = true;
  }

  destroy(): void {
    this.dropTiles();
    if (this.tableTexture && !this.gl.isContextLost()) this.gl.deleteTexture(this.tableTexture);
    this.tableTexture = null;
    this.source = null;
  }
}

function unionRect(a: Rect, b: Rect): Rect {
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, width: Math.max(a.x + a.width, b.x + b.width) - x, height: Math.max(a.y + a.height, b.y + b.height) - y };
}

function clipRect(r: Rect, width: number, height: number): Rect {
  const x = Math.max(0, Math.floor(r.x));
  const y = Math.max(0, Math.floor(r.y));
  const x1 = Math.min(width, Math.ceil(r.x + r.width));
  const y1 = Math.min(height, Math.ceil(r.y + r.height));
  return { x, y, width: Math.max(0, x1 - x), height: Math.max(0, y1 - y) };
}
