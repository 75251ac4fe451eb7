// SAM's mask upscaling against the server's (tests/golden/sam/upscale.json: torch's Sam.postprocess_masks of
// low-res patterns that both sides build from the same integer formulas, so the inputs are identical).
import { describe, expect, it } from "vitest";
import { maskArea } from "../../src/core/raster";
import { maskDifference, maskFromRle } from "../../src/core/samPrompts";
import { LOW_RES_SIDE, axisTaps, maskFromLowRes } from "../../src/core/samUpscale";
import { type SamUpscaleCase, samUpscaleCases } from "./samGolden";

/** tests/golden_gen.py sam_upscale_pattern, in the same integer arithmetic (exact in float32). */
function pattern(p: SamUpscaleCase["pattern"]): Float32Array {
  const out = new Float32Array(LOW_RES_SIDE * LOW_RES_SIDE);
  for (let r = 0; r < LOW_RES_SIDE; r++) {
    for (let c = 0; c < LOW_RES_SIDE; c++) {
      out[r * LOW_RES_SIDE + c] = p.kind === "blob"
        ? (p.radius ** 2 - (r - p.cy) ** 2 - (c - p.cx) ** 2) / 64
        : (((r * p.a + c * p.b) % p.period) - Math.floor(p.period / 2)) / 4;
    }
  }
  return out;
}

describe("maskFromLowRes", () => {
  const cases = samUpscaleCases();

  it("covers both kinds of pattern and both directions of the second stage", () => {
    expect(new Set(cases.map((c) => c.pattern.kind))).toEqual(new Set(["blob", "stripes"]));
    expect(cases.some((c) => Math.max(...c.size) < 1024) && cases.some((c) => Math.max(...c.size) > 1024)).toBe(true);
  });

  it.each(cases.map((c) => [c.name, c] as const))("gives the server's mask for %s", (_name, c) => {
    const mask = maskFromLowRes(pattern(c.pattern), 0, c.size);
    const expected = maskFromRle(c.rle);
    // Only pixels within float rounding (1e-4) of the threshold may differ from torch's float32 passes.
    expect(maskDifference(mask, expected)).toBeLessThanOrEqual(c.near_threshold);
    expect(Math.abs(maskArea(mask) - c.area)).toBeLessThanOrEqual(c.near_threshold);
    if (c.near_threshold === 0) expect([mask.x0, mask.y0, mask.width, mask.height]).toEqual(c.bbox);
  });

  it("reads output `index` of a [1, K, 256, 256] tensor and limits itself to `within`", () => {
    const blob = pattern({ kind: "blob", cy: 60, cx: 60, radius: 30 });
    const stacked = new Float32Array(blob.length * 3).fill(-1);
    stacked.set(blob, 2 * blob.length);
    const size: [number, number] = [512, 512];
    const whole = maskFromLowRes(stacked, 2, size);
    expect(maskDifference(whole, maskFromLowRes(blob, 0, size))).toBe(0);
    expect(maskArea(maskFromLowRes(stacked, 0, size))).toBe(0);
    // The disk's centre: low-res (60, 60) is (120, 120) in a 512 image (the frame's 1024 / 2).
    const box: [number, number, number, number] = [110, 105, 20, 30];
    const part = maskFromLowRes(stacked, 2, size, box);
    expect([part.x0, part.y0, part.width, part.height]).toEqual(box);
    expect(maskArea(part)).toBe(20 * 30); // inside the disk
    expect(maskArea(maskFromLowRes(stacked, 2, size, [0, 0, 3, 3]))).toBe(0);
  });

  it("ignores the padding: positive logits past the resized image never reach a pixel", () => {
    // 100x400 resizes to 256x1024 of the frame: low-res rows 64 and up are padding.
    const low = new Float32Array(LOW_RES_SIDE * LOW_RES_SIDE).fill(-1);
    low.fill(5, 70 * LOW_RES_SIDE);
    expect(maskArea(maskFromLowRes(low, 0, [100, 400]))).toBe(0);
    low.fill(5, 60 * LOW_RES_SIDE);
    const m = maskFromLowRes(low, 0, [100, 400]);
    expect(m.y0 + m.height).toBe(100);
    expect(m.width).toBe(400);
  });

  it("composes taps whose weights sum to 1 on consecutive samples", () => {
    for (const [size, resized] of [[150, 640], [240, 1024], [1500, 1024], [37, 25], [4096, 1024]]) {
      const taps = axisTaps(size, resized);
      for (let o = 0; o < size; o++) {
        const w = taps.weight.subarray(o * 3, o * 3 + 3);
        expect(w[0] + w[1] + w[2]).toBeCloseTo(1, 12);
        expect(Math.min(...w)).toBeGreaterThanOrEqual(0);
        expect(taps.first[o] + 2 >= taps.hi[o] && taps.lo[o] >= taps.first[o]).toBe(true);
      }
    }
    expect(() => axisTaps(10, 2000)).toThrow(RangeError);
  });
});
