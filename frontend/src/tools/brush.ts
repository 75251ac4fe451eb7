// Brush and eraser: drag to paint the active segment (or a new one of the current class); the eraser sets
// pixels back to unlabeled. One stroke is one undo step. "Protect existing" keeps other segments' pixels.
import type { Overlay } from "../canvas/overlay";
import type { Point } from "../canvas/viewport";
import { SegmentRuleError } from "../core/segments";
import type { Tool, ToolContext } from "./tool";

export class BrushTool implements Tool {
  readonly cursor = "none";
  private pointer: Point | null = null;

  constructor(
    private readonly ctx: ToolContext,
    readonly erase: boolean,
  ) {}

  get name(): string {
    return this.erase ? "eraser" : "brush";
  }

  pointerDown(p: Point, event: PointerEvent): void {
    if (event.button !== 0) return;
    try {
      this.ctx.session.beginStroke(p.x, p.y, this.ctx.brushRadius(), this.erase);
    } catch (err) {
      if (err instanceof SegmentRuleError) this.ctx.notify(err.message, "error");
      else throw err;
    }
  }

  pointerMove(p: Point): void {
    this.pointer = p;
    if (this.ctx.session.stroking) this.ctx.session.extendStroke(p.x, p.y);
    this.ctx.redraw();
  }

  pointerUp(): void {
    if (this.ctx.session.stroking) this.ctx.session.endStroke();
  }

  deactivate(): void {
    if (this.ctx.session.stroking) this.ctx.session.endStroke();
    this.pointer = null;
  }

  drawOverlay(overlay: Overlay): void {
    if (!this.pointer) return;
    overlay.drawCircle(this.pointer, this.ctx.brushRadius(), {
      color: this.erase ? "#ff5252" : "#ffffff",
      lineWidth: 1.5,
    });
  }

  hint(): string {
    return this.erase
      ? "Drag to erase. [ and ] change the size."
      : "Drag to paint the selected segment (N starts a new one). [ and ] change the size.";
  }
}
