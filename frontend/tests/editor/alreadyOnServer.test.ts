import { describe, expect, it } from "vitest";
import { alreadyOnServer } from "../../src/editor/autosave";
import type { EditorSession } from "../../src/editor/session";
import { LabelMap } from "../../src/core/labelMap";
import { SegmentTable } from "../../src/core/segments";

function fakeSession(pixels: number[]) {
  const map = new LabelMap(2, 2, 512);
  map.setTile(0, 0, new Uint32Array(pixels));
  const table = new SegmentTable([{ id: 1, kind: "thing" }]);
  table.load([{ segment_id: 5, class_id: 1, instance: 1, attributes: {}, source: "manual", score: null, rings: null,
    area: 1, bbox: [0, 0, 1, 1], review_state: "pending" }]);
  return { map, table } as unknown as EditorSession;
}

const row = { segment_id: 5, class_id: 1, instance: 1, attributes: {}, source: "manual", score: null, rings: null };

describe("alreadyOnServer", () => {
  it("recognises a pending copy of edits the server already has", () => {
    const entry = { annotationId: 1, baseVersion: 0, updatedAt: 0, baseRows: [], rows: [row], changed: [5], deleted: [],
      tiles: [{ key: "0,0", base: null, local: new Uint32Array([5, 0, 0, 0]) }] };
    expect(alreadyOnServer(entry, fakeSession([5, 0, 0, 0]))).toBe(true);
    expect(alreadyOnServer(entry, fakeSession([0, 0, 0, 0]))).toBe(false);
    expect(alreadyOnServer({ ...entry, rows: [{ ...row, class_id: 2 }] }, fakeSession([5, 0, 0, 0]))).toBe(false);
  });
});
