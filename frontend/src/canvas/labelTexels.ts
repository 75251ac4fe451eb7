// What the label shader reads per texel, one uint32: dense segment index << 4 | edge flags (see palette.ts
// for the index). The flags say which 4-neighbours carry a different id. Both are computed on the CPU when a
// tile is uploaded, so outlines cost the shader no neighbour fetches (in SwiftShader every texture fetch is paid
// by every pixel) and are exact across tile borders: neighbours outside the tile are read from the label
// source, ids outside the map count as 0. Pure: no DOM, no WebGL.
import type { LabelSource } from "./tiles";
import type { Rect } from "./viewport";

export const EDGE_LEFT = 1;
export const EDGE_RIGHT = 2;
export const EDGE_UP = 4;
export const EDGE_DOWN = 8;

/** Id at level `level` texel (gx, gy) in level coordinates (the same point sampling as labelTileData); 0 outside. */
export function sampleLabelLevel(src: LabelSource, level: number, gx: number, gy: number): number {
  const step = 2 ** level;
  if (gx < 0 || gy < 0) return 0;
  const half = step >> 1;
  const x = gx * step;
  const y = gy * step;
  if (x >= src.width || y >= src.height) return 0;
  const sx = Math.min(src.width - 1, x + half);
  const sy = Math.min(src.height - 1, y + half);
  const ts = src.tileSize;
  const tx = Math.floor(sx / ts);
  const ty = Math.floor(sy / ts);
  const data = src.tile(tx, ty);
  if (!data) return 0;
  const w = Math.min(ts, src.width - tx * ts);
  return data[(sy - ty * ts) * w + (sx - tx * ts)];
}

/**
 * Texels (row-major) for `region` of a width × height tile whose ids are `data`
 * (or, for small strips, read through `inside(x, y)`); `outside(x, y)` gives the id at tile-local coordinates
 * just outside the tile (x = -1 or width, y = -1 or height); `indexOf` gives an id's dense palette index.
 */
export function packLabelTexels(
  width: number,
  height: number,
  region: Rect,
  data: Uint32Array | ((x: number, y: number) => number),
  outside: (x: number, y: number) => number,
  indexOf: (id: number) => number,
): Uint32Array {
  const out = new Uint32Array(region.width * region.height);
  const x0 = region.x;
  const x1 = region.x + region.width;
  let o = 0;
  // Label maps are piecewise constant: look the index up once per run of equal ids.
  let lastId = 0;
  let lastIndex = indexOf(0) << 4;
  if (typeof data === "function") {
    const at = (x: number, y: number) => (x < 0 || y < 0 || x >= width || y >= height ? outside(x, y) : data(x, y));
    for (let y = region.y; y < region.y + region.height; y++) {
      for (let x = x0; x < x1; x++) {
        const id = at(x, y);
        if (id !== lastId) {
          lastId = id;
          lastIndex = indexOf(id) << 4;
        }
        out[o++] = lastIndex | flagsOf(id, at(x - 1, y), at(x + 1, y), at(x, y - 1), at(x, y + 1));
      }
    }
    return out;
  }
  for (let y = region.y; y < region.y + region.height; y++) {
    const row = y * width;
    for (let x = x0; x < x1; x++) {
      const i = row + x;
      const id = data[i];
      if (id !== lastId) {
        lastId = id;
        lastIndex = indexOf(id) << 4;
      }
      const l = x > 0 ? data[i - 1] : outside(-1, y);
      const r = x < width - 1 ? data[i + 1] : outside(width, y);
      const u = y > 0 ? data[i - width] : outside(x, -1);
      const d = y < height - 1 ? data[i + width] : outside(x, height);
      out[o++] = lastIndex | (l !== id ? EDGE_LEFT : 0) | (r !== id ? EDGE_RIGHT : 0) | (u !== id ? EDGE_UP : 0) | (d !== id ? EDGE_DOWN : 0);
    }
  }
  return out;
}

function flagsOf(id: number, l: number, r: number, u: number, d: number): number {
  return (l !== id ? EDGE_LEFT : 0) | (r !== id ? EDGE_RIGHT : 0) | (u !== id ? EDGE_UP : 0) | (d !== id ? EDGE_DOWN : 0);
}

/** `outside` for packLabelTexels: ids around label tile (x, y) at `level`, sampled from the source. */
export function tileOutside(src: LabelSource, level: number, x: number, y: number): (lx: number, ly: number) => number {
  const ts = src.tileSize;
  return (lx, ly) => sampleLabelLevel(src, level, x * ts + lx, y * ts + ly);
}

/** Ids just outside a width × height tile: the column left of it and right of it, the row above and below. */
export interface TileBorders {
  left: Uint32Array;
  right: Uint32Array;
  top: Uint32Array;
  bottom: Uint32Array;
}

/** The ids around label tile (x, y) at `level`, sampled from the source (0 outside the map). */
export function tileBorders(src: LabelSource, level: number, x: number, y: number, width: number, height: number): TileBorders {
  const outside = tileOutside(src, level, x, y);
  const column = (lx: number) => Uint32Array.from({ length: height }, (_, ly) => outside(lx, ly));
  const row = (ly: number) => Uint32Array.from({ length: width }, (_, lx) => outside(lx, ly));
  return { left: column(-1), right: column(width), top: row(-1), bottom: row(height) };
}

/**
 * packLabelTexels for a whole tile away from the segment index (in a Web Worker): texels carry *tile-local*
 * indices, 0 for id 0 and then in order of first sight, listed in `ids` (local index → id). globalizeTexels turns
 * them into palette indices on the main thread, which owns the SegmentIndex.
 */
export function packLocalTexels(
  width: number,
  height: number,
  data: Uint32Array,
  borders: TileBorders,
): { texels: Uint32Array; ids: Uint32Array } {
  const local = new Map<number, number>([[0, 0]]);
  const ids = [0];
  const indexOf = (id: number) => {
    let i = local.get(id);
    if (i === undefined) {
      i = ids.length;
      local.set(id, i);
      ids.push(id);
    }
    return i;
  };
  const outside = (lx: number, ly: number) =>
    lx < 0 ? borders.left[ly] : lx >= width ? borders.right[ly] : ly < 0 ? borders.top[lx] : borders.bottom[lx];
  const texels = packLabelTexels(width, height, { x: 0, y: 0, width, height }, data, outside, indexOf);
  return { texels, ids: Uint32Array.from(ids) };
}

/** Rewrite tile-local texels (packLocalTexels) in place with palette indices: `indexOf(ids[local])`. */
export function globalizeTexels(texels: Uint32Array, ids: Uint32Array, indexOf: (id: number) => number): Uint32Array {
  const lut = new Uint32Array(ids.length);
  for (let i = 0; i < ids.length; i++) lut[i] = indexOf(ids[i]) << 4;
  for (let i = 0; i < texels.length; i++) {
    const t = texels[i];
    texels[i] = lut[t >>> 4] | (t & 15);
  }
  return texels;
}
