// A scribble classifier's proposal (POST /api/images/{id}/scribble-proposal/), decoded: a raster of label
// indices over an image region, possibly coarser than the image, with a confidence per raster pixel. This module
// turns it into what the editor paints when the annotator accepts all of it, one class or one connected region:
// image-pixel masks per class (stuff: one mask per class; thing: one per 4-connected piece, each a new instance),
// leaving out pixels the caller keeps (Protect existing, locks) and Background, which only tells the classifier
// where nothing is. Pure: no DOM.
import { type Box, type RegionMask, emptyMask } from "./raster";
import { type Run, connectedRuns, maskFromRuns } from "./runs";

/** A class id, or null for Background ("not labelled"). */
export type ScribbleClass = number | null;

export interface ScribbleStroke {
  classId: ScribbleClass;
  /** Image pixels. */
  radius: number;
  points: Array<[number, number]>;
}

export type ProposalResolution = "coarse" | "full";

export interface ScribbleProposal {
  /** [x, y, w, h] in image pixels: the part of the image the raster covers. */
  region: Box;
  resolution: ProposalResolution;
  /** Raster value i (1-based) means classes[i - 1]; 0 is unlabelled. */
  classes: ScribbleClass[];
  /** Raster size; it covers `region`, so a raster pixel is region.w / width image pixels wide. */
  width: number;
  height: number;
  labels: Uint8Array;
  /** 0..255 per raster pixel. */
  confidence: Uint8Array;
}

/** One piece the editor paints: `classId`'s pixels, and the mean confidence over them (0..1). */
export interface AcceptPart {
  classId: number;
  mask: RegionMask;
  score: number;
}

export type AcceptWhat = { kind: "all" } | { kind: "class"; classId: number } | { kind: "region"; x: number; y: number };

export interface AcceptOptions {
  kindOf(classId: number): "thing" | "stuff";
  /** True when image pixel (x, y) must keep its label when painting `classId` (Protect existing, locks). */
  keep?(classId: number, x: number, y: number): boolean;
  /** Thing pieces smaller than this many pixels are left out (a classifier's specks are not instances). */
  minThingArea?: number;
}

/** Raster pixels an image row or column maps to: image x is in raster column floor((x - rx) * width / rw). */
function axisMap(size: number, raster: number): Int32Array {
  const map = new Int32Array(size);
  for (let i = 0; i < size; i++) map[i] = Math.min(raster - 1, Math.floor((i * raster) / size));
  return map;
}

/** The raster index under image pixel (x, y), or -1 outside the region. */
export function rasterIndexAt(p: ScribbleProposal, x: number, y: number): number {
  const [rx, ry, rw, rh] = p.region;
  const ix = Math.floor(x) - rx;
  const iy = Math.floor(y) - ry;
  if (ix < 0 || iy < 0 || ix >= rw || iy >= rh || !p.width || !p.height) return -1;
  const cx = Math.min(p.width - 1, Math.floor((ix * p.width) / rw));
  const cy = Math.min(p.height - 1, Math.floor((iy * p.height) / rh));
  return cy * p.width + cx;
}

/** The class proposed at image pixel (x, y): a class id, null for Background, undefined when unlabelled. */
export function classAt(p: ScribbleProposal, x: number, y: number): ScribbleClass | undefined {
  const i = rasterIndexAt(p, x, y);
  if (i < 0) return undefined;
  const label = p.labels[i];
  return label === 0 ? undefined : p.classes[label - 1];
}

/** The raster label value of a class (1-based), or 0 when the proposal does not hold it. */
function labelOf(p: ScribbleProposal, classId: ScribbleClass): number {
  return p.classes.indexOf(classId) + 1;
}

/** Share of the raster each real class covers (Background and unlabelled left out), in label order. */
export function classShares(p: ScribbleProposal): Array<{ classId: number; share: number }> {
  const counts = new Float64Array(p.classes.length + 1);
  for (let i = 0; i < p.labels.length; i++) counts[p.labels[i]] += 1;
  const total = Math.max(1, p.labels.length);
  const out: Array<{ classId: number; share: number }> = [];
  p.classes.forEach((classId, i) => {
    if (classId !== null && counts[i + 1] > 0) out.push({ classId, share: counts[i + 1] / total });
  });
  return out;
}

