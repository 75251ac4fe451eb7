// The polygon tool's double click (issue 16 item 16): it opens the segment under the pointer for vertex
// editing instead of starting a polygon of its two clicks, and a polygon covering no pixel is never committed.
import { describe, expect, it } from "vitest";
import type { Overlay } from "../../src/canvas/overlay";
import { maskArea, rasterizeRings } from "../../src/core/raster";
import { EditorSession } from "../../src/editor/session";
import { PolygonTool } from "../../src/tools/polygon";
import type { ToolContext } from "../../src/tools/tool";

function setup() {
  const data = {
    image: { id: 1, width: 400, height: 300 },
    project: { id: 1 },
    classes: [{ id: 7, name: "car", kind: "thing", color: "#ff0000" }],
    annotation: { id: 1, version: 0, tile_size: 128, tiles: [], segments: [] },
  };
  const session = new EditorSession(data as never);
  const messages: string[] = [];
  const ctx: ToolContext = {
    session,
    overlay: {} as Overlay,
    viewport: () => ({ scale: 1, x: 0, y: 0 }),
    brushRadius: () => 10,
    redraw: () => {},
    notify: (message) => messages.push(message),
    panBy: () => {},
  };
  return { session, tool: new PolygonTool(ctx), messages };
}

const left = { button: 0, altKey: false } as PointerEvent;
const key = (k: string) => ({ key: k }) as KeyboardEvent;

/** What the browser sends for a double click: two clicks, then dblclick. */
function doubleClick(tool: PolygonTool, x: number, y: number) {
  for (let i = 0; i < 2; i++) {
    tool.pointerDown({ x, y }, left);
    tool.pointerUp();
  }
  tool.doubleClick({ x, y });
}

function drawPolygon(tool: PolygonTool, points: [number, number][]) {
  for (const [x, y] of points) {
    tool.pointerDown({ x, y }, left);
    tool.pointerUp();
  }
  tool.key(key("Enter"));
}

function drag(tool: PolygonTool, from: [number, number], to: [number, number]) {
  tool.pointerDown({ x: from[0], y: from[1] }, left);
  tool.pointerMove({ x: to[0], y: to[1] });
  tool.pointerUp();
}

const area = (s: EditorSession, id: number) => s.map.segmentStats().get(id)?.area ?? 0;

describe("double click with the polygon tool", () => {
  it("opens the polygon under the pointer for vertex editing, not a new polygon", () => {
    const { session, tool } = setup();
    drawPolygon(tool, [[100, 100], [300, 100], [300, 250], [100, 250]]);
    const id = session.activeSegment!;
    session.select(null);
    const steps = session.history.undoDepth;
    doubleClick(tool, 200, 180);
    expect(tool.hint()).toMatch(/^Enter: commit/); // editing vertices, not drawing
    expect(session.activeSegment).toBe(id);
    // Enter with nothing moved: no undo step, no new segment.
    tool.key(key("Enter"));
    expect(tool.busy).toBe(false);
    expect(session.history.undoDepth).toBe(steps);
    expect(session.table.size).toBe(1);
    // Open again and drag the corner (300, 250) to (350, 250).
    doubleClick(tool, 200, 180);
    drag(tool, [300, 250], [350, 250]);
    tool.key(key("Enter"));
    const triangle = maskArea(rasterizeRings([[[300, 100], [350, 250], [300, 250]]], 400, 300));
    expect(area(session, id)).toBe(30_000 + triangle);
    expect(session.table.size).toBe(1);
  });

  it("opens an erased polygon from its current pixels (the erased part stays erased)", () => {
    const { session, tool } = setup();
    drawPolygon(tool, [[100, 100], [300, 100], [300, 250], [100, 250]]);
    const id = session.activeSegment!;
    session.beginStroke(100, 100, 18, true);
    session.extendStroke(140, 130);
    session.endStroke();
    const erased = area(session, id);
    expect(erased).toBeLessThan(30_000);
    doubleClick(tool, 250, 200);
    drag(tool, [300, 250], [350, 250]);
    tool.key(key("Enter"));
    const triangle = maskArea(rasterizeRings([[[300, 100], [350, 250], [300, 250]]], 400, 300));
    expect(area(session, id)).toBe(erased + triangle);
    expect(session.map.get(105, 105)).toBe(0);
  });

  it("on empty ground leaves one vertex to start a polygon from, not two on one spot", () => {
    const { session, tool } = setup();
    doubleClick(tool, 50, 50);
    expect(tool.busy).toBe(true);
    // Two more clicks close to it and Enter: a sliver with no pixel centre, which is refused.
    drawPolygon(tool, [[50.3, 50.1], [50.1, 50.4]]);
    expect(session.table.size).toBe(0);
    expect(session.history.canUndo).toBe(false);
  });

  it("a polygon covering no pixel centre is not committed and says why", () => {
    const { session, tool, messages } = setup();
    drawPolygon(tool, [[10.1, 10.1], [10.4, 10.1], [10.2, 10.45]]);
    expect(session.table.size).toBe(0);
    expect(messages.at(-1)).toMatch(/covers no pixel centre/);
  });
});
