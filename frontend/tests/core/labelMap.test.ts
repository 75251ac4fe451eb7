import { describe, expect, test } from "vitest";

import { ChangeRecorder, LabelMap } from "../../src/core/labelMap";
import { type RegionMask, brushStamp, maskFromPredicate, rasterizeRings } from "../../src/core/raster";
import { decodeTile } from "../../src/core/tileCodec";
import { type GoldenLabelMap, readBytes, readJson, sameArray } from "./golden";

function rect(x: number, y: number, w: number, h: number): RegionMask {
  return { x0: x, y0: y, width: w, height: h, data: new Uint8Array(w * h).fill(1) };
}

/** Deterministic pseudo-random numbers in [0, 1). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function bruteStats(map: LabelMap) {
  const stats = new Map<number, { area: number; bbox: [number, number, number, number] }>();
  const bounds = new Map<number, [number, number, number, number, number]>();
  for (let y = 0; y < map.height; y++) {
    for (let x = 0; x < map.width; x++) {
      const id = map.get(x, y);
      if (!id) continue;
      const b = bounds.get(id) ?? [0, x, y, x, y];
      bounds.set(id, [b[0] + 1, Math.min(b[1], x), Math.min(b[2], y), Math.max(b[3], x), Math.max(b[4], y)]);
    }
  }
  for (const [id, [area, x0, y0, x1, y1]] of bounds) stats.set(id, { area, bbox: [x0, y0, x1 - x0 + 1, y1 - y0 + 1] });
  return stats;
}

describe("LabelMap painting", () => {
  test("tiles are allocated lazily and painting crosses tile borders", () => {
    const map = new LabelMap(100, 70, 32);
    expect([map.cols, map.rows]).toEqual([4, 3]);
    expect(map.tile(0, 0)).toBeUndefined();
    const changes = map.paint(rect(30, 30, 4, 4), 5);
    expect(changes.map((c) => [c.tx, c.ty])).toEqual([[0, 0], [1, 0], [0, 1], [1, 1]]);
    expect(changes.every((c) => c.before === undefined)).toBe(true);
    expect(map.tile(3, 2)).toBeUndefined();
    expect(map.tileShape(3, 2)).toEqual([6, 4]);
    expect(map.get(30, 30)).toBe(5);
    expect(map.get(33, 33)).toBe(5);
    expect(map.get(34, 33)).toBe(0);
    expect(map.get(-1, 0)).toBe(0);
  });

  test("changedIds names the segments that lost pixels, and only those", () => {
    const map = new LabelMap(64, 64, 32);
    map.paint(rect(0, 0, 10, 10), 1);
    map.paint(rect(40, 40, 10, 10), 2);
    map.paint(rect(20, 20, 4, 4), 3);
    const lost = new Set<number>();
    // Over 1 and empty ground, next to 3 but not on it; 2 is protected.
    map.paint(rect(5, 5, 15, 15), 4, { changedIds: lost });
    map.paint(rect(38, 38, 4, 4), 4, { changedIds: lost, protect: (id) => id === 2 });
    expect([...lost].sort()).toEqual([0, 1]);
    const recorder = new ChangeRecorder(map);
    const erased = new Set<number>();
    map.paint(rect(0, 0, 64, 64), 0, { changedIds: erased, recorder, onlyIds: new Set([3]) });
    expect([...erased]).toEqual([3]);
  });

  test("revisions move only when pixels change", () => {
    const map = new LabelMap(64, 64, 32);
    map.paint(rect(0, 0, 5, 5), 3);
    const revision = map.tileRevision(0, 0);
    expect(map.paint(rect(0, 0, 5, 5), 3)).toEqual([]);
    expect(map.paint(rect(10, 10, 3, 3), 0)).toEqual([]); // erasing nothing allocates nothing
    expect(map.tile(1, 1)).toBeUndefined();
    expect(map.tileRevision(0, 0)).toBe(revision);
    map.paint(rect(4, 4, 1, 1), 9);
    expect(map.tileRevision(0, 0)).toBe(revision + 1);
  });

  test("protect keeps existing segments, onlyIds limits an eraser", () => {
    const map = new LabelMap(40, 40, 16);
    map.paint(rect(0, 0, 20, 20), 1);
    map.paint(rect(20, 0, 20, 20), 2);
    map.paint(rect(10, 5, 20, 10), 3, { protect: (id) => id !== 0 && id !== 3 });
    expect(map.get(15, 10)).toBe(1);
    map.paint(rect(0, 25, 40, 5), 3, { protect: (id) => id !== 0 });
    expect(map.get(5, 27)).toBe(3);
    map.paint(rect(0, 0, 40, 40), 0, { onlyIds: new Set([2]) });
    expect(map.get(25, 10)).toBe(0);
    expect(map.get(5, 10)).toBe(1);
    expect(map.get(5, 27)).toBe(3);
  });

  test("undo and redo of paint round-trip, and records survive later edits", () => {
    const map = new LabelMap(50, 50, 16);
    map.paint(rect(0, 0, 50, 50), 1);
    const before = map.toArray();
    const changes = map.paint(brushStamp(25, 25, 12, 50, 50), 2);
    const after = map.toArray();
    const later = map.paint(rect(0, 0, 50, 50), 7); // must not leak into the records
    map.applyChanges(later, "undo");
    expect(sameArray(map.toArray(), after)).toBe(true);
    map.applyChanges(changes, "undo");
    expect(sameArray(map.toArray(), before)).toBe(true);
    map.applyChanges(changes, "redo");
    expect(sameArray(map.toArray(), after)).toBe(true);
    map.paint(rect(24, 24, 3, 3), 9); // and applied tiles are copies, not the records
    map.applyChanges(changes, "undo");
    expect(sameArray(map.toArray(), before)).toBe(true);
  });

  test("a recorder keeps one before-copy per tile over many dabs", () => {
    const map = new LabelMap(64, 64, 32);
    map.paint(rect(0, 0, 64, 64), 4);
    const before = map.toArray();
    const recorder = new ChangeRecorder(map);
    for (let i = 0; i < 50; i++) expect(map.paint(brushStamp(5 + i, 20 + i / 2, 4, 64, 64), 8, { recorder })).toEqual([]);
    const changes = recorder.finish();
    expect(changes.length).toBeLessThanOrEqual(4);
    const after = map.toArray();
    map.applyChanges(changes, "undo");
    expect(sameArray(map.toArray(), before)).toBe(true);
    map.applyChanges(changes, "redo");
    expect(sameArray(map.toArray(), after)).toBe(true);
  });

  test("replaceIds merges and deletes, with undo", () => {
    const map = new LabelMap(60, 40, 16);
    map.paint(rect(0, 0, 30, 40), 1);
    map.paint(rect(30, 0, 30, 20), 2);
    map.paint(rect(30, 20, 30, 20), 3);
    const before = map.toArray();
    const merge = map.replaceIds(new Set([2, 3]), 1);
    expect([...map.segmentStats().keys()]).toEqual([1]);
    expect(map.segmentStats().get(1)!.area).toBe(60 * 40);
    const erase = map.replaceIds(new Set([1]), 0);
    expect(map.segmentStats().size).toBe(0);
    map.applyChanges(erase, "undo");
    map.applyChanges(merge, "undo");
    expect(sameArray(map.toArray(), before)).toBe(true);
    expect(map.replaceIds(new Set([99]), 1)).toEqual([]);
  });

  test("invalid ids and tile sizes are rejected", () => {
    const map = new LabelMap(10, 10, 8);
    expect(() => map.paint(rect(0, 0, 1, 1), -1)).toThrow(RangeError);
    expect(() => map.paint(rect(0, 0, 1, 1), 2 ** 32)).toThrow(RangeError);
    map.paint(rect(0, 0, 1, 1), 2 ** 32 - 1);
    expect(map.get(0, 0)).toBe(2 ** 32 - 1);
    expect(() => map.setTile(1, 1, new Uint32Array(4))).not.toThrow();
    expect(() => map.setTile(1, 1, new Uint32Array(5))).toThrow(/2x2 = 4 pixels/);
    expect(() => map.tile(2, 0)).toThrow(/outside/);
  });
});

describe("autosave dirty tracking", () => {
  test("loaded tiles are clean; edits make them dirty; a save makes them clean", () => {
    const map = new LabelMap(64, 64, 32);
    map.setTile(0, 0, new Uint32Array(32 * 32).fill(1));
    expect(map.dirtyTiles()).toEqual([]);
    map.paint(rect(40, 40, 2, 2), 2);
    map.paint(rect(0, 0, 2, 2), 2);
    expect(map.dirtyTiles()).toEqual([[0, 0], [1, 1]]);
    const snapshot = map.dirtySnapshot();
    map.markClean(snapshot.map((t) => [t.tx, t.ty] as const), snapshot.map((t) => t.revision));
    expect(map.dirtyTiles()).toEqual([]);
  });

  test("a tile edited while its save is in flight stays dirty", () => {
    const map = new LabelMap(64, 64, 32);
    map.paint(rect(0, 0, 40, 4), 1);
    const sent = map.dirtySnapshot(); // tiles (0,0) and (1,0)
    expect(sent.map((t) => [t.tx, t.ty])).toEqual([[0, 0], [1, 0]]);
    map.paint(rect(0, 10, 3, 3), 2); // edit during the request, tile (0,0) only
    expect(sent[0].pixels![10 * 32]).toBe(0); // the snapshot is a copy
    map.markClean(sent.map((t) => [t.tx, t.ty] as const), sent.map((t) => t.revision));
    expect(map.dirtyTiles()).toEqual([[0, 0]]);
    // A failed save marks nothing: everything stays dirty.
    map.paint(rect(50, 50, 2, 2), 3);
    expect(map.dirtyTiles()).toEqual([[0, 0], [1, 1]]);
  });

  test("undo after a save dirties the tile again, and an older save finishing late changes nothing", () => {
    const map = new LabelMap(32, 32, 32);
    const changes = map.paint(rect(0, 0, 4, 4), 1);
    const first = map.dirtySnapshot();
    map.paint(rect(5, 5, 1, 1), 2);
    const second = map.dirtySnapshot();
    map.markClean([[0, 0]], [second[0].revision]);
    map.markClean([[0, 0]], [first[0].revision]); // late and older: must not make the tile dirty or clean
    expect(map.dirtyTiles()).toEqual([]);
    map.applyChanges(changes, "undo");
    expect(map.dirtyTiles()).toEqual([[0, 0]]);
  });
});

describe("segment stats and geometry", () => {
  test("incremental stats equal a brute-force scan after random edits", () => {
    const rand = random(42);
    const map = new LabelMap(97, 71, 16);
    for (let i = 0; i < 60; i++) {
      const id = 1 + Math.floor(rand() * 12);
      const mask = brushStamp(rand() * 97, rand() * 71, 1 + rand() * 9, 97, 71);
      map.paint(mask, rand() < 0.15 ? 0 : id === 12 ? 2 ** 32 - 1 : id, { protect: rand() < 0.3 ? (v) => v !== 0 : undefined });
      if (i % 7 === 0) expect(new Map(map.segmentStats())).toEqual(bruteStats(map));
    }
    expect(new Map(map.segmentStats())).toEqual(bruteStats(map));
    expect(map.nextFreeId()).toBe(Math.max(...map.segmentStats().keys()) + 1);
  });

  test("stats of the golden map equal Python's segment_stats", async () => {
    const golden = readJson<GoldenLabelMap>("labelmap.json");
    const map = new LabelMap(golden.width, golden.height, golden.tile_size);
    for (const t of golden.tiles) map.setTile(t.tx!, t.ty!, await decodeTile(readBytes(`tiles/${t.name}.zlib`), t.rows, t.cols));
    const expected = new Map(
      Object.entries(golden.stats).map(([id, [area, x0, y0, x1, y1]]) => [Number(id), { area, bbox: [x0, y0, x1 - x0 + 1, y1 - y0 + 1] }]),
    );
    expect(new Map(map.segmentStats())).toEqual(expected);
    expect(map.dirtyTiles()).toEqual([]);
  });

  test("diagonal-only touching pixels are separate components", () => {
    const map = new LabelMap(10, 10, 4);
    map.paint(rect(1, 1, 2, 2), 5);
    map.paint(rect(3, 3, 2, 2), 5); // touches the first square at a corner only
    map.paint(rect(6, 0, 1, 10), 5); // a column crossing tile borders
    const parts = map.connectedComponents(5);
    expect(parts.map((m) => [m.x0, m.y0, m.width, m.height])).toEqual([
      [6, 0, 1, 10],
      [1, 1, 2, 2],
      [3, 3, 2, 2],
    ]);
    map.paint(rect(3, 2, 1, 1), 5); // now edge-connected
    expect(map.connectedComponents(5)).toHaveLength(2);
    expect(map.connectedComponents(77)).toEqual([]);
  });

  test("components of a U shape and a ring with a hole, against a flood fill", () => {
    const map = new LabelMap(40, 30, 8);
    const u = rasterizeRings([[[2, 2], [6, 2], [6, 20], [30, 20], [30, 2], [34, 2], [34, 26], [2, 26]]], 40, 30);
    map.paint(u, 1);
    map.paint(maskFromPredicate([0, 0, 40, 30], (x, y) => x >= 10 && x < 26 && y >= 4 && y < 16 && (x === 10 || x === 25 || y === 4 || y === 15)), 1);
    map.paint(maskFromPredicate([0, 0, 40, 30], (x, y) => (x + y) % 2 === 0 && x > 36 && y < 4), 1);
    const parts = map.connectedComponents(1);
    // U (1) + the rectangle outline (1) + checkerboard pixels (each alone).
    const checker = [...Array(40 * 30).keys()].filter((i) => {
      const x = i % 40;
      const y = Math.floor(i / 40);
      return (x + y) % 2 === 0 && x > 36 && y < 4;
    }).length;
    expect(parts).toHaveLength(2 + checker);
    const total = parts.reduce((n, m) => n + m.data.reduce((a, b) => a + b, 0), 0);
    expect(total).toBe(map.segmentStats().get(1)!.area);
    // Painting each component alone reproduces the segment.
    const rebuilt = new LabelMap(40, 30, 8);
    for (const part of parts) rebuilt.paint(part, 1);
    expect(sameArray(rebuilt.toArray(), map.toArray())).toBe(true);
  });

  test("segmentMask is the whole segment", () => {
    const map = new LabelMap(20, 20, 8);
    map.paint(rect(3, 4, 5, 6), 2);
    map.paint(rect(15, 15, 2, 2), 2);
    const mask = map.segmentMask(2);
    expect([mask.x0, mask.y0, mask.width, mask.height]).toEqual([3, 4, 14, 13]);
    expect(mask.data.reduce((a, b) => a + b, 0)).toBe(34);
    expect(map.segmentMask(3).width).toBe(0);
  });
});