/**
 * 4-connected pieces of equal label in the raster: `ids[i]` is the piece of raster pixel i (0 for unlabelled
 * pixels). Computed once per proposal; the region under the cursor is then one lookup.
 */
export function rasterComponents(p: ScribbleProposal): { ids: Int32Array; count: number } {
  const { width, height, labels } = p;
  const ids = new Int32Array(width * height);
  const stack: number[] = [];
  let count = 0;
  for (let start = 0; start < ids.length; start++) {
    if (ids[start] || labels[start] === 0) continue;
    const label = labels[start];
    ids[start] = ++count;
    stack.push(start);
    while (stack.length) {
      const i = stack.pop()!;
      const x = i % width;
      const visit = (j: number) => {
        if (!ids[j] && labels[j] === label) {
          ids[j] = count;
          stack.push(j);
        }
      };
      if (x > 0) visit(i - 1);
      if (x < width - 1) visit(i + 1);
      if (i >= width) visit(i - width);
      if (i + width < ids.length) visit(i + width);
    }
  }
  return { ids, count };
}

/**
 * Image-pixel runs [y, x0, x1) of the raster pixels `inside` selects, in raster order, without the pixels
 * `keep` says stay as they are. Confidence is summed over the pixels kept in the runs (for the part's score).
 */
function imageRuns(p: ScribbleProposal, inside: (i: number) => boolean, keep?: (x: number, y: number) => boolean): { runs: Run[]; confidence: number } {
  const [rx, ry, rw, rh] = p.region;
  const cols = axisMap(rw, p.width);
  const rows = axisMap(rh, p.height);
  const runs: Run[] = [];
  let confidence = 0;
  for (let iy = 0; iy < rh; iy++) {
    const rowBase = rows[iy] * p.width;
    const y = ry + iy;
    let start = -1;
    for (let ix = 0; ix <= rw; ix++) {
      let on = false;
      if (ix < rw) {
        const i = rowBase + cols[ix];
        on = inside(i) && !(keep && keep(rx + ix, y));
        if (on) confidence += p.confidence[i];
      }
      if (on && start < 0) start = ix;
      else if (!on && start >= 0) {
        runs.push([y, rx + start, rx + ix]);
        start = -1;
      }
    }
  }
  return { runs, confidence };
}

function runsArea(runs: readonly Run[]): number {
  let n = 0;
  for (const [, a, b] of runs) n += b - a;
  return n;
}

/** Mean confidence (0..1) of the raster pixels under some runs. */
function runsScore(p: ScribbleProposal, runs: readonly Run[]): number {
  const [rx, ry, rw, rh] = p.region;
  let sum = 0;
  let n = 0;
  for (const [y, a, b] of runs) {
    const cy = Math.min(p.height - 1, Math.floor(((y - ry) * p.height) / rh));
    for (let x = a; x < b; x++) {
      sum += p.confidence[cy * p.width + Math.min(p.width - 1, Math.floor(((x - rx) * p.width) / rw))];
      n += 1;
    }
  }
  return n ? sum / n / 255 : 0;
}

/** The parts of one class from the raster pixels `inside` selects (all its pixels, or one region's). */
function partsOf(p: ScribbleProposal, classId: number, inside: (i: number) => boolean, opts: AcceptOptions): AcceptPart[] {
  const keep = opts.keep ? (x: number, y: number) => opts.keep!(classId, x, y) : undefined;
  const { runs, confidence } = imageRuns(p, inside, keep);
  if (!runs.length) return [];
  if (opts.kindOf(classId) === "stuff") {
    return [{ classId, mask: maskFromRuns(runs), score: confidence / runsArea(runs) / 255 }];
  }
  const min = opts.minThingArea ?? 0;
  return connectedRuns(runs)
    .filter((piece) => runsArea(piece) >= min)
    .map((piece) => ({ classId, mask: maskFromRuns(piece), score: runsScore(p, piece) }));
}

/**
 * What accepting paints: every real class of the proposal ("all"), one class, or the 4-connected region of
 * equal label under an image point ("region"; nothing on Background or unlabelled pixels). Stuff classes give
 * one part each; thing classes one part per 4-connected piece of the pixels that will change, so a piece that
 * protected pixels cut in two becomes two instances.
 */
