import { describe, expect, it } from "vitest";
import { mergeLabelMaps, type MergeInput, type SegmentRow } from "../../src/editor/merge";

const row = (segment_id: number, class_id: number, instance: number | null = null): SegmentRow => ({
  segment_id, class_id, instance, attributes: {}, source: "manual", score: null, rings: null,
});
const kinds: Record<number, "thing" | "stuff"> = { 1: "thing", 2: "stuff" };

function input(partial: Partial<MergeInput>): MergeInput {
  return {
    localTiles: new Map(), serverTiles: new Map(), tileLength: () => 4,
    baseRows: new Map(), localRows: new Map(), serverRows: new Map(),
    localChanged: new Set(), localDeleted: new Set(), classKind: (c) => kinds[c],
    ...partial,
  };
}

describe("mergeLabelMaps", () => {
  it("keeps both editors' strokes in different pixels", () => {
    const base = new Uint32Array([0, 0, 0, 0]);
    const local = new Uint32Array([5, 0, 0, 0]); // we painted pixel 0 with our new segment 5
    const server = new Uint32Array([0, 0, 0, 6]); // they painted pixel 3 with their new segment 6
    const result = mergeLabelMaps(input({
      localTiles: new Map([["0,0", { base, local }]]),
      serverTiles: new Map([["0,0", server]]),
      localRows: new Map([[5, row(5, 1, 1)]]),
      serverRows: new Map([[6, row(6, 1, 1)]]),
      localChanged: new Set([5]),
    }));
    expect([...result.tiles.get("0,0")!]).toEqual([5, 0, 0, 6]);
    expect(result.rows.get(6)!.instance).toBe(1);
    expect(result.rows.get(5)!.instance).toBe(2); // renumbered: instance 1 was taken by the server's car
    expect(result.changedTiles.has("0,0")).toBe(true);
    expect([...result.changedRows]).toEqual([5]);
  });

  it("gives our new segment a fresh id when the other editor used the same id", () => {
    const base = new Uint32Array(4);
    const local = new Uint32Array([7, 7, 0, 0]);
    const server = new Uint32Array([0, 0, 7, 7]);
    const result = mergeLabelMaps(input({
      localTiles: new Map([["0,0", { base, local }]]),
      serverTiles: new Map([["0,0", server]]),
      localRows: new Map([[7, row(7, 1, 1)]]),
      serverRows: new Map([[7, row(7, 1, 3)]]),
      localChanged: new Set([7]),
    }));
    const fresh = result.remapped.get(7)!;
    expect(fresh).toBe(8);
    expect([...result.tiles.get("0,0")!]).toEqual([8, 8, 7, 7]);
    expect(result.rows.get(7)!.instance).toBe(3);
    expect(result.rows.get(8)!.class_id).toBe(1);
  });

  it("collapses two new segments of one stuff class into the server's", () => {
    const result = mergeLabelMaps(input({
      localTiles: new Map([["0,0", { base: undefined, local: new Uint32Array([3, 3, 0, 0]) }]]),
      serverTiles: new Map([["0,0", new Uint32Array([0, 0, 9, 0])]]),
      localRows: new Map([[3, row(3, 2)]]),
      serverRows: new Map([[9, row(9, 2)]]),
      localChanged: new Set([3]),
    }));
    expect([...result.tiles.get("0,0")!]).toEqual([9, 9, 9, 0]);
    expect(result.rows.has(3)).toBe(false);
    expect(result.rows.size).toBe(1);
  });

  it("our erase wins over an unchanged server pixel, and a tile that ends empty is dropped", () => {
    const base = new Uint32Array([4, 4, 0, 0]);
    const result = mergeLabelMaps(input({
      localTiles: new Map([["1,0", { base, local: undefined }]]),
      serverTiles: new Map([["1,0", new Uint32Array([4, 4, 0, 0])]]),
      baseRows: new Map([[4, row(4, 1, 1)]]),
      serverRows: new Map([[4, row(4, 1, 1)]]),
      localDeleted: new Set([4]),
    }));
    expect(result.tiles.get("1,0")).toBeUndefined();
    expect(result.deletedRows.has(4)).toBe(true);
    expect(result.rows.size).toBe(0);
  });
});

describe("mergeLabelMaps identity", () => {
  it("treats an identical-looking new row with the same id as a different segment", () => {
    const result = mergeLabelMaps(input({
      localTiles: new Map([["0,0", { base: undefined, local: new Uint32Array([1, 0, 0, 0]) }]]),
      serverTiles: new Map([["0,0", new Uint32Array([0, 0, 0, 1])]]),
      localRows: new Map([[1, row(1, 1, 1)]]),
      serverRows: new Map([[1, row(1, 1, 1)]]),
      localChanged: new Set([1]),
    }));
    expect([...result.tiles.get("0,0")!]).toEqual([2, 0, 0, 1]);
    expect(result.rows.get(2)!.instance).toBe(2);
  });
});
