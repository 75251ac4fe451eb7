import { describe, expect, test } from "vitest";

import {
  cellBoxes,
  cellOf,
  makeGrid,
  nearestGranularity,
  superpixelArea,
  superpixelAt,
  superpixelMask,
  superpixelsAlong,
  type SuperpixelGrid,
} from "../../src/core/superpixelFill";
import { LabelMap } from "../../src/core/labelMap";
import { base64ToBytes, decodeTile } from "../../src/core/tileCodec";
import { readJson } from "./golden";

interface GoldenSuperpixels {
  image_width: number;
  image_height: number;
  grid_width: number;
  grid_height: number;
  granularity: number;
  count: number;
  grid_zlib_base64: string;
  image_ids: number[];
  areas: number[];
}

const golden = readJson<GoldenSuperpixels>("superpixels.json");

async function goldenGrid(): Promise<SuperpixelGrid> {
  const ids = await decodeTile(base64ToBytes(golden.grid_zlib_base64), golden.grid_height, golden.grid_width);
  return makeGrid({
    width: golden.grid_width, height: golden.grid_height, imageWidth: golden.image_width,
    imageHeight: golden.image_height, ids, granularity: golden.granularity,
  });
}

/** Full-resolution ids by the formula written out independently: floor(x*gw/W), floor(y*gh/H). */
function reference(grid: SuperpixelGrid): Uint32Array {
  const out = new Uint32Array(grid.imageWidth * grid.imageHeight);
  for (let y = 0; y < grid.imageHeight; y++) {
    for (let x = 0; x < grid.imageWidth; x++) {
      const cx = Math.floor((x * grid.width) / grid.imageWidth);
      const cy = Math.floor((y * grid.height) / grid.imageHeight);
      out[y * grid.imageWidth + x] = grid.ids[cy * grid.width + cx];
    }
  }
  return out;
}

function randomGrid(seed: number, gw: number, gh: number, W: number, H: number, count: number): SuperpixelGrid {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const ids = new Uint32Array(gw * gh);
  for (let i = 0; i < ids.length; i++) ids[i] = 1 + Math.floor(rand() * count);
  ids[0] = count; // make sure the largest id occurs
  return makeGrid({ width: gw, height: gh, imageWidth: W, imageHeight: H, ids, granularity: count });
}

describe("the grid → image mapping", () => {
  test("matches the Python side pixel by pixel (golden file)", async () => {
    const grid = await goldenGrid();
    expect(grid.count).toBe(golden.count);
    for (let y = 0; y < grid.imageHeight; y++) {
      for (let x = 0; x < grid.imageWidth; x++) {
        expect(superpixelAt(grid, x, y)).toBe(golden.image_ids[y * grid.imageWidth + x]);
      }
    }
  });

  test("cellOf is floor(x*gw/W), floor(y*gh/H)", () => {
    const grid = randomGrid(1, 7, 5, 23, 19, 9);
    expect(cellOf(grid, 0, 0)).toEqual([0, 0]);
    expect(cellOf(grid, 22, 18)).toEqual([6, 4]);
    expect(cellOf(grid, 4, 4)).toEqual([1, 1]); // 4*7/23 = 1.2, 4*5/19 = 1.05
    expect(cellOf(grid, 3, 3)).toEqual([0, 0]); // 0.91, 0.79
  });

  test("outside the image there is no superpixel", async () => {
    const grid = await goldenGrid();
    expect(superpixelAt(grid, -1, 3)).toBe(0);
    expect(superpixelAt(grid, grid.imageWidth, 3)).toBe(0);
    expect(superpixelAt(grid, 3, grid.imageHeight)).toBe(0);
    expect(superpixelAt(grid, 3.7, 2.2)).toBe(superpixelAt(grid, 3, 2));
  });

  test("exact on a 20000 x 20000 image with a 2048 grid (no floating-point drift)", () => {
    const grid = randomGrid(2, 2048, 2048, 20000, 20000, 4000);
    for (const x of [0, 9, 10, 9999, 10000, 19990, 19999]) {
      expect(cellOf(grid, x, x)).toEqual([Math.floor((x * 2048) / 20000), Math.floor((x * 2048) / 20000)]);
    }
    // 19999*2048/20000 = 2047.9, never 2048.
    expect(cellOf(grid, 19999, 19999)).toEqual([2047, 2047]);
  });
});

