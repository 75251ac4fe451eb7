import { describe, expect, test } from "vitest";

import { type RegionMask, maskArea, maskFromPredicate, rasterizeRings } from "../../src/core/raster";
import { maskToRings, ringPoints, ringsDescribe } from "../../src/core/trace";
import { type GoldenPolygon, readJson } from "./golden";

const cases = readJson<{ cases: GoldenPolygon[] }>("polygons.json").cases;

function mask(rows: number[][], x0 = 0, y0 = 0): RegionMask {
  return { x0, y0, width: rows[0].length, height: rows.length, data: Uint8Array.from(rows.flat()) };
}

function same(a: RegionMask, b: RegionMask): boolean {
  return a.x0 === b.x0 && a.y0 === b.y0 && a.width === b.width && a.height === b.height
    && a.data.every((v, i) => v === b.data[i]);
}

/** A small deterministic generator, so the random masks are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("maskToRings gives Python's mask_to_rings rings", () => {
  // Expected values printed by labeling.masks.polygons.mask_to_rings for the same masks at offset (10, 20).
  test("pixels touching at a corner are two rings", () => {
    expect(maskToRings(mask([[1, 0], [0, 1]], 10, 20))).toEqual([
      [[10, 20], [11, 20], [11, 21], [10, 21]],
      [[11, 21], [12, 21], [12, 22], [11, 22]],
    ]);
  });

  test("a hole is a ring of negative area, after the outer ring", () => {
    expect(maskToRings(mask([[1, 1, 1], [1, 0, 1], [1, 1, 1]], 10, 20))).toEqual([
      [[10, 20], [13, 20], [13, 23], [10, 23]],
      [[11, 21], [11, 22], [12, 22], [12, 21]],
    ]);
  });

  test("no collinear points; the ring starts top-most, then left-most", () => {
    expect(maskToRings(mask([[0, 1, 1, 0], [1, 1, 1, 1], [0, 1, 0, 0]], 10, 20))).toEqual([
      [[11, 20], [13, 20], [13, 21], [14, 21], [14, 22], [12, 22], [12, 23], [11, 23], [11, 22], [10, 22], [10, 21], [11, 21]],
    ]);
  });

  test("an empty mask has no rings", () => {
    expect(maskToRings({ x0: 0, y0: 0, width: 0, height: 0, data: new Uint8Array(0) })).toEqual([]);
  });
});

describe("rasterising the traced rings gives the mask back exactly", () => {
  test.each(cases.filter((c) => c.area > 0).map((c) => [c.name, c] as const))("golden polygon %s", (_, c) => {
    const original = rasterizeRings(c.rings, c.width, c.height);
    const rings = maskToRings(original);
    expect(same(rasterizeRings(rings, c.width, c.height), original)).toBe(true);
    expect(ringsDescribe(rings, original, c.width, c.height)).toBe(true);
  });

  test("random masks, noisy and sparse", () => {
    const random = lcg(7);
    for (let n = 0; n < 200; n++) {
      const w = 1 + Math.floor(random() * 20);
      const h = 1 + Math.floor(random() * 20);
      const p = random();
      const m = maskFromPredicate([3, 5, w, h], () => random() < p);
      if (m.width === 0) continue;
      const rings = maskToRings(m);
      expect(same(rasterizeRings(rings, 40, 40), m)).toBe(true);
      expect(ringPoints(rings)).toBe(rings.reduce((k, r) => k + r.length, 0));
    }
  });
});

describe("ringsDescribe", () => {
  test("tells stale rings from exact ones", () => {
    const square = [[[2, 2], [12, 2], [12, 12], [2, 12]]];
    const pixels = rasterizeRings(square, 30, 30);
    expect(maskArea(pixels)).toBe(100);
    expect(ringsDescribe(square, pixels, 30, 30)).toBe(true);
    const bitten = maskFromPredicate([2, 2, 10, 10], (x, y) => !(x < 5 && y < 5));
    expect(ringsDescribe(square, bitten, 30, 30)).toBe(false);
    expect(ringsDescribe(maskToRings(bitten), bitten, 30, 30)).toBe(true);
  });
});
