// Binary region masks for editing: polygon rasterisation (the contract shared with
// labeling/masks/polygons.py, checked pixel-exactly against tests/golden/polygons.json), brush disks and
// strokes, and small mask helpers. Pure and DOM-free so it runs in Web Workers and in Node.

/**
 * A binary mask cropped to a box of the image: pixel (x, y) of the image is `data[(y - y0) * width + (x - x0)]`
 * (1 = in the region) when it lies inside the box, and outside the region otherwise. An empty region has
 * width = height = 0.
 */
export interface RegionMask {
  x0: number;
  y0: number;
  width: number;
  height: number;
  data: Uint8Array;
}

/** Points of one ring as [x, y] in image space (pixel (c, r) covers [c, c+1) x [r, r+1)). */
export type Ring = number[][];
/** [x, y, w, h] in pixels. */
export type Box = [number, number, number, number];

// Same bound as the Python side: beyond it, coordinates are rejected.
export const MAX_COORDINATE = 2 ** 40;

export function emptyMask(): RegionMask {
  return { x0: 0, y0: 0, width: 0, height: 0, data: new Uint8Array(0) };
}

export function maskArea(mask: RegionMask): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) n += mask.data[i];
  return n;
}

/** True when image pixel (x, y) is in the region. */
export function maskHas(mask: RegionMask, x: number, y: number): boolean {
  const cx = x - mask.x0;
  const cy = y - mask.y0;
  return cx >= 0 && cy >= 0 && cx < mask.width && cy < mask.height && mask.data[cy * mask.width + cx] === 1;
}

/** Intersection of two boxes (w or h may become 0). */
function intersectBox(a: Box, b: Box): Box {
  const x0 = Math.max(a[0], b[0]);
  const y0 = Math.max(a[1], b[1]);
  const x1 = Math.min(a[0] + a[2], b[0] + b[2]);
  const y1 = Math.min(a[1] + a[3], b[1] + b[3]);
  return [x0, y0, Math.max(0, x1 - x0), Math.max(0, y1 - y0)];
}

/** The same region in its tightest box; every function here returns masks in this canonical form. */
export function cropToContent(mask: RegionMask): RegionMask {
  const { width, height, data } = mask;
  let xmin = width;
  let xmax = -1;
  let ymin = height;
  let ymax = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let first = -1;
    let last = -1;
    for (let x = 0; x < width; x++) {
      if (data[row + x]) {
        if (first < 0) first = x;
        last = x;
      }
    }
    if (first < 0) continue;
    if (ymin > y) ymin = y;
    ymax = y;
    if (first < xmin) xmin = first;
    if (last > xmax) xmax = last;
  }
  if (ymax < 0) return emptyMask();
  if (xmin === 0 && ymin === 0 && xmax === width - 1 && ymax === height - 1) return mask;
  const w = xmax - xmin + 1;
  const h = ymax - ymin + 1;
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const from = (y + ymin) * width + xmin;
    out.set(data.subarray(from, from + w), y * w);
  }
  return { x0: mask.x0 + xmin, y0: mask.y0 + ymin, width: w, height: h, data: out };
}

/** Region of the pixels (x, y) in `box` for which `inside(x, y)` holds, cropped to its content. */
export function maskFromPredicate(box: Box, inside: (x: number, y: number) => boolean): RegionMask {
  const [x0, y0, width, height] = box;
  if (width <= 0 || height <= 0) return emptyMask();
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) if (inside(x0 + x, y0 + y)) data[y * width + x] = 1;
  }
  return cropToContent({ x0, y0, width, height, data });
}

/** Pixels in any of the masks. */
export function maskUnion(...masks: RegionMask[]): RegionMask {
  const parts = masks.filter((m) => m.width > 0 && m.height > 0);
  if (parts.length === 0) return emptyMask();
  const x0 = Math.min(...parts.map((m) => m.x0));
  const y0 = Math.min(...parts.map((m) => m.y0));
  const width = Math.max(...parts.map((m) => m.x0 + m.width)) - x0;
  const height = Math.max(...parts.map((m) => m.y0 + m.height)) - y0;
  const data = new Uint8Array(width * height);
  for (const m of parts) {
    for (let y = 0; y < m.height; y++) {
      const to = (m.y0 - y0 + y) * width + (m.x0 - x0);
      const from = y * m.width;
      for (let x = 0; x < m.width; x++) data[to + x] |= m.data[from + x];
    }
  }
  return cropToContent({ x0, y0, width, height, data });
}

/** Pixels of `a` not in `b` (e.g. an eraser stroke taken out of a selection). */
export function maskSubtract(a: RegionMask, b: RegionMask): RegionMask {
  if (a.width === 0 || b.width === 0) return a;
  const data = a.data.slice();
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      if (data[y * a.width + x] && maskHas(b, a.x0 + x, a.y0 + y)) data[y * a.width + x] = 0;
    }
  }
  return cropToContent({ ...a, data });
}

// --- polygon rasterisation ---------------------------------------------------------------------------------

