// Select and pan: click a segment to select it, drag to move the view.
import type { Point } from "../canvas/viewport";
import type { Tool, ToolContext } from "./tool";

export class SelectTool implements Tool {
  readonly name = "select";
  readonly cursor = "default";
  private drag: { x: number; y: number; moved: boolean } | null = null;

  constructor(private readonly ctx: ToolContext) {}

  pointerDown(_p: Point, event: PointerEvent): void {
    this.drag = { x: event.clientX, y: event.clientY, moved: false };
  }

  pointerMove(p: Point, event: PointerEvent): void {
    const session = this.ctx.session;
    if (this.drag) {
      const dx = event.clientX - this.drag.x;
      const dy = event.clientY - this.drag.y;
      if (this.drag.moved || Math.abs(dx) + Math.abs(dy) > 3) {
        this.drag.moved = true;
        this.ctx.panBy(dx, dy);
        this.drag.x = event.clientX;
        this.drag.y = event.clientY;
      }
      return;
    }
    const id = session.map.get(Math.floor(p.x), Math.floor(p.y));
    const hover = id && session.table.has(id) ? id : null;
    if (hover !== session.hoverSegment) {
      session.hoverSegment = hover;
      session.emit("hover");
    }
  }

  pointerUp(p: Point): void {
    const drag = this.drag;
    this.drag = null;
    if (drag && !drag.moved) {
      const id = this.ctx.session.map.get(Math.floor(p.x), Math.floor(p.y));
      this.ctx.session.select(id && this.ctx.session.table.has(id) ? id : null);
    }
  }

  hint(): string {
    return "Click a segment to select it; drag to pan; wheel to zoom.";
  }
}
