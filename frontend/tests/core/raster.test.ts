import { describe, expect, test } from "vitest";

import {
  type RegionMask,
  brushStamp,
  brushStroke,
  cropToContent,
  maskArea,
  maskFromPredicate,
  maskHas,
  maskSubtract,
  maskUnion,
  rasterizeRings,
} from "../../src/core/raster";
import { type GoldenPolygon, maskFromRuns, readJson, sameArray } from "./golden";

const cases = readJson<{ cases: GoldenPolygon[] }>("polygons.json").cases;

/** A region mask expanded to a full width x height row-major 0/1 array. */
function full(mask: RegionMask, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if (mask.data[y * mask.width + x]) out[(mask.y0 + y) * width + mask.x0 + x] = 1;
    }
  }
  return out;
}

/** Text picture of a mask, so a failing comparison is readable. */
function picture(data: Uint8Array, width: number): string[] {
  const rows = [];
  for (let i = 0; i < data.length; i += width) rows.push([...data.subarray(i, i + width)].map((v) => (v ? "#" : ".")).join(""));
  return rows;
}

function isTight(mask: RegionMask): boolean {
  return mask.width === 0 || cropToContent(mask) === mask;
}

describe("rasterizeRings matches Python's rasterize_rings pixel for pixel", () => {
  test("the golden set covers the tricky cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(12);
    expect(cases.find((c) => c.name === "random_star_200")!.rings[0]).toHaveLength(200);
  });

  test.each(cases.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const mask = rasterizeRings(c.rings, c.width, c.height);
    const expected = maskFromRuns(c.runs, c.width * c.height);
    expect(picture(full(mask, c.width, c.height), c.width)).toEqual(picture(expected, c.width));
    expect(maskArea(mask)).toBe(c.area);
    expect(isTight(mask)).toBe(true);
  });

  test.each(cases.map((c) => [c.name, c] as const))("a bbox gives the same pixels cropped: %s", (_, c) => {
    const expected = maskFromRuns(c.runs, c.width * c.height);
    const hw = Math.floor(c.width / 2);
    const hh = Math.floor(c.height / 3);
    for (const box of [[0, 0, hw, hh], [hw, hh, c.width - hw, c.height - hh], [1, 2, 3, 4]] as const) {
      const mask = rasterizeRings(c.rings, c.width, c.height, [...box]);
      for (let y = 0; y < c.height; y++) {
        for (let x = 0; x < c.width; x++) {
          const inBox = x >= box[0] && y >= box[1] && x < box[0] + box[2] && y < box[1] + box[3];
          expect(maskHas(mask, x, y)).toBe(inBox && expected[y * c.width + x] === 1);
        }
      }
    }
  });

  test("reversing a ring or its start point changes nothing", () => {
    for (const c of cases.filter((k) => k.rings.length > 0)) {
      const flipped = c.rings.map((ring) => [...ring.slice(1), ring[0]].reverse());
      const a = full(rasterizeRings(c.rings, c.width, c.height), c.width, c.height);
      const b = full(rasterizeRings(flipped, c.width, c.height), c.width, c.height);
      expect(sameArray(a, b), c.name).toBe(true);
    }
  });

  test("invalid rings are rejected like in Python", () => {
    expect(() => rasterizeRings([[[0, 0], [1, 1]]], 4, 4)).toThrow(/at least 3/);
    expect(() => rasterizeRings([[[0, 0], [1, NaN], [2, 0]]], 4, 4)).toThrow(/non-finite/);
    expect(() => rasterizeRings([[[0, 0], [2 ** 41, 1], [2, 0]]], 4, 4)).toThrow(/out-of-range/);
  });
});

