// SAM's mask post-processing in the browser: one low-resolution decoder output (256x256 logits in the padded
// 1024x1024 frame) to a binary mask at the image's size. The server's `upscale_masks`
// (workers/runners/sam.py) is Sam.postprocess_masks in torch: bilinear to 1024x1024, crop to the resized
// image, bilinear to the image size (align_corners=False). Here the two stages are composed per axis into
// at most three taps on the low-res grid and evaluated in float64, so the result equals torch's up to float
// rounding (tests/golden/sam/upscale.json counts the pixels that close to the threshold). Pure: runs in the
// decoder worker and in Node.
import { type RegionMask, emptyMask } from "./raster";
import { preprocessShape } from "./samPrompts";

export const LOW_RES_SIDE = 256;
const FRAME_SIDE = 1024;
const TAPS = 3;

/** Per output index of one axis: the first low-res index and the weights of it and the next two. */
export interface AxisTaps {
  first: Int32Array;
  /** [n * 3]: weights of first, first + 1, first + 2 (0 where nothing lands; indices past 255 have 0). */
  weight: Float64Array;
  /** The first and last low-res index with a non-zero weight. */
  lo: Int32Array;
  hi: Int32Array;
}

/** One bilinear stage (align_corners=False) from nIn samples to output index o: [i0, i1, w0, w1]. */
function linear(nIn: number, nOut: number, o: number): [number, number, number, number] {
  const s = Math.max((o + 0.5) * (nIn / nOut) - 0.5, 0);
  const i0 = Math.floor(s);
  const i1 = i0 < nIn - 1 ? i0 + 1 : i0;
  const w1 = s - i0;
  return [i0, i1, 1 - w1, w1];
}

/** The composed taps of an axis of `size` image samples whose resized length (before padding) is `resized`. */
export function axisTaps(size: number, resized: number): AxisTaps {
  if (!(resized > 0 && resized <= FRAME_SIDE && size > 0)) throw new RangeError(`bad axis: ${size}, resized ${resized}`);
  const first = new Int32Array(size);
  const weight = new Float64Array(size * TAPS);
  const lo = new Int32Array(size);
  const hi = new Int32Array(size);
  for (let o = 0; o < size; o++) {
    const [a0, a1, m0, m1] = linear(resized, size, o); // stage 2: the cropped frame -> the image
    const [b00, b01, l00, l01] = linear(LOW_RES_SIDE, FRAME_SIDE, a0); // stage 1 of sample a0
    const [b10, b11, l10, l11] = linear(LOW_RES_SIDE, FRAME_SIDE, a1);
    const f = b00;
    first[o] = f;
    const w = o * TAPS;
    weight[w + b00 - f] += m0 * l00;
    weight[w + b01 - f] += m0 * l01;
    weight[w + b10 - f] += m1 * l10;
    weight[w + b11 - f] += m1 * l11;
    let l = -1, h = -1;
    for (let k = 0; k < TAPS; k++) {
      if (weight[w + k] !== 0) {
        if (l < 0) l = f + k;
        h = f + k;
      }
    }
    lo[o] = l;
    hi[o] = h;
  }
  return { first, weight, lo, hi };
}

/** Output indices [start, stop) whose non-zero taps touch low-res indices lo..hi, or null. */
function reach(taps: AxisTaps, lo: number, hi: number): [number, number] | null {
  let start = -1, stop = -1;
  for (let o = 0; o < taps.first.length; o++) {
    if (taps.hi[o] >= lo && taps.lo[o] <= hi) {
      if (start < 0) start = o;
      stop = o + 1;
    }
  }
  return start < 0 ? null : [start, stop];
}

/**
 * Output `index` of the decoder's low-res masks [1, K, 256, 256] as the image's binary mask (logit > 0),
 * cropped to its content. `within` [x, y, w, h] limits it to a box of the image (e.g. the viewport).
 *
 * Separable, like the two bilinear stages: first every needed low-res row at the output columns, then the
 * output rows from those. Only the rectangle that positive low-res samples reach is computed (bilinear
 * weights are >= 0, so a pixel without a positive tap is <= 0).
 */
