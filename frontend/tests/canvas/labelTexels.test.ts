import { describe, expect, it } from "vitest";
import {
  EDGE_DOWN,
  EDGE_LEFT,
  EDGE_RIGHT,
  EDGE_UP,
  globalizeTexels,
  packLabelTexels,
  packLocalTexels,
  sampleLabelLevel,
  tileBorders,
  tileOutside,
} from "../../src/canvas/labelTexels";
import { SegmentIndex } from "../../src/canvas/palette";
import { labelLevel, labelLevelCount, labelTileData, labelTileSize } from "../../src/canvas/tiles";
import { blockyMap, mapSource } from "./helpers";

/** The whole level as one image, by sampling, for brute-force comparisons. */
function levelImage(src: ReturnType<typeof mapSource>, level: number) {
  const step = 2 ** level;
  const w = Math.ceil(src.width / step);
  const h = Math.ceil(src.height / step);
  const img = new Uint32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) img[y * w + x] = sampleLabelLevel(src, level, x, y);
  return { w, h, at: (x: number, y: number) => (x < 0 || y < 0 || x >= w || y >= h ? 0 : img[y * w + x]) };
}

describe("packLabelTexels", () => {
  it("keeps indices above 2^27 intact", () => {
    const big = 2 ** 28 - 1;
    const t = packLabelTexels(1, 1, { x: 0, y: 0, width: 1, height: 1 }, new Uint32Array([9]), () => 9, () => big);
    expect(t[0] >>> 4).toBe(big);
    expect(t[0] & 15).toBe(0);
  });

  it("flags the 4-neighbours that differ, inside a tile", () => {
    // 3 × 3 tile, centre differs from everything; outside is 0.
    const data = new Uint32Array([1, 1, 1, 1, 2, 1, 1, 1, 1]);
    const seg = new SegmentIndex();
    const t = packLabelTexels(3, 3, { x: 0, y: 0, width: 3, height: 3 }, data, () => 0, (id) => seg.indexOf(id));
    const flags = (x: number, y: number) => t[y * 3 + x] & 15;
    expect(flags(1, 1)).toBe(EDGE_LEFT | EDGE_RIGHT | EDGE_UP | EDGE_DOWN);
    expect(flags(0, 0)).toBe(EDGE_LEFT | EDGE_UP); // outside the map counts as 0
    expect(flags(1, 0)).toBe(EDGE_UP | EDGE_DOWN);
    expect(t[1 * 3 + 1] >>> 4).toBe(seg.indexOf(2));
    expect(t[0] >>> 4).toBe(seg.indexOf(1));
    expect(seg.indexOf(1)).not.toBe(seg.indexOf(2));
  });

  it("matches brute force across tile borders at every level, and for partial regions", () => {
    const W = 150, H = 97, TS = 16;
    const src = mapSource(W, H, TS, blockyMap(W, H, 11));
    const seg = new SegmentIndex();
    const indexOf = (id: number) => seg.indexOf(id);
    for (let level = 0; level < labelLevelCount(W, H, TS); level++) {
      const img = levelImage(src, level);
      const { cols, rows } = labelLevel(src, level);
      for (let ty = 0; ty < rows; ty++) {
        for (let tx = 0; tx < cols; tx++) {
          const { width, height } = labelTileSize(src, level, tx, ty);
          const data = labelTileData(src, level, tx, ty) ?? new Uint32Array(width * height);
          const full = packLabelTexels(width, height, { x: 0, y: 0, width, height }, data, tileOutside(src, level, tx, ty), indexOf);
          for (let y = 0; y < height; y++) {
            for (let x = 0; x < width; x++) {
              const gx = tx * TS + x, gy = ty * TS + y;
              const id = img.at(gx, gy);
              const expected =
                (img.at(gx - 1, gy) !== id ? EDGE_LEFT : 0) |
                (img.at(gx + 1, gy) !== id ? EDGE_RIGHT : 0) |
                (img.at(gx, gy - 1) !== id ? EDGE_UP : 0) |
                (img.at(gx, gy + 1) !== id ? EDGE_DOWN : 0);
              const texel = full[y * width + x];
              expect(texel & 15).toBe(expected);
              expect(texel >>> 4).toBe(seg.indexOf(id));
            }
          }
          // A region, read through a function as border strips are, equals the same part of the full tile.
          const region = { x: Math.min(3, width - 1), y: 0, width: Math.min(5, width - Math.min(3, width - 1)), height };
          const inside = (x: number, y: number) => sampleLabelLevel(src, level, tx * TS + x, ty * TS + y);
          const part = packLabelTexels(width, height, region, inside, tileOutside(src, level, tx, ty), indexOf);
          for (let y = 0; y < region.height; y++) {
            for (let x = 0; x < region.width; x++) {
              expect(part[y * region.width + x]).toBe(full[(region.y + y) * width + region.x + x]);
            }
          }
        }
      }
    }
  });
});

