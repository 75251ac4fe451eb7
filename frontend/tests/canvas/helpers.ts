// A LabelSource over a whole in-memory map, for tests: tiles that are all zeros come back undefined, and
// coordinates outside the grid throw (as core/labelMap does), so the canvas code must never ask for them.
import type { LabelSource } from "../../src/canvas/tiles";

export function mapSource(width: number, height: number, tileSize: number, ids: Uint32Array): LabelSource & { revisions: Map<string, number> } {
  const revisions = new Map<string, number>();
  return {
    width,
    height,
    tileSize,
    revisions,
    tile(tx, ty) {
      const w = Math.min(tileSize, width - tx * tileSize);
      const h = Math.min(tileSize, height - ty * tileSize);
      if (w <= 0 || h <= 0 || tx < 0 || ty < 0) throw new RangeError(`tile ${tx},${ty} outside the grid`);
      const out = new Uint32Array(w * h);
      let any = false;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const v = ids[(ty * tileSize + y) * width + tx * tileSize + x];
          out[y * w + x] = v;
          any ||= v !== 0;
        }
      }
      return any ? out : undefined;
    },
    tileRevision(tx, ty) {
      if (tx < 0 || ty < 0 || tx * tileSize >= width || ty * tileSize >= height) throw new RangeError(`tile ${tx},${ty} outside the grid`);
      return revisions.get(`${tx},${ty}`) ?? 0;
    },
  };
}

/** Deterministic pseudo-random map of blocky segments with arbitrary uint32 ids (and some zeros). */
export function blockyMap(width: number, height: number, seed = 1): Uint32Array {
  const ids = new Uint32Array(width * height);
  let s = seed >>> 0;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  for (let k = 0; k < 40; k++) {
    const x0 = rnd() % width, y0 = rnd() % height;
    const w = 1 + (rnd() % Math.max(1, width >> 1)), h = 1 + (rnd() % Math.max(1, height >> 1));
    const id = k % 7 === 0 ? 0 : rnd() || 1;
    for (let y = y0; y < Math.min(height, y0 + h); y++) ids.fill(id, y * width + x0, y * width + Math.min(width, x0 + w));
  }
  return ids;
}