describe("brush", () => {
  const W = 64;
  const H = 48;

  test("a dab is exactly the pixels whose centre is within the radius", () => {
    for (const [cx, cy, r] of [[10, 10, 3], [10.5, 10.5, 3], [0.2, 47.9, 5.5], [30.3, 20.7, 0.4], [63, 0, 9]]) {
      const mask = brushStamp(cx, cy, r, W, H);
      const expected = maskFromPredicate([0, 0, W, H], (x, y) => (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= r * r);
      expect(mask).toEqual(expected);
    }
  });

  test("a dab centred on a pixel centre is symmetric", () => {
    const mask = brushStamp(20.5, 20.5, 6.3, W, H);
    const { x0, y0, width, height, data } = mask;
    expect(width).toBe(height);
    expect(x0 + (width - 1) / 2).toBe(20);
    expect(y0 + (height - 1) / 2).toBe(20);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = data[y * width + x];
        expect(data[y * width + (width - 1 - x)]).toBe(v);
        expect(data[(height - 1 - y) * width + x]).toBe(v);
        expect(data[x * width + y]).toBe(v);
      }
    }
  });

  test("a radius-0.5 dab on a pixel centre is that pixel; zero area when between centres", () => {
    expect(maskArea(brushStamp(3.5, 4.5, 0.5, W, H))).toBe(1);
    expect(maskArea(brushStamp(3, 4, 0.4, W, H))).toBe(0);
  });

  test("a stroke covers the dabs at its points and equals the capsule rule", () => {
    const points: [number, number][] = [[5.2, 6.1], [40.7, 30.3], [12.4, 44.9], [60, 2]];
    const r = 3.7;
    const stroke = brushStroke(points, r, W, H);
    for (const [x, y] of points) {
      const dab = brushStamp(x, y, r, W, H);
      expect(maskArea(maskSubtract(dab, stroke))).toBe(0);
    }
    // Brute force: distance from the centre to the polyline, in exact-enough float arithmetic.
    const distance2 = (px: number, py: number) => {
      let best = Infinity;
      for (let i = 1; i < points.length; i++) {
        const [ax, ay] = points[i - 1];
        const [bx, by] = points[i];
        const t = Math.max(0, Math.min(1, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)));
        best = Math.min(best, (px - ax - t * (bx - ax)) ** 2 + (py - ay - t * (by - ay)) ** 2);
      }
      return best;
    };
    let differing = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const d2 = distance2(x + 0.5, y + 0.5);
        if (Math.abs(d2 - r * r) < 1e-9) continue; // on the rim: rounding decides, either is fine
        if (maskHas(stroke, x, y) !== d2 <= r * r) differing++;
      }
    }
    expect(differing).toBe(0);
  });

  test("a stroke and its reverse cover the same pixels", () => {
    const points: [number, number][] = [[1.1, 2.2], [33.3, 17.7], [33.3, 40.1], [2.5, 40.5], [50.25, 3.75]];
    for (const r of [0.5, 1, 2.5, 7.77]) {
      expect(brushStroke([...points].reverse(), r, W, H)).toEqual(brushStroke(points, r, W, H));
    }
  });

  test("a fast stroke leaves no gaps", () => {
    const stroke = brushStroke([[2.5, 2.5], [61.5, 45.5]], 1, W, H);
    for (let y = stroke.y0; y < stroke.y0 + stroke.height; y++) {
      let any = false;
      for (let x = stroke.x0; x < stroke.x0 + stroke.width; x++) any ||= maskHas(stroke, x, y);
      expect(any).toBe(true);
    }
  });

  test("strokes are clipped to the image", () => {
    const stroke = brushStroke([[-10, -10], [-2, 5]], 4, W, H);
    expect(stroke.x0).toBe(0);
    expect(stroke.y0).toBeGreaterThanOrEqual(0);
    expect(brushStroke([[-100, -100]], 4, W, H).width).toBe(0);
    expect(brushStroke([], 4, W, H).width).toBe(0);
  });
});

describe("mask helpers", () => {
  test("union, subtract and predicate masks are tight and correct", () => {
    const a = maskFromPredicate([0, 0, 10, 10], (x, y) => x < 4 && y < 3);
    const b = maskFromPredicate([0, 0, 10, 10], (x, y) => x === 8 && y === 9);
    expect([a.x0, a.y0, a.width, a.height]).toEqual([0, 0, 4, 3]);
    const u = maskUnion(a, b);
    expect([u.x0, u.y0, u.width, u.height, maskArea(u)]).toEqual([0, 0, 9, 10, 13]);
    const d = maskSubtract(u, a);
    expect([d.x0, d.y0, d.width, d.height, maskArea(d)]).toEqual([8, 9, 1, 1, 1]);
    expect(maskUnion().width).toBe(0);
    expect(maskArea(maskSubtract(a, a))).toBe(0);
  });
});
