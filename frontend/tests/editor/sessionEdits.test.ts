// Issue 16 items 14-16: the eraser under "Protect existing", strokes that change nothing, raster edits of
// polygon segments, and segments left without a pixel.
import { describe, expect, it } from "vitest";
import { maskArea, maskFromPredicate, rasterizeRings } from "../../src/core/raster";
import { SegmentRuleError } from "../../src/core/segments";
import { EditorSession } from "../../src/editor/session";

function session(kind: "thing" | "stuff" = "thing", width = 120, height = 90) {
  const data = {
    image: { id: 1, width, height },
    project: { id: 1 },
    classes: [{ id: 7, name: "car", kind, color: "#ff0000" }],
    annotation: { id: 1, version: 0, tile_size: 64, tiles: [], segments: [] },
  };
  return new EditorSession(data as never);
}

const square = (x: number, y: number, size: number) => [[x, y], [x + size, y], [x + size, y + size], [x, y + size]];

function area(s: EditorSession, id: number): number {
  return s.map.segmentStats().get(id)?.area ?? 0;
}

function erase(s: EditorSession, points: [number, number][], radius: number) {
  s.beginStroke(points[0][0], points[0][1], radius, true);
  for (const [x, y] of points.slice(1)) s.extendStroke(x, y);
  return s.endStroke();
}

