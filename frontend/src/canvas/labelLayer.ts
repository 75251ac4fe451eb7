// The label overlay: visible label tiles live in one R32UI 2D-array texture (one layer per tile, LRU reuse of
// layers), each texel a palette index and edge flags (see labelTexels.ts). Tiles are uploaded when first seen or when
// their revision changes (only the dirty rect, grown by 1 px for the flags, when `invalidate` gave one),
// within a per-frame time budget; an upload also patches the facing border column/row of resident neighbours,
// whose edge flags depend on it. Zoomed out, coarser point-sampled label levels keep the tile count small.
import type { Program } from "./glUtil";
import type { FrameContext } from "./imageLayer";
import { globalizeTexels, packLabelTexels, sampleLabelLevel, tileBorders, tileOutside } from "./labelTexels";
import type { LabelPacker } from "./labelPacker";
import {
  buildPaletteTexels,
  paletteTexelAt,
  paletteTextureSize,
  resolveColor,
  SegmentIndex,
  writePaletteEntry,
  type PaletteFallback,
  type PaletteStyle,
  type RGBA,
} from "./palette";
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
  type TileRange,
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

export interface LabelLayerOptions {
  maxLayers: number;
  /** Packs tiles seen for the first time off the main thread; without one they are packed in the frame. */
  packer?: LabelPacker | null;
  /** A packed tile is ready to upload: the owner schedules a frame. */
  onPacked?: () => void;
}

/** The label shader's two edge tests (see shaders.ts): exact when zoomed in, any-flag when zoomed out. */
export interface LabelPrograms {
  exact: Program;
  any: Program;
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
  /** Tiles being packed by the packer (their frame is scheduled when they are ready). */
  packing: number;
}

/** One quad: the part [x0, x1) × [y0, y1) (image pixels) of the map, from resident layer `res` at `step`. */
interface TileDraw {
  res: Resident;
  step: number;
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** Texel of `res` at (x0, y0). */
  texX: number;
  texY: number;
}

interface PackedTile {
  key: string;
  level: number;
  x: number;
  y: number;
  revision: number;
  width: number;
  height: number;
  texels: Uint32Array;
  ids: Uint32Array;
}

/** Tiles in the packer at once: enough to keep it busy, few enough that a fast pan does not queue stale work. */
const MAX_PACKING = 4;
/**
 * Tiles sent per frame at most: reading a coarser level's tile to send it samples 512² pixels on the main
 * thread (1-3 ms beside SwiftShader), and the worker packs only one at a time anyway.
 */
const MAX_SENDS_PER_FRAME = 2;

const keyOf = (level: number, x: number, y: number) => `${level}/${x}/${y}`;
const GOLD: [number, number, number] = [255, 214, 0];

