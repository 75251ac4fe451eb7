// Tile geometry shared by the image pyramid and the label map: which tiles a view needs, where a tile sits in
// image space, and the coarser label levels used when zoomed out. Pure: no DOM, no WebGL.
import type { Rect } from "./viewport";

/** A display pyramid as the server describes it (`Image.pyramid_levels` etc.). */
export interface ImagePyramid {
  width: number;
  height: number;
  tileSize: number;
  /** [width, height, cols, rows] per level; level 0 is full resolution, level k is halved k times, rounded up. */
  levels: [number, number, number, number][];
  tileUrl(level: number, x: number, y: number): string;
  /** True for pyramids with transparency (WebP tiles): they are alpha-blended instead of drawn opaque. */
  hasAlpha?: boolean;
}

/** A label map cut into tiles: uint32 segment ids, row-major; edge tiles are cropped to the map. */
export interface LabelSource {
  width: number;
  height: number;
  tileSize: number;
  /** The tile's ids (length = cropped width × cropped height), or undefined when it is all zeros. */
  tile(tx: number, ty: number): Uint32Array | undefined;
  /** Must change (e.g. increase) whenever the tile's pixels change, including to or from undefined. */
  tileRevision(tx: number, ty: number): number;
}

/** Inclusive-exclusive range of tile columns [x0, x1) and rows [y0, y1). Empty when x0 >= x1 or y0 >= y1. */
export interface TileRange {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface TileKey {
  level: number;
  x: number;
  y: number;
}

/** Tiles of a cols × rows grid, each `extent` image pixels wide, that intersect `rect` (image coordinates). */
export function tileRange(rect: Rect, extentX: number, extentY: number, cols: number, rows: number): TileRange {
  const clamp = (v: number, hi: number) => Math.min(hi, Math.max(0, v));
  return {
    x0: clamp(Math.floor(rect.x / extentX), cols),
    y0: clamp(Math.floor(rect.y / extentY), rows),
    x1: clamp(Math.ceil((rect.x + rect.width) / extentX), cols),
    y1: clamp(Math.ceil((rect.y + rect.height) / extentY), rows),
  };
}

export function rangeSize(r: TileRange): number {
  return Math.max(0, r.x1 - r.x0) * Math.max(0, r.y1 - r.y0);
}

/** The range's tiles, nearest to the centre of `rect` first (the order to load them in). */
export function tilesByDistance(r: TileRange, rect: Rect, extentX: number, extentY: number): [number, number][] {
  const cx = (rect.x + rect.width / 2) / extentX - 0.5;
  const cy = (rect.y + rect.height / 2) / extentY - 0.5;
  const out: [number, number][] = [];
  for (let y = r.y0; y < r.y1; y++) for (let x = r.x0; x < r.x1; x++) out.push([x, y]);
  return out.sort((a, b) => (a[0] - cx) ** 2 + (a[1] - cy) ** 2 - ((b[0] - cx) ** 2 + (b[1] - cy) ** 2));
}

/**
 * Where a pyramid tile sits in image space. Level k pixel i covers image pixels [i·2^k, (i+1)·2^k) (the server
 * halves with a 2×2 box, rounding up), so the last column or row may overhang the image: the rect is clipped to
 * the image and `texW`/`texH` give the part of the tile texture (in texels) that the clipped rect shows.
 */
export function pyramidTileRect(p: ImagePyramid, level: number, x: number, y: number) {
  const [levelW, levelH] = p.levels[level];
  const f = 2 ** level;
  const tileW = Math.min(p.tileSize, levelW - x * p.tileSize);
  const tileH = Math.min(p.tileSize, levelH - y * p.tileSize);
  const x0 = x * p.tileSize * f;
  const y0 = y * p.tileSize * f;
  const width = Math.min(tileW * f, p.width - x0);
  const height = Math.min(tileH * f, p.height - y0);
  return { x: x0, y: y0, width, height, tileW, tileH, texW: width / f, texH: height / f };
}

// --- label levels -------------------------------------------------------------------------------------------
// Zoomed out, a 20k × 20k label map would need 1,600 full-resolution tiles on screen. Label level k instead
// point-samples every 2^k-th pixel (the centre of each 2^k block), so one level-k tile covers tileSize·2^k image
// pixels and the number of tiles drawn stays about the number that fit on screen.

export interface LabelLevel {
  level: number;
  /** Image pixels per texel: 2^level. */
  step: number;
  cols: number;
  rows: number;
}

export function labelLevelCount(width: number, height: number, tileSize: number): number {
  let n = 1;
  while (tileSize * 2 ** (n - 1) < Math.max(width, height)) n++;
  return n;
}

export function labelLevel(src: Pick<LabelSource, "width" | "height" | "tileSize">, level: number): LabelLevel {
  const step = 2 ** level;
  const extent = src.tileSize * step;
  return { level, step, cols: Math.ceil(src.width / extent), rows: Math.ceil(src.height / extent) };
}

/** Cropped size in texels of label tile (x, y) at `level`. */
export function labelTileSize(src: Pick<LabelSource, "width" | "height" | "tileSize">, level: number, x: number, y: number) {
  const step = 2 ** level;
  const extent = src.tileSize * step;
  return {
    width: Math.ceil(Math.min(extent, src.width - x * extent) / step),
    height: Math.ceil(Math.min(extent, src.height - y * extent) / step),
  };
}

/** The level-0 tiles that label tile (x, y) at `level` is sampled from. */
export function labelSourceRange(src: Pick<LabelSource, "width" | "height" | "tileSize">, level: number, x: number, y: number): TileRange {
  const n = 2 ** level;
  const cols = Math.ceil(src.width / src.tileSize);
  const rows = Math.ceil(src.height / src.tileSize);
  return { x0: x * n, y0: y * n, x1: Math.min(cols, (x + 1) * n), y1: Math.min(rows, (y + 1) * n) };
}

/** A number that changes whenever any source tile of label tile (x, y) at `level` changes (revisions only grow). */
export function labelTileRevision(src: LabelSource, level: number, x: number, y: number): number {
  if (level === 0) return src.tileRevision(x, y);
  const r = labelSourceRange(src, level, x, y);
  let sum = 0;
  for (let ty = r.y0; ty < r.y1; ty++) for (let tx = r.x0; tx < r.x1; tx++) sum += src.tileRevision(tx, ty);
  return sum;
}

/**
 * Label tile (x, y) at `level`: level 0 is the source tile itself; coarser levels point-sample the centre of
 * every 2^level × 2^level block. Undefined when every source tile is all zeros.
 */
export function labelTileData(src: LabelSource, level: number, x: number, y: number): Uint32Array | undefined {
  if (level === 0) return src.tile(x, y);
  const ts = src.tileSize;
  const step = 2 ** level;
  const half = step >> 1;
  const extent = ts * step;
  const { width, height } = labelTileSize(src, level, x, y);
  // Source tile column and offset of every output column, computed once.
  const colTile = new Int32Array(width);
  const colOff = new Int32Array(width);
  for (let i = 0; i < width; i++) {
    const sx = Math.min(src.width - 1, x * extent + i * step + half);
    colTile[i] = Math.floor(sx / ts);
    colOff[i] = sx - colTile[i] * ts;
  }
  let out: Uint32Array | undefined;
  let rowTy = -1;
  let rowTiles: (Uint32Array | undefined)[] = [];
  for (let j = 0; j < height; j++) {
    const sy = Math.min(src.height - 1, y * extent + j * step + half);
    const ty = Math.floor(sy / ts);
    if (ty !== rowTy) {
      rowTy = ty;
      rowTiles = [];
      for (let tx = colTile[0]; tx <= colTile[width - 1]; tx++) rowTiles.push(src.tile(tx, ty));
    }
    const oy = sy - ty * ts;
    const base = j * width;
    let i = 0;
    while (i < width) {
      const tx = colTile[i];
      const data = rowTiles[tx - colTile[0]];
      let end = i;
      while (end < width && colTile[end] === tx) end++;
      if (data) {
        out ??= new Uint32Array(width * height);
        const row = oy * Math.min(ts, src.width - tx * ts);
        for (; i < end; i++) out[base + i] = data[row + colOff[i]];
      }
      i = end;
    }
  }
  return out;
}

/** The id at image pixel (x, y), read on the CPU; 0 outside the map or in an all-zero tile. */
export function labelAt(src: LabelSource, x: number, y: number): number {
  x = Math.floor(x);
  y = Math.floor(y);
  if (!(x >= 0 && y >= 0 && x < src.width && y < src.height)) return 0;
  const tx = Math.floor(x / src.tileSize);
  const ty = Math.floor(y / src.tileSize);
  const data = src.tile(tx, ty);
  if (!data) return 0;
  const w = Math.min(src.tileSize, src.width - tx * src.tileSize);
  return data[(y - ty * src.tileSize) * w + (x - tx * src.tileSize)] ?? 0;
}

// --- LRU ------------------------------------------------------------------------------------------------------

/** Least-recently-used map: `get` refreshes an entry; `evictable` yields entries oldest first. */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  /** Oldest first. */
  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  /** Remove and return the oldest entry not in `keep`, or undefined. */
  evictOldest(keep?: Set<K>): [K, V] | undefined {
    for (const [k, v] of this.map) {
      if (keep?.has(k)) continue;
      this.map.delete(k);
      return [k, v];
    }
    return undefined;
  }
}
