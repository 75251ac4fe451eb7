import { describe, expect, it } from "vitest";
import {
  buildPaletteTexels,
  fallbackColor,
  MAX_SEGMENT_INDEX,
  PALETTE_WIDTH,
  paletteTexelAt,
  paletteTextureSize,
  resolveColor,
  SegmentIndex,
  styledColor,
  writePaletteEntry,
  type PaletteStyle,
  type RGBA,
} from "../../src/canvas/palette";

const PLAIN: PaletteStyle = { opacity: 1, mode: "fill", highlight: null, selected: null, selectedColor: [255, 214, 0] };

function texelOf(texels: Uint8Array, i: number, edge: boolean): number[] {
  const { x, y } = paletteTexelAt(i, edge);
  const o = (y * PALETTE_WIDTH + x) * 4;
  return Array.from(texels.subarray(o, o + 4));
}

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
  it("is PALETTE_WIDTH wide with two rows (interior, edge) per PALETTE_WIDTH indices", () => {
    expect(paletteTextureSize(1)).toEqual({ width: PALETTE_WIDTH, height: 2 });
    expect(paletteTextureSize(PALETTE_WIDTH)).toEqual({ width: PALETTE_WIDTH, height: 2 });
    expect(paletteTextureSize(PALETTE_WIDTH + 1)).toEqual({ width: PALETTE_WIDTH, height: 4 });
    expect(paletteTexelAt(5, false)).toEqual({ x: 5, y: 0 });
    expect(paletteTexelAt(5, true)).toEqual({ x: 5, y: 1 });
    expect(paletteTexelAt(PALETTE_WIDTH + 3, false)).toEqual({ x: 3, y: 2 });
    expect(paletteTexelAt(PALETTE_WIDTH + 3, true)).toEqual({ x: 3, y: 3 });
  });

  it("holds each indexed id's colour at its index, fallback for the rest, transparent for id 0", () => {
    const s = new SegmentIndex();
    const ids = [0, 3000000000, 42, 0xffffffff, 9];
    for (const id of ids) s.indexOf(id);
    const colors = new Map<number, RGBA>([
      [42, [10, 20, 30, 255]],
      [0xffffffff, [1, 2, 3, 0]], // hidden
      [3000000000, [300, -5, 12.4, 255]], // clamped and rounded
      [123, [9, 9, 9, 9]], // not seen yet: not in the texture
    ]);
    const texels = buildPaletteTexels(s, colors, [7, 7, 7, 255], PLAIN);
    const at = (id: number, edge = false) => texelOf(texels, s.indexOf(id), edge);
    expect(texels.length).toBe(PALETTE_WIDTH * 2 * 4);
    expect(at(0)).toEqual([0, 0, 0, 0]);
    expect(at(42)).toEqual([10, 20, 30, 255]);
    expect(at(42, true)).toEqual([10, 20, 30, 255]); // fill mode, not special: edges look like the interior
    expect(at(0xffffffff)).toEqual([0, 0, 0, 0]);
    expect(at(3000000000)).toEqual([255, 0, 12, 255]);
    expect(at(9)).toEqual([7, 7, 7, 255]);
  });

  it("stores premultiplied colours with the opacity applied", () => {
    const s = new SegmentIndex();
    s.indexOf(1);
    s.indexOf(2);
    const colors = new Map<number, RGBA>([[1, [200, 100, 0, 255]], [2, [200, 100, 0, 128]]]);
    const texels = buildPaletteTexels(s, colors, [0, 0, 0, 0], { ...PLAIN, opacity: 0.5 });
    expect(texelOf(texels, 1, false)).toEqual([100, 50, 0, 128]);
    expect(texelOf(texels, 2, false)).toEqual([50, 25, 0, 64]);
  });

  it("uses the id-hash colour when asked", () => {
    const s = new SegmentIndex();
    s.indexOf(555);
    const texels = buildPaletteTexels(s, new Map(), "id-hash", PLAIN);
    expect(texelOf(texels, 1, false)).toEqual(fallbackColor(555));
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
    const texels = buildPaletteTexels(s, colors, [0, 0, 0, 0], PLAIN);
    expect(texels.length).toBe(PALETTE_WIDTH * 2 * Math.ceil(s.size / PALETTE_WIDTH) * 4);
    for (const [id, c] of colors) {
      expect(texelOf(texels, s.indexOf(id), false)).toEqual(c);
      expect(texelOf(texels, s.indexOf(id), true)).toEqual(c);
    }
  });

  it("rewriting the touched entries equals a rebuild when hover and selection move", () => {
    const s = new SegmentIndex();
    const colors = new Map<number, RGBA>();
    for (let id = 1; id <= 40; id++) {
      s.indexOf(id);
      colors.set(id, [id * 6, 255 - id * 5, 100, 200]);
    }
    const before: PaletteStyle = { ...PLAIN, opacity: 0.6, mode: "outline", highlight: 3, selected: 7 };
    const after: PaletteStyle = { ...before, highlight: 12, selected: 3 };
    const texels = buildPaletteTexels(s, colors, "id-hash", before);
    for (const i of [3, 7, 12]) writePaletteEntry(texels, i, resolveColor(colors, "id-hash", s.idAt(i)), after);
    expect(texels).toEqual(buildPaletteTexels(s, colors, "id-hash", after));
  });
});

