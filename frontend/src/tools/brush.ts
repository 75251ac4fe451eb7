// Brush and eraser: drag to paint the active segment (or a new one of the current class); the eraser sets
// pixels back to unlabeled. One stroke is one undo step; a stroke that changed nothing adds none and says why.
// "Protect existing" keeps the brush off other segments' pixels and limits the eraser to the selected segment
// (the CVAT / Label Studio habit: erase this object, leave its neighbours alone).
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
    this.finish();
  }

  deactivate(): void {
    this.finish();
    this.pointer = null;
  }

  private finish(): void {
    if (!this.ctx.session.stroking) return;
    const result = this.ctx.session.endStroke();
    if (result.message) this.ctx.notify(result.message, "info");
  }

  drawOverlay(overlay: Overlay): void {
    if (!this.pointer) return;
    overlay.drawCircle(this.pointer, this.ctx.brushRadius(), {
      color: this.erase ? "#ff5252" : "#ffffff",
      lineWidth: 1.5,
    });
  }

  hint(): string {
    if (this.erase) {
      return this.ctx.session.protectExisting
        ? "Drag to erase the selected segment only (Protect existing is on). [ and ] change the size."
        : "Drag to erase. [ and ] change the size.";
    }
    return "Drag to paint the selected segment (N starts a new one). [ and ] change the size.";
  }
}
