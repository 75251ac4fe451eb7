// GLSL ES 3.00 sources. Every draw is one tile quad: the vertex shader places a unit quad at `uRect` (CSS
// pixels, computed on the CPU in double precision so large images stay exact at high zoom).
import { PALETTE_WIDTH } from "./palette";

export const QUAD_VS = `#version 300 es
in vec2 aUnit;
uniform vec4 uRect;      // x0, y0, x1, y1 in CSS pixels
uniform vec2 uCanvas;    // canvas size in CSS pixels
uniform vec2 uTexSize;   // texels shown by the quad (image tiles: normalised uv extent)
uniform vec2 uTexOrigin; // texel at the quad's top-left (label stand-ins show part of a coarser tile; else 0)
out vec2 vTex;
void main() {
  // Select, not interpolate, the corners: neighbouring tiles then share bit-identical edges (no seams).
  vec2 css = vec2(aUnit.x > 0.5 ? uRect.z : uRect.x, aUnit.y > 0.5 ? uRect.w : uRect.y);
  gl_Position = vec4(css.x / uCanvas.x * 2.0 - 1.0, 1.0 - css.y / uCanvas.y * 2.0, 0.0, 1.0);
  vTex = uTexOrigin + aUnit * uTexSize;
}`;

export const IMAGE_FS = `#version 300 es
precision mediump float;
uniform sampler2D uImage;
in vec2 vTex;
out vec4 outColor;
void main() {
  outColor = texture(uImage, vTex);
}`;

/*
 * Label fragment shader. Each label texel is one uint32, palette index << 4 | edge flags, computed on the CPU at
 * upload (see labelTexels.ts); the palette holds each index's interior and edge colour with the whole style
 * already applied (see palette.ts), because in SwiftShader every texture fetch and instruction is paid per pixel
 * whatever the branches (`discard` skips nothing). Per pixel: 1 R32UI texelFetch, the edge test, 1 RGBA8
 * texelFetch of the styled colour, then blending. Two variants:
 *   "exact": zoomed in, a texel spans several screen pixels and only its part within uEdge texels of a differing
 *            neighbour is edge, so outlines stay about uEdge screen pixels wide at every zoom;
 *   "any":   zoomed out, a texel is at most the outline width (uEdge >= 1), so every texel with a differing
 *            neighbour is edge: the same result without the four distance tests.
 */
export type LabelEdgeTest = "exact" | "any";

export function labelFragmentShader(edges: LabelEdgeTest): string {
  return `#version 300 es
#define EXACT_EDGES ${edges === "exact" ? 1 : 0}
precision highp float;
precision highp int;
precision highp usampler2DArray;

uniform usampler2DArray uLabels; // R32UI: palette index << 4 | edge flags (1 left, 2 right, 4 up, 8 down differ)
uniform sampler2D uPalette;      // RGBA8 premultiplied, ${PALETTE_WIDTH} texels wide, two rows per ${PALETTE_WIDTH} indices
uniform int uLayer;
uniform ivec2 uSize;             // cropped tile size in texels
uniform float uEdge;             // outline width in texels

in vec2 vTex;
out vec4 outColor;

void main() {
  ivec2 p = min(ivec2(vTex), uSize - 1);
  uint texel = texelFetch(uLabels, ivec3(p, uLayer), 0).r;
  uint index = texel >> 4;                            // 0 = unlabeled: a transparent palette texel
#if EXACT_EDGES
  vec2 f = vTex - vec2(p);
  bvec4 differs = notEqual(uvec4(texel) & uvec4(1u, 2u, 4u, 8u), uvec4(0u));
  bvec4 near = lessThan(vec4(f.x, 1.0 - f.x, f.y, 1.0 - f.y), vec4(uEdge));
  bool edge = any(bvec4(uvec4(differs) & uvec4(near)));
#else
  bool edge = (texel & 15u) != 0u;
#endif
  uvec2 at = uvec2(index & ${PALETTE_WIDTH - 1}u, ((index >> ${Math.log2(PALETTE_WIDTH)}u) << 1) | uint(edge));
  outColor = texelFetch(uPalette, ivec2(at), 0);      // premultiplied: blend ONE, ONE_MINUS_SRC_ALPHA
}`;
}
