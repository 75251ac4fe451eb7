// The interface every editor tool implements. Tools get pointer positions already in image coordinates and
// draw feedback on the overlay; they change labels only through the EditorSession.
import type { Overlay } from "../canvas/overlay";
import type { Point, Viewport } from "../canvas/viewport";
import type { EditorSession } from "../editor/session";

export interface ToolContext {
  session: EditorSession;
  overlay: Overlay;
  viewport(): Viewport;
  /** Brush radius in image pixels (shared by brush and eraser). */
  brushRadius(): number;
  /** Ask for the overlay to be redrawn (tools draw in drawOverlay). */
  redraw(): void;
  /** Show a short message (errors from segment rules, hints). */
  notify(message: string, kind?: "info" | "error"): void;
  /** Pan the view by screen pixels (the select tool drags the image). */
  panBy(dx: number, dy: number): void;
}

export interface Tool {
  readonly name: string;
  readonly cursor: string;
  activate?(): void;
  deactivate?(): void;
  pointerDown?(p: Point, event: PointerEvent): void;
  pointerMove?(p: Point, event: PointerEvent): void;
  pointerUp?(p: Point, event: PointerEvent): void;
  doubleClick?(p: Point, event: MouseEvent): void;
  /** Return true when the key was used. */
  key?(event: KeyboardEvent): boolean;
  drawOverlay?(overlay: Overlay): void;
  /** One line shown under the toolbar while the tool is active. */
  hint?(): string;
}