/** What the palette texture was last built for. */
interface BuiltPalette {
  version: number;
  style: PaletteStyle;
  texels: Uint8Array;
}

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
  private segments = new SegmentIndex();
  private colors: ReadonlyMap<number, RGBA> = new Map();
  private fallback: PaletteFallback = "id-hash";
  private paletteTexture: WebGLTexture | null = null;
  /** The styled palette in the texture; null = rebuild on the next draw. */
  private palette: BuiltPalette | null = null;
  private readonly packer: LabelPacker | null;
  private readonly onPacked: () => void;
  /** Tiles sent to the packer, by key: the revision sent, and a token that invalidation or a reset retires. */
  private readonly inflight = new Map<string, { revision: number; token: number }>();
  private packSeq = 0;
  /** Packed tiles waiting for a frame to upload them. */
  private packed: PackedTile[] = [];
  style: LabelStyle = { opacity: 0.5, mode: "fill", highlight: null, selected: null };

  constructor(
    private gl: WebGL2RenderingContext,
    private programs: LabelPrograms,
    private readonly options: LabelLayerOptions,
  ) {
    this.packer = options.packer ?? null;
    this.onPacked = options.onPacked ?? (() => {});
  }

  /** Whether first-seen tiles are packed off the main thread (false without a packer or once it failed). */
  get packsInWorker(): boolean {
    return !!this.packer && !this.packer.failed;
  }

  setSource(source: LabelSource | null): void {
    this.dropTiles();
    this.dirty.clear();
    this.source = source;
    this.segments = new SegmentIndex();
    this.palette = null;
    this.levelCount = source ? labelLevelCount(source.width, source.height, source.tileSize) : 1;
  }

  get labelSource(): LabelSource | null {
    return this.source;
  }

  setPalette(colors: ReadonlyMap<number, RGBA>, fallback: PaletteFallback = "id-hash"): void {
    this.colors = colors;
    this.fallback = fallback;
    this.palette = null;
  }

  /** Pixels of level-0 tile (tx, ty) changed; `rect` (tile-local) limits the re-upload to that area. */
  invalidate(tx: number, ty: number, rect?: Rect): void {
    const key = keyOf(0, tx, ty);
    const prev = this.dirty.get(key); // undefined: clean; null: whole tile
    const partial = rect && this.resident.peek(key) && prev !== null;
    this.dirty.set(key, partial ? (prev ? unionRect(prev, rect) : rect) : null);
    this.inflight.delete(key); // a packing result for the old pixels is ignored
    // Coarser levels sampled from this tile are re-derived on their next use, over the texels whose sample
    // points the rect covers (painting at a zoomed-out view otherwise re-sampled and re-packed whole coarse
    // tiles every frame: 13 ms per tile per frame on a 4096² map here).
    const ts = this.source?.tileSize ?? 0;
    for (let level = 1; level < this.levelCount; level++) {
      const cx = tx >> level, cy = ty >> level;
      const coarse = keyOf(level, cx, cy);
      this.empty.delete(coarse);
      this.inflight.delete(coarse);
      const r = this.resident.peek(coarse);
      if (!r) continue; // not resident: packed whole when it is next needed
      r.revision = NaN;
      const before = this.dirty.get(coarse);
      if (rect && before !== null && ts) {
        const step = 2 ** level;
        // Level-0 pixels [x0, x1) x [y0, y1) are sampled by coarse texels floor(x / step) (a superset).
        const x0 = tx * ts + rect.x, y0 = ty * ts + rect.y;
        const lx0 = Math.floor(x0 / step) - cx * ts, ly0 = Math.floor(y0 / step) - cy * ts;
        const lx1 = Math.floor((x0 + rect.width - 1) / step) - cx * ts;
        const ly1 = Math.floor((y0 + rect.height - 1) / step) - cy * ts;
        const local = { x: lx0, y: ly0, width: lx1 - lx0 + 1, height: ly1 - ly0 + 1 };
        this.dirty.set(coarse, before ? unionRect(before, local) : local);
      } else this.dirty.set(coarse, null);
    }
    this.empty.delete(key);
  }

  draw(frame: FrameContext, deadline: number): LabelDrawStats {
    const stats: LabelDrawStats = { drawn: 0, uploads: 0, pending: 0, packing: 0 };
    const src = this.source;
    if (!src) return stats;
    const gl = this.gl;
    const level = pyramidLevelFor(frame.viewport.scale, this.levelCount, 1);
    const geo = labelLevel(src, level);
    const extent = src.tileSize * geo.step;
    const range = tileRange(frame.visible, extent, extent, geo.cols, geo.rows);
    // With a packer, the ring of tiles around the view is packed ahead (see prefetch), so room for it too.
    const packer = this.packsInWorker ? this.packer : null;
    const ring = packer ? growRange(range, 1, geo.cols, geo.rows) : range;
    this.ensureCapacity(rangeSize(ring));

    const order = tilesByDistance(range, frame.visible, extent, extent);
    const inFrame = new Set(order.map(([x, y]) => keyOf(level, x, y)));
    this.applyPacked(inFrame, deadline, stats);
    const toDraw: TileDraw[] = [];
    const missing: [number, number][] = [];
    let sentNow = 0;
    for (const [x, y] of order) {
      const key = keyOf(level, x, y);
      const revision = labelTileRevision(src, level, x, y);
      let res = this.resident.get(key);
      const dirty = this.dirty.get(key);
      const stale = !res || res.revision !== revision || dirty !== undefined;
      if (stale && this.empty.get(key) === revision) continue; // known all zeros
      if (stale && !res && packer) {
        // First sight: packed in the worker; a coarser or finer resident level stands in meanwhile. Reading
        // the tile to send it costs main-thread time too (sampling, for coarser levels), so it is budgeted.
        const over = sentNow >= MAX_SENDS_PER_FRAME || (sentNow > 0 && performance.now() > deadline);
        const sent = over ? "waiting" : this.requestPack(key, level, x, y, revision);
        if (sent === "empty") continue;
        if (sent === "sent") sentNow++;
        stats.packing++;
        missing.push([x, y]);
        continue;
      }
      if (stale) {
        if (performance.now() > deadline && stats.uploads > 0) {
          stats.pending++; // a stale resident tile is drawn as it is until then
        } else {
          res = this.upload(key, level, x, y, revision, res, dirty, inFrame);
          stats.uploads++;
        }
      }
      if (res) toDraw.push(this.tileDraw(res, level, x, y, level, x, y));
      else missing.push([x, y]);
    }
    for (const [x, y] of missing) toDraw.push(...this.standIns(level, x, y));
    // Not while the user interacts on software WebGL: the cores are busy rasterising then.
    if (packer && !stats.pending && !frame.interactive) stats.packing += this.prefetch(level, ring, range, deadline);
    this.syncPalette();
    if (!toDraw.length || !this.texture) return stats;

    // Outline width in texels of this level; at 1 or more every texel with a differing neighbour is edge.
    const outline = this.style.outlineWidth ?? 1;
    const edgeAt = (step: number) => outline / (frame.viewport.scale * step);
    const program = edgeAt(geo.step) >= 1 ? this.programs.any : this.programs.exact;
    gl.useProgram(program.program);
    const u = program.uniforms;
    this.setCommonUniforms(u, frame);
    const v = frame.viewport;
    for (const d of toDraw) {
      gl.uniform4f(u.uRect, d.x0 * v.scale + v.x, d.y0 * v.scale + v.y, d.x1 * v.scale + v.x, d.y1 * v.scale + v.y);
      gl.uniform2f(u.uTexOrigin, d.texX, d.texY);
      gl.uniform2f(u.uTexSize, (d.x1 - d.x0) / d.step, (d.y1 - d.y0) / d.step);
      gl.uniform2i(u.uSize, d.res.width, d.res.height);
      gl.uniform1i(u.uLayer, d.res.layer);
      gl.uniform1f(u.uEdge, edgeAt(d.step));
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
      stats.drawn++;
    }
    return stats;
  }

  /** Draw the part of resident tile (resLevel, rx, ry) that covers tile (level, x, y) (the same tile, or a part). */
  private tileDraw(res: Resident, resLevel: number, rx: number, ry: number, level: number, x: number, y: number): TileDraw {
    const src = this.source!;
    const extent = src.tileSize * 2 ** level;
    const resExtent = src.tileSize * 2 ** resLevel;
    const step = 2 ** resLevel;
    const x0 = x * extent;
    const y0 = y * extent;
    return {
      res, step, x0, y0,
      x1: Math.min(src.width, x0 + extent),
      y1: Math.min(src.height, y0 + extent),
      texX: (x0 - rx * resExtent) / step,
      texY: (y0 - ry * resExtent) / step,
    };
  }

  /**
   * What stands in for tile (level, x, y) while it is packed: the nearest coarser resident level's texels over
   * its area, else the resident tiles one level finer (each in its own area), so labels never blink out while
   * zooming or panning onto new tiles. Outdated stand-ins are fine for the frame or two this lasts.
   */
  private standIns(level: number, x: number, y: number): TileDraw[] {
    for (let m = level + 1; m < this.levelCount; m++) {
      const ax = x >> (m - level);
      const ay = y >> (m - level);
      const res = this.resident.peek(keyOf(m, ax, ay));
      if (res) return [this.tileDraw(res, m, ax, ay, level, x, y)];
    }
    const out: TileDraw[] = [];
    if (level === 0) return out;
    const { cols, rows } = labelLevel(this.source!, level - 1);
    for (let cy = 2 * y; cy < Math.min(rows, 2 * y + 2); cy++) {
      for (let cx = 2 * x; cx < Math.min(cols, 2 * x + 2); cx++) {
        const res = this.resident.peek(keyOf(level - 1, cx, cy));
        if (res) out.push(this.tileDraw(res, level - 1, cx, cy, level - 1, cx, cy));
      }
    }
    return out;
  }

  /**
   * Send tile (level, x, y) at `revision` to the packer unless it is already on its way there ("waiting" then,
   * or when the packer has MAX_PACKING tiles already). An all-zero tile is not sent but marked empty.
   */
  private requestPack(key: string, level: number, x: number, y: number, revision: number): "sent" | "waiting" | "empty" {
    const job = this.inflight.get(key);
    if (job && job.revision === revision) return "waiting";
    if (this.inflight.size >= MAX_PACKING) return "waiting";
    const src = this.source!;
    const data = labelTileData(src, level, x, y);
    this.dirty.delete(key);
    if (!data) {
      this.markEmpty(key, level, x, y, revision);
      return "empty";
    }
    const { width, height } = labelTileSize(src, level, x, y);
    const token = ++this.packSeq;
    this.inflight.set(key, { revision, token });
    this.packer!.pack(
      { width, height, data, borders: tileBorders(src, level, x, y, width, height) },
      (result) => {
        if (this.inflight.get(key)?.token !== token) return; // invalidated or dropped meanwhile
        this.inflight.delete(key);
        // null: the packer failed; the next frame packs the tile itself (packer.failed is set now).
        if (result) this.packed.push({ key, level, x, y, revision, width, height, ...result });
        this.onPacked();
      },
    );
    return "sent";
  }

  /** Upload tiles the packer finished, nearest first as they were asked for, within the frame's budget. */
  private applyPacked(inFrame: Set<string>, deadline: number, stats: LabelDrawStats): void {
    const src = this.source!;
    while (this.packed.length) {
      if (performance.now() > deadline && stats.uploads > 0) {
        stats.pending += this.packed.length;
        return;
      }
      const p = this.packed.shift()!;
      // Changed since it was sent (then it is sent again when seen), or already uploaded by an edit.
      if (labelTileRevision(src, p.level, p.x, p.y) !== p.revision || this.dirty.has(p.key)) continue;
      const res = this.resident.peek(p.key);
      if (res && res.revision === p.revision) continue;
      const region = { x: 0, y: 0, width: p.width, height: p.height };
      if (this.store(p.key, p.level, p.x, p.y, p.revision, res, region, inFrame,
        () => globalizeTexels(p.texels, p.ids, this.indexOf))) stats.uploads++;
    }
  }

  /**
   * Pack the ring of tiles around the view ahead of a pan (when nothing else waits), nearest the view first.
   * Returns the tiles sent.
   */
  private prefetch(level: number, ring: TileRange, range: TileRange, deadline: number): number {
    const src = this.source!;
    let sent = 0;
    const around: [number, number, number][] = [];
    for (let y = ring.y0; y < ring.y1; y++) {
      for (let x = ring.x0; x < ring.x1; x++) {
        if (x >= range.x0 && x < range.x1 && y >= range.y0 && y < range.y1) continue;
        const dx = x < range.x0 ? range.x0 - x : x - range.x1 + 1;
        const dy = y < range.y0 ? range.y0 - y : y - range.y1 + 1;
        around.push([Math.max(dx, dy), x, y]);
      }
    }
    around.sort((a, b) => a[0] - b[0]);
    for (const [, x, y] of around) {
      if (this.inflight.size >= MAX_PACKING || performance.now() > deadline) break;
      const key = keyOf(level, x, y);
      const revision = labelTileRevision(src, level, x, y);
      if (this.resident.peek(key) || this.empty.get(key) === revision || this.inflight.has(key)) continue;
      if (this.requestPack(key, level, x, y, revision) === "sent") sent++;
    }
    return sent;
  }

  private setCommonUniforms(u: Program["uniforms"], frame: FrameContext): void {
    const gl = this.gl;
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    gl.activeTexture(gl.TEXTURE1);
    gl.bindTexture(gl.TEXTURE_2D_ARRAY, this.texture);
    gl.activeTexture(gl.TEXTURE2);
    gl.bindTexture(gl.TEXTURE_2D, this.paletteTexture);
    gl.uniform1i(u.uLabels, 1);
    gl.uniform1i(u.uPalette, 2);
    gl.uniform2f(u.uCanvas, frame.cssWidth, frame.cssHeight);
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
    const src = this.source!;
    this.dirty.delete(key);
    const { width, height } = labelTileSize(src, level, x, y);
    // A pixel's flags depend on its neighbours, so a dirty rect grows by 1 px.
    const part = res && dirty ? clipRect(growRect(dirty, 1), width, height) : null;
    if (level > 0 && part) {
      // Part of a coarse tile: sample just that part, not the whole tile.
      return this.store(key, level, x, y, revision, res, part, inFrame,
        () => this.sampledTexels(level, x, y, width, height, part));
    }
    const data = labelTileData(src, level, x, y);
    if (!data) {
      if (res) this.release(key, res);
      this.markEmpty(key, level, x, y, revision);
      return undefined;
    }
    if (data.length !== width * height) throw new Error(`label tile ${key} has ${data.length} ids, expected ${width}×${height}`);
    const region = part ?? { x: 0, y: 0, width, height };
    return this.store(key, level, x, y, revision, res, region, inFrame,
      () => packLabelTexels(width, height, region, data, tileOutside(src, level, x, y), this.indexOf));
  }

  /** Texels over `region` of tile (level, x, y) sampled pixel by pixel from the source (no tile read whole). */
  private sampledTexels(level: number, x: number, y: number, width: number, height: number, region: Rect): Uint32Array {
    const src = this.source!;
    const ts = src.tileSize;
    const inside = (lx: number, ly: number) => sampleLabelLevel(src, level, x * ts + lx, y * ts + ly);
    return packLabelTexels(width, height, region, inside, tileOutside(src, level, x, y), this.indexOf);
  }

  /**
   * Write `texels` (made only once there is a layer for them) over `region` of tile (level, x, y) at
   * `revision`, in its layer or a new one, and patch the neighbours' facing borders. Undefined: no layer free.
   */
  private store(
    key: string,
    level: number,
    x: number,
    y: number,
    revision: number,
    res: Resident | undefined,
    region: Rect,
    inFrame: Set<string>,
    texels: () => Uint32Array,
  ): Resident | undefined {
    if (!res) {
      const layer = this.allocLayer(inFrame);
      if (layer < 0) return undefined;
      const { width, height } = labelTileSize(this.source!, level, x, y);
      res = { layer, revision, width, height };
      this.resident.set(key, res);
    }
    res.revision = revision;
    this.empty.delete(key);
    this.writeTexels(res.layer, region, texels());
    this.patchNeighbours(level, x, y, region);
    return res;
  }

  /** Tile (level, x, y) is all zeros at `revision`: nothing to draw, and its neighbours' facing flags change. */
  private markEmpty(key: string, level: number, x: number, y: number, revision: number): void {
    const ts = this.source!.tileSize;
    this.empty.set(key, revision);
    this.patchNeighbours(level, x, y, { x: 0, y: 0, width: ts, height: ts });
  }

  /** Rewrite the border texels of resident neighbours facing `region` of tile (x, y): their flags changed. */
  private patchNeighbours(level: number, x: number, y: number, region: Rect): void {
    const src = this.source!;
    const last = src.tileSize - 1;
    const { width, height } = labelTileSize(src, level, x, y);
    if (region.x === 0) this.patchStrip(level, x - 1, y, { x: last, y: region.y, width: 1, height: region.height });
    if (region.x + region.width >= width) this.patchStrip(level, x + 1, y, { x: 0, y: region.y, width: 1, height: region.height });
    if (region.y === 0) this.patchStrip(level, x, y - 1, { x: region.x, y: last, width: region.width, height: 1 });
    if (region.y + region.height >= height) this.patchStrip(level, x, y + 1, { x: region.x, y: 0, width: region.width, height: 1 });
  }

  private patchStrip(level: number, x: number, y: number, strip: Rect): void {
    const res = this.resident.peek(keyOf(level, x, y));
    if (!res) return;
    const region = clipRect(strip, res.width, res.height);
    if (region.width <= 0 || region.height <= 0) return;
    this.writeTexels(res.layer, region, this.sampledTexels(level, x, y, res.width, res.height, region));
  }

  private writeTexels(layer: number, region: Rect, texels: Uint32Array): void {
    if (region.width <= 0 || region.height <= 0) return;
    const gl = this.gl;
    gl.bindTexture(gl.TEXTURE_2D_ARRAY, this.texture);
    gl.texSubImage3D(
      gl.TEXTURE_2D_ARRAY, 0, region.x, region.y, layer, region.width, region.height, 1,
      gl.RED_INTEGER, gl.UNSIGNED_INT, texels,
    );
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

  private readonly indexOf = (id: number): number => this.segments.indexOf(id);

  /** The style as the palette bakes it in: hover and selection as palette indices (null: no texel has them). */
  private paletteStyle(): PaletteStyle {
    const s = this.style;
    const indexOf = (id: number | null) => (id ? (this.segments.find(id >>> 0) ?? null) : null);
    return {
      opacity: Math.min(1, Math.max(0, s.opacity)),
      mode: s.mode,
      highlight: indexOf(s.highlight),
      selected: indexOf(s.selected),
      selectedColor: s.selectedColor ?? GOLD,
    };
  }

  /**
   * Bring the palette texture up to date with the ids seen, the colours and the style: rebuilt whole when ids,
   * colours, opacity, mode or the selection colour changed; a hover or selection change only rewrites the
   * texels of the indices it touches.
   */
  private syncPalette(): void {
    const gl = this.gl;
    const style = this.paletteStyle();
    const built = this.palette;
    const same = (a: PaletteStyle, b: PaletteStyle) =>
      a.opacity === b.opacity && a.mode === b.mode && a.selectedColor.every((v, i) => v === b.selectedColor[i]);
    if (!built || !this.paletteTexture || built.version !== this.segments.version || !same(built.style, style)) {
      const { width, height } = paletteTextureSize(this.segments.size);
      const texels = buildPaletteTexels(this.segments, this.colors, this.fallback, style);
      if (!this.paletteTexture) this.paletteTexture = gl.createTexture();
      gl.bindTexture(gl.TEXTURE_2D, this.paletteTexture);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
      gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, width, height, 0, gl.RGBA, gl.UNSIGNED_BYTE, texels);
      this.palette = { version: this.segments.version, style, texels };
      return;
    }
    if (built.style.highlight === style.highlight && built.style.selected === style.selected) return;
    const touched = new Set([built.style.highlight, built.style.selected, style.highlight, style.selected]);
    gl.bindTexture(gl.TEXTURE_2D, this.paletteTexture);
    for (const i of touched) {
      if (i === null || i <= 0) continue;
      writePaletteEntry(built.texels, i, resolveColor(this.colors, this.fallback, this.segments.idAt(i)), style);
      // The interior and edge texels of index i are one column of two rows.
      const { x, y } = paletteTexelAt(i, false);
      const { width } = paletteTextureSize(this.segments.size);
      const column = new Uint8Array(8);
      column.set(built.texels.subarray((y * width + x) * 4, (y * width + x) * 4 + 4), 0);
      column.set(built.texels.subarray(((y + 1) * width + x) * 4, ((y + 1) * width + x) * 4 + 4), 4);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, x, y, 1, 2, gl.RGBA, gl.UNSIGNED_BYTE, column);
    }
    built.style = style;
  }

  /** Forget every uploaded tile and free the array texture (it is re-created at the right size on next draw). */
  private dropTiles(): void {
    if (this.texture && !this.gl.isContextLost()) this.gl.deleteTexture(this.texture);
    this.texture = null;
    this.capacity = 0;
    this.resident.clear();
    this.empty.clear();
    this.freeLayers = [];
    this.inflight.clear(); // results still on their way are ignored
    this.packed = [];
  }

  loseContext(): void {
    this.texture = null;
    this.paletteTexture = null;
    this.dropTiles();
  }

  restoreContext(gl: WebGL2RenderingContext, programs: LabelPrograms): void {
    this.gl = gl;
    this.programs = programs;
    this.palette = null;
  }

  destroy(): void {
    this.dropTiles();
    this.packer?.destroy();
    if (this.paletteTexture && !this.gl.isContextLost()) this.gl.deleteTexture(this.paletteTexture);
    this.paletteTexture = null;
    this.source = null;
  }
}

function unionRect(a: Rect, b: Rect): Rect {
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, width: Math.max(a.x + a.width, b.x + b.width) - x, height: Math.max(a.y + a.height, b.y + b.height) - y };
}

function growRect(r: Rect, by: number): Rect {
  return { x: r.x - by, y: r.y - by, width: r.width + 2 * by, height: r.height + 2 * by };
}

function clipRect(r: Rect, width: number, height: number): Rect {
  const x = Math.max(0, Math.floor(r.x));
  const y = Math.max(0, Math.floor(r.y));
  const x1 = Math.min(width, Math.ceil(r.x + r.width));
  const y1 = Math.min(height, Math.ceil(r.y + r.height));
  return { x, y, width: Math.max(0, x1 - x), height: Math.max(0, y1 - y) };
}

/** `range` grown by `by` tiles on every side, within the level's cols × rows. */
function growRange(range: TileRange, by: number, cols: number, rows: number): TileRange {
  return {
    x0: Math.max(0, range.x0 - by),
    y0: Math.max(0, range.y0 - by),
    x1: Math.min(cols, range.x1 + by),
    y1: Math.min(rows, range.y1 + by),
  };
}
