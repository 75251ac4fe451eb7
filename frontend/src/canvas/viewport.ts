// Viewport math for the canvas: pure functions, no DOM. Every coordinate on screen is in CSS pixels relative to
// the canvas' top-left corner; image coordinates are full-resolution (level 0) pixels, with pixel (i, j)
// covering [i, i+1) × [j, j+1).

/** screen = image * scale + (x, y), in CSS pixels. */
export interface Viewport {
  scale: number;
  x: number;
  y: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ScaleLimits {
  min: number;
  max: number;
}

export function screenToImage(v: Viewport, p: Point): Point {
  return { x: (p.x - v.x) / v.scale, y: (p.y - v.y) / v.scale };
}

export function imageToScreen(v: Viewport, p: Point): Point {
  return { x: p.x * v.scale + v.x, y: p.y * v.scale + v.y };
}

/** Multiply the scale by `factor` (clamped to `limits`) keeping the image point under `screenPoint` fixed. */
export function zoomAt(v: Viewport, screenPoint: Point, factor: number, limits: ScaleLimits): Viewport {
  const scale = Math.min(limits.max, Math.max(limits.min, v.scale * factor));
  const anchor = screenToImage(v, screenPoint);
  return { scale, x: screenPoint.x - anchor.x * scale, y: screenPoint.y - anchor.y * scale };
}

export function panBy(v: Viewport, dx: number, dy: number): Viewport {
  return { scale: v.scale, x: v.x + dx, y: v.y + dy };
}

/** The viewport showing the whole image centred, with at least `margin` CSS pixels free on every side. */
export function fitImage(imageW: number, imageH: number, canvasW: number, canvasH: number, margin = 0): Viewport {
  const availW = Math.max(1, canvasW - 2 * margin);
  const availH = Math.max(1, canvasH - 2 * margin);
  const scale = Math.min(availW / imageW, availH / imageH);
  return { scale, x: (canvasW - imageW * scale) / 2, y: (canvasH - imageH * scale) / 2 };
}

/** The part of image space the canvas shows (not clipped to the image). */
export function visibleImageRect(v: Viewport, canvasW: number, canvasH: number): Rect {
  const topLeft = screenToImage(v, { x: 0, y: 0 });
  return { x: topLeft.x, y: topLeft.y, width: canvasW / v.scale, height: canvasH / v.scale };
}

/**
 * The coarsest pyramid level whose resolution is still at least the screen's: level k has 2**-k level pixels
 * per image pixel and the screen has `scale * devicePixelRatio` device pixels per image pixel, so this is the
 * largest k with 2**-k >= scale * dpr, clamped to [0, levelCount - 1]. A level pixel is then drawn at between
 * 0.5 and 1 device pixel (minified at most 2x), except at level 0 where it may be magnified.
 */
export function pyramidLevelFor(scale: number, levelCount: number, devicePixelRatio = 1): number {
  const deviceScale = scale * devicePixelRatio;
  if (!(deviceScale > 0) || levelCount <= 1) return 0;
  // The epsilon keeps exact powers of two (scale 0.25 → level 2) from flipping on rounding error.
  const level = Math.floor(-Math.log2(deviceScale) + 1e-9);
  return Math.min(levelCount - 1, Math.max(0, level));
}
