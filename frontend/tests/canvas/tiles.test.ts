import { describe, expect, it } from "vitest";
import {
  labelAt,
  labelLevel,
  labelLevelCount,
  labelSourceRange,
  labelTileData,
  labelTileRevision,
  labelTileSize,
  LruMap,
  pyramidTileRect,
  rangeSize,
  tileRange,
  tilesByDistance,
  type ImagePyramid,
} from "../../src/canvas/tiles";
import { blockyMap, mapSource } from "./helpers";

describe("tileRange (tile visibility)", () => {
  it("covers exactly the tiles intersecting the rect", () => {
    expect(tileRange({ x: 0, y: 0, width: 512, height: 512 }, 256, 256, 10, 10)).toEqual({ x0: 0, y0: 0, x1: 2, y1: 2 });
    expect(tileRange({ x: 255, y: 256, width: 2, height: 1 }, 256, 256, 10, 10)).toEqual({ x0: 0, y0: 1, x1: 2, y1: 2 });
  });

  it("clamps to the grid and is empty off the image", () => {
    expect(tileRange({ x: -1000, y: -10, width: 1300, height: 100 }, 256, 256, 3, 2)).toEqual({ x0: 0, y0: 0, x1: 2, y1: 1 });
    const off = tileRange({ x: 5000, y: 0, width: 100, height: 100 }, 256, 256, 3, 2);
    expect(rangeSize(off)).toBe(0);
    expect(rangeSize(tileRange({ x: -500, y: -500, width: 100, height: 100 }, 256, 256, 3, 2))).toBe(0);
  });

  it("matches brute force", () => {
    for (let i = 0; i < 200; i++) {
      const rect = { x: (i * 97) % 3000 - 500, y: (i * 61) % 2000 - 300, width: 1 + ((i * 37) % 1500), height: 1 + ((i * 53) % 900) };
      const r = tileRange(rect, 300, 200, 8, 9);
      for (let ty = 0; ty < 9; ty++) {
        for (let tx = 0; tx < 8; tx++) {
          const hit = tx * 300 < rect.x + rect.width && (tx + 1) * 300 > rect.x && ty * 200 < rect.y + rect.height && (ty + 1) * 200 > rect.y;
          const inRange = tx >= r.x0 && tx < r.x1 && ty >= r.y0 && ty < r.y1;
          expect(inRange).toBe(hit);
        }
      }
    }
  });

  it("orders tiles nearest to the view centre first", () => {
    const rect = { x: 256 * 2, y: 256 * 2, width: 256, height: 256 };
    const order = tilesByDistance({ x0: 0, y0: 0, x1: 5, y1: 5 }, rect, 256, 256);
    expect(order).toHaveLength(25);
    expect(order[0]).toEqual([2, 2]);
    expect(order.slice(1, 5).sort()).toEqual([[1, 2], [2, 1], [2, 3], [3, 2]]);
  });
});

describe("pyramidTileRect", () => {
  // A 1000 × 600 image with 256 px tiles, levels as the server builds them (halved, rounded up).
  const p: ImagePyramid = {
    width: 1000,
    height: 600,
    tileSize: 256,
    levels: [[1000, 600, 4, 3], [500, 300, 2, 2], [250, 150, 1, 1]],
    tileUrl: () => "",
  };

  it("places full-resolution tiles, cropping the last ones", () => {
    expect(pyramidTileRect(p, 0, 1, 1)).toMatchObject({ x: 256, y: 256, width: 256, height: 256, texW: 256, texH: 256 });
    expect(pyramidTileRect(p, 0, 3, 2)).toMatchObject({ x: 768, y: 512, width: 232, height: 88, tileW: 232, tileH: 88 });
  });

  it("scales coarser levels by 2^level and clips overhang to the image", () => {
    expect(pyramidTileRect(p, 1, 1, 1)).toMatchObject({ x: 512, y: 512, width: 488, height: 88, tileW: 244, tileH: 44 });
    const odd: ImagePyramid = { ...p, width: 1001, height: 601, levels: [[1001, 601, 4, 3], [501, 301, 2, 2]] };
    const r = pyramidTileRect(odd, 1, 1, 1); // 245 texels = 490 image px, but only 489 are left
    expect(r).toMatchObject({ x: 512, width: 489, tileW: 245, texW: 244.5 });
  });
});

