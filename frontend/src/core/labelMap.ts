// The label map held in the browser: one uint32 segment id per pixel (0 = unlabeled), cut into the same
// tiles the server stores (labeling/masks/tiles.py). Everything the editor does to pixels goes through here,
// so this module owns undo records, per-tile revisions (the renderer re-uploads a texture when its tile's
// revision moves), dirty tracking for autosave, and per-segment stats. Pure: no DOM.

import { type Box, type RegionMask, emptyMask } from "./raster";
import { type Run, type TileStats, connectedRuns, maskFromRuns, scanRuns } from "./runs";
import { TILE_SIZE, tileGrid, tileShape } from "./tileCodec";

/** One tile's content before and after an edit; copies owned by the record (undefined = all zeros). */
export interface TileChange {
  tx: number;
  ty: number;
  before: Uint32Array | undefined;
  after: Uint32Array | undefined;
}

export interface PaintOptions {
  /** Pixels whose current id is protected keep it ("protect existing"). */
  protect?: (id: number) => boolean;
  /** Only pixels whose current id is in the set change (an eraser limited to some segments). */
  onlyIds?: ReadonlySet<number>;
  /** Collect one before-copy per tile across many edits (a brush stroke); the edit then returns []. */
  recorder?: ChangeRecorder;
  /** Receives the ids the changed pixels held before (so the caller can tell which segments lost pixels). */
  changedIds?: Set<number>;
}

/** Area and [x, y, w, h] pixel bbox of one segment, the numbers the server stores. */
export interface SegmentStat {
  area: number;
  bbox: Box;
}

/** A dirty tile captured for a save: `pixels` is a copy, safe to encode while editing goes on. */
export interface DirtyTile {
  tx: number;
  ty: number;
  revision: number;
  pixels: Uint32Array | undefined;
}

const MAX_ID = 2 ** 32 - 1;

function checkId(value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_ID) {
    throw new RangeError(`segment ids must be integers in 0..${MAX_ID}, got ${value}`);
  }
}

/**
 * Accumulates the state of each tile before its first change over many edits, so a brush stroke of hundreds
 * of dabs costs one copy per tile instead of two per dab; `finish()` returns the undo records.
 */
export class ChangeRecorder {
  private readonly before = new Map<number, Uint32Array | undefined>();

  constructor(private readonly map: LabelMap) {}

  /** @internal Called by LabelMap just before tile `index` first changes. */
  noteBefore(index: number, pixels: Uint32Array | undefined): void {
    if (!this.before.has(index)) this.before.set(index, pixels?.slice());
  }

  get touchedTiles(): number {
    return this.before.size;
  }

  /** Undo records for everything edited since the recorder was made (after = the tiles now). */
  finish(): TileChange[] {
    const changes: TileChange[] = [];
    for (const [index, before] of this.before) {
      const tx = index % this.map.cols;
      const ty = Math.floor(index / this.map.cols);
      changes.push({ tx, ty, before, after: this.map.tile(tx, ty)?.slice() });
    }
    this.before.clear();
    return changes;
  }
}

export class LabelMap {
  readonly cols: number;
  readonly rows: number;
  private readonly tiles: (Uint32Array | undefined)[];
  // Revisions only ever grow, so "saved revision < revision" is exactly "changed since the last save".
  private readonly revisions: number[];
  private readonly savedRevisions: number[];
  private readonly statsCache: ({ revision: number; stats: TileStats } | undefined)[];
  // Bumped with every tile revision: the merged stats are current while it has not moved.
  private version = 0;
  private mergedStats: { version: number; stats: Map<number, SegmentStat> } | undefined;

  constructor(
    readonly width: number,
    readonly height: number,
    readonly tileSize: number = TILE_SIZE,
  ) {
    [this.cols, this.rows] = tileGrid(width, height, tileSize);
    const n = this.cols * this.rows;
    this.tiles = new Array<Uint32Array | undefined>(n).fill(undefined);
    this.revisions = new Array<number>(n).fill(0);
    this.savedRevisions = new Array<number>(n).fill(0);
    this.statsCache = new Array(n).fill(undefined);
  }

  /** [rows, cols] of tile (tx, ty). */
  tileShape(tx: number, ty: number): [number, number] {
    return tileShape(this.width, this.height, tx, ty, this.tileSize);
  }

