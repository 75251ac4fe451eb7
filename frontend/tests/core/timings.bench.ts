// Timings of the label-map core on a 4096x4096 map with ~1000 segments. Not a test (nothing asserts on
// time): run with `npx vitest bench --run tests/core/timings.bench.ts`.
import { bench, describe } from "vitest";

import { ChangeRecorder, LabelMap } from "../../src/core/labelMap";
import { brushStamp, rasterizeRings } from "../../src/core/raster";
import { decodeTile, encodeTile } from "../../src/core/tileCodec";

const SIZE = 4096;
const CELL = 128; // 32 x 32 = 1024 jittered Voronoi cells

function buildMap(): LabelMap {
  let state = 7;
  const rand = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const n = SIZE / CELL;
  const seeds = Array.from({ length: n * n }, (_, i) => [((i % n) + rand()) * CELL, (Math.floor(i / n) + rand()) * CELL]);
  const map = new LabelMap(SIZE, SIZE);
  for (let ty = 0; ty < map.rows; ty++) {
    for (let tx = 0; tx < map.cols; tx++) {
      const tile = new Uint32Array(512 * 512);
      for (let r = 0; r < 512; r++) {
        const y = ty * 512 + r;
        for (let c = 0; c < 512; c++) {
          const x = tx * 512 + c;
          const gx = Math.floor(x / CELL);
          const gy = Math.floor(y / CELL);
          let best = Infinity;
          let id = 0;
          for (let j = Math.max(0, gy - 1); j <= Math.min(n - 1, gy + 1); j++) {
            for (let i = Math.max(0, gx - 1); i <= Math.min(n - 1, gx + 1); i++) {
              const [sx, sy] = seeds[j * n + i];
              const d = (x - sx) ** 2 + (y - sy) ** 2;
              if (d < best) [best, id] = [d, j * n + i + 1];
            }
          }
          tile[r * 512 + c] = id;
        }
      }
      map.setTile(tx, ty, tile);
    }
  }
  return map;
}

const map = buildMap();
// One big segment (a disk of radius 1500 px, ~7 Mpx, cut in two by a 3-px gap) for connectedComponents;
// the dabs below stay outside it.
const BIG = 5000;
map.paint(rasterizeRings([Array.from({ length: 256 }, (_, i) => [2048 + 1500 * Math.cos((i / 128) * Math.PI), 2048 + 1500 * Math.sin((i / 128) * Math.PI)])], SIZE, SIZE), BIG);
map.paint({ x0: 0, y0: 2047, width: SIZE, height: 3, data: new Uint8Array(SIZE * 3).fill(1) }, 0, { onlyIds: new Set([BIG]) });
const tiles = Array.from({ length: map.rows * map.cols }, (_, k) => map.tile(k % map.cols, Math.floor(k / map.cols))!);
const sampleTile = map.tile(3, 3)!.slice();
let sampleEncoded: Uint8Array;

describe("label map core, 4096x4096, ~1000 segments", () => {
  let dab = 0;
  bench("brush dab r=64: brushStamp + paint (with undo copies)", () => {
    dab++;
    map.paint(brushStamp(100 + (dab % 400), 100 + ((dab * 7) % 400), 64, SIZE, SIZE), 2000 + (dab % 2));
  });

  const recorder = new ChangeRecorder(map);
  bench("brush dab r=64: brushStamp + paint into a stroke recorder", () => {
    dab++;
    map.paint(brushStamp(100 + (dab % 400), 100 + ((dab * 7) % 400), 64, SIZE, SIZE), 2000 + (dab % 2), { recorder });
  });

  bench("segmentStats, cold (all 64 tiles scanned)", () => {
    const fresh = new LabelMap(SIZE, SIZE);
    tiles.forEach((tile, k) => fresh.setTile(k % fresh.cols, Math.floor(k / fresh.cols), tile));
    fresh.segmentStats();
  });

  bench("segmentStats after one dab (1-4 tiles rescanned)", () => {
    dab++;
    map.paint(brushStamp(3900, 100 + (dab % 3900), 64, SIZE, SIZE), 3000 + (dab % 2));
    map.segmentStats();
  });

  bench("connectedComponents of a 7 Mpx segment (2 components)", () => {
    const parts = map.connectedComponents(BIG);
    if (parts.length !== 2) throw new Error(`expected 2 components, got ${parts.length}`);
  });

  bench("encodeTile 512x512", async () => {
    sampleEncoded = await encodeTile(sampleTile);
  });

  bench("decodeTile 512x512", async () => {
    sampleEncoded ??= await encodeTile(sampleTile);
    await decodeTile(sampleEncoded, 512, 512);
  });
});
