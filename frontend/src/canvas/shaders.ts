// GLSL ES 3.00 sources. Every draw is one tile quad: the vertex shader places a unit quad at `uRect` (CSS
// pixels, computed on the CPU in double precision so large images stay exact at high zoom).
import { HASH_MULTIPLIER, MAX_PROBE } from "./palette";

export const QUAD_VS = `#version 300 es
in vec2 aUnit;
uniform vec4 uRect;      // x0, y0, x1, y1 in CSS pixels
uniform vec2 uCanvas;    // canvas size in CSS pixels
uniform vec2 uTexSize;   // texels shown by the quad (image tiles: normalised uv extent)
out vec2 vTex;
void main() {
  // Select, not interpolate, the corners: neighbouring tiles then share bit-identical edges (no seams).
  vec2 css = vec2(aUnit.x > 0.5 ? uRect.z : uRect.x, aUnit.y > 0.5 ? uRect.w : uRect.y);
  gl_Position = vec4(css.x / uCanvas.x * 2.0 - 1.0, 1.0 - css.y / uCanvas.y * 2.0, 0.0, 1.0);
  vTex = aUnit * uTexSize;
}`;

export const IMAGE_FS = `#version 300 es
precision mediump float;
uniform sampler2D uImage;
in vec2 vTex;
out vec4 outColor;
void main() {
  outColor = texture(uImage, vTex);
}`;

const hex = (n: number) => "0x" + n.toString(16).toUpperCase() + "u";

/*
 * Label fragment shader. Per pixel, fill mode: 1 texelFetch of the id; id 0 is discarded; then the palette
 * lookup: a multiply and shift for the home slot and usually 1 (average ~1.5 at load 1/2) RG32UI texelFetch.
 * Outline mode adds 4 neighbour fetches and skips the lookup for interior pixels (discarded). In fill mode the
 * neighbours are only fetched for the highlighted and selected segments (a branch that is coherent in practice).
 *
 * Neighbours across a tile border come from the neighbouring tile's layer of the same array texture
 * (uNeighbours: left, right, up, down layer; -1 = outside the map or an all-zero tile, read as id 0;
 * -2 = not resident yet, read as "same id" so no false outline flashes while it uploads).
 */
export const LABEL_FS = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
precision highp usampler2DArray;

uniform usampler2DArray uLabels;
uniform usampler2D uTable;
uniform int uLayer;
uniform ivec4 uNeighbours;
uniform ivec2 uSize;          // cropped tile size in texels
uniform int uLast;            // tileSize - 1: the far column/row of a left/up neighbour
uniform uint uHashShift;      // 32 - log2(capacity)
uniform uint uSlotMask;       // capacity - 1
uniform uint uRowShift;       // log2(table width)
uniform uint uColMask;        // table width - 1
uniform int uFallbackHash;    // 1: ids missing from the palette get a colour from their hash; 0: uFallback
uniform vec4 uFallback;
uniform int uOutline;         // 0 fill, 1 outline
uniform float uOpacity;
uniform float uEdge;          // outline width in texels
uniform uint uHighlight;      // 0 = none
uniform uint uSelected;       // 0 = none
uniform vec3 uSelectedColor;

in vec2 vTex;
out vec4 outColor;

uint neighbour(ivec2 q, bool inside, int layer, uint self) {
  ivec3 c = inside ? ivec3(q, uLayer) : ivec3(q, max(layer, 0));
  uint v = texelFetch(uLabels, c, 0).r;
  if (!inside && layer < 0) v = layer == -1 ? 0u : self;
  return v;
}

vec4 paletteColor(uint id) {
  uint slot = (id * ${hex(HASH_MULTIPLIER)}) >> uHashShift;
  for (int i = 0; i < ${MAX_PROBE}; i++) {
    uvec2 e = texelFetch(uTable, ivec2(int(slot & uColMask), int(slot >> uRowShift)), 0).rg;
    if (e.r == id) return vec4(uvec4(e.g, e.g >> 8, e.g >> 16, e.g >> 24) & 255u) / 255.0;
    if (e.r == 0u) break;
    slot = (slot + 1u) & uSlotMask;
  }
  if (uFallbackHash == 0) return uFallback;
  uint h = id * ${hex(HASH_MULTIPLIER)};
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  vec3 rgb = (64.0 + vec3(uvec3(h, h >> 8, h >> 16) & 255u) * (191.0 / 255.0)) / 255.0;
  return vec4(rgb, 1.0);
}

void main() {
  ivec2 p = clamp(ivec2(vTex), ivec2(0), uSize - 1);
  uint id = texelFetch(uLabels, ivec3(p, uLayer), 0).r;
  if (id == 0u) discard;
  bool special = id == uHighlight || id == uSelected;
  bool edge = false;
  if (uOutline == 1 || special) {
    vec2 f = vTex - vec2(p);
    uint l = neighbour(ivec2(p.x > 0 ? p.x - 1 : uLast, p.y), p.x > 0, uNeighbours.x, id);
    uint r = neighbour(ivec2(p.x < uSize.x - 1 ? p.x + 1 : 0, p.y), p.x < uSize.x - 1, uNeighbours.y, id);
    uint u = neighbour(ivec2(p.x, p.y > 0 ? p.y - 1 : uLast), p.y > 0, uNeighbours.z, id);
    uint d = neighbour(ivec2(p.x, p.y < uSize.y - 1 ? p.y + 1 : 0), p.y < uSize.y - 1, uNeighbours.w, id);
    // At high zoom a texel spans many screen pixels: only its part within uEdge texels of a differing
    // neighbour is edge, so outlines stay about uEdge screen pixels wide at every zoom.
    edge = (l != id && f.x < uEdge) || (r != id && 1.0 - f.x < uEdge)
        || (u != id && f.y < uEdge) || (d != id && 1.0 - f.y < uEdge);
    if (uOutline == 1 && !edge && !special) discard;
  }
  vec4 c = paletteColor(id);
  if (c.a == 0.0) discard;
  float a = c.a * uOpacity;
  vec3 rgb = c.rgb;
  if (id == uHighlight) {
    rgb = mix(rgb, vec3(1.0), 0.35);
    a = max(a, min(1.0, uOpacity + 0.25));
  }
  if (uOutline == 1) a = edge ? min(1.0, 2.0 * a) : a * 0.35; // outlines stronger; highlighted interior faint
  if (edge && id == uSelected) { rgb = uSelectedColor; a = 1.0; }
  else if (edge && id == uHighlight) { rgb = vec3(1.0); a = 1.0; }
  outColor = vec4(rgb * a, a);                        // premultiplied: blend ONE, ONE_MINUS_SRC_ALPHA
}`;