  private index(tx: number, ty: number): number {
    this.tileShape(tx, ty); // throws outside the grid
    return ty * this.cols + tx;
  }

  /** The tile's pixels (live, do not mutate), or undefined when it is all zeros and never allocated. */
  tile(tx: number, ty: number): Uint32Array | undefined {
    return this.tiles[this.index(tx, ty)];
  }

  tileRevision(tx: number, ty: number): number {
    return this.revisions[this.index(tx, ty)];
  }

  /** Segment id at pixel (x, y); 0 outside the image. */
  get(x: number, y: number): number {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return 0;
    const tx = Math.floor(x / this.tileSize);
    const ty = Math.floor(y / this.tileSize);
    const tile = this.tiles[ty * this.cols + tx];
    if (!tile) return 0;
    const tileCols = Math.min(this.tileSize, this.width - tx * this.tileSize);
    return tile[(y - ty * this.tileSize) * tileCols + (x - tx * this.tileSize)];
  }

  /**
   * Replace a whole tile, e.g. decoded from the server (the map takes ownership of `pixels`). By default the
   * tile counts as saved; pass `{ dirty: true }` for content that still has to be sent.
   */
  setTile(tx: number, ty: number, pixels: Uint32Array | undefined, opts: { dirty?: boolean } = {}): void {
    const k = this.index(tx, ty);
    const [rows, cols] = this.tileShape(tx, ty);
    if (pixels && pixels.length !== rows * cols) {
      throw new RangeError(`tile (${tx}, ${ty}) needs ${rows}x${cols} = ${rows * cols} pixels, got ${pixels.length}`);
    }
    this.tiles[k] = pixels;
    this.bump(k);
    if (!opts.dirty) this.savedRevisions[k] = this.revisions[k];
  }

  private bump(k: number): void {
    this.revisions[k] += 1;
    this.version += 1;
  }

  /**
   * Set the pixels of `mask` to `value`, except protected ones and, with `onlyIds`, ones holding other ids.
   * Returns one undo record per tile that actually changed (none with a recorder, which keeps them instead).
   */
  paint(mask: RegionMask, value: number, opts: PaintOptions = {}): TileChange[] {
    checkId(value);
    const { protect, onlyIds, recorder, changedIds } = opts;
    const changes: TileChange[] = [];
    const x0 = Math.max(0, mask.x0);
    const y0 = Math.max(0, mask.y0);
    const x1 = Math.min(this.width, mask.x0 + mask.width);
    const y1 = Math.min(this.height, mask.y0 + mask.height);
    if (x0 >= x1 || y0 >= y1) return changes;
    // Painting is mostly over a handful of ids, so remember the last protect() answer.
    let lastId = -1;
    let lastProtected = false;
    let lastChanged = -1;
    const ts = this.tileSize;
    for (let ty = Math.floor(y0 / ts); ty <= Math.floor((y1 - 1) / ts); ty++) {
      for (let tx = Math.floor(x0 / ts); tx <= Math.floor((x1 - 1) / ts); tx++) {
        const k = ty * this.cols + tx;
        const tileCols = Math.min(ts, this.width - tx * ts);
        const tileRows = Math.min(ts, this.height - ty * ts);
        let tile = this.tiles[k];
        let before: Uint32Array | undefined;
        let changed = false;
        const cx0 = Math.max(x0, tx * ts);
        const cx1 = Math.min(x1, tx * ts + tileCols);
        for (let y = Math.max(y0, ty * ts); y < Math.min(y1, ty * ts + tileRows); y++) {
          const maskRow = (y - mask.y0) * mask.width - mask.x0;
          const tileRow = (y - ty * ts) * tileCols - tx * ts;
          for (let x = cx0; x < cx1; x++) {
            if (!mask.data[maskRow + x]) continue;
            const current = tile ? tile[tileRow + x] : 0;
            if (current === value) continue;
            if (onlyIds && !onlyIds.has(current)) continue;
            if (protect) {
              if (current !== lastId) {
                lastId = current;
                lastProtected = protect(current);
              }
              if (lastProtected) continue;
            }
            if (!changed) {
              changed = true;
              if (recorder) recorder.noteBefore(k, tile);
              else before = tile?.slice();
              if (!tile) tile = this.tiles[k] = new Uint32Array(tileRows * tileCols);
            }
            tile![tileRow + x] = value;
            if (changedIds && current !== lastChanged) {
              lastChanged = current;
              changedIds.add(current);
            }
          }
        }
        if (changed) {
          this.bump(k);
          if (!recorder) changes.push({ tx, ty, before, after: tile!.slice() });
        }
      }
    }
    return changes;
  }

