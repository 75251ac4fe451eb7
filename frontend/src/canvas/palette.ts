// Segment id → colour, the GPU side. Ids are arbitrary uint32 values, so each id the renderer meets while
// uploading label tiles gets a small dense index (SegmentIndex), and the label texel stores that index instead
// of the id; the shader reads the colour from an RGBA8 palette texture at the index: one fetch, no hashing or
// probing per pixel (in SwiftShader an open-addressing hash table with linear probing made the label pass
// ~40% slower), and highlight/selection compare indices.
// Changing colours only rebuilds the palette texture (one texel per id seen); tiles are not re-uploaded.
// Pure: no DOM, no WebGL.

/** [r, g, b, a], each 0-255. a = 0 hides the segment. */
export type RGBA = [number, number, number, number];

/** Colour for ids missing from the palette: "id-hash" derives one from the id; an RGBA is used as is. */
export type PaletteFallback = RGBA | "id-hash";

/** Dense indices are stored in 28 bits of the label texel (the low 4 hold edge flags). */
export const MAX_SEGMENT_INDEX = 2 ** 28 - 1;
/** Palette texture width; height grows with the number of ids seen. */
export const PALETTE_WIDTH = 1024;

/** Dense index per segment id, assigned on first sight; index 0 is id 0 (unlabeled). */
export class SegmentIndex {
  private readonly index = new Map<number, number>([[0, 0]]);
  private readonly ids: number[] = [0];
  /** Grows whenever a new id is indexed; the palette texture is stale when it differs from the built one. */
  version = 0;

  get size(): number {
    return this.ids.length;
  }

  indexOf(id: number): number {
    let i = this.index.get(id);
    if (i === undefined) {
      i = this.ids.length;
      if (i > MAX_SEGMENT_INDEX) throw new Error("more than 2^28 distinct segment ids");
      this.index.set(id, i);
      this.ids.push(id);
      this.version++;
    }
    return i;
  }

  /** The id's index, or undefined if it was never indexed (then no uploaded texel carries it). */
  find(id: number): number | undefined {
    return this.index.get(id);
  }

  idAt(i: number): number {
    return this.ids[i];
  }
}

export function paletteTextureSize(count: number): { width: number; height: number } {
  return { width: PALETTE_WIDTH, height: Math.max(1, Math.ceil(count / PALETTE_WIDTH)) };
}

/**
 * RGBA8 texels (straight alpha) of the palette texture: texel i is the colour of `segments.idAt(i)`, from
 * `colors` or else `fallback`; texel 0 (id 0) is transparent.
 */
export function buildPaletteTexels(
  segments: SegmentIndex,
  colors: ReadonlyMap<number, RGBA>,
  fallback: PaletteFallback,
): Uint8Array {
  const { width, height } = paletteTextureSize(segments.size);
  const out = new Uint8Array(width * height * 4);
  for (let i = 1; i < segments.size; i++) {
    const id = segments.idAt(i);
    const c = colors.get(id) ?? (fallback === "id-hash" ? fallbackColor(id) : fallback);
    for (let k = 0; k < 4; k++) out[i * 4 + k] = Math.min(255, Math.max(0, Math.round(c[k])));
  }
  return out;
}

/**
 * The "id-hash" fallback: a stable, fairly light colour derived from the id (murmur3 finaliser bits), so a
 * segment drawn before its palette entry exists is still visible.
 */
export function fallbackColor(id: number): RGBA {
  let h = Math.imul(id >>> 0, 0x9e3779b1) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  const channel = (v: number) => Math.round(64 + (v & 255) * (191 / 255));
  return [channel(h), channel(h >>> 8), channel(h >>> 16), 255];
}

/** What the canvas draws for `id` before opacity and highlight. */
export function resolveColor(colors: ReadonlyMap<number, RGBA>, fallback: PaletteFallback, id: number): RGBA {
  if (id === 0) return [0, 0, 0, 0];
  return colors.get(id) ?? (fallback === "id-hash" ? fallbackColor(id) : fallback);
}
