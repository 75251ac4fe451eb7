import { describe, expect, test } from "vitest";

import type { SegmentInputRequest } from "../../src/api/schema";
import { type SaveRow, SegmentRuleError, SegmentTable, type ServerSegment } from "../../src/core/segments";

// Compile-time check that the save rows fit the API's generated request type.
const _fitsApi: (row: SaveRow) => SegmentInputRequest = (row) => row;
void _fitsApi;

const CAR = 1; // thing
const PERSON = 2; // thing
const SKY = 3; // stuff
const ROAD = 4; // stuff

function table(): SegmentTable {
  return new SegmentTable([
    { id: CAR, kind: "thing" },
    { id: PERSON, kind: "thing" },
    { id: SKY, kind: "stuff" },
    { id: ROAD, kind: "stuff" },
  ]);
}

function serverRow(segment_id: number, class_id: number, instance: number | null): ServerSegment {
  return { segment_id, class_id, instance, attributes: {}, source: "manual", score: null, rings: null, area: 10, bbox: [0, 0, 2, 5], review_state: "accepted" };
}

function ruleError(fn: () => unknown): SegmentRuleError {
  try {
    fn();
  } catch (error) {
    if (error instanceof SegmentRuleError) return error;
    throw error;
  }
  throw new Error("expected a SegmentRuleError");
}

describe("class rules", () => {
  test("stuff: one segment per class, reused when painting again", () => {
    const t = table();
    expect(t.segmentForStuff(SKY)).toBeUndefined();
    const sky = t.add({ classId: SKY }).after!;
    expect(sky.instance).toBeNull();
    expect(t.segmentForStuff(SKY)).toBe(sky);
    const error = ruleError(() => t.add({ classId: SKY }));
    expect(error.code).toBe("duplicate_stuff_segment");
    expect(error.message).toMatch(/already has segment 1/);
    expect(ruleError(() => t.add({ classId: ROAD, instance: 2 })).code).toBe("instance_on_stuff");
    t.remove(sky.segmentId);
    expect(t.segmentForStuff(SKY)).toBeUndefined();
    expect(t.add({ classId: SKY }).after!.classId).toBe(SKY);
  });

  test("things get automatic instances per class, editable, duplicates rejected", () => {
    const t = table();
    const a = t.add({ classId: CAR }).after!;
    const b = t.add({ classId: CAR }).after!;
    const p = t.add({ classId: PERSON }).after!;
    expect([a.instance, b.instance, p.instance]).toEqual([1, 2, 1]);
    t.update(b.segmentId, { instance: 7 });
    expect(t.nextInstance(CAR)).toBe(8);
    const error = ruleError(() => t.update(a.segmentId, { instance: 7 }));
    expect(error.code).toBe("duplicate_instance");
    expect(error.message).toBe(`instance 7 of class ${CAR} is already used by segment ${b.segmentId}`);
    expect(ruleError(() => t.add({ classId: CAR, instance: 1 })).code).toBe("duplicate_instance");
    expect(ruleError(() => t.add({ classId: CAR, instance: 0 })).code).toBe("bad_instance");
    // An attribute edit keeps the instance; a failed edit changes nothing.
    expect(t.update(a.segmentId, { attributes: { occluded: true } }).after!.instance).toBe(1);
    expect(t.get(a.segmentId)!.attributes).toEqual({ occluded: true });
  });

  test("changing class re-applies the rules", () => {
    const t = table();
    t.add({ classId: SKY });
    const car = t.add({ classId: CAR }).after!;
    t.add({ classId: PERSON });
    expect(t.update(car.segmentId, { classId: PERSON }).after!.instance).toBe(2);
    expect(t.update(car.segmentId, { classId: ROAD }).after!.instance).toBeNull();
    expect(ruleError(() => t.update(car.segmentId, { classId: SKY })).code).toBe("duplicate_stuff_segment");
    expect(ruleError(() => t.update(999, { classId: SKY })).code).toBe("unknown_segment");
    expect(ruleError(() => t.add({ classId: 42 })).code).toBe("unknown_class");
  });

  test("segment ids are never reused in a session", () => {
    const t = table();
    t.load([serverRow(5, CAR, 1)]);
    const a = t.add({ classId: CAR }).after!;
    expect(a.segmentId).toBe(6);
    t.remove(6);
    expect(t.add({ classId: CAR }).after!.segmentId).toBe(7);
    expect(t.nextSegmentId(100)).toBe(100);
    expect(ruleError(() => t.add({ classId: CAR, segmentId: 5 })).code).toBe("duplicate_segment");
    expect(ruleError(() => t.add({ classId: CAR, segmentId: 2 ** 32 })).code).toBe("bad_segment_id");
  });

  test("undo records replay states, indexes follow", () => {
    const t = table();
    const add = t.add({ classId: CAR });
    const edit = t.update(add.segmentId, { instance: 4 });
    t.applyChanges([add, edit], "undo");
    expect(t.size).toBe(0);
    t.applyChanges([add, edit], "redo");
    expect(t.get(add.segmentId)!.instance).toBe(4);
    expect(ruleError(() => t.add({ classId: CAR, instance: 4 })).code).toBe("duplicate_instance");
    t.applyChanges([edit], "undo");
    expect(t.add({ classId: CAR, instance: 4 }).after!.instance).toBe(4);
  });
});

