import { describe, expect, it } from "vitest";
import { maskArea, maskHas } from "../../src/core/raster";
import {
  type AcceptOptions,
  type ScribbleProposal,
  acceptPlan,
  classAt,
  classShares,
  clearAccepted,
  proposalRegion,
  rasterComponents,
  rasterIndexAt,
  regionMaskAt,
  strokeLabels,
  strokePoints,
} from "../../src/core/scribbleProposal";

const SKY = 7; // stuff
const CAR = 8; // thing

/** A proposal from rows of characters: "." unlabelled, "s" sky, "c" car, "b" Background. */
function proposal(rows: string[], region?: [number, number, number, number], confidence = 255): ScribbleProposal {
  const height = rows.length;
  const width = rows[0].length;
  const classes = [SKY, CAR, null];
  const code: Record<string, number> = { ".": 0, s: 1, c: 2, b: 3 };
  const labels = new Uint8Array(width * height);
  rows.forEach((row, y) => [...row].forEach((ch, x) => (labels[y * width + x] = code[ch])));
  return {
    region: region ?? [0, 0, width, height], resolution: "full", classes, width, height, labels,
    confidence: new Uint8Array(width * height).fill(confidence),
  };
}

const kinds: AcceptOptions = { kindOf: (id) => (id === SKY ? "stuff" : "thing") };

describe("reading a proposal", () => {
  it("maps image pixels to raster pixels over its region, at any scale", () => {
    // A 2×2 raster over the 8×4 region at (10, 20): each raster pixel covers 4×2 image pixels.
    const p = proposal(["sc", "bs"], [10, 20, 8, 4]);
    expect(rasterIndexAt(p, 9, 20)).toBe(-1);
    expect(rasterIndexAt(p, 10, 20)).toBe(0);
    expect(rasterIndexAt(p, 13.9, 21.9)).toBe(0);
    expect(rasterIndexAt(p, 14, 21)).toBe(1);
    expect(rasterIndexAt(p, 17, 23)).toBe(3);
    expect(rasterIndexAt(p, 18, 23)).toBe(-1);
    expect(classAt(p, 15, 20)).toBe(CAR);
    expect(classAt(p, 11, 23)).toBeNull(); // Background
    expect(classAt(p, 0, 0)).toBeUndefined();
  });

  it("gives each real class's share, Background left out", () => {
    const p = proposal(["ssbb", "sc.."]);
    expect(classShares(p)).toEqual([{ classId: SKY, share: 3 / 8 }, { classId: CAR, share: 1 / 8 }]);
  });

  it("labels 4-connected pieces of equal label; corners do not connect", () => {
    const p = proposal(["cc.c", "..c.", "cs.."]);
    const { ids, count } = rasterComponents(p);
    expect(count).toBe(5);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[3]).not.toBe(ids[6]); // diagonal neighbours
    expect(ids[2]).toBe(0);
  });
});

