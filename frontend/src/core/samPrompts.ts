// SAM's prompt decoder, the browser half of its contract with the server (workers/runners/sam.py): the one
// function that builds decoder inputs from prompts, plus the pure conversions around a decode (the fp16
// embedding, COCO RLE -> mask; mask upscaling is src/core/samUpscale.ts). Tested against
// tests/golden/sam/prompts.json, which the Python side writes from its own `decoder_inputs`. No DOM: runs in
// the Web Worker and in Node.
import { type RegionMask, emptyMask } from "./raster";

export type PointLabel = 0 | 1; // 0 negative, 1 positive

export interface SamPrompt {
  /** Image pixel coordinates, continuous: a click on pixel (i, j) is (i + 0.5, j + 0.5). */
  points: Array<[number, number]>;
  labels: PointLabel[];
  /** [x0, y0, x1, y1] in image pixel coordinates, or null. */
  box: [number, number, number, number] | null;
}

export interface DecoderPromptInputs {
  /** [1, N, 2] row-major, in the resized (longest side = targetLength) frame. */
  pointCoords: Float32Array;
  /** [1, N]: 1 positive, 0 negative, 2 / 3 box corners, -1 the padding point. */
  pointLabels: Float32Array;
  count: number;
}

/** ResizeLongestSide.get_preprocess_shape: the image size once its longest side is `targetLength`. */
export function preprocessShape(height: number, width: number, targetLength = 1024): [number, number] {
  const scale = targetLength / Math.max(height, width);
  // Python's int(x + 0.5) on positive numbers.
  return [Math.floor(height * scale + 0.5), Math.floor(width * scale + 0.5)];
}

/**
 * Point coordinates and labels for the ONNX decoder, as segment_anything's ONNX example builds them: the
 * points, then the box as two corners labelled 2 and 3, or (without a box) a padding point (0, 0) labelled -1;
 * coordinates scaled by ResizeLongestSide.apply_coords (x * new_w / w, y * new_h / h).
 */
export function decoderInputs(
  points: ReadonlyArray<readonly [number, number]>,
  labels: ReadonlyArray<number>,
  box: readonly [number, number, number, number] | null,
  originalSize: readonly [number, number],
  targetLength = 1024,
): DecoderPromptInputs {
  if (points.length !== labels.length) throw new RangeError("one label per point");
  const [h, w] = originalSize;
  const [newH, newW] = preprocessShape(h, w, targetLength);
  const coords: number[][] = points.map(([x, y]) => [x, y]);
  const kinds: number[] = labels.map(Number);
  if (box) {
    coords.push([box[0], box[1]], [box[2], box[3]]);
    kinds.push(2, 3);
  } else {
    coords.push([0, 0]);
    kinds.push(-1);
  }
  const count = coords.length;
  const pointCoords = new Float32Array(count * 2);
  const pointLabels = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    pointCoords[2 * i] = coords[i][0] * (newW / w);
    pointCoords[2 * i + 1] = coords[i][1] * (newH / h);
    pointLabels[i] = kinds[i];
  }
  return { pointCoords, pointLabels, count };
}

/**
 * Which of the decoder's 4 outputs to show (workers/runners/sam.py `pick_masks`): with `multimask` outputs
 * 1-3, best score first (ties: lower index); otherwise output 0 (the single-mask token) when point_coords has
 * more than 2 points (box corners and the padding point count), else the best of outputs 1-3.
 */
export function pickMasks(scores: ArrayLike<number>, multimask: boolean, numPoints: number): number[] {
  const multi = Array.from({ length: scores.length - 1 }, (_, i) => i + 1).sort(
    (a, b) => (scores[b] - scores[a]) || a - b,
  );
  if (multimask) return multi;
  return numPoints > 2 ? [0] : multi.slice(0, 1);
}

// --- the embedding ------------------------------------------------------------------------------------------