describe("label levels", () => {
  it("counts levels until one tile covers the map", () => {
    expect(labelLevelCount(512, 512, 512)).toBe(1);
    expect(labelLevelCount(513, 100, 512)).toBe(2);
    expect(labelLevelCount(4096, 4096, 512)).toBe(4);
    expect(labelLevelCount(20000, 20000, 512)).toBe(7);
  });

  it("describes each level's grid and tile sizes", () => {
    const src = { width: 4000, height: 1500, tileSize: 512 };
    expect(labelLevel(src, 0)).toEqual({ level: 0, step: 1, cols: 8, rows: 3 });
    expect(labelLevel(src, 2)).toEqual({ level: 2, step: 4, cols: 2, rows: 1 });
    expect(labelTileSize(src, 0, 7, 2)).toEqual({ width: 4000 - 7 * 512, height: 1500 - 2 * 512 });
    expect(labelTileSize(src, 2, 1, 0)).toEqual({ width: Math.ceil((4000 - 2048) / 4), height: Math.ceil(1500 / 4) });
    expect(labelSourceRange(src, 2, 1, 0)).toEqual({ x0: 4, y0: 0, x1: 8, y1: 3 });
  });

  it("derives coarse tiles by sampling the centre of each block", () => {
    const W = 300, H = 170, TS = 32;
    const ids = blockyMap(W, H, 7);
    const src = mapSource(W, H, TS, ids);
    for (let level = 0; level < labelLevelCount(W, H, TS); level++) {
      const step = 2 ** level;
      const { cols, rows } = labelLevel(src, level);
      for (let y = 0; y < rows; y++) {
        for (let x = 0; x < cols; x++) {
          const { width, height } = labelTileSize(src, level, x, y);
          const expected = new Uint32Array(width * height);
          let any = false;
          for (let j = 0; j < height; j++) {
            for (let i = 0; i < width; i++) {
              const sx = Math.min(W - 1, (x * TS + i) * step + (step >> 1));
              const sy = Math.min(H - 1, (y * TS + j) * step + (step >> 1));
              expected[j * width + i] = ids[sy * W + sx];
              any ||= expected[j * width + i] !== 0;
            }
          }
          const got = labelTileData(src, level, x, y);
          if (level > 0 && !any) expect(got === undefined || got.every((v) => v === 0)).toBe(true);
          else if (got) expect(Array.from(got)).toEqual(Array.from(expected));
          else expect(any).toBe(false);
        }
      }
    }
  });

  it("changes a coarse tile's revision when any of its source tiles changes", () => {
    const src = mapSource(2048, 2048, 512, new Uint32Array(2048 * 2048));
    const before = labelTileRevision(src, 1, 1, 0);
    src.revisions.set("3,1", 4);
    expect(labelTileRevision(src, 1, 1, 0)).not.toBe(before);
    expect(labelTileRevision(src, 1, 0, 0)).toBe(0);
  });
});

describe("labelAt (pickSegment's CPU read)", () => {
  it("reads ids across cropped edge tiles and returns 0 outside", () => {
    const W = 70, H = 45;
    const ids = blockyMap(W, H, 3);
    const src = mapSource(W, H, 32, ids);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) expect(labelAt(src, x + 0.7, y + 0.2)).toBe(ids[y * W + x]);
    expect(labelAt(src, -0.1, 3)).toBe(0);
    expect(labelAt(src, W, 3)).toBe(0);
    expect(labelAt(src, 3, H + 5)).toBe(0);
  });
});

describe("LruMap", () => {
  it("evicts the least recently used entry not kept", () => {
    const lru = new LruMap<string, number>();
    lru.set("a", 1);
    lru.set("b", 2);
    lru.set("c", 3);
    lru.get("a"); // a is now newest
    expect(lru.evictOldest()).toEqual(["b", 2]);
    expect(lru.evictOldest(new Set(["c"]))).toEqual(["a", 1]);
    expect(lru.evictOldest(new Set(["c"]))).toBeUndefined();
    expect(lru.size).toBe(1);
    lru.peek("c");
    expect([...lru.entries()]).toEqual([["c", 3]]);
  });
});
