// The last view of each image in this browser tab, so leaving the editor and coming back (e.g. switching between
// review and edit, or Next and Back) keeps zoom and position. sessionStorage: per tab, gone when it closes.
import type { Viewport } from "../canvas/viewport";

const key = (imageId: number) => `annotator.view.${imageId}`;

let pending: { imageId: number; v: Viewport } | null = null;
let timer: ReturnType<typeof setTimeout> | null = null;

function write(): void {
  timer = null;
  if (!pending) return;
  try {
    sessionStorage.setItem(key(pending.imageId), JSON.stringify([pending.v.scale, pending.v.x, pending.v.y]));
  } catch {
    /* storage full or disabled: the view is simply not remembered */
  }
  pending = null;
}

/** Remember the view (written a moment later: panning calls this every frame). */
export function rememberView(imageId: number, v: Viewport): void {
  if (pending && pending.imageId !== imageId) write();
  pending = { imageId, v };
  timer ??= setTimeout(write, 200);
}

/** Write a remembered view now (before the page goes away). */
export function flushView(): void {
  if (timer) clearTimeout(timer);
  write();
}

export function recallView(imageId: number): Viewport | null {
  if (pending?.imageId === imageId) flushView();
  try {
    const raw = sessionStorage.getItem(key(imageId));
    if (!raw) return null;
    const [scale, x, y] = JSON.parse(raw) as unknown[];
    if (![scale, x, y].every((n) => typeof n === "number" && Number.isFinite(n)) || (scale as number) <= 0) return null;
    return { scale: scale as number, x: x as number, y: y as number };
  } catch {
    return null;
  }
}
