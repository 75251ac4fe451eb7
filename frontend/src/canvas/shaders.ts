// GLSL ES 3.00 sources. Every draw is one tile quad: the vertex shader places a unit quad at `uRect` (CSS
// pixels, computed on the CPU in double precision so large images stay exact at high zoom).
import { PALETTE_WIDTH } from "./palette";

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

/*
 * Label fragment shader, compiled once per mode (fill / outline). Each label texel is one uint32,
 * palette index << 4 | edge flags, computed on the CPU at upload (see labelTexels.ts), because in SwiftShader
 * every texture fetch and instruction is paid per pixel whatever the branches (`discard` skips nothing).
 * Per pixel: 1 R32UI texelFetch, 1 RGBA8 texelFetch of the colour, a few ALU ops, then blending.
 */
export function labelFragmentShader(mode: "fill" | "outline"): string {
  return `#version 300 es
#define OUTLINE ${mode === "outline" ? 1 : 0}
precision highp float;
precision highp int;
precision highp usampler2DArray;

uniform usampler2DArray uLabels; // R32UI: palette index << 4 | edge flags (1 left, 2 right, 4 up, 8 down differ)
uniform sampler2D uPalette;      // RGBA8, straight alpha, ${PALETTE_WIDTH} texels wide, texel = palette index
uniform int uLayer;
uniform ivec2 uSize;             // cropped tile size in texels
uniform float uOpacity;
uniform float uEdge;             // outline width in texels
uniform uint uHighlight;         // palette index of the hovered segment; 0xFFFFFFFF = none
uniform uint uSelected;          // palette index of the selected segment; 0xFFFFFFFF = none
uniform vec3 uSelectedColor;

in vec2 vTex;
out vec4 outColor;

void main() {
  ivec2 p = min(ivec2(vTex), uSize - 1);
  uint texel = texelFetch(uLabels, ivec3(p, uLayer), 0).r;
  uint index = texel >> 4;                            // 0 = unlabeled
  vec4 c = texelFetch(uPalette, ivec2(index & ${PALETTE_WIDTH - 1}u, index >> ${Math.log2(PALETTE_WIDTH)}), 0);
  // Zoomed in, a texel spans many screen pixels: only its part within uEdge texels of a differing neighbour
  // is edge, so outlines stay about uEdge screen pixels wide at every zoom.
  vec2 f = vTex - vec2(p);
  bool edge = ((texel & 1u) != 0u && f.x < uEdge) || ((texel & 2u) != 0u && 1.0 - f.x < uEdge)
      || ((texel & 4u) != 0u && f.y < uEdge) || ((texel & 8u) != 0u && 1.0 - f.y < uEdge);
  bool special = index == uHighlight || index == uSelected;
#if OUTLINE
  if (!(edge || special)) discard;
#endif
  if (c.a == 0.0) discard;                            // unlabeled (palette texel 0) or hidden
  float a = c.a * uOpacity;
  vec3 rgb = c.rgb;
  if (index == uHighlight) {
    rgb = mix(rgb, vec3(1.0), 0.35);
    a = max(a, min(1.0, uOpacity + 0.25));
  }
#if OUTLINE
  a = edge ? min(1.0, 2.0 * a) : a * 0.35;           // outlines stronger; highlighted/selected interior faint
#endif
  if (edge && index == uSelected) { rgb = uSelectedColor; a = 1.0; }
  else if (edge && index == uHighlight) { rgb = vec3(1.0); a = 1.0; }
  outColor = vec4(rgb * a, a);                        // premultiplied: blend ONE, ONE_MINUS_SRC_ALPHA
}`;
}
