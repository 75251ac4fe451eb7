// Superpixel grids → image pixels. The one mapping (mirrors workers/runners/superpixels.py): an image of W x H
// pixels has a grid of gw x gh cells; image pixel (x, y) belongs to cell (floor(x*gw/W), floor(y*gh/H)).
// A superpixel is exactly the image pixels whose cell carries its id. No DOM.
import type { RegionMask } from "./raster";

export interface SuperpixelGrid {
  /** Grid size (gw, gh). */
  width: number;
  height: number;
  /** Image size (W, H) the grid maps onto. */
  imageWidth: number;
  imageHeight: number;
  /** Row-major ids 1..count, gw*gh of them. */
  ids: Uint32Array;
  count: number;
  granularity: number;
}

/** Inclusive cell bounding boxes per id, computed once per grid (index = id; [minX, minY, maxX, maxY]). */
export type CellBoxes = Int32Array;

export function makeGrid(opts: Omit<SuperpixelGrid, "count"> & { count?: number }): SuperpixelGrid {
  const { width, height, imageWidth, imageHeight, ids } = opts;
  if (!(width >= 1 && height >= 1 && imageWidth >= 1 && imageHeight >= 1)) throw new Error("grid and image sizes must be positive");
  if (width > imageWidth || height > imageHeight) throw new Error("a superpixel grid is never larger than its image");
  if (ids.length !== width * height) throw new Error(`grid has ${ids.length} ids, expected ${width * height}`);
  let count = opts.count ?? 0;
  if (opts.count === undefined) for (const id of ids) if (id > count) count = id;
  return { width, height, imageWidth, imageHeight, ids, count, granularity: opts.granularity };
}

/** The cell of image pixel (x, y). Products stay below 2^53, so this is exact for any image size. */
export function cellOf(grid: SuperpixelGrid, x: number, y: number): [number, number] {
  return [Math.floor((x * grid.width) / grid.imageWidth), Math.floor((y * grid.height) / grid.imageHeight)];
}

/** The superpixel id under image pixel (x, y) (fractions are floored), or 0 outside the image. */
export function superpixelAt(grid: SuperpixelGrid, x: number, y: number): number {
  const px = Math.floor(x);
  const py = Math.floor(y);
  if (px < 0 || py < 0 || px >= grid.imageWidth || py >= grid.imageHeight) return 0;
  const [cx, cy] = cellOf(grid, px, py);
  return grid.ids[cy * grid.width + cx];
}

/** First image column (row) whose cell index is >= c: ceil(c * W / gw). */
function firstPixel(c: number, image: number, cells: number): number {
  return Math.ceil((c * image) / cells);
}

export function cellBoxes(grid: SuperpixelGrid): CellBoxes {
  const boxes = new Int32Array((grid.count + 1) * 4);
  for (let id = 0; id <= grid.count; id++) {
    boxes[id * 4] = grid.width;
    boxes[id * 4 + 1] = grid.height;
    boxes[id * 4 + 2] = -1;
    boxes[id * 4 + 3] = -1;
  }
  const { ids, width, height } = grid;
  for (let cy = 0; cy < height; cy++) {
    for (let cx = 0; cx < width; cx++) {
      const o = ids[cy * width + cx] * 4;
      if (cx < boxes[o]) boxes[o] = cx;
      if (cy < boxes[o + 1]) boxes[o + 1] = cy;
      if (cx > boxes[o + 2]) boxes[o + 2] = cx;
      if (cy > boxes[o + 3]) boxes[o + 3] = cy;
    }
  }
  return boxes;
}

/**
 * The image pixels of the given superpixels as a mask at image resolution (cropped to their bounding box).
 * Pixel-exact under the mapping: mask pixel (x, y) is set iff the id of cellOf(x, y) is in `ids`.
 */
export function superpixelMask(grid: SuperpixelGrid, ids: Iterable<number>, boxes: CellBoxes = cellBoxes(grid)): RegionMask {
  const wanted = new Set<number>();
  let c0 = Infinity, r0 = Infinity, c1 = -1, r1 = -1;
  for (const id of ids) {
    if (!(id >= 1 && id <= grid.count) || boxes[id * 4 + 2] < 0) continue;
    wanted.add(id);
    c0 = Math.min(c0, boxes[id * 4]);
    r0 = Math.min(r0, boxes[id * 4 + 1]);
    c1 = Math.max(c1, boxes[id * 4 + 2]);
    r1 = Math.max(r1, boxes[id * 4 + 3]);
  }
  if (!wanted.size) return { x0: 0, y0: 0, width: 0, height: 0, data: new Uint8Array(0) };
  const { imageWidth: W, imageHeight: H, width: gw, height: gh } = grid;
  const x0 = firstPixel(c0, W, gw);
  const x1 = firstPixel(c1 + 1, W, gw); // exclusive
  const y0 = firstPixel(r0, H, gh);
  const y1 = firstPixel(r1 + 1, H, gh);
  const width = x1 - x0;
  const height = y1 - y0;
  const data = new Uint8Array(width * height);
  // The cell column of every mask column, once; rows are walked cell row by cell row.
  const colCell = new Int32Array(width);
  for (let x = 0; x < width; x++) colCell[x] = Math.floor(((x0 + x) * gw) / W);
  const single = wanted.size === 1 ? wanted.values().next().value! : -1;
  for (let y = 0; y < height; y++) {
    const rowBase = Math.floor(((y0 + y) * gh) / H) * gw;
    const out = y * width;
    for (let x = 0; x < width; x++) {
      const id = grid.ids[rowBase + colCell[x]];
      if (single >= 0 ? id === single : wanted.has(id)) data[out + x] = 1;
    }
  }
  return { x0, y0, width, height, data };
}

/** Number of image pixels of superpixel `id` (what a fill of an empty map paints). */
export function superpixelArea(grid: SuperpixelGrid, id: number): number {
  let n = 0;
  const mask = superpixelMask(grid, [id]);
  for (const v of mask.data) n += v;
  return n;
}

/**
 * The superpixels a drag from a to b crosses (image coordinates), sampled at least every half cell so no
 * cell on the line is skipped.
 */
export function superpixelsAlong(grid: SuperpixelGrid, a: { x: number; y: number }, b: { x: number; y: number }): Set<number> {
  const found = new Set<number>();
  const stepX = grid.imageWidth / grid.width / 2;
  const stepY = grid.imageHeight / grid.height / 2;
  const steps = Math.max(1, Math.ceil(Math.max(Math.abs(b.x - a.x) / stepX, Math.abs(b.y - a.y) / stepY)));
  for (let i = 0; i <= steps; i++) {
    const id = superpixelAt(grid, a.x + ((b.x - a.x) * i) / steps, a.y + ((b.y - a.y) * i) / steps);
    if (id) found.add(id);
  }
  return found;
}

/** Index of the grid nearest to `target` regions among grids sorted fine → coarse or any order. */
export function nearestGranularity(grids: ReadonlyArray<{ granularity: number }>, target: number): number {
  let best = -1;
  for (let i = 0; i < grids.length; i++) {
    if (best < 0 || Math.abs(Math.log(grids[i].granularity / target)) < Math.abs(Math.log(grids[best].granularity / target))) best = i;
  }
  return best;
}