  /** Every pixel holding an id in `from` becomes `to` (merge segments, or delete with to = 0). */
  replaceIds(from: ReadonlySet<number>, to: number, opts: { recorder?: ChangeRecorder } = {}): TileChange[] {
    checkId(to);
    const changes: TileChange[] = [];
    const ids = [...from].filter((id) => id !== to);
    if (ids.length === 0) return changes;
    for (let k = 0; k < this.tiles.length; k++) {
      const tile = this.tiles[k];
      // A missing tile is all zeros: it only changes when 0 is replaced.
      if (!tile && !from.has(0)) continue;
      if (tile && !ids.some((id) => id === 0 || this.tileStats(k).has(id))) continue;
      const tx = k % this.cols;
      const ty = Math.floor(k / this.cols);
      const [rows, cols] = this.tileShape(tx, ty);
      const target = tile ?? new Uint32Array(rows * cols);
      let before: Uint32Array | undefined;
      let changed = false;
      for (let i = 0; i < target.length; i++) {
        if (!from.has(target[i]) || target[i] === to) continue;
        if (!changed) {
          changed = true;
          if (opts.recorder) opts.recorder.noteBefore(k, tile);
          else before = tile?.slice();
          this.tiles[k] = target;
        }
        target[i] = to;
      }
      if (changed) {
        this.bump(k);
        if (!opts.recorder) changes.push({ tx, ty, before, after: target.slice() });
      }
    }
    return changes;
  }

  /** Undo (tiles back to `before`, last change first) or redo (to `after`, in order) a list of records. */
  applyChanges(changes: readonly TileChange[], direction: "undo" | "redo"): void {
    const ordered = direction === "undo" ? [...changes].reverse() : changes;
    for (const change of ordered) {
      const k = this.index(change.tx, change.ty);
      const pixels = direction === "undo" ? change.before : change.after;
      // Copy: the record must stay intact however the map is edited afterwards.
      this.tiles[k] = pixels?.slice();
      this.bump(k);
    }
  }

  // --- autosave ---------------------------------------------------------------------------------------------
  //
  // A save captures (tile, revision) pairs; when it succeeds, markClean records those revisions as saved. A
  // tile edited while the save was in flight has a newer revision than the one sent, so it stays dirty.

  /** [tx, ty] of every tile changed since it was last saved or loaded. */
  dirtyTiles(): Array<[number, number]> {
    const keys: Array<[number, number]> = [];
    for (let k = 0; k < this.tiles.length; k++) {
      if (this.revisions[k] > this.savedRevisions[k]) keys.push([k % this.cols, Math.floor(k / this.cols)]);
    }
    return keys;
  }

  /** The dirty tiles with their revisions and pixel copies, to encode and send. */
  dirtySnapshot(): DirtyTile[] {
    return this.dirtyTiles().map(([tx, ty]) => {
      const k = ty * this.cols + tx;
      return { tx, ty, revision: this.revisions[k], pixels: this.tiles[k]?.slice() };
    });
  }

  /** After a successful save: the tiles `keys` are saved as of `revisionsAtSend` (same order). */
  markClean(keys: ReadonlyArray<readonly [number, number]>, revisionsAtSend: readonly number[]): void {
    if (keys.length !== revisionsAtSend.length) throw new RangeError("markClean needs one revision per tile");
    keys.forEach(([tx, ty], i) => {
      const k = this.index(tx, ty);
      this.savedRevisions[k] = Math.max(this.savedRevisions[k], revisionsAtSend[i]);
    });
  }

  // --- stats and geometry -----------------------------------------------------------------------------------

  private tileStats(k: number): TileStats {
    const cached = this.statsCache[k];
    if (cached && cached.revision === this.revisions[k]) return cached.stats;
    const stats: TileStats = new Map();
    const tile = this.tiles[k];
    if (tile) {
      const tx = k % this.cols;
      const ty = Math.floor(k / this.cols);
      const [rows, cols] = this.tileShape(tx, ty);
      scanRuns(tile, rows, cols, tx * this.tileSize, ty * this.tileSize, stats);
    }
    this.statsCache[k] = { revision: this.revisions[k], stats };
    return stats;
  }