describe("styledColor", () => {
  const c: RGBA = [200, 100, 0, 255];
  const fill: PaletteStyle = { ...PLAIN, opacity: 0.5 };
  const outline: PaletteStyle = { ...fill, mode: "outline" };

  it("fill mode: the colour at `opacity`, edges alike unless hovered or selected", () => {
    expect(styledColor(c, fill, false, false, false)).toEqual([100, 50, 0, 128]);
    expect(styledColor(c, fill, false, false, true)).toEqual([100, 50, 0, 128]);
  });

  it("hovered: lighter (35% towards white) and at least opacity + 0.25 opaque, with a white outline", () => {
    // rgb = c + (1 - c) * 0.35, a = max(0.5, 0.75) = 0.75, premultiplied
    const r = 200 / 255 + (1 - 200 / 255) * 0.35;
    const g = 100 / 255 + (1 - 100 / 255) * 0.35;
    const b = 0.35;
    const want = [r, g, b].map((v) => Math.round(v * 0.75 * 255)).concat(Math.round(0.75 * 255));
    expect(styledColor(c, fill, true, false, false)).toEqual(want);
    expect(styledColor(c, fill, true, false, true)).toEqual([255, 255, 255, 255]);
  });

  it("selected: the selection colour on the outline, the plain colour inside", () => {
    expect(styledColor(c, fill, false, true, true)).toEqual([255, 214, 0, 255]);
    expect(styledColor(c, { ...fill, selectedColor: [0, 0, 255] }, true, true, true)).toEqual([0, 0, 255, 255]);
    expect(styledColor(c, fill, false, true, false)).toEqual([100, 50, 0, 128]);
  });

  it("outline mode: nothing inside, edges twice as opaque; hovered/selected interiors faint", () => {
    expect(styledColor(c, outline, false, false, false)).toEqual([0, 0, 0, 0]);
    expect(styledColor(c, outline, false, false, true)).toEqual([200, 100, 0, 255]);
    expect(styledColor(c, { ...outline, opacity: 0.2 }, false, false, true)).toEqual([80, 40, 0, 102]);
    const a = 0.5 * 0.35;
    expect(styledColor(c, outline, false, true, false)).toEqual([200, 100, 0].map((v) => Math.round((v / 255) * a * 255)).concat(Math.round(a * 255)));
    expect(styledColor(c, outline, false, true, true)).toEqual([255, 214, 0, 255]);
  });

  it("hidden segments draw nothing, not even a hover or selection outline", () => {
    for (const edge of [false, true]) {
      expect(styledColor([9, 9, 9, 0], fill, true, true, edge)).toEqual([0, 0, 0, 0]);
      expect(styledColor([9, 9, 9, 0], outline, true, true, edge)).toEqual([0, 0, 0, 0]);
    }
  });

  it("clamps opacity to 0-1", () => {
    expect(styledColor(c, { ...fill, opacity: 3 }, false, false, false)).toEqual([200, 100, 0, 255]);
    expect(styledColor(c, { ...fill, opacity: -1 }, false, false, false)).toEqual([0, 0, 0, 0]);
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