describe("autosave bookkeeping", () => {
  test("loaded rows are clean; adds, edits and deletes are what a save sends", () => {
    const t = table();
    t.load([serverRow(1, CAR, 1), serverRow(2, SKY, null), serverRow(3, PERSON, 1)]);
    expect(t.dirtyRows()).toEqual([]);
    expect(t.deletedIds()).toEqual([]);
    t.update(1, { score: 0.5 });
    t.remove(2);
    t.add({ classId: ROAD, rings: [[[0, 0], [4, 0], [4, 4]]] });
    const snapshot = t.saveSnapshot();
    expect(snapshot.rows).toEqual([
      { segment_id: 1, class_id: CAR, instance: 1, attributes: {}, source: "manual", score: 0.5, rings: null },
      { segment_id: 4, class_id: ROAD, instance: null, attributes: {}, source: "manual", score: null, rings: [[[0, 0], [4, 0], [4, 4]]] },
    ]);
    expect(snapshot.deletedIds).toEqual([2]);
    expect(t.get(1)!.reviewState).toBe("pending"); // like the server: an edit goes back to review
    t.markSaved(snapshot, [{ ...serverRow(4, ROAD, null), area: 8, bbox: [0, 0, 4, 4], review_state: "pending" }]);
    expect(t.dirtyRows()).toEqual([]);
    expect(t.deletedIds()).toEqual([]);
    expect(t.get(4)!.area).toBe(8);
  });

  test("rows edited, deleted or restored while a save is in flight stay dirty", () => {
    const t = table();
    t.load([serverRow(1, CAR, 1), serverRow(2, CAR, 2)]);
    const a = t.add({ classId: CAR }).after!; // 3
    t.update(1, { score: 0.1 });
    const removal = t.remove(2);
    const snapshot = t.saveSnapshot();
    // During the request:
    t.update(1, { score: 0.9 });
    t.remove(a.segmentId);
    t.applyChanges([removal], "undo");
    t.markSaved(snapshot, [{ ...serverRow(1, CAR, 1), score: 0.1 }]);
    expect(t.get(1)!.score).toBe(0.9); // the server's older copy does not overwrite a newer edit
    expect(t.dirtyRows().map((r) => r.segmentId)).toEqual([1, 2]); // 2 was deleted on the server: re-create
    expect(t.deletedIds()).toEqual([a.segmentId]); // created by the save, deleted since
  });

  test("rows the server dropped for having no pixel leave the table, unless edited since", () => {
    const t = table();
    t.load([serverRow(1, CAR, 1), serverRow(2, CAR, 2)]);
    const fresh = t.add({ classId: CAR }).after!; // 3, sent without pixels
    t.update(2, { score: 0.3 });
    const snapshot = t.saveSnapshot();
    t.update(2, { score: 0.4 }); // edited while the save was in flight
    const dropped = t.markSaved(snapshot, [], [1, 2, fresh.segmentId]);
    expect(dropped).toEqual([1, fresh.segmentId]);
    expect(t.has(1)).toBe(false);
    expect(t.has(fresh.segmentId)).toBe(false);
    // Dropped on the server already: nothing to delete there.
    expect(t.deletedIds()).toEqual([]);
    // Row 2 changed since: it stays and is sent again (as a new row: the server no longer has it).
    expect(t.dirtyRows().map((r) => r.segmentId)).toEqual([2]);
  });

  test("a failed save leaves everything to send again", () => {
    const t = table();
    t.add({ classId: SKY });
    const first = t.saveSnapshot();
    expect(t.saveSnapshot()).toEqual(first);
  });

  test("stats from the map are not edits", () => {
    const t = table();
    t.load([serverRow(1, CAR, 1)]);
    t.setStats(new Map([[1, { area: 99, bbox: [1, 2, 3, 4] as [number, number, number, number] }]]));
    expect(t.get(1)!.area).toBe(99);
    expect(t.get(1)!.bbox).toEqual([1, 2, 3, 4]);
    expect(t.dirtyRows()).toEqual([]);
    t.setStats(new Map());
    expect(t.get(1)!.bbox).toEqual([]);
  });
});
