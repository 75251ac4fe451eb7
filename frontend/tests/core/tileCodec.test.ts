import { inflateSync } from "node:zlib";
import { describe, expect, test } from "vitest";

import {
  TileCodecError,
  base64ToBytes,
  bytesToBase64,
  decodeTile,
  encodeTile,
  tileGrid,
  tileShape,
} from "../../src/core/tileCodec";
import { type GoldenLabelMap, readBytes, readJson, sameArray, tilePixels } from "./golden";

const golden = readJson<GoldenLabelMap>("labelmap.json");
const allTiles = [...golden.tiles, ...golden.extra_tiles];

/** Little-endian bytes of uint32 pixels, built independently of the codec. */
function littleEndian(pixels: Uint32Array): Uint8Array {
  const out = new Uint8Array(pixels.length * 4);
  pixels.forEach((v, i) => {
    out[4 * i] = v & 0xff;
    out[4 * i + 1] = (v >>> 8) & 0xff;
    out[4 * i + 2] = (v >>> 16) & 0xff;
    out[4 * i + 3] = v >>> 24;
  });
  return out;
}

describe("golden tiles shared with Python", () => {
  test("the golden set covers every edge-tile shape and the uint32 extremes", () => {
    const shapes = golden.tiles.map((t) => `${t.rows}x${t.cols}`).sort();
    expect(shapes).toEqual(["128x480", "128x512", "512x480", "512x512"]);
    expect(golden.palette).toContain(2 ** 32 - 1);
    expect(golden.palette).toContain(2 ** 31);
  });

  test.each(allTiles.map((t) => [t.name, t] as const))("decodeTile(Python bytes) == pixels: %s", async (_, tile) => {
    const decoded = await decodeTile(readBytes(`tiles/${tile.name}.zlib`), tile.rows, tile.cols);
    expect(sameArray(decoded, tilePixels(tile, golden.palette))).toBe(true);
  });

  test.each(allTiles.map((t) => [t.name, t] as const))("encodeTile is standard zlib of LE bytes: %s", async (_, tile) => {
    const pixels = tilePixels(tile, golden.palette);
    const encoded = await encodeTile(pixels);
    const raw = inflateSync(encoded);
    // What any zlib (Python's included) inflates from our bytes equals the raw bytes Python encoded.
    expect(sameArray(raw, inflateSync(readBytes(`tiles/${tile.name}.zlib`)))).toBe(true);
    expect(sameArray(raw, littleEndian(pixels))).toBe(true);
    expect(sameArray(await decodeTile(encoded, tile.rows, tile.cols), pixels)).toBe(true);
  });

  test("tileGrid and tileShape match Python for the golden map", () => {
    expect(tileGrid(golden.width, golden.height, golden.tile_size)).toEqual([2, 2]);
    for (const t of golden.tiles) {
      expect(tileShape(golden.width, golden.height, t.tx!, t.ty!, golden.tile_size)).toEqual([t.rows, t.cols]);
    }
  });
});

describe("tile geometry", () => {
  test("grid rounds up and edge tiles are cropped", () => {
    expect(tileGrid(0, 0)).toEqual([0, 0]);
    expect(tileGrid(512, 512)).toEqual([1, 1]);
    expect(tileGrid(513, 1)).toEqual([2, 1]);
    expect(tileShape(1000, 600, 1, 1)).toEqual([88, 488]);
    expect(tileShape(1000, 600, 0, 0)).toEqual([512, 512]);
  });

  test("coordinates outside the grid and bad sizes are errors", () => {
    expect(() => tileShape(1000, 600, 2, 0)).toThrow(TileCodecError);
    expect(() => tileShape(1000, 600, -1, 0)).toThrow(/outside the 2x2 tile grid/);
    expect(() => tileGrid(10, 10, 0)).toThrow(TileCodecError);
    expect(() => tileGrid(-1, 10)).toThrow(TileCodecError);
  });
});

describe("decodeTile rejects bad input clearly", () => {
  const pixels = Uint32Array.from({ length: 64 }, (_, i) => i * 7919);

  test("wrong shape names both sizes", async () => {
    const encoded = await encodeTile(pixels);
    await expect(decodeTile(encoded, 8, 7)).rejects.toThrow(/224 bytes.*8x7/);
    await expect(decodeTile(encoded, 8, 9)).rejects.toThrow("tile inflates to 256 bytes, a 8x9 tile needs 288");
  });

  test("garbage and truncated data", async () => {
    const encoded = await encodeTile(pixels);
    await expect(decodeTile(new Uint8Array([1, 2, 3, 4, 5]), 8, 8)).rejects.toThrow(TileCodecError);
    await expect(decodeTile(encoded.subarray(0, encoded.length - 6), 8, 8)).rejects.toThrow(TileCodecError);
    // Bytes after the end of the stream: browsers reject them (Compression Streams spec), Node 20's
    // DecompressionStream ignores them, so that case is not asserted here. Tiles come from our own server.
  });

  test("a decompression bomb stops at the expected size", async () => {
    const bomb = await encodeTile(new Uint32Array(4 << 20)); // 16 MB of zeros, ~16 KB compressed
    await expect(decodeTile(bomb, 4, 4)).rejects.toThrow(/more than the 64 bytes/);
  });

  test("non-positive shapes are rejected", async () => {
    await expect(decodeTile(new Uint8Array(0), 0, 5)).rejects.toThrow(/positive/);
    await expect(encodeTile(new Uint32Array(0))).rejects.toThrow(/empty/);
  });

  test("round trip of a full tile with every byte pattern", async () => {
    const tile = new Uint32Array(512 * 512);
    let state = 12345;
    for (let i = 0; i < tile.length; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      tile[i] = i % 3 === 0 ? state : i % 3 === 1 ? 2 ** 32 - 1 : 0;
    }
    expect(sameArray(await decodeTile(await encodeTile(tile), 512, 512), tile)).toBe(true);
  });

  test("encodeTile works on a view into a larger buffer", async () => {
    const big = Uint32Array.from({ length: 100 }, (_, i) => i + 1);
    const view = big.subarray(10, 30);
    expect(await decodeTile(await encodeTile(view), 4, 5)).toEqual(big.slice(10, 30));
  });
});

describe("base64", () => {
  test("known vectors", () => {
    expect(bytesToBase64(new Uint8Array([0, 1, 2, 255]))).toBe("AAEC/w==");
    expect(bytesToBase64(new Uint8Array([]))).toBe("");
    expect(base64ToBytes("AAEC/w==")).toEqual(new Uint8Array([0, 1, 2, 255]));
  });

  test("round trip beyond the chunk size", () => {
    const bytes = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 31 + (i >> 8)) & 0xff);
    expect(base64ToBytes(bytesToBase64(bytes))).toEqual(bytes);
  });

  test("invalid text is a TileCodecError", () => {
    expect(() => base64ToBytes("not base64!")).toThrow(TileCodecError);
  });
});