export function maskFromLowRes(
  lowRes: Float32Array,
  index: number,
  originalSize: readonly [number, number],
  within?: readonly [number, number, number, number],
): RegionMask {
  const N = LOW_RES_SIDE;
  const base = index * N * N;
  const [height, width] = originalSize;
  const [resizedH, resizedW] = preprocessShape(height, width);
  let r0 = N, r1 = -1, c0 = N, c1 = -1;
  for (let r = 0; r < N; r++) {
    const row = base + r * N;
    for (let c = 0; c < N; c++) {
      if (lowRes[row + c] > 0) {
        if (r < r0) r0 = r;
        r1 = r;
        if (c < c0) c0 = c;
        if (c > c1) c1 = c;
      }
    }
  }
  if (r1 < 0) return emptyMask();
  const rows = axisTaps(height, resizedH);
  const cols = axisTaps(width, resizedW);
  const ys = reach(rows, r0, r1);
  const xs = reach(cols, c0, c1);
  if (!ys || !xs) return emptyMask();
  let [y0, y1] = ys;
  let [x0, x1] = xs;
  if (within) {
    x0 = Math.max(x0, Math.floor(within[0]));
    y0 = Math.max(y0, Math.floor(within[1]));
    x1 = Math.min(x1, Math.ceil(within[0] + within[2]));
    y1 = Math.min(y1, Math.ceil(within[1] + within[3]));
    if (x1 <= x0 || y1 <= y0) return emptyMask();
  }
  const rw = x1 - x0;
  // Taps past the last sample have weight 0; their index is clamped so every read stays on the grid.
  const clamp = (i: number) => Math.min(i, N - 1);
  const cx0 = new Int32Array(rw), cx1 = new Int32Array(rw), cx2 = new Int32Array(rw);
  const wx0 = new Float64Array(rw), wx1 = new Float64Array(rw), wx2 = new Float64Array(rw);
  for (let x = x0; x < x1; x++) {
    const f = cols.first[x], k = x - x0;
    cx0[k] = f;
    cx1[k] = clamp(f + 1);
    cx2[k] = clamp(f + 2);
    wx0[k] = cols.weight[x * TAPS];
    wx1[k] = cols.weight[x * TAPS + 1];
    wx2[k] = cols.weight[x * TAPS + 2];
  }
  const rLo = rows.first[y0], rHi = clamp(rows.first[y1 - 1] + 2);
  const horizontal = new Float64Array((rHi - rLo + 1) * rw);
  for (let r = rLo; r <= rHi; r++) {
    const row = base + r * N, out = (r - rLo) * rw;
    for (let k = 0; k < rw; k++) {
      horizontal[out + k] = wx0[k] * lowRes[row + cx0[k]] + wx1[k] * lowRes[row + cx1[k]] + wx2[k] * lowRes[row + cx2[k]];
    }
  }
  const region = new Uint8Array((y1 - y0) * rw);
  let xmin = rw, xmax = -1, ymin = y1, ymax = -1;
  for (let y = y0; y < y1; y++) {
    const f = rows.first[y], w = y * TAPS;
    const a = rows.weight[w], b = rows.weight[w + 1], c = rows.weight[w + 2];
    const h0 = (f - rLo) * rw, h1 = (clamp(f + 1) - rLo) * rw, h2 = (clamp(f + 2) - rLo) * rw;
    const out = (y - y0) * rw;
    let first = -1, last = -1;
    for (let k = 0; k < rw; k++) {
      if (a * horizontal[h0 + k] + b * horizontal[h1 + k] + c * horizontal[h2 + k] > 0) {
        region[out + k] = 1;
        if (first < 0) first = k;
        last = k;
      }
    }
    if (first < 0) continue;
    if (first < xmin) xmin = first;
    if (last > xmax) xmax = last;
    if (y < ymin) ymin = y;
    ymax = y;
  }
  if (xmax < 0) return emptyMask();
  const mw = xmax - xmin + 1, mh = ymax - ymin + 1;
  const data = new Uint8Array(mw * mh);
  for (let y = 0; y < mh; y++) {
    const from = (y + ymin - y0) * rw + xmin;
    data.set(region.subarray(from, from + mw), y * mw);
  }
  return { x0: x0 + xmin, y0: ymin, width: mw, height: mh, data };
}