function brush(s: EditorSession, points: [number, number][], radius: number) {
  s.beginStroke(points[0][0], points[0][1], radius, false);
  for (const [x, y] of points.slice(1)) s.extendStroke(x, y);
  return s.endStroke();
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

/** Two touching squares: a = 10..40, b = 40..70 (rows 10..40). */
function twoSquares() {
  const s = session();
  const a = s.commitPolygon([square(10, 10, 30)]);
  s.select(null);
  const b = s.commitPolygon([square(40, 10, 30)]);
  return { s, a, b };
}

describe("the eraser with Protect existing", () => {
  it("erases only the selected segment's pixels, leaving its neighbours", () => {
    const { s, a, b } = twoSquares();
    s.protectExisting = true;
    s.select(a);
    const steps = s.history.undoDepth;
    const result = erase(s, [[20, 25], [60, 25]], 4);
    expect(result).toEqual({ changed: true });
    expect(area(s, a)).toBeLessThan(900);
    expect(area(s, b)).toBe(900);
    expect(s.history.undoDepth).toBe(steps + 1);
  });

  it("with no segment selected erases nothing, adds no undo step and says why", () => {
    const { s, a, b } = twoSquares();
    s.protectExisting = true;
    s.select(null);
    const steps = s.history.undoDepth;
    const result = erase(s, [[20, 25], [60, 25]], 4);
    expect(result.changed).toBe(false);
    expect(result.message).toMatch(/erases only the selected segment, and none is selected/);
    expect([area(s, a), area(s, b)]).toEqual([900, 900]);
    expect(s.history.undoDepth).toBe(steps);
    expect(s.table.get(a)!.rings).not.toBeNull(); // nothing changed, so it is still a polygon
  });

  it("off, erases every segment under the stroke", () => {
    const { s, a, b } = twoSquares();
    erase(s, [[20, 25], [60, 25]], 4);
    expect(area(s, a)).toBeLessThan(900);
    expect(area(s, b)).toBeLessThan(900);
  });
});

describe("a stroke that changes no pixel", () => {
  it("adds no undo step and says why (eraser on empty ground, brush inside its own segment)", () => {
    const { s, a } = twoSquares();
    const steps = s.history.undoDepth;
    const nothing = erase(s, [[100, 70], [110, 80]], 3);
    expect(nothing).toEqual({ changed: false, message: "Nothing erased: there is no label under the stroke." });
    s.select(a);
    const inside = brush(s, [[20, 20], [30, 30]], 3);
    expect(inside.changed).toBe(false);
    expect(inside.message).toMatch(/already this segment's/);
    expect(s.history.undoDepth).toBe(steps);
    // The brush did not turn the polygon into pixels either.
    expect(s.table.get(a)!.rings).not.toBeNull();
  });

  it("of a new segment over protected pixels creates no segment", () => {
    const { s } = twoSquares();
    s.protectExisting = true;
    s.select(null);
    const before = s.table.size;
    const result = brush(s, [[25, 25]], 3);
    expect(result.changed).toBe(false);
    expect(result.message).toMatch(/Protect existing keeps paint off/);
    expect(s.table.size).toBe(before);
    expect(s.activeSegment).toBeNull();
  });

  it("over a locked segment says it is locked", () => {
    const { s, a } = twoSquares();
    s.toggleLocked(a);
    const result = erase(s, [[20, 20]], 3);
    expect(result.message).toMatch(/locked or hidden/);
    expect(area(s, a)).toBe(900);
  });
});

describe("a raster edit of a polygon segment", () => {
  it("makes it a pixel segment in the same undo step", () => {
    const { s, a } = twoSquares();
    erase(s, [[10, 10]], 6);
    expect(s.table.get(a)!.rings).toBeNull();
    s.undo();
    expect(s.table.get(a)!.rings).toEqual([square(10, 10, 30)]);
    expect(area(s, a)).toBe(900);
  });

  it("is opened for vertex editing from its current pixels, so an unchanged commit keeps every pixel", () => {
    const s = session("thing", 400, 300);
    const id = s.commitPolygon([[[100, 100], [300, 100], [300, 250], [100, 250]]]);
    expect(area(s, id)).toBe(30_000);
    erase(s, [[100, 100], [140, 130]], 18);
    const erased = area(s, id);
    expect(erased).toBeLessThan(30_000);
    const rings = s.editableRings(id);
    expect(maskArea(rasterizeRings(rings, 400, 300))).toBe(erased);
    s.commitPolygon(rings, id);
    expect(area(s, id)).toBe(erased); // not the old outline's 30,000
    expect(s.map.get(105, 105)).toBe(0); // the erased corner stays erased
    expect(s.table.get(id)!.rings).toEqual(rings);
  });

  it("moving one traced vertex changes only the pixels that vertex moves", () => {
    const s = session("thing", 400, 300);
    const id = s.commitPolygon([[[100, 100], [300, 100], [300, 250], [100, 250]]]);
    erase(s, [[100, 100], [140, 130]], 18);
    const erased = area(s, id);
    const rings = s.editableRings(id).map((ring) => ring.map(([x, y]) => [x, y]));
    const corner = rings[0].findIndex(([x, y]) => x === 300 && y === 250);
    expect(corner).toBeGreaterThanOrEqual(0);
    rings[0][corner] = [350, 250];
    s.commitPolygon(rings, id);
    const triangle = maskArea(rasterizeRings([[[300, 100], [350, 250], [300, 250]]], 400, 300));
    expect(area(s, id)).toBe(erased + triangle);
    expect(s.map.get(105, 105)).toBe(0);
  });

  it("keeps its own rings for editing while they describe its pixels", () => {
    const { s, a } = twoSquares();
    expect(s.editableRings(a)).toEqual([square(10, 10, 30)]);
    // Rings that no longer match the pixels (saved by an older client) are not trusted: the outline is traced.
    s.table.update(a, { rings: [square(10, 10, 50)] });
    expect(s.editableRings(a)).toEqual([square(10, 10, 30)]);
  });

  it("merging into a polygon segment makes it pixels", () => {
    const { s, a, b } = twoSquares();
    s.mergeSegments(a, [b]);
    expect(area(s, a)).toBe(1800);
    expect(s.table.get(a)!.rings).toBeNull();
  });
});

describe("segments never have zero pixels", () => {
  it("a polygon covering no pixel centre is refused: no segment, no undo step", () => {
    const s = session();
    const error = ruleError(() => s.commitPolygon([[[10.1, 10.1], [10.4, 10.1], [10.2, 10.4]]]));
    expect(error.code).toBe("empty_polygon");
    expect(s.table.size).toBe(0);
    expect(s.history.canUndo).toBe(false);
  });

  it("a polygon whose every pixel is protected is refused and leaves nothing behind", () => {
    const { s, a } = twoSquares();
    s.protectExisting = true;
    s.select(null);
    const steps = s.history.undoDepth;
    const error = ruleError(() => s.commitPolygon([square(15, 15, 10)]));
    expect(error.code).toBe("nothing_painted");
    expect(s.table.size).toBe(2);
    expect(s.history.undoDepth).toBe(steps);
    expect(area(s, a)).toBe(900);
  });

  it("an edit that would leave no pixel is refused and changes nothing", () => {
    const { s, a } = twoSquares();
    expect(ruleError(() => s.commitPolygon([[[10.1, 10.1], [10.4, 10.1], [10.2, 10.4]]], a)).code).toBe("empty_polygon");
    expect(area(s, a)).toBe(900);
    expect(s.table.get(a)!.rings).toEqual([square(10, 10, 30)]);
  });

  it("a segment painted over entirely leaves the list in the same undo step", () => {
    const { s, a, b } = twoSquares();
    s.select(a);
    brush(s, [[40, 10], [70, 10], [70, 40], [40, 40], [55, 25]], 20);
    expect(area(s, b)).toBe(0);
    expect(s.table.has(b)).toBe(false);
    expect(s.table.get(a)!.rings).toBeNull();
    s.undo();
    expect(s.table.has(b)).toBe(true);
    expect(area(s, b)).toBe(900);
    s.redo();
    expect(s.table.has(b)).toBe(false);
  });

  it("erasing a segment entirely removes it, and a save then deletes it on the server", () => {
    const s = session();
    s.table.load([{ segment_id: 4, class_id: 7, instance: 1, attributes: {}, source: "manual", score: null, rings: null,
      area: 100, bbox: [0, 0, 10, 10], review_state: "pending" }]);
    s.map.paint(maskFromPredicate([0, 0, 10, 10], () => true), 4);
    s.select(4);
    erase(s, [[0, 0], [10, 0], [10, 10], [0, 10], [5, 5]], 6);
    expect(s.table.has(4)).toBe(false);
    expect(s.activeSegment).toBeNull();
    expect(s.table.saveSnapshot().deletedIds).toEqual([4]);
  });

  it("a polygon or a model's mask over a whole segment removes it", () => {
    const { s, b } = twoSquares();
    s.select(null);
    const c = s.commitPolygon([square(35, 5, 40)]);
    expect(s.table.has(b)).toBe(false);
    const mask = maskFromPredicate([0, 0, 120, 90], () => true);
    const d = s.paintModelMask(mask, { label: "SAM", source: "sam", score: 0.9, addTo: null })!;
    expect(s.table.all().map((r) => r.segmentId)).toEqual([d]);
    expect(s.table.has(c)).toBe(false);
  });
});
