// Segment id → colour, the GPU side. Ids are arbitrary uint32 values, so each id the renderer meets while
// uploading label tiles gets a small dense index (SegmentIndex), and the label texel stores that index instead
// of the id; the shader reads the colour from an RGBA8 palette texture at the index: one fetch, no hashing or
// probing per pixel (in SwiftShader an open-addressing hash table with linear probing made the label pass
// ~40% slower).
// The palette is *styled*: each index has two texels, its interior colour and its edge colour, with opacity,
// fill/outline mode, hover highlight and selection already applied (premultiplied). The shader then only picks
// one of the two texels: in SwiftShader every shader instruction is paid by every pixel, and moving the style
// arithmetic here made the label pass ~30% cheaper. A style change rebuilds this small texture (8 bytes per id
// seen; hover and selection rewrite just the indices they touch); tiles are never re-uploaded for it.
// Pure: no DOM, no WebGL.

/** [r, g, b, a], each 0-255. a = 0 hides the segment. */
export type RGBA = [number, number, number, number];

/** Colour for ids missing from the palette: "id-hash" derives one from the id; an RGBA is used as is. */
export type PaletteFallback = RGBA | "id-hash";

/** Dense indices are stored in 28 bits of the label texel (the low 4 hold edge flags). */
export const MAX_SEGMENT_INDEX = 2 ** 28 - 1;
/** Palette texture width; height grows with the number of ids seen (two rows per PALETTE_WIDTH indices). */
export const PALETTE_WIDTH = 1024;
export const PALETTE_WIDTH_LOG2 = 10;

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

/** How segments are drawn: what the styled palette bakes in. */
export interface PaletteStyle {
  /** Multiplies every segment's alpha, 0-1. */
  opacity: number;
  /** fill: every pixel; outline: only edge pixels (plus a faint interior for the hovered and selected segment). */
  mode: "fill" | "outline";
  /** Palette index of the hovered segment (lighter, more opaque, white outline), or null. */
  highlight: number | null;
  /** Palette index of the selected segment (`selectedColor` outline), or null. */
  selected: number | null;
  /** [r, g, b] 0-255 of the selected segment's outline. */
  selectedColor: [number, number, number];
}

export function paletteTextureSize(count: number): { width: number; height: number } {
  return { width: PALETTE_WIDTH, height: 2 * Math.max(1, Math.ceil(count / PALETTE_WIDTH)) };
}

/** Texel of palette index `i`'s interior (edge = false) or edge colour: (i mod width, 2 × (i div width) + edge). */
export function paletteTexelAt(i: number, edge: boolean): { x: number; y: number } {
  return { x: i & (PALETTE_WIDTH - 1), y: 2 * Math.floor(i / PALETTE_WIDTH) + (edge ? 1 : 0) };
}

/**
 * The premultiplied RGBA (0-255) drawn for a pixel of a segment whose own colour is `color` (straight alpha):
 * `edge` says whether the pixel is on the segment's outline, `highlighted` / `selected` whether the segment is
 * the hovered / selected one. Alpha 0 (hidden segment, unlabeled) draws nothing, not even a selection outline.
 */
export function styledColor(
  color: RGBA,
  style: Pick<PaletteStyle, "opacity" | "mode" | "selectedColor">,
  highlighted: boolean,
  selected: boolean,
  edge: boolean,
): RGBA {
  const ca = clampByte(color[3]) / 255;
  if (ca === 0) return [0, 0, 0, 0];
  const opacity = Math.min(1, Math.max(0, style.opacity));
  let rgb = [clampByte(color[0]) / 255, clampByte(color[1]) / 255, clampByte(color[2]) / 255];
  let a = ca * opacity;
  if (highlighted) {
    rgb = rgb.map((v) => v + (1 - v) * 0.35);
    a = Math.max(a, Math.min(1, opacity + 0.25));
  }
  if (style.mode === "outline") {
    if (!edge && !highlighted && !selected) return [0, 0, 0, 0];
    a = edge ? Math.min(1, 2 * a) : a * 0.35; // outlines stronger; highlighted/selected interior faint
  }
  if (edge && selected) {
    rgb = style.selectedColor.map((v) => clampByte(v) / 255);
    a = 1;
  } else if (edge && highlighted) {
    rgb = [1, 1, 1];
    a = 1;
  }
  return [Math.round(rgb[0] * a * 255), Math.round(rgb[1] * a * 255), Math.round(rgb[2] * a * 255), Math.round(a * 255)];
}

/**
 * Texels of the styled palette texture (premultiplied RGBA8, `paletteTextureSize` layout): for every indexed id,
 * its colour from `colors` or else `fallback`, styled (see styledColor) at its interior and edge texel; index 0
 * (id 0, unlabeled) is transparent.
 */
export function buildPaletteTexels(
  segments: SegmentIndex,
  colors: ReadonlyMap<number, RGBA>,
  fallback: PaletteFallback,
  style: PaletteStyle,
): Uint8Array {
  const { width, height } = paletteTextureSize(segments.size);
  const out = new Uint8Array(width * height * 4);
  for (let i = 1; i < segments.size; i++) writePaletteEntry(out, i, resolveColor(colors, fallback, segments.idAt(i)), style);
  return out;
}

/** Write palette index `i`'s two styled texels for colour `color` into `texels` (buildPaletteTexels' layout). */
export function writePaletteEntry(texels: Uint8Array, i: number, color: RGBA, style: PaletteStyle): void {
  const highlighted = style.highlight === i;
  const selected = style.selected === i;
  for (const edge of [false, true]) {
    const { x, y } = paletteTexelAt(i, edge);
    texels.set(styledColor(color, style, highlighted, selected, edge), (y * PALETTE_WIDTH + x) * 4);
  }
}

function clampByte(v: number): number {
  return Math.min(255, Math.max(0, Math.round(v)));
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