/**
 * Pixels whose centres lie inside the rings by the even-odd rule, exactly as Python's
 * labeling.masks.polygons.rasterize_rings (read its module docstring for the rule). Per row r: an edge, with
 * its endpoints ordered so y0 < y1 (horizontal edges ignored), crosses it iff y0 <= r + 0.5 < y1; its crossing
 * is x = x0 + (r + 0.5 - y0) * (x1 - x0) / (y1 - y0) in float64, evaluated in that order; pixel c is filled
 * iff an odd number of the row's crossings have ceil(x - 0.5) <= c. Identical float operations in the
 * identical order give bit-identical results in JS and numpy.
 *
 * `bbox` limits the work (and the result) to a box of the image, e.g. one tile; the result is cropped to its
 * content. Throws on rings with fewer than 3 points or non-finite / out-of-range coordinates, like Python.
 */
export function rasterizeRings(rings: Ring[], width: number, height: number, bbox?: Box): RegionMask {
  if (width < 0 || height < 0) throw new Error(`image size must not be negative, got ${width}x${height}`);
  const edges = ringEdges(rings);
  const count = edges.length / 4;
  if (count === 0) return emptyMask();
  let xmin = Infinity;
  let xmax = -Infinity;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (let e = 0; e < count; e++) {
    const xa = edges[4 * e];
    const xb = edges[4 * e + 2];
    xmin = Math.min(xmin, xa, xb);
    xmax = Math.max(xmax, xa, xb);
    ymin = Math.min(ymin, edges[4 * e + 1]);
    ymax = Math.max(ymax, edges[4 * e + 3]);
  }
  // Rows whose centre can be crossed, and columns with a one-pixel margin: computed crossings may stray an
  // ulp outside [xmin, xmax]. Left of the box every crossing count is 0, right of it the (even) row total,
  // so nothing outside the box is filled and clamping crossings to it keeps the parity of every pixel in it.
  const rowFirst = Math.ceil(ymin - 0.5);
  const rowStop = Math.ceil(ymax - 0.5);
  let box: Box = [Math.floor(xmin) - 1, rowFirst, Math.ceil(xmax) + 2 - (Math.floor(xmin) - 1), rowStop - rowFirst];
  box = intersectBox(box, [0, 0, width, height]);
  if (bbox) box = intersectBox(box, bbox);
  const [bx, by, bw, bh] = box;
  if (bw === 0 || bh === 0) return emptyMask();
  // toggles[row][col] counts crossings at col (one extra column takes those right of the box).
  const stride = bw + 1;
  const toggles = new Uint8Array(bh * stride);
  for (let e = 0; e < count; e++) {
    const xa = edges[4 * e];
    const ya = edges[4 * e + 1];
    const dx = edges[4 * e + 2] - xa;
    const dy = edges[4 * e + 3] - ya;
    const first = Math.max(Math.ceil(ya - 0.5), by);
    const stop = Math.min(Math.ceil(edges[4 * e + 3] - 0.5), by + bh);
    for (let row = first; row < stop; row++) {
      const x = xa + ((row + 0.5 - ya) * dx) / dy;
      let column = Math.ceil(x - 0.5) - bx;
      if (column < 0) column = 0;
      else if (column > bw) column = bw;
      toggles[(row - by) * stride + column] ^= 1;
    }
  }
  const data = new Uint8Array(bw * bh);
  for (let y = 0; y < bh; y++) {
    let parity = 0;
    for (let x = 0; x < bw; x++) {
      parity ^= toggles[y * stride + x];
      data[y * bw + x] = parity;
    }
  }
  return cropToContent({ x0: bx, y0: by, width: bw, height: bh, data });
}

/** Non-horizontal edges of all rings as flat [x0, y0, x1, y1, ...] with y0 < y1 (Python's _edges). */
function ringEdges(rings: Ring[]): Float64Array {
  let total = 0;
  rings.forEach((ring, index) => {
    if (!Array.isArray(ring) || ring.length < 3) {
      throw new Error(`ring ${index} has ${Array.isArray(ring) ? ring.length : 0} points, a ring needs at least 3`);
    }
    for (const point of ring) {
      if (point.length !== 2 || !point.every((v) => Number.isFinite(v) && Math.abs(v) <= MAX_COORDINATE)) {
        throw new Error(`ring ${index} has non-finite or out-of-range coordinates`);
      }
    }
    total += ring.length;
  });
  const edges = new Float64Array(total * 4);
  let n = 0;
  for (const ring of rings) {
    for (let i = 0; i < ring.length; i++) {
      let [x0, y0] = ring[i];
      let [x1, y1] = ring[(i + 1) % ring.length];
      if (y0 === y1) continue;
      if (y0 > y1) [x0, y0, x1, y1] = [x1, y1, x0, y0];
      edges[n++] = x0;
      edges[n++] = y0;
      edges[n++] = x1;
      edges[n++] = y1;
    }
  }
  return edges.subarray(0, n);
}