export function acceptPlan(p: ScribbleProposal, what: AcceptWhat, opts: AcceptOptions): AcceptPart[] {
  if (what.kind === "region") {
    const at = rasterIndexAt(p, what.x, what.y);
    if (at < 0 || p.labels[at] === 0) return [];
    const classId = p.classes[p.labels[at] - 1];
    if (classId === null) return [];
    const { ids } = rasterComponents(p);
    const piece = ids[at];
    return partsOf(p, classId, (i) => ids[i] === piece, opts);
  }
  const wanted = what.kind === "all" ? p.classes : [what.classId];
  const parts: AcceptPart[] = [];
  for (const classId of wanted) {
    if (classId === null) continue;
    const label = labelOf(p, classId);
    if (!label) continue;
    parts.push(...partsOf(p, classId, (i) => p.labels[i] === label, opts));
  }
  return parts;
}

/** The raster pixels an accept took (set them to 0 so the proposal no longer shows them); returns how many. */
export function clearAccepted(p: ScribbleProposal, what: AcceptWhat): number {
  let inside: (i: number) => boolean;
  if (what.kind === "all") inside = (i) => p.labels[i] !== 0 && p.classes[p.labels[i] - 1] !== null;
  else if (what.kind === "class") {
    const label = labelOf(p, what.classId);
    if (!label) return 0;
    inside = (i) => p.labels[i] === label;
  } else {
    const at = rasterIndexAt(p, what.x, what.y);
    if (at < 0 || p.labels[at] === 0 || p.classes[p.labels[at] - 1] === null) return 0;
    const { ids } = rasterComponents(p);
    const piece = ids[at];
    inside = (i) => ids[i] === piece;
  }
  let n = 0;
  for (let i = 0; i < p.labels.length; i++) {
    if (inside(i)) {
      p.labels[i] = 0;
      n += 1;
    }
  }
  return n;
}

/** The image-pixel outline mask of the region under (x, y) (the cursor preview), or an empty mask. */
export function regionMaskAt(p: ScribbleProposal, components: { ids: Int32Array }, x: number, y: number): { classId: ScribbleClass; mask: RegionMask } | null {
  const at = rasterIndexAt(p, x, y);
  if (at < 0 || p.labels[at] === 0) return null;
  const piece = components.ids[at];
  const { runs } = imageRuns(p, (i) => components.ids[i] === piece);
  return { classId: p.classes[p.labels[at] - 1], mask: runs.length ? maskFromRuns(runs) : emptyMask() };
}

/**
 * The region to ask about: the whole image (undefined) up to `maxPixels`, else the visible part of it (clipped
 * to the image, whole pixels), so a classifier on a 20k² image answers for what the annotator looks at.
 */
export function proposalRegion(
  image: { width: number; height: number }, visible: { x: number; y: number; width: number; height: number },
  maxPixels = 4_000_000,
): Box | undefined {
  if (image.width * image.height <= maxPixels) return undefined;
  const x0 = Math.max(0, Math.floor(visible.x));
  const y0 = Math.max(0, Math.floor(visible.y));
  const x1 = Math.min(image.width, Math.ceil(visible.x + visible.width));
  const y1 = Math.min(image.height, Math.ceil(visible.y + visible.height));
  if (x1 <= x0 || y1 <= y0) return [0, 0, image.width, image.height];
  return [x0, y0, x1 - x0, y1 - y0];
}

/** A stroke's points with near-duplicates dropped (closer than `minStep` image pixels), rounded to 0.1 px. */
export function strokePoints(points: ReadonlyArray<readonly [number, number]>, minStep = 1): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [x, y] of points) {
    const last = out[out.length - 1];
    if (last && Math.hypot(x - last[0], y - last[1]) < minStep) continue;
    out.push([Math.round(x * 10) / 10, Math.round(y * 10) / 10]);
  }
  const [lx, ly] = points[points.length - 1] ?? [];
  const end = out[out.length - 1];
  if (end && lx !== undefined && (Math.round(lx * 10) / 10 !== end[0] || Math.round(ly! * 10) / 10 !== end[1])) {
    out.push([Math.round(lx * 10) / 10, Math.round(ly! * 10) / 10]);
  }
  return out;
}

/** Distinct labels the strokes hold (classes and Background): the classifier needs two. */
export function strokeLabels(strokes: readonly ScribbleStroke[]): number {
  return new Set(strokes.map((s) => s.classId)).size;
}
