// Exact boundary rings of a region mask: the TypeScript side of Python's labeling.masks.polygons.mask_to_rings
// (same rings, same order, same orientation; read that module's docstring for the rule). Rasterising the rings
// with rasterizeRings gives the mask back pixel for pixel, which is what lets a pixel segment (a polygon the
// eraser or brush changed, a SAM mask) be opened for vertex editing without moving a single pixel.
import { type RegionMask, type Ring, rasterizeRings } from "./raster";

/**
 * Rings of integer pixel corners in image coordinates, closed (first point not repeated), without collinear
 * points; outer boundaries have a positive shoelace area, holes a negative one; each ring starts at its
 * top-most, then left-most vertex and rings are listed in that order. Pixels touching only at a corner are not
 * connected (a ring turns to stay with the pixel it came from), as in Python.
 */
export function maskToRings(mask: RegionMask): Ring[] {
  const { width: w, height: h, data } = mask;
  if (w === 0 || h === 0) return [];
  const at = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && data[y * w + x] === 1;
  // Maximal straight runs of boundary edges, directed with the foreground on the left (x right, y up): top
  // edges run +x, bottom edges -x, left edges -y, right edges +y. Listed top, bottom, left, right, each in
  // row-major order (columns first for left and right), the order Python's stable sort sees them in.
  const sx: number[] = [];
  const sy: number[] = [];
  const ex: number[] = [];
  const ey: number[] = [];
  const add = (x0: number, y0: number, x1: number, y1: number) => {
    sx.push(x0);
    sy.push(y0);
    ex.push(x1);
    ey.push(y1);
  };
  const rowRuns = (dy: number, emit: (row: number, c0: number, c1: number) => void) => {
    for (let y = 0; y < h; y++) {
      let start = -1;
      for (let x = 0; x <= w; x++) {
        const edge = x < w && at(x, y) && !at(x, y + dy);
        if (edge && start < 0) start = x;
        else if (!edge && start >= 0) {
          emit(y, start, x);
          start = -1;
        }
      }
    }
  };
  const columnRuns = (dx: number, emit: (col: number, r0: number, r1: number) => void) => {
    for (let x = 0; x < w; x++) {
      let start = -1;
      for (let y = 0; y <= h; y++) {
        const edge = y < h && at(x, y) && !at(x + dx, y);
        if (edge && start < 0) start = y;
        else if (!edge && start >= 0) {
          emit(x, start, y);
          start = -1;
        }
      }
    }
  };
  rowRuns(-1, (row, c0, c1) => add(c0, row, c1, row));
  rowRuns(1, (row, c0, c1) => add(c1, row + 1, c0, row + 1));
  columnRuns(-1, (col, r0, r1) => add(col, r1, col, r0));
  columnRuns(1, (col, r0, r1) => add(col + 1, r0, col + 1, r1));

  const n = sx.length;
  const stride = w + 1;
  const order = Array.from({ length: n }, (_, i) => i);
  const key = (i: number) => sy[i] * stride + sx[i];
  order.sort((a, b) => key(a) - key(b) || a - b); // stable, as numpy's
  const px = order.map((i) => sx[i]);
  const py = order.map((i) => sy[i]);
  const qx = order.map((i) => ex[i]);
  const qy = order.map((i) => ey[i]);
  const firstAt = new Map<number, number>();
  for (let k = n - 1; k >= 0; k--) firstAt.set(py[k] * stride + px[k], k);
  // Each segment continues with the one starting where it ends. Two candidates only where two pixels touch at
  // a corner: then turn left (positive cross product), which stays with the pixel the segment belongs to.
  const following = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const endKey = qy[i] * stride + qx[i];
    const j = firstAt.get(endKey);
    if (j === undefined) throw new Error("maskToRings: open boundary (internal error)");
    if (j + 1 < n && py[j + 1] * stride + px[j + 1] === endKey) {
      const cross = Math.sign(qx[i] - px[i]) * Math.sign(qy[j] - py[j]) - Math.sign(qy[i] - py[i]) * Math.sign(qx[j] - px[j]);
      following[i] = cross > 0 ? j : j + 1;
    } else {
      following[i] = j;
    }
  }
  // Walking from the smallest unvisited segment starts each ring at its smallest key: top-most, left-most.
  const visited = new Uint8Array(n);
  const rings: Ring[] = [];
  for (let i = 0; i < n; i++) {
    if (visited[i]) continue;
    const ring: Ring = [];
    for (let k = i; !visited[k]; k = following[k]) {
      visited[k] = 1;
      ring.push([px[k] + mask.x0, py[k] + mask.y0]);
    }
    rings.push(ring);
  }
  return rings;
}

/** Total vertices of some rings. */
export function ringPoints(rings: readonly Ring[]): number {
  return rings.reduce((n, ring) => n + ring.length, 0);
}

/** True when the rings rasterise to exactly the pixels of `mask` (both as the editor's canonical crops). */
export function ringsDescribe(rings: readonly Ring[], mask: RegionMask, width: number, height: number): boolean {
  const raster = rasterizeRings(rings as Ring[], width, height);
  if (raster.x0 !== mask.x0 || raster.y0 !== mask.y0 || raster.width !== mask.width || raster.height !== mask.height) {
    return raster.width === 0 && mask.width === 0;
  }
  for (let i = 0; i < raster.data.length; i++) if (raster.data[i] !== mask.data[i]) return false;
  return true;
}
