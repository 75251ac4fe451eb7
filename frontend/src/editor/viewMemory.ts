// The last view of each image in this browser tab, so leaving the editor and coming back (e.g. switching between
// review and edit, or Next and Back) keeps zoom and position. sessionStorage: per tab, gone when it closes.
//
// A view is remembered with a stamp of what was on screen (the annotation and its version): once the map changed
// (e.g. the annotator fixed what the reviewer rejected and submitted again), the old zoom may point away from the
// changes, so the editor fits the image instead of restoring it.
import type { Viewport } from "../canvas/viewport";

const key = (imageId: number) => `annotator.view.${imageId}`;

let pending: { imageId: number; v: Viewport; stamp: string } | null = null;
let timer: ReturnType<typeof setTimeout> | null = null;

/** What the view was of: the annotation shown and its version. */
export const viewStamp = (annotationId: number, version: number) => `${annotationId}@${version}`;

function write(): void {
  timer = null;
  if (!pending) return;
  try {
    sessionStorage.setItem(key(pending.imageId), JSON.stringify([pending.v.scale, pending.v.x, pending.v.y, pending.stamp]));
  } catch {
    /* storage full or disabled: the view is simply not remembered */
  }
  pending = null;
}

/** Remember the view of `stamp` (written a moment later: panning calls this every frame). */
export function rememberView(imageId: number, v: Viewport, stamp: string): void {
  if (pending && pending.imageId !== imageId) write();
  pending = { imageId, v, stamp };
  timer ??= setTimeout(write, 200);
}

/** Write a remembered view now (before the page goes away). */
export function flushView(): void {
  if (timer) clearTimeout(timer);
  write();
}

/** The view remembered for this image, if it was a view of `stamp` (the same annotation at the same version). */
export function recallView(imageId: number, stamp: string): Viewport | null {
  if (pending?.imageId === imageId) flushView();
  try {
    const raw = sessionStorage.getItem(key(imageId));
    if (!raw) return null;
    const [scale, x, y, seen] = JSON.parse(raw) as unknown[];
    if (seen !== stamp) return null;
    if (![scale, x, y].every((n) => typeof n === "number" && Number.isFinite(n)) || (scale as number) <= 0) return null;
    return { scale: scale as number, x: x as number, y: y as number };
  } catch {
    return null;
  }
}
