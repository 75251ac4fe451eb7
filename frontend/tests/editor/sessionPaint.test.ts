import { describe, expect, it } from "vitest";
import { maskFromPredicate } from "../../src/core/raster";
import { EditorSession } from "../../src/editor/session";

function session(kind: "thing" | "stuff") {
  const data = {
    image: { id: 1, width: 40, height: 30 },
    project: { id: 1 },
    classes: [{ id: 7, name: "sky", kind, color: "#00ffff" }],
    annotation: { id: 1, version: 0, tile_size: 512, tiles: [], segments: [] },
  };
  return new EditorSession(data as never);
}

const square: [number, number][] = [[2, 2], [12, 2], [12, 12], [2, 12]];

describe("painting a model's mask", () => {
  it("into a stuff class's polygon segment makes it a pixel segment, so editing the polygon cannot erase it", () => {
    const s = session("stuff");
    const id = s.commitPolygon([square]);
    expect(s.table.get(id)!.rings).not.toBeNull();
    s.activeSegment = null;
    const mask = maskFromPredicate([20, 5, 10, 10], () => true);
    const painted = s.paintModelMask(mask, { label: "SAM mask", source: "sam", score: 0.9, addTo: null });
    expect(painted).toBe(id); // the class's one stuff segment
    expect(s.table.get(id)!.rings).toBeNull();
    expect(s.map.get(25, 10)).toBe(id);
    s.history.undo();
    expect(s.table.get(id)!.rings).not.toBeNull(); // one undo step restores pixels and rings together
    expect(s.map.get(25, 10)).toBe(0);
  });

  it("as a new thing segment records the model's source and score", () => {
    const s = session("thing");
    const mask = maskFromPredicate([1, 1, 4, 4], () => true);
    const id = s.paintModelMask(mask, { label: "SAM mask", source: "sam", score: 0.5, addTo: null })!;
    expect(s.table.get(id)).toMatchObject({ source: "sam", score: 0.5, rings: null });
  });
});