describe("superpixel masks", () => {
  test("every superpixel's mask is exactly its pixels (golden areas, pixel-exact)", async () => {
    const grid = await goldenGrid();
    const full = reference(grid);
    const boxes = cellBoxes(grid);
    for (let id = 1; id <= grid.count; id++) {
      const mask = superpixelMask(grid, [id], boxes);
      let area = 0;
      for (let y = 0; y < grid.imageHeight; y++) {
        for (let x = 0; x < grid.imageWidth; x++) {
          const inside = x >= mask.x0 && x < mask.x0 + mask.width && y >= mask.y0 && y < mask.y0 + mask.height;
          const bit = inside ? mask.data[(y - mask.y0) * mask.width + (x - mask.x0)] : 0;
          expect(bit).toBe(full[y * grid.imageWidth + x] === id ? 1 : 0);
          area += bit;
        }
      }
      expect(area).toBe(golden.areas[id - 1]);
      expect(superpixelArea(grid, id)).toBe(golden.areas[id - 1]);
    }
  });

  test("masks of several superpixels are their union, and the masks of all ids tile the image", () => {
    const grid = randomGrid(3, 13, 11, 50, 41, 6);
    const full = reference(grid);
    const mask = superpixelMask(grid, [2, 5]);
    let total = 0;
    for (let y = 0; y < mask.height; y++) {
      for (let x = 0; x < mask.width; x++) {
        const id = full[(mask.y0 + y) * grid.imageWidth + mask.x0 + x];
        expect(mask.data[y * mask.width + x]).toBe(id === 2 || id === 5 ? 1 : 0);
      }
    }
    for (let id = 1; id <= 6; id++) total += superpixelArea(grid, id);
    expect(total).toBe(50 * 41);
  });

  test("unknown ids give an empty mask", () => {
    const grid = randomGrid(4, 5, 5, 9, 9, 3);
    expect(superpixelMask(grid, [0, 99]).width).toBe(0);
  });

  test("painting a superpixel mask into a label map sets exactly its pixels", async () => {
    const grid = await goldenGrid();
    const map = new LabelMap(grid.imageWidth, grid.imageHeight, 32);
    const id = superpixelAt(grid, 50, 30);
    map.paint(superpixelMask(grid, [id]), 7);
    expect(map.segmentStats().get(7)?.area).toBe(golden.areas[id - 1]);
  });
});

describe("drag and granularity helpers", () => {
  test("a drag collects every superpixel along its line", async () => {
    const grid = await goldenGrid();
    const a = { x: 2, y: 30 };
    const b = { x: 94, y: 30 };
    const expected = new Set<number>();
    for (let x = 2; x <= 94; x++) expected.add(superpixelAt(grid, x, 30));
    expect(superpixelsAlong(grid, a, b)).toEqual(expected);
  });

  test("nearestGranularity picks the closest on a log scale", () => {
    const grids = [{ granularity: 300 }, { granularity: 1200 }, { granularity: 4000 }];
    expect(nearestGranularity(grids, 250)).toBe(0);
    expect(nearestGranularity(grids, 1000)).toBe(1);
    expect(nearestGranularity(grids, 100000)).toBe(2);
    expect(nearestGranularity([], 5)).toBe(-1);
  });

  test("makeGrid rejects inconsistent sizes", () => {
    expect(() => makeGrid({ width: 3, height: 3, imageWidth: 9, imageHeight: 9, ids: new Uint32Array(8), granularity: 1 })).toThrow();
    expect(() => makeGrid({ width: 10, height: 3, imageWidth: 9, imageHeight: 9, ids: new Uint32Array(30), granularity: 1 })).toThrow();
  });
});