const F16_EXP = new Float32Array(32);
for (let e = 0; e < 32; e++) F16_EXP[e] = 2 ** (e - 15);

/** IEEE half floats (little-endian uint16 bits) to float32, exactly (numpy's astype(float32)). */
export function float16ToFloat32(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i];
    const sign = b & 0x8000 ? -1 : 1;
    const exp = (b >> 10) & 0x1f;
    const frac = b & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24; // zero and subnormals
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * F16_EXP[exp] * (1 + frac / 1024);
  }
  return out;
}

/** Raw little-endian fp16 bytes (the embedding endpoint's body) to float32. */
export function embeddingFromBytes(bytes: ArrayBuffer): Float32Array {
  if (bytes.byteLength % 2) throw new RangeError("an fp16 embedding has an even number of bytes");
  const little = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  let bits: Uint16Array;
  if (little) bits = new Uint16Array(bytes);
  else {
    const view = new DataView(bytes);
    bits = new Uint16Array(bytes.byteLength / 2);
    for (let i = 0; i < bits.length; i++) bits[i] = view.getUint16(2 * i, true);
  }
  return float16ToFloat32(bits);
}

// --- masks --------------------------------------------------------------------------------------------------

/** COCO RLE as the API sends it: `size` [h, w] and `counts`, a compressed string or uncompressed numbers. */
export interface CocoRle {
  size: readonly number[]; // [h, w]
  counts: string | number[];
}

/** pycocotools' compressed counts string (rleFrString) to run lengths. */
export function rleCountsFromString(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      const c = s.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

/** Decode a COCO RLE (column-major runs, starting with 0s) into a mask cropped to its content. */
export function maskFromRle(rle: CocoRle): RegionMask {
  const [h, w] = rle.size;
  const counts = typeof rle.counts === "string" ? rleCountsFromString(rle.counts) : rle.counts;
  // First pass: bbox of the 1-runs, then fill.
  let pos = 0, xmin = w, xmax = -1, ymin = h, ymax = -1;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i];
    if (i % 2 === 1 && n > 0) {
      const c0 = Math.floor(pos / h), c1 = Math.floor((pos + n - 1) / h);
      xmin = Math.min(xmin, c0);
      xmax = Math.max(xmax, c1);
      if (c0 !== c1) {
        ymin = 0;
        ymax = h - 1;
      } else {
        ymin = Math.min(ymin, pos % h);
        ymax = Math.max(ymax, (pos + n - 1) % h);
      }
    }
    pos += n;
  }
  if (xmax < 0) return emptyMask();
  const mw = xmax - xmin + 1, mh = ymax - ymin + 1;
  const data = new Uint8Array(mw * mh);
  pos = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i];
    if (i % 2 === 1 && n > 0) {
      // A run goes down a column and on into the next ones: one division per run, not per pixel.
      let x = Math.floor(pos / h), y = pos % h, left = n;
      while (left > 0) {
        const take = Math.min(left, h - y);
        let at = (y - ymin) * mw + (x - xmin);
        for (let k = 0; k < take; k++, at += mw) data[at] = 1;
        left -= take;
        x++;
        y = 0;
      }
    }
    pos += n;
  }
  return { x0: xmin, y0: ymin, width: mw, height: mh, data };
}

/** Number of set pixels where two masks differ (both in image coordinates). */
export function maskDifference(a: RegionMask, b: RegionMask): number {
  const x0 = Math.min(a.x0, b.x0), y0 = Math.min(a.y0, b.y0);
  const x1 = Math.max(a.x0 + a.width, b.x0 + b.width), y1 = Math.max(a.y0 + a.height, b.y0 + b.height);
  const at = (m: RegionMask, x: number, y: number) => {
    const cx = x - m.x0, cy = y - m.y0;
    return cx >= 0 && cy >= 0 && cx < m.width && cy < m.height ? m.data[cy * m.width + cx] : 0;
  };
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (at(a, x, y) !== at(b, x, y)) n++;
  return n;
}