  /**
   * Area and bbox of every segment id in the map (0 excluded). Per-tile stats are cached by revision, so after
   * an edit only the changed tiles are scanned again. The result is shared: do not mutate it.
   */
  segmentStats(): ReadonlyMap<number, SegmentStat> {
    if (this.mergedStats && this.mergedStats.version === this.version) return this.mergedStats.stats;
    const merged = new Map<number, [number, number, number, number, number]>();
    for (let k = 0; k < this.tiles.length; k++) {
      for (const [id, s] of this.tileStats(k)) {
        const m = merged.get(id);
        if (!m) merged.set(id, [s[0], s[1], s[2], s[3], s[4]]);
        else {
          m[0] += s[0];
          m[1] = Math.min(m[1], s[1]);
          m[2] = Math.min(m[2], s[2]);
          m[3] = Math.max(m[3], s[3]);
          m[4] = Math.max(m[4], s[4]);
        }
      }
    }
    const stats = new Map<number, SegmentStat>();
    for (const [id, [area, xmin, ymin, xmax, ymax]] of merged) {
      stats.set(id, { area, bbox: [xmin, ymin, xmax - xmin + 1, ymax - ymin + 1] });
    }
    this.mergedStats = { version: this.version, stats };
    return stats;
  }

  /** One more than the largest id painted in the map (ids in the segment table may be larger). */
  nextFreeId(): number {
    let max = 0;
    for (const id of this.segmentStats().keys()) if (id > max) max = id;
    return max + 1;
  }

  /** Runs [y, xStart, xEnd) of `id` in raster order over a box, reading across tile borders. */
  private runsOf(id: number, box: Box): Run[] {
    const [bx, by, bw, bh] = box;
    const runs: Run[] = [];
    const ts = this.tileSize;
    for (let y = by; y < by + bh; y++) {
      const ty = Math.floor(y / ts);
      let start = -1;
      for (let tx = Math.floor(bx / ts); tx * ts < bx + bw; tx++) {
        const tile = this.tiles[ty * this.cols + tx];
        const tileCols = Math.min(ts, this.width - tx * ts);
        const xa = Math.max(bx, tx * ts);
        const xb = Math.min(bx + bw, tx * ts + tileCols);
        const row = (y - ty * ts) * tileCols - tx * ts;
        for (let x = xa; x < xb; x++) {
          const hit = (tile ? tile[row + x] : 0) === id;
          if (hit && start < 0) start = x;
          else if (!hit && start >= 0) {
            runs.push([y, start, x]);
            start = -1;
          }
        }
      }
      if (start >= 0) runs.push([y, start, bx + bw]);
    }
    return runs;
  }

  private boxOf(id: number): Box | undefined {
    if (id === 0) return [0, 0, this.width, this.height];
    return this.segmentStats().get(id)?.bbox;
  }

  /** All pixels of one segment as a mask cropped to its bbox (empty when the id is not painted). */
  segmentMask(id: number): RegionMask {
    const box = this.boxOf(id);
    if (!box) return emptyMask();
    return maskFromRuns(this.runsOf(id, box));
  }

  /**
   * The 4-connected pieces of a segment, ordered by their top-most, then left-most pixel. Pixels touching only
   * at a corner are separate, like the Python boundary tracer (labeling/masks/polygons.py). Each piece is a
   * mask cropped to its bbox. The grouping works on runs, so it costs little beyond reading the pixels.
   */
  connectedComponents(id: number): RegionMask[] {
    const box = this.boxOf(id);
    if (!box) return [];
    const runs = this.runsOf(id, box);
    return connectedRuns(runs).map(maskFromRuns);
  }

  /** The whole map as one row-major array (tests and small maps only). */
  toArray(): Uint32Array {
    const out = new Uint32Array(this.width * this.height);
    for (let ty = 0; ty < this.rows; ty++) {
      for (let tx = 0; tx < this.cols; tx++) {
        const tile = this.tiles[ty * this.cols + tx];
        if (!tile) continue;
        const [rows, cols] = this.tileShape(tx, ty);
        for (let r = 0; r < rows; r++) {
          out.set(tile.subarray(r * cols, (r + 1) * cols), (ty * this.tileSize + r) * this.width + tx * this.tileSize);
        }
      }
    }
    return out;
  }
}
