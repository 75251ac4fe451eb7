// Three-way merge of a label map after a 409: our unsaved edits are replayed on top of what another editor
// saved, so neither side's strokes are silently dropped.
//
// Rule, per pixel of every tile we changed: if our pixel differs from the base we started from, ours wins;
// otherwise the server's pixel stays. Rows we changed win; rows only the server changed stay. Segment ids we
// created that the other editor also created meanwhile are given fresh ids (they are different segments);
// two new segments of one stuff class collapse into the server's (stuff has one segment per class); clashing
// instance numbers of things are renumbered on our side.

export interface SegmentRow {
  segment_id: number;
  class_id: number;
  instance: number | null;
  attributes: Record<string, unknown>;
  source: string;
  score: number | null;
  rings: number[][][] | null;
}

export type ClassKind = "thing" | "stuff";

export interface MergeInput {
  /** Tiles we changed: the pixels we started from (undefined = all zeros) and our current pixels. */
  localTiles: Map<string, { base: Uint32Array | undefined; local: Uint32Array | undefined }>;
  /** The server's current pixels of those same tiles (undefined = all zeros). */
  serverTiles: Map<string, Uint32Array | undefined>;
  tileLength: (key: string) => number;
  /** Segment rows when we started (the base), ours now, and the server's now. */
  baseRows: Map<number, SegmentRow>;
  localRows: Map<number, SegmentRow>;
  serverRows: Map<number, SegmentRow>;
  /** Rows we changed or created since the base, and ids we deleted. */
  localChanged: Set<number>;
  localDeleted: Set<number>;
  classKind: (classId: number) => ClassKind;
}

export interface MergeResult {
  tiles: Map<string, Uint32Array | undefined>;
  rows: Map<number, SegmentRow>;
  /** Our ids that had to change: old -> new. */
  remapped: Map<number, number>;
  /** Tiles whose merged pixels differ from the server's (they must be saved). */
  changedTiles: Set<string>;
  /** Rows whose merged value differs from the server's, and server rows to delete. */
  changedRows: Set<number>;
  deletedRows: Set<number>;
}

function sameRow(a: SegmentRow | undefined, b: SegmentRow | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function planRemap(input: MergeInput): Map<number, number> {
  const remap = new Map<number, number>();
  let nextId = 1;
  for (const id of [...input.serverRows.keys(), ...input.localRows.keys(), ...input.baseRows.keys()]) {
    nextId = Math.max(nextId, id + 1);
  }
  const serverStuff = new Map<number, number>(); // class id -> the server's segment of that stuff class
  for (const row of input.serverRows.values()) {
    if (input.classKind(row.class_id) === "stuff") serverStuff.set(row.class_id, row.segment_id);
  }
  for (const id of input.localChanged) {
    const row = input.localRows.get(id);
    if (!row || input.baseRows.has(id)) continue; // only ids we created can clash
    const stuffTarget = input.classKind(row.class_id) === "stuff" ? serverStuff.get(row.class_id) : undefined;
    if (stuffTarget !== undefined && stuffTarget !== id) {
      remap.set(id, stuffTarget);
    } else if (input.serverRows.has(id)) {
      // The other editor created a segment with the same id: equal rows are still two different segments.
      remap.set(id, nextId++);
    }
  }
  return remap;
}

function remapPixels(pixels: Uint32Array | undefined, remap: Map<number, number>): Uint32Array | undefined {
  if (!pixels || remap.size === 0) return pixels;
  const out = new Uint32Array(pixels);
  for (let i = 0; i < out.length; i++) {
    const target = remap.get(out[i]);
    if (target !== undefined) out[i] = target;
  }
  return out;
}

export function mergeLabelMaps(input: MergeInput): MergeResult {
  const remapped = planRemap(input);
  const tiles = new Map<string, Uint32Array | undefined>();
  const changedTiles = new Set<string>();
  for (const [key, { base, local }] of input.localTiles) {
    const server = input.serverTiles.get(key);
    const mine = remapPixels(local, remapped);
    const length = input.tileLength(key);
    const merged = new Uint32Array(length);
    let differs = false;
    let any = false;
    for (let i = 0; i < length; i++) {
      const b = base ? base[i] : 0;
      const l = mine ? mine[i] : 0;
      const s = server ? server[i] : 0;
      const value = (local ? local[i] : 0) !== b ? l : s;
      merged[i] = value;
      if (value !== s) differs = true;
      if (value !== 0) any = true;
    }
    tiles.set(key, any ? merged : undefined);
    if (differs) changedTiles.add(key);
  }

  const rows = new Map<number, SegmentRow>(input.serverRows);
  const changedRows = new Set<number>();
  const deletedRows = new Set<number>();
  for (const id of input.localDeleted) {
    if (rows.has(id)) {
      rows.delete(id);
      deletedRows.add(id);
    }
  }
  for (const id of input.localChanged) {
    const row = input.localRows.get(id);
    if (!row) continue;
    const target = remapped.get(id) ?? id;
    if (remapped.has(id) && input.serverRows.has(target) && input.classKind(row.class_id) === "stuff") {
      continue; // collapsed into the server's stuff segment, which keeps its row
    }
    rows.set(target, { ...row, segment_id: target });
    if (!sameRow(input.serverRows.get(target), rows.get(target))) changedRows.add(target);
  }
  renumberClashingInstances(rows, changedRows, input.classKind);
  return { tiles, rows, remapped, changedTiles, changedRows, deletedRows };
}

/** Thing instances are unique per class: our changed rows give way to the server's numbers. */
function renumberClashingInstances(
  rows: Map<number, SegmentRow>,
  changedRows: Set<number>,
  classKind: (classId: number) => ClassKind,
): void {
  const taken = new Map<number, Set<number>>();
  const highest = new Map<number, number>();
  const ordered = [...rows.values()].sort(
    (a, b) => Number(changedRows.has(a.segment_id)) - Number(changedRows.has(b.segment_id)) || a.segment_id - b.segment_id,
  );
  for (const row of ordered) {
    if (classKind(row.class_id) !== "thing" || row.instance === null) continue;
    highest.set(row.class_id, Math.max(highest.get(row.class_id) ?? 0, row.instance));
  }
  for (const row of ordered) {
    if (classKind(row.class_id) !== "thing" || row.instance === null) continue;
    const used = taken.get(row.class_id) ?? new Set<number>();
    taken.set(row.class_id, used);
    if (used.has(row.instance)) {
      const next = (highest.get(row.class_id) ?? 0) + 1;
      highest.set(row.class_id, next);
      rows.set(row.segment_id, { ...row, instance: next });
      changedRows.add(row.segment_id);
      used.add(next);
    } else {
      used.add(row.instance);
    }
  }
}
