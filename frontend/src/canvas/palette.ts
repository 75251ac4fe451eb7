// Segment id → colour lookup for the label shader. Ids are arbitrary uint32 values, so the palette is an
// open-addressing hash table with linear probing, stored in an RG32UI texture: texel = (id, packed RGBA).
// This module builds the table and mirrors the shader's hash, probe and fallback colour on the CPU (for tests
// and for UIs that want the colour the canvas draws). Id 0 (unlabeled) is never stored: it marks empty slots.

/** [r, g, b, a], each 0-255. a = 0 hides the segment. */
export type RGBA = [number, number, number, number];

export interface PaletteTable {
  /** 2 uint32 per slot: key (segment id, 0 = empty) and colour (r | g<<8 | b<<16 | a<<24). */
  data: Uint32Array;
  /** Slots; a power of two. */
  capacity: number;
  /** log2(capacity): the hash keeps the top `bits` bits of id × HASH_MULTIPLIER. */
  bits: number;
  /** Texture size: width × height = capacity, both powers of two, width ≤ TABLE_MAX_WIDTH. */
  width: number;
  height: number;
  /** Longest probe sequence of any stored id (1 = found in its home slot). */
  maxProbe: number;
  count: number;
}

/** Fibonacci hashing: 2^32 / golden ratio. Must equal the shader's constant. */
export const HASH_MULTIPLIER = 0x9e3779b1;
/** The shader stops probing after this many slots; the builder grows the table until every id is within it. */
export const MAX_PROBE = 8;
export const TABLE_MAX_WIDTH = 1024;
const MIN_BITS = 6;

export function hashSlot(id: number, bits: number): number {
  return Math.imul(id, HASH_MULTIPLIER) >>> (32 - bits);
}

export function packColor(c: RGBA): number {
  const byte = (v: number) => Math.min(255, Math.max(0, Math.round(v)));
  return (byte(c[0]) | (byte(c[1]) << 8) | (byte(c[2]) << 16) | (byte(c[3]) << 24)) >>> 0;
}

export function unpackColor(packed: number): RGBA {
  return [packed & 255, (packed >>> 8) & 255, (packed >>> 16) & 255, packed >>> 24];
}

function isSegmentId(id: number): boolean {
  return Number.isInteger(id) && id > 0 && id <= 0xffffffff;
}

/**
 * Build the hash table for `colors` (ids that are 0 or not uint32 are ignored). The load factor is at most 1/2
 * (about 1.5 probes per hit on average); if any id lands more than MAX_PROBE slots from home the table doubles.
 */
export function buildPaletteTable(colors: ReadonlyMap<number, RGBA>): PaletteTable {
  const entries: [number, number][] = [];
  for (const [id, c] of colors) if (isSegmentId(id)) entries.push([id >>> 0, packColor(c)]);
  let bits = MIN_BITS;
  while (1 << bits < entries.length * 2) bits++;
  for (;;) {
    const table = tryBuild(entries, bits);
    if (table) return table;
    bits++;
  }
}

function tryBuild(entries: [number, number][], bits: number): PaletteTable | undefined {
  const capacity = 2 ** bits;
  const mask = capacity - 1;
  const data = new Uint32Array(capacity * 2);
  let maxProbe = entries.length ? 1 : 0;
  for (const [id, color] of entries) {
    let slot = hashSlot(id, bits);
    let probe = 1;
    while (data[slot * 2] !== 0 && data[slot * 2] !== id) {
      slot = (slot + 1) & mask;
      if (++probe > MAX_PROBE) return undefined;
    }
    data[slot * 2] = id;
    data[slot * 2 + 1] = color;
    maxProbe = Math.max(maxProbe, probe);
  }
  const width = Math.min(capacity, TABLE_MAX_WIDTH);
  return { data, capacity, bits, width, height: capacity / width, maxProbe, count: entries.length };
}

/** The packed colour stored for `id`, probing exactly like the shader; undefined when absent. */
export function lookupPacked(table: PaletteTable, id: number): number | undefined {
  if (!isSegmentId(id)) return undefined;
  const mask = table.capacity - 1;
  let slot = hashSlot(id, table.bits);
  for (let i = 0; i < MAX_PROBE; i++) {
    const key = table.data[slot * 2];
    if (key === id >>> 0) return table.data[slot * 2 + 1];
    if (key === 0) return undefined;
    slot = (slot + 1) & mask;
  }
  return undefined;
}

/**
 * Colour for ids missing from the palette when the fallback is "id-hash": a stable, fairly light colour derived
 * from the id (murmur3 finaliser bits), so a segment created before its palette entry is still visible.
 * Mirrors `fallbackColor` in the label shader.
 */
export function fallbackColor(id: number): RGBA {
  let h = Math.imul(id >>> 0, HASH_MULTIPLIER) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  const channel = (v: number) => Math.round(64 + (v & 255) * (191 / 255));
  return [channel(h), channel(h >>> 8), channel(h >>> 16), 255];
}

/** What the canvas draws for `id` (before opacity and highlight), as the shader computes it. */
export function resolveColor(table: PaletteTable, id: number, fallback: RGBA | "id-hash"): RGBA {
  if (id === 0) return [0, 0, 0, 0];
  const packed = lookupPacked(table, id);
  if (packed !== undefined) return unpackColor(packed);
  return fallback === "id-hash" ? fallbackColor(id) : fallback;
}