describe("the accept plan", () => {
  it("accept all: a stuff class is one part, each 4-connected piece of a thing class a part; Background is left out", () => {
    const p = proposal([
      "ss.cc",
      "ss...",
      "bb.cc",
      "bb.cc",
    ]);
    const parts = acceptPlan(p, { kind: "all" }, kinds);
    expect(parts.map((part) => [part.classId, maskArea(part.mask)])).toEqual([[SKY, 4], [CAR, 2], [CAR, 4]]);
    const [sky, car1, car2] = parts;
    expect(maskHas(sky.mask, 1, 1)).toBe(true);
    expect(maskHas(car1.mask, 3, 0)).toBe(true);
    expect(maskHas(car2.mask, 4, 3)).toBe(true);
    for (const part of parts) for (const [x, y] of [[0, 2], [1, 3]]) expect(maskHas(part.mask, x, y)).toBe(false);
  });

  it("a stuff class split in pieces is still one part (it merges into the class's one segment)", () => {
    const p = proposal(["s.s", "...", "s.s"]);
    const parts = acceptPlan(p, { kind: "all" }, kinds);
    expect(parts).toHaveLength(1);
    expect(maskArea(parts[0].mask)).toBe(4);
  });

  it("accept one class takes only that class", () => {
    const p = proposal(["sc", "sc"]);
    const parts = acceptPlan(p, { kind: "class", classId: CAR }, kinds);
    expect(parts.map((part) => part.classId)).toEqual([CAR]);
    expect(maskArea(parts[0].mask)).toBe(2);
    expect(acceptPlan(p, { kind: "class", classId: 99 }, kinds)).toEqual([]);
  });

  it("accept region takes the connected piece under the point, in image pixels of a coarse raster", () => {
    const p = proposal(["cc.c", "...c"], [100, 50, 8, 4]); // 2×2 image pixels per raster pixel
    const parts = acceptPlan(p, { kind: "region", x: 107, y: 53 }, kinds);
    expect(parts).toHaveLength(1);
    expect(parts[0].mask).toMatchObject({ x0: 106, y0: 50, width: 2, height: 4 });
    expect(maskArea(parts[0].mask)).toBe(8);
    // Background, unlabelled and outside: nothing.
    expect(acceptPlan(proposal(["bc"]), { kind: "region", x: 0, y: 0 }, kinds)).toEqual([]);
    expect(acceptPlan(p, { kind: "region", x: 104, y: 50 }, kinds)).toEqual([]);
    expect(acceptPlan(p, { kind: "region", x: 99, y: 50 }, kinds)).toEqual([]);
  });

  it("leaves out pixels the caller keeps (Protect existing), and a thing piece cut in two becomes two parts", () => {
    const p = proposal(["ccccc", "ccccc"]);
    const keepColumn = { ...kinds, keep: (_classId: number, x: number) => x === 2 };
    const parts = acceptPlan(p, { kind: "all" }, keepColumn);
    expect(parts.map((part) => maskArea(part.mask))).toEqual([4, 4]);
    for (const part of parts) expect(maskHas(part.mask, 2, 0)).toBe(false);
    // The keep test is asked per class (a stuff class's own segment is not protected from it).
    const asked = new Set<number>();
    acceptPlan(proposal(["sc"]), { kind: "all" }, { ...kinds, keep: (id) => (asked.add(id), false) });
    expect([...asked].sort()).toEqual([SKY, CAR]);
  });

  it("drops thing pieces under the minimum area, and scores parts by mean confidence", () => {
    const p = proposal(["c.cc", "..cc"], undefined, 51);
    const parts = acceptPlan(p, { kind: "all" }, { ...kinds, minThingArea: 2 });
    expect(parts).toHaveLength(1);
    expect(maskArea(parts[0].mask)).toBe(4);
    expect(parts[0].score).toBeCloseTo(0.2);
  });

  it("clearing what was accepted hides it from the proposal", () => {
    const p = proposal(["sc.c", "bb.c"]);
    expect(clearAccepted(p, { kind: "region", x: 3, y: 1 })).toBe(2);
    expect(classAt(p, 3, 0)).toBeUndefined();
    expect(classAt(p, 1, 0)).toBe(CAR);
    expect(clearAccepted(p, { kind: "all" })).toBe(2);
    expect(classAt(p, 0, 1)).toBeNull(); // Background stays (it is never accepted)
  });

  it("gives the image mask of the region under the cursor", () => {
    const p = proposal(["cc", "s."], [0, 0, 4, 4]);
    const region = regionMaskAt(p, rasterComponents(p), 3, 1)!;
    expect(region.classId).toBe(CAR);
    expect(region.mask).toMatchObject({ x0: 0, y0: 0, width: 4, height: 2 });
    expect(regionMaskAt(p, rasterComponents(p), 3, 3)).toBeNull();
  });
});

describe("requests", () => {
  it("asks about the visible part of an image over 4 MP only, clipped to the image", () => {
    expect(proposalRegion({ width: 2000, height: 2000 }, { x: -10, y: -10, width: 500, height: 500 })).toBeUndefined();
    expect(proposalRegion({ width: 4000, height: 3000 }, { x: -10.5, y: 100.2, width: 500, height: 400.5 }))
      .toEqual([0, 100, 490, 401]);
    expect(proposalRegion({ width: 4000, height: 3000 }, { x: 5000, y: 0, width: 100, height: 100 }))
      .toEqual([0, 0, 4000, 3000]);
  });

  it("thins stroke points and counts distinct labels", () => {
    expect(strokePoints([[0, 0], [0.2, 0.1], [1.04, 0], [1.5, 0]])).toEqual([[0, 0], [1, 0], [1.5, 0]]);
    expect(strokeLabels([{ classId: 1, radius: 2, points: [] }, { classId: 1, radius: 2, points: [] }])).toBe(1);
    expect(strokeLabels([{ classId: 1, radius: 2, points: [] }, { classId: null, radius: 2, points: [] }])).toBe(2);
  });
});