// --- brush -------------------------------------------------------------------------------------------------
//
// The brush rule: a dab centred at (cx, cy) (image coordinates, e.g. the pointer position) with radius r
// covers pixel (c, row) iff its centre is within r: (c + 0.5 - cx)^2 + (row + 0.5 - cy)^2 <= r^2. A stroke
// through points p0..pn covers every pixel whose centre is within r of the polyline (a chain of capsules),
// tested exactly per pixel, so fast strokes leave no gaps. Each segment is evaluated with its endpoints in
// a canonical order, so a stroke and its reverse cover the same pixels, and every vertex's disk uses the
// same formula as brushStamp, so a stroke always contains the dabs at its points.

/** Filled disk: pixels whose centre is within `radius` of (cx, cy), clipped to the image. */
export function brushStamp(cx: number, cy: number, radius: number, width: number, height: number): RegionMask {
  return brushStroke([[cx, cy]], radius, width, height);
}

/** Pixels whose centre is within `radius` of the polyline through `points` (one point: a disk). */
export function brushStroke(points: [number, number][], radius: number, width: number, height: number): RegionMask {
  if (points.length === 0 || !(radius >= 0)) return emptyMask();
  let xmin = Infinity;
  let xmax = -Infinity;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (const [x, y] of points) {
    xmin = Math.min(xmin, x);
    xmax = Math.max(xmax, x);
    ymin = Math.min(ymin, y);
    ymax = Math.max(ymax, y);
  }
  // Pixel centres within the radius lie in this box (plus a pixel of margin against rounding).
  const left = Math.floor(xmin - radius) - 1;
  const top = Math.floor(ymin - radius) - 1;
  const box = intersectBox(
    [left, top, Math.ceil(xmax + radius) + 2 - left, Math.ceil(ymax + radius) + 2 - top],
    [0, 0, width, height],
  );
  const [bx, by, bw, bh] = box;
  if (bw === 0 || bh === 0) return emptyMask();
  const mask: RegionMask = { x0: bx, y0: by, width: bw, height: bh, data: new Uint8Array(bw * bh) };
  const r2 = radius * radius;
  for (const [x, y] of points) stampDisk(mask, x, y, radius, r2);
  for (let i = 1; i < points.length; i++) stampSegment(mask, points[i - 1], points[i], radius, r2);
  return cropToContent(mask);
}

// The loops below visit a pixel more than the exact range on each side: the distance test alone decides,
// so float rounding at the range ends can never drop a pixel the rule covers.

/** Rows [first, stop) of the mask whose centres may lie within [lo, hi]. */
function rowRange(mask: RegionMask, lo: number, hi: number): [number, number] {
  return [Math.max(mask.y0, Math.ceil(lo - 0.5) - 1), Math.min(mask.y0 + mask.height, Math.floor(hi - 0.5) + 2)];
}

/** Columns [first, stop) of the mask whose centres may lie within [lo, hi]. */
function columnRange(mask: RegionMask, lo: number, hi: number): [number, number] {
  return [Math.max(mask.x0, Math.ceil(lo - 0.5) - 1), Math.min(mask.x0 + mask.width, Math.floor(hi - 0.5) + 2)];
}

function stampDisk(mask: RegionMask, cx: number, cy: number, radius: number, r2: number): void {
  const [first, stop] = rowRange(mask, cy - radius, cy + radius);
  const [xFirst, xStop] = columnRange(mask, cx - radius, cx + radius);
  for (let row = first; row < stop; row++) {
    const dy = row + 0.5 - cy;
    const base = (row - mask.y0) * mask.width - mask.x0;
    for (let c = xFirst; c < xStop; c++) {
      const dx = c + 0.5 - cx;
      if (dx * dx + dy * dy <= r2) mask.data[base + c] = 1;
    }
  }
}

/** The part of a capsule between its end caps: centres projecting strictly inside the segment, within r. */
function stampSegment(mask: RegionMask, p: [number, number], q: [number, number], radius: number, r2: number): void {
  // Canonical endpoint order makes every float operation, hence the result, independent of direction.
  const [a, b] = p[0] < q[0] || (p[0] === q[0] && p[1] <= q[1]) ? [p, q] : [q, p];
  const ux = b[0] - a[0];
  const uy = b[1] - a[1];
  const len2 = ux * ux + uy * uy;
  if (len2 === 0) return;
  const limit = r2 * len2;
  const [first, stop] = rowRange(mask, Math.min(a[1], b[1]) - radius, Math.max(a[1], b[1]) + radius);
  const [xFirst, xStop] = columnRange(mask, Math.min(a[0], b[0]) - radius, Math.max(a[0], b[0]) + radius);
  for (let row = first; row < stop; row++) {
    const py = row + 0.5 - a[1];
    const base = (row - mask.y0) * mask.width - mask.x0;
    for (let c = xFirst; c < xStop; c++) {
      const px = c + 0.5 - a[0];
      const along = px * ux + py * uy;
      if (along <= 0 || along >= len2) continue; // the end caps are the vertex disks
      const cross = px * uy - py * ux;
      if (cross * cross <= limit) mask.data[base + c] = 1;
    }
  }
}
