import { describe, expect, it } from "vitest";
import {
  fitImage,
  imageToScreen,
  panBy,
  pyramidLevelFor,
  screenToImage,
  visibleImageRect,
  zoomAt,
  type Viewport,
} from "../../src/canvas/viewport";

const limits = { min: 0.01, max: 64 };

describe("screen ↔ image", () => {
  const v: Viewport = { scale: 2, x: 100, y: -50 };

  it("follows screen = image * scale + offset", () => {
    expect(imageToScreen(v, { x: 10, y: 20 })).toEqual({ x: 120, y: -10 });
    expect(screenToImage(v, { x: 120, y: -10 })).toEqual({ x: 10, y: 20 });
  });

  it("round-trips", () => {
    const p = { x: 1234.5, y: 77.25 };
    const back = screenToImage(v, imageToScreen(v, p));
    expect(back.x).toBeCloseTo(p.x, 9);
    expect(back.y).toBeCloseTo(p.y, 9);
  });
});

describe("zoomAt", () => {
  it("keeps the image point under the cursor fixed", () => {
    const v: Viewport = { scale: 0.5, x: 30, y: 40 };
    const cursor = { x: 400, y: 300 };
    const before = screenToImage(v, cursor);
    const z = zoomAt(v, cursor, 3, limits);
    expect(z.scale).toBe(1.5);
    const after = screenToImage(z, cursor);
    expect(after.x).toBeCloseTo(before.x, 9);
    expect(after.y).toBeCloseTo(before.y, 9);
  });

  it("clamps the scale and still keeps the anchor", () => {
    const v: Viewport = { scale: 50, x: 0, y: 0 };
    const z = zoomAt(v, { x: 10, y: 10 }, 10, limits);
    expect(z.scale).toBe(64);
    expect(screenToImage(z, { x: 10, y: 10 }).x).toBeCloseTo(screenToImage(v, { x: 10, y: 10 }).x, 9);
    expect(zoomAt(v, { x: 0, y: 0 }, 1e-9, limits).scale).toBe(0.01);
  });
});

describe("panBy", () => {
  it("moves the offset only", () => {
    expect(panBy({ scale: 3, x: 1, y: 2 }, 10, -5)).toEqual({ scale: 3, x: 11, y: -3 });
  });
});

describe("fitImage", () => {
  it("fits the limiting side and centres the image", () => {
    const v = fitImage(4000, 2000, 1000, 800, 0);
    expect(v.scale).toBe(0.25);
    expect(imageToScreen(v, { x: 0, y: 0 })).toEqual({ x: 0, y: 150 });
    expect(imageToScreen(v, { x: 4000, y: 2000 })).toEqual({ x: 1000, y: 650 });
  });

  it("leaves the margin free", () => {
    const v = fitImage(1000, 1000, 1280, 800, 20);
    expect(v.scale).toBeCloseTo(760 / 1000, 12);
    expect(imageToScreen(v, { x: 0, y: 0 }).y).toBeCloseTo(20, 9);
    expect(imageToScreen(v, { x: 1000, y: 1000 }).y).toBeCloseTo(780, 9);
  });
});

describe("visibleImageRect", () => {
  it("is the canvas mapped to image space", () => {
    expect(visibleImageRect({ scale: 2, x: -100, y: 50 }, 800, 600)).toEqual({ x: 50, y: -25, width: 400, height: 300 });
  });
});

describe("pyramidLevelFor", () => {
  it("picks the coarsest level still at least as sharp as the screen", () => {
    expect(pyramidLevelFor(1, 8)).toBe(0);
    expect(pyramidLevelFor(4, 8)).toBe(0);
    expect(pyramidLevelFor(0.75, 8)).toBe(0); // level 1 would be 0.5 px per screen px: too coarse
    expect(pyramidLevelFor(0.5, 8)).toBe(1);
    expect(pyramidLevelFor(0.3, 8)).toBe(1);
    expect(pyramidLevelFor(0.25, 8)).toBe(2);
    expect(pyramidLevelFor(0.124, 8)).toBe(3);
  });

  it("accounts for devicePixelRatio", () => {
    expect(pyramidLevelFor(0.5, 8, 2)).toBe(0);
    expect(pyramidLevelFor(0.25, 8, 2)).toBe(1);
    expect(pyramidLevelFor(0.3, 8, 1.5)).toBe(1);
  });

  it("clamps to the levels that exist", () => {
    expect(pyramidLevelFor(1e-6, 5)).toBe(4);
    expect(pyramidLevelFor(0.01, 1)).toBe(0);
    expect(pyramidLevelFor(0, 5)).toBe(0);
  });

  it("never picks a level coarser than the screen (above 1:1, level 0 is magnified)", () => {
    for (let s = 0.001; s < 2; s *= 1.07) {
      for (const dpr of [1, 1.25, 2, 3]) {
        const level = pyramidLevelFor(s, 30, dpr);
        if (s * dpr <= 1) expect(2 ** -level).toBeGreaterThanOrEqual(s * dpr * (1 - 1e-9));
        if (level > 0) expect(2 ** -(level + 1)).toBeLessThan(s * dpr);
      }
    }
  });
});
