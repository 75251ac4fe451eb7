import { describe, expect, it } from "vitest";
import {
  buildPaletteTexels,
  fallbackColor,
  MAX_SEGMENT_INDEX,
  PALETTE_WIDTH,
  paletteTextureSize,
  resolveColor,
  SegmentIndex,
  type RGBA,
} from "../../src/canvas/palette";

describe("SegmentIndex", () => {
  it("gives id 0 index 0 and new ids consecutive indices, once", () => {
    const s = new SegmentIndex();
    expect(s.indexOf(0)).toBe(0);
    expect(s.indexOf(0xffffffff)).toBe(1);
    expect(s.indexOf(7)).toBe(2);
    expect(s.indexOf(0xffffffff)).toBe(1);
    expect(s.size).toBe(3);
    expect(s.idAt(1)).toBe(0xffffffff);
    expect(s.idAt(2)).toBe(7);
    expect(s.find(7)).toBe(2);
    expect(s.find(8)).toBeUndefined();
    expect(s.size).toBe(3);
  });

  it("bumps its version only for new ids", () => {
    const s = new SegmentIndex();
    const v0 = s.version;
    s.indexOf(5);
    const v1 = s.version;
    s.indexOf(5);
    s.indexOf(0);
    expect(v1).toBeGreaterThan(v0);
    expect(s.version).toBe(v1);
  });

  it("fits the index in the 28 bits next to the edge flags", () => {
    expect(MAX_SEGMENT_INDEX).toBe(0x0fffffff);
    expect((MAX_SEGMENT_INDEX << 4) >>> 4).toBe(MAX_SEGMENT_INDEX);
  });
});

describe("palette texture", () => {
  it("is PALETTE_WIDTH wide and grows in rows", () => {
    expect(paletteTextureSize(1)).toEqual({ width: PALETTE_WIDTH, height: 1 });
    expect(paletteTextureSize(PALETTE_WIDTH)).toEqual({ width: PALETTE_WIDTH, height: 1 });
    expect(paletteTextureSize(PALETTE_WIDTH + 1)).toEqual({ width: PALETTE_WIDTH, height: 2 });
  });

  it("holds each indexed id's colour at its index, fallback for the rest, transparent for id 0", () => {
    const s = new SegmentIndex();
    const ids = [0, 3000000000, 42, 0xffffffff, 9];
    for (const id of ids) s.indexOf(id);
    const colors = new Map<number, RGBA>([
      [42, [10, 20, 30, 255]],
      [0xffffffff, [1, 2, 3, 0]], // hidden
      [3000000000, [300, -5, 12.4, 128]], // clamped and rounded
      [123, [9, 9, 9, 9]], // not seen yet: not in the texture
    ]);
    const texels = buildPaletteTexels(s, colors, [7, 7, 7, 77]);
    const at = (id: number) => Array.from(texels.subarray(s.indexOf(id) * 4, s.indexOf(id) * 4 + 4));
    expect(texels.length).toBe(PALETTE_WIDTH * 4);
    expect(at(0)).toEqual([0, 0, 0, 0]);
    expect(at(42)).toEqual([10, 20, 30, 255]);
    expect(at(0xffffffff)).toEqual([1, 2, 3, 0]);
    expect(at(3000000000)).toEqual([255, 0, 12, 128]);
    expect(at(9)).toEqual([7, 7, 7, 77]);
  });

  it("uses the id-hash colour when asked", () => {
    const s = new SegmentIndex();
    s.indexOf(555);
    const texels = buildPaletteTexels(s, new Map(), "id-hash");
    expect(Array.from(texels.subarray(4, 8))).toEqual(fallbackColor(555));
  });

  it("handles thousands of arbitrary uint32 ids", () => {
    const s = new SegmentIndex();
    const colors = new Map<number, RGBA>();
    let x = 12345;
    for (let i = 0; i < 5000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const id = x || 1;
      colors.set(id, [i & 255, (i >> 8) & 255, 1, 255]);
      s.indexOf(id);
    }
    const texels = buildPaletteTexels(s, colors, [0, 0, 0, 0]);
    expect(texels.length).toBe(PALETTE_WIDTH * Math.ceil(s.size / PALETTE_WIDTH) * 4);
    for (const [id, c] of colors) {
      const i = s.indexOf(id);
      expect(Array.from(texels.subarray(i * 4, i * 4 + 4))).toEqual(c);
    }
  });
});

describe("fallbackColor / resolveColor", () => {
  it("is stable, opaque and not too dark", () => {
    for (const id of [1, 2, 77, 0xdeadbeef, 0xffffffff]) {
      const c = fallbackColor(id);
      expect(c).toEqual(fallbackColor(id));
      expect(c[3]).toBe(255);
      for (const v of c.slice(0, 3)) expect(v).toBeGreaterThanOrEqual(64);
    }
    expect(fallbackColor(1)).not.toEqual(fallbackColor(2));
  });

  it("resolves palette, fallback and id 0", () => {
    const colors = new Map<number, RGBA>([[5, [1, 2, 3, 4]]]);
    expect(resolveColor(colors, "id-hash", 5)).toEqual([1, 2, 3, 4]);
    expect(resolveColor(colors, "id-hash", 6)).toEqual(fallbackColor(6));
    expect(resolveColor(colors, [0, 0, 0, 0], 6)).toEqual([0, 0, 0, 0]);
    expect(resolveColor(colors, "id-hash", 0)).toEqual([0, 0, 0, 0]);
  });
});