describe("sampleLabelLevel", () => {
  it("agrees with labelTileData and is 0 outside the map", () => {
    const W = 100, H = 60, TS = 16;
    const src = mapSource(W, H, TS, blockyMap(W, H, 5));
    for (const level of [0, 1, 2, 3]) {
      const { cols, rows } = labelLevel(src, level);
      for (let ty = 0; ty < rows; ty++) {
        for (let tx = 0; tx < cols; tx++) {
          const { width, height } = labelTileSize(src, level, tx, ty);
          const data = labelTileData(src, level, tx, ty);
          for (let y = 0; y < height; y++)
            for (let x = 0; x < width; x++)
              expect(sampleLabelLevel(src, level, tx * TS + x, ty * TS + y)).toBe(data ? data[y * width + x] : 0);
        }
      }
      const w = Math.ceil(W / 2 ** level);
      expect(sampleLabelLevel(src, level, w, 0)).toBe(0);
      expect(sampleLabelLevel(src, level, -1, 0)).toBe(0);
    }
  });
});

describe("packing away from the segment index (worker path)", () => {
  it("packLocalTexels + globalizeTexels equals packLabelTexels at every level and tile", () => {
    const W = 150, H = 97, TS = 16;
    const src = mapSource(W, H, TS, blockyMap(W, H, 5));
    const direct = new SegmentIndex();
    const viaWorker = new SegmentIndex();
    for (let level = 0; level < labelLevelCount(W, H, TS); level++) {
      const { cols, rows } = labelLevel(src, level);
      for (let ty = 0; ty < rows; ty++) {
        for (let tx = 0; tx < cols; tx++) {
          const { width, height } = labelTileSize(src, level, tx, ty);
          const data = labelTileData(src, level, tx, ty) ?? new Uint32Array(width * height);
          const want = packLabelTexels(width, height, { x: 0, y: 0, width, height }, data, tileOutside(src, level, tx, ty),
            (id) => direct.indexOf(id));
          const borders = tileBorders(src, level, tx, ty, width, height);
          const { texels, ids } = packLocalTexels(width, height, data.slice(), borders);
          expect(ids[0]).toBe(0);
          expect(new Set(ids).size).toBe(ids.length);
          // Both indices assign in first-sight order, so the palettes agree id for id.
          const got = globalizeTexels(texels, ids, (id) => viaWorker.indexOf(id));
          expect(Array.from(got)).toEqual(Array.from(want));
        }
      }
    }
    expect(viaWorker.size).toBe(direct.size);
  });

  it("tileBorders reads the ids just outside the tile, 0 outside the map", () => {
    const W = 40, H = 30, TS = 16;
    const src = mapSource(W, H, TS, blockyMap(W, H, 3));
    const { width, height } = labelTileSize(src, 0, 1, 0);
    const b = tileBorders(src, 0, 1, 0, width, height);
    const outside = tileOutside(src, 0, 1, 0);
    expect(b.left.length).toBe(height);
    expect(b.top.length).toBe(width);
    for (let y = 0; y < height; y++) {
      expect(b.left[y]).toBe(outside(-1, y));
      expect(b.right[y]).toBe(outside(width, y));
    }
    for (let x = 0; x < width; x++) {
      expect(b.top[x]).toBe(0); // above the map
      expect(b.bottom[x]).toBe(outside(x, height));
    }
  });

  it("keeps the edge flags and maps each local index through the palette", () => {
    const texels = new Uint32Array([(1 << 4) | 3, (2 << 4) | 8, 0]);
    const ids = new Uint32Array([0, 77, 0xffffffff]);
    const palette = new Map([[0, 0], [77, 5], [0xffffffff, 2 ** 27 + 1]]);
    globalizeTexels(texels, ids, (id) => palette.get(id)!);
    expect(texels[0]).toBe((5 << 4) | 3);
    expect(texels[1] >>> 4).toBe(2 ** 27 + 1);
    expect(texels[1] & 15).toBe(8);
    expect(texels[2]).toBe(0);
  });
});
