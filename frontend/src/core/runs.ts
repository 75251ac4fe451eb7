// Horizontal runs of pixels, the working unit of label-map scans: label maps are mostly long runs along
// rows, so stats and connected components over runs cost far less than per-pixel work. Pure helpers for
// labelMap.ts.

import { type RegionMask, emptyMask } from "./raster";

/** [y, xStart, xEnd) of one run, in image coordinates. */
export type Run = readonly [number, number, number];

/** Per-tile stats: id -> [area, xmin, ymin, xmax, ymax] with inclusive bounds in image coordinates. */
export type TileStats = Map<number, [number, number, number, number, number]>;

/** Per-id run stats of one tile whose top-left pixel is (x0, y0) (Python: tiles.tile_stats). */
export function scanRuns(tile: Uint32Array, rows: number, cols: number, x0: number, y0: number, stats: TileStats): void {
  for (let r = 0; r < rows; r++) {
    const rowStart = r * cols;
    const end = rowStart + cols;
    let i = rowStart;
    while (i < end) {
      const id = tile[i];
      let j = i + 1;
      while (j < end && tile[j] === id) j++;
      if (id !== 0) {
        const xa = i - rowStart + x0;
        const xb = j - 1 - rowStart + x0;
        const s = stats.get(id);
        // Rows are scanned top-down, so the first run fixes ymin and the latest one ymax.
        if (!s) stats.set(id, [j - i, xa, r + y0, xb, r + y0]);
        else {
          s[0] += j - i;
          if (xa < s[1]) s[1] = xa;
          if (xb > s[3]) s[3] = xb;
          s[4] = r + y0;
        }
      }
      i = j;
    }
  }
}

/** One mask holding the given runs [y, xStart, xEnd) (in raster order), cropped to their bbox. */
export function maskFromRuns(runs: readonly Run[]): RegionMask {
  if (runs.length === 0) return emptyMask();
  let xmin = Infinity;
  let xmax = -Infinity;
  for (const [, a, b] of runs) {
    if (a < xmin) xmin = a;
    if (b > xmax) xmax = b;
  }
  const y0 = runs[0][0];
  const width = xmax - xmin;
  const height = runs[runs.length - 1][0] - y0 + 1;
  const data = new Uint8Array(width * height);
  for (const [y, a, b] of runs) data.fill(1, (y - y0) * width + a - xmin, (y - y0) * width + b - xmin);
  return { x0: xmin, y0, width, height, data };
}

/**
 * Group runs given in raster order into 4-connected pieces: runs of consecutive rows connect when they share
 * a column, so pixels touching only at a corner stay apart (the rule of Python's boundary tracer). Pieces are
 * ordered by their top-most, then left-most pixel; each lists its runs in raster order.
 */
export function connectedRuns(runs: readonly Run[]): Run[][] {
  const parent = new Int32Array(runs.length);
  for (let i = 0; i < runs.length; i++) parent[i] = i;
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  // Runs of consecutive rows connect when they share a column; both lists are sorted by x (two pointers).
  let prevStart = 0;
  let i = 0;
  while (i < runs.length) {
    const y = runs[i][0];
    let end = i;
    while (end < runs.length && runs[end][0] === y) end++;
    let p = prevStart;
    while (p < i && runs[p][0] !== y - 1) p++;
    for (let c = i; c < end && p < i; c++) {
      while (p < i && runs[p][2] <= runs[c][1]) p++;
      for (let q = p; q < i && runs[q][1] < runs[c][2]; q++) {
        const a = find(q);
        const b = find(c);
        // Keep the earlier run as root, so roots stay in raster order of first pixels.
        if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
      }
    }
    prevStart = i;
    i = end;
  }
  const groups = new Map<number, number[]>();
  for (let r = 0; r < runs.length; r++) {
    const root = find(r);
    const group = groups.get(root);
    if (group) group.push(r);
    else groups.set(root, [r]);
  }
  // A root is the smallest run index of its piece, i.e. its first run in raster order.
  return [...groups.keys()].sort((a, b) => a - b).map((root) => groups.get(root)!.map((r) => runs[r]));
}
