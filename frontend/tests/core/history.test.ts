import { describe, expect, test } from "vitest";

import { History } from "../../src/core/history";
import { ChangeRecorder, LabelMap } from "../../src/core/labelMap";
import { brushStamp, brushStroke } from "../../src/core/raster";
import { SegmentTable } from "../../src/core/segments";
import { sameArray } from "./golden";

function setup(maxBytes?: number) {
  const map = new LabelMap(64, 64, 32);
  const table = new SegmentTable([
    { id: 1, kind: "thing" },
    { id: 2, kind: "stuff" },
  ]);
  const history = new History({ map, table }, { maxBytes });
  return { map, table, history };
}

describe("History", () => {
  test("undo and redo restore map and table together", () => {
    const { map, table, history } = setup();
    const row = table.add({ classId: 1 });
    const tiles = map.paint(brushStamp(20, 20, 6, 64, 64), row.segmentId);
    history.push({ label: "Brush", tiles, rows: [row] });
    const painted = map.toArray();
    expect([history.canUndo, history.canRedo, history.undoLabel]).toEqual([true, false, "Brush"]);
    history.undo();
    expect(map.segmentStats().size).toBe(0);
    expect(table.size).toBe(0);
    expect([history.canUndo, history.canRedo, history.redoLabel]).toEqual([false, true, "Brush"]);
    history.redo();
    expect(sameArray(map.toArray(), painted)).toBe(true);
    expect(table.get(row.segmentId)!.instance).toBe(1);
    expect(history.undo()).toBe(true);
    expect(history.undo()).toBe(false);
  });

  test("a new edit clears redo", () => {
    const { map, history } = setup();
    history.push({ label: "a", tiles: map.paint(brushStamp(5, 5, 3, 64, 64), 1) });
    history.undo();
    history.push({ label: "b", tiles: map.paint(brushStamp(50, 50, 3, 64, 64), 2) });
    expect(history.canRedo).toBe(false);
    expect(history.undoDepth).toBe(1);
  });

  test("a group of dabs is one step keeping the first before and the last after", () => {
    const { map, table, history } = setup();
    history.push({ label: "Fill", tiles: map.paint(brushStamp(32, 32, 40, 64, 64), 9) });
    const start = map.toArray();
    history.group("Brush stroke", () => {
      const row = table.add({ classId: 2 });
      history.push({ label: "dab", rows: [row] });
      for (let i = 0; i < 40; i++) {
        history.push({ label: "dab", tiles: map.paint(brushStamp(4 + i * 1.4, 10 + i, 3, 64, 64), row.segmentId) });
      }
    });
    expect(history.undoDepth).toBe(2);
    expect(history.undoLabel).toBe("Brush stroke");
    // One before and one after copy per touched tile, not two per dab.
    expect(history.bytes).toBeLessThan(2 * 4 * 32 * 32 * 4 + 4 * 32 * 32 * 4 * 2 + 4096);
    const end = map.toArray();
    history.undo();
    expect(sameArray(map.toArray(), start)).toBe(true);
    expect(table.size).toBe(0);
    history.redo();
    expect(sameArray(map.toArray(), end)).toBe(true);
    expect(table.size).toBe(1);
  });

  test("a recorder-based stroke and nested groups are single steps; empty groups leave nothing", () => {
    const { map, history } = setup();
    history.beginGroup("outer");
    history.beginGroup("inner");
    const recorder = new ChangeRecorder(map);
    map.paint(brushStroke([[2, 2], [60, 60]], 3, 64, 64), 3, { recorder });
    history.push({ label: "stroke", tiles: recorder.finish() });
    history.endGroup();
    history.push({ label: "more", tiles: map.paint(brushStamp(60, 5, 2, 64, 64), 4) });
    history.endGroup();
    expect(history.undoDepth).toBe(1);
    expect(history.undoLabel).toBe("outer");
    history.group("nothing", () => undefined);
    expect(history.undoDepth).toBe(1);
    expect(() => history.endGroup()).toThrow();
  });

  test("rows created and deleted inside a group vanish from the step", () => {
    const { table, history } = setup();
    history.group("temp", () => {
      const row = table.add({ classId: 1 });
      history.push({ label: "add", rows: [row] });
      history.push({ label: "remove", rows: [table.remove(row.segmentId)] });
    });
    expect(history.undoDepth).toBe(0);
  });

  test("undo in the middle of a gesture ends the gesture first", () => {
    const { map, history } = setup();
    history.beginGroup("stroke");
    history.push({ label: "dab", tiles: map.paint(brushStamp(10, 10, 3, 64, 64), 1) });
    expect(history.undo()).toBe(true);
    expect(map.segmentStats().size).toBe(0);
    history.endGroup(); // the tool's own end of the gesture, after the fact, is harmless
    expect(history.canRedo).toBe(true);
    expect(() => history.endGroup()).toThrow(/without beginGroup/);
  });

  test("the memory cap drops the oldest steps but keeps the newest", () => {
    const tileBytes = 32 * 32 * 4;
    const { map, history } = setup(5 * tileBytes);
    for (let i = 0; i < 10; i++) {
      history.push({ label: `edit ${i}`, tiles: map.paint({ x0: 0, y0: 0, width: 1, height: 1, data: new Uint8Array([1]) }, i + 1) });
    }
    // Each step holds a before and an after copy of one tile (the first has no before).
    expect(history.bytes).toBeLessThanOrEqual(5 * tileBytes);
    expect(history.undoDepth).toBe(2);
    let undone = 0;
    while (history.undo()) undone++;
    expect(undone).toBe(2);
    expect(map.get(0, 0)).toBe(8);
    // A single step larger than the cap is still kept.
    const small = setup(100);
    small.history.push({ label: "big", tiles: small.map.paint(brushStamp(32, 32, 50, 64, 64), 1) });
    expect(small.history.undoDepth).toBe(1);
  });

  test("maxSteps bounds the depth", () => {
    const map = new LabelMap(8, 8, 8);
    const history = new History({ map }, { maxSteps: 3 });
    for (let i = 0; i < 6; i++) history.push({ label: String(i), tiles: map.paint(brushStamp(4, 4, 2, 8, 8), i + 1) });
    expect(history.undoDepth).toBe(3);
  });

  test("listeners hear every change and can unsubscribe; closures run in order", () => {
    const { map, history } = setup();
    const events: string[] = [];
    const off = history.onChange((h) => events.push(`${h.canUndo}/${h.canRedo}`));
    let selection = "none";
    history.group("select and paint", () => {
      history.push({ label: "paint", tiles: map.paint(brushStamp(3, 3, 2, 64, 64), 1), undo: () => events.push("undo-a"), redo: () => events.push("redo-a") });
      selection = "1";
      history.push({ label: "select", undo: () => { selection = "none"; events.push("undo-b"); }, redo: () => { selection = "1"; events.push("redo-b"); } });
    });
    history.undo();
    expect(selection).toBe("none");
    history.redo();
    expect(selection).toBe("1");
    off();
    history.clear();
    expect(events).toEqual(["true/false", "undo-b", "undo-a", "false/true", "redo-a", "redo-b", "true/false"]);
  });
});
