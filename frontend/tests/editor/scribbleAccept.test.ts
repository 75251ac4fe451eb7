import { describe, expect, it } from "vitest";
import { type ScribbleProposal, acceptPlan } from "../../src/core/scribbleProposal";
import { EditorSession } from "../../src/editor/session";

const SKY = 7; // stuff
const CAR = 8; // thing

function session() {
  const data = {
    image: { id: 1, width: 12, height: 6 },
    project: { id: 1 },
    classes: [{ id: SKY, name: "sky", kind: "stuff", color: "#00ffff" }, { id: CAR, name: "car", kind: "thing", color: "#ff0000" }],
    annotation: { id: 1, version: 0, tile_size: 512, tiles: [], segments: [] },
  };
  return new EditorSession(data as never);
}

/** Left third sky, two car blobs on the right, Background in the middle columns. */
function proposal(): ScribbleProposal {
  const rows = [
    "ssssbbbbcc.c",
    "ssssbbbbcc.c",
    "ssssbbbb...c",
    "ssssbbbb....",
    "ssssbbbbcccc",
    "ssssbbbbcccc",
  ];
  const code: Record<string, number> = { ".": 0, s: 1, c: 2, b: 3 };
  const labels = new Uint8Array(72);
  rows.forEach((row, y) => [...row].forEach((ch, x) => (labels[y * 12 + x] = code[ch])));
  return { region: [0, 0, 12, 6], resolution: "full", classes: [SKY, CAR, null], width: 12, height: 6, labels,
    confidence: new Uint8Array(72).fill(204) };
}

function accept(s: EditorSession, what: Parameters<typeof acceptPlan>[1] = { kind: "all" }) {
  const parts = acceptPlan(proposal(), what, {
    kindOf: (id) => s.table.classKind(id), keep: (id, x, y) => s.keepsFor(id, s.map.get(x, y)),
  });
  return s.paintClassParts(parts, { label: "Scribble proposal", source: "model" });
}

describe("accepting a scribble proposal", () => {
  it("paints stuff into the class's one segment and each thing piece as a new segment, in one undo step", () => {
    const s = session();
    const painted = accept(s);
    expect(painted).toHaveLength(4); // sky + 3 car pieces
    const rows = s.table.all();
    expect(rows.filter((r) => r.classId === SKY)).toHaveLength(1);
    expect(rows.filter((r) => r.classId === CAR)).toHaveLength(3);
    expect(rows.every((r) => r.source === "model")).toBe(true);
    expect(rows[0].score).toBeCloseTo(0.8);
    expect(s.map.get(5, 3)).toBe(0); // Background is never painted
    expect(s.map.get(10, 0)).toBe(0); // unlabelled neither
    expect(s.history.undoLabel).toBe("Scribble proposal");
    s.undo();
    expect(s.table.size).toBe(0);
    expect(s.map.toArray().every((v) => v === 0)).toBe(true);
  });

  it("merges stuff into the existing stuff segment", () => {
    const s = session();
    s.setCurrentClass(SKY);
    s.beginStroke(10, 3, 1, false);
    const sky = s.endStroke().changed && s.activeSegment!;
    accept(s, { kind: "class", classId: SKY });
    expect(s.table.all().map((r) => r.segmentId)).toEqual([sky]);
    expect(s.map.get(0, 0)).toBe(sky);
    expect(s.map.get(10, 3)).toBe(sky);
  });

  it("respects Protect existing: other segments keep their pixels, and a kept cut splits a thing piece", () => {
    const s = session();
    s.setCurrentClass(SKY);
    // A sky column at x = 9 and a one-pixel sky dot inside the sky proposal.
    s.beginStroke(9.5, 0.5, 0.5, false);
    for (let y = 1; y < 6; y++) s.extendStroke(9.5, y + 0.5);
    s.endStroke();
    const other = s.activeSegment!;
    s.setCurrentClass(CAR);
    s.protectExisting = true;
    accept(s, { kind: "class", classId: CAR });
    for (let y = 0; y < 6; y++) expect(s.map.get(9, y)).toBe(other);
    // The bottom car blob (x 8..11, y 4..5) is cut at x = 9: x = 8 and x = 10..11 become separate instances.
    const bottomLeft = s.map.get(8, 4);
    const bottomRight = s.map.get(10, 4);
    expect(bottomLeft).not.toBe(0);
    expect(bottomRight).not.toBe(0);
    expect(bottomLeft).not.toBe(bottomRight);
    expect(new Set([bottomLeft, bottomRight, s.map.get(11, 0), s.map.get(8, 0)]).size).toBe(4);
    expect(s.table.all().filter((r) => r.classId === CAR)).toHaveLength(4);
  });

  it("paints nothing and records no step when every pixel is kept", () => {
    const s = session();
    s.setCurrentClass(CAR);
    s.beginStroke(0, 0, 30, false);
    s.endStroke();
    const steps = s.history.undoLabel;
    s.protectExisting = true;
    expect(accept(s, { kind: "class", classId: CAR })).toEqual([]);
    expect(s.history.undoLabel).toBe(steps);
    expect(s.table.size).toBe(1);
  });
});
