// Readers for the golden files shared with Python (tests/golden/, written by tests/golden_gen.py).
import { readFileSync } from "node:fs";

const GOLDEN = new URL("../../../tests/golden/", import.meta.url);

export interface GoldenTile {
  name: string;
  tx?: number;
  ty?: number;
  rows: number;
  cols: number;
  runs: number[]; // [palette index, length, ...]
}

export interface GoldenLabelMap {
  width: number;
  height: number;
  tile_size: number;
  palette: number[];
  tiles: GoldenTile[];
  extra_tiles: GoldenTile[];
  stats: Record<string, [number, number, number, number, number]>;
}

export interface GoldenPolygon {
  name: string;
  width: number;
  height: number;
  rings: number[][][];
  area: number;
  runs: number[]; // alternating unfilled / filled lengths, row-major, starting with unfilled
}

export function readJson<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, GOLDEN), "utf8")) as T;
}

export function readBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(name, GOLDEN)));
}

export function tilePixels(tile: GoldenTile, palette: number[]): Uint32Array {
  const out = new Uint32Array(tile.rows * tile.cols);
  let at = 0;
  for (let i = 0; i < tile.runs.length; i += 2) {
    out.fill(palette[tile.runs[i]], at, at + tile.runs[i + 1]);
    at += tile.runs[i + 1];
  }
  if (at !== out.length) throw new Error(`golden tile ${tile.name} has ${at} pixels, expected ${out.length}`);
  return out;
}

export function maskFromRuns(runs: number[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  runs.forEach((length, i) => {
    if (i % 2 === 1) out.fill(1, at, at + length);
    at += length;
  });
  return out;
}

/** Element-wise equality of two array-likes; much faster than toEqual on large typed arrays. */
export function sameArray(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
