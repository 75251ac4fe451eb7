// Polygon tool: click vertices; click the first vertex (or press Enter) to close a ring. After the outer ring,
// H starts a hole ring. While the polygon is open for editing: drag a vertex to move it, Alt+click an edge to
// insert a vertex, right-click or Delete on a hovered vertex to remove it. Enter commits (rasterised into the
// label map exactly as the server would), Escape cancels. With a segment selected, E (or a double click on it)
// opens it for vertex editing: a polygon segment with its own rings, any other segment (a polygon the eraser
// or brush changed, a SAM mask) with the exact outline of its current pixels, so only moved vertices change
// pixels. A polygon covering no pixel centre is never committed (no empty segment).
import type { Overlay } from "../canvas/overlay";
import { imageToScreen, type Point } from "../canvas/viewport";
import { SegmentRuleError } from "../core/segments";
import type { Tool, ToolContext } from "./tool";

type Ring = [number, number][];

const SNAP_PX = 8; // how close (CSS px) a click must be to a vertex or edge

export class PolygonTool implements Tool {
  readonly name = "polygon";
  readonly cursor = "crosshair";
  /** Closed rings (first = outer, others = holes) and the ring being drawn. */
  private rings: Ring[] = [];
  private drawing: Ring = [];
  private editingSegment: number | null = null;
  private pointer: Point | null = null;
  private hover: { ring: number; index: number } | null = null;
  private dragging: { ring: number; index: number } | null = null;
  /** After H: the next click starts a hole ring instead of editing the closed rings. */
  private holeMode = false;
  /** Whether the opened rings were changed (committing unchanged rings would be an empty undo step). */
  private modified = false;

  constructor(private readonly ctx: ToolContext) {}

  get busy(): boolean {
    return this.rings.length > 0 || this.drawing.length > 0;
  }

  deactivate(): void {
    this.cancel();
  }

  /** Open an existing segment for vertex editing (its rings, or the outline of its current pixels). */
  editSegment(segmentId: number): boolean {
    let rings: number[][][];
    try {
      rings = this.ctx.session.editableRings(segmentId);
    } catch (err) {
      if (err instanceof SegmentRuleError) {
        this.ctx.notify(err.message, "info");
        return false;
      }
      throw err;
    }
    this.rings = rings.map((ring) => ring.map(([x, y]) => [x, y] as [number, number]));
    this.drawing = [];
    this.holeMode = false;
    this.modified = false;
    this.editingSegment = segmentId;
    if (this.ctx.session.activeSegment !== segmentId) this.ctx.session.select(segmentId);
    this.ctx.redraw();
    return true;
  }

  /** The segment under an image point, if any. */
  private segmentAt(p: Point): number | null {
    const id = this.ctx.session.map.get(Math.floor(p.x), Math.floor(p.y));
    return id && this.ctx.session.table.has(id) ? id : null;
  }

  private screenDistance(a: Point, b: Point): number {
    const v = this.ctx.viewport();
    const sa = imageToScreen(v, a);
    const sb = imageToScreen(v, b);
    return Math.hypot(sa.x - sb.x, sa.y - sb.y);
  }

  private vertexAt(p: Point): { ring: number; index: number } | null {
    for (let r = 0; r < this.rings.length; r++) {
      const ring = this.rings[r];
      for (let i = 0; i < ring.length; i++) {
        if (this.screenDistance(p, { x: ring[i][0], y: ring[i][1] }) <= SNAP_PX) return { ring: r, index: i };
      }
    }
    return null;
  }

  private edgeAt(p: Point): { ring: number; index: number } | null {
    const v = this.ctx.viewport();
    const sp = imageToScreen(v, p);
    for (let r = 0; r < this.rings.length; r++) {
      const ring = this.rings[r];
      for (let i = 0; i < ring.length; i++) {
        const a = imageToScreen(v, { x: ring[i][0], y: ring[i][1] });
        const bb = ring[(i + 1) % ring.length];
        const b = imageToScreen(v, { x: bb[0], y: bb[1] });
        const len2 = (b.x - a.x) ** 2 + (b.y - a.y) ** 2;
        if (!len2) continue;
        const t = Math.max(0, Math.min(1, ((sp.x - a.x) * (b.x - a.x) + (sp.y - a.y) * (b.y - a.y)) / len2));
        if (Math.hypot(a.x + t * (b.x - a.x) - sp.x, a.y + t * (b.y - a.y) - sp.y) <= SNAP_PX) {
          return { ring: r, index: i };
        }
      }
    }
    return null;
  }

  pointerDown(p: Point, event: PointerEvent): void {
    const point: [number, number] = [round(p.x), round(p.y)];
    if (event.button === 2) {
      const vertex = this.vertexAt(p);
      if (vertex) this.removeVertex(vertex);
      return;
    }
    if (event.button !== 0) return;
    if (this.drawing.length === 0 && !this.holeMode) {
      const vertex = this.vertexAt(p);
      if (vertex) {
        this.dragging = vertex;
        return;
      }
      if (event.altKey) {
        const edge = this.edgeAt(p);
        if (edge) {
          this.rings[edge.ring].splice(edge.index + 1, 0, point);
          this.dragging = { ring: edge.ring, index: edge.index + 1 };
          this.modified = true;
          this.ctx.redraw();
          return;
        }
      }
      if (this.rings.length > 0 && !this.holeMode) {
        this.ctx.notify("Press H to draw a hole, Enter to finish, Escape to cancel.", "info");
        return;
      }
    }
    if (this.drawing.length >= 3 && this.screenDistance(p, { x: this.drawing[0][0], y: this.drawing[0][1] }) <= SNAP_PX) {
      this.closeRing();
      return;
    }
    this.drawing.push(point);
    this.ctx.redraw();
  }

  pointerMove(p: Point): void {
    this.pointer = p;
    if (this.dragging) {
      const vertex = this.rings[this.dragging.ring][this.dragging.index];
      const moved: [number, number] = [round(p.x), round(p.y)];
      if (vertex[0] !== moved[0] || vertex[1] !== moved[1]) this.modified = true;
      this.rings[this.dragging.ring][this.dragging.index] = moved;
    } else if (this.drawing.length === 0) {
      this.hover = this.vertexAt(p);
    }
    this.ctx.redraw();
  }

  pointerUp(): void {
    this.dragging = null;
  }

  doubleClick(p: Point): void {
    // Both clicks of a double click reached pointerDown first. When they began a new polygon (one or two
    // vertices, all under the pointer), they were meant for the segment there, not as vertices.
    const startedByIt = this.rings.length === 0 && !this.holeMode && this.drawing.length > 0 && this.drawing.length <= 2
      && this.drawing.every(([x, y]) => this.screenDistance(p, { x, y }) <= SNAP_PX);
    if (this.busy && !startedByIt) return;
    const id = this.segmentAt(p);
    if (id !== null) {
      this.drawing = [];
      this.editSegment(id);
    } else if (startedByIt) {
      this.drawing = this.drawing.slice(0, 1); // on empty ground: one vertex, not two on the same spot
      this.ctx.redraw();
    }
  }

  key(event: KeyboardEvent): boolean {
    switch (event.key) {
      case "Enter":
        if (this.drawing.length >= 3) this.closeRing();
        if (this.drawing.length === 0 && this.rings.length) this.commit();
        return true;
      case "Escape":
        if (this.drawing.length) this.drawing = [];
        else this.cancel();
        this.ctx.redraw();
        return this.busy || true;
      case "Backspace":
        if (this.drawing.length) {
          this.drawing.pop();
          this.ctx.redraw();
          return true;
        }
        return false;
      case "Delete":
        if (this.hover) {
          this.removeVertex(this.hover);
          return true;
        }
        return false;
      case "h":
      case "H":
        if (this.rings.length && this.drawing.length === 0) {
          this.holeMode = true;
          this.ctx.notify("Drawing a hole: click its vertices, then click the first one.", "info");
          return true;
        }
        return false;
      case "e":
      case "E":
        if (!this.busy && this.ctx.session.activeSegment !== null) {
          this.editSegment(this.ctx.session.activeSegment);
          return true;
        }
        return false;
      default:
        return false;
    }
  }

  private removeVertex(vertex: { ring: number; index: number }): void {
    const ring = this.rings[vertex.ring];
    if (ring.length <= 3) {
      this.rings.splice(vertex.ring, 1); // a ring needs 3 vertices: removing one more drops the ring
    } else {
      ring.splice(vertex.index, 1);
    }
    this.modified = true;
    this.hover = null;
    this.ctx.redraw();
  }

  private closeRing(): void {
    this.modified = true;
    this.rings.push(this.drawing);
    this.drawing = [];
    this.holeMode = false;
    this.ctx.redraw();
  }

  private commit(): void {
    if (this.editingSegment !== null && !this.modified) {
      this.cancel(); // nothing moved: no undo step, the segment keeps its pixels
      return;
    }
    try {
      this.ctx.session.commitPolygon(this.rings, this.editingSegment);
    } catch (err) {
      if (err instanceof SegmentRuleError) {
        this.ctx.notify(err.message, "error");
        return;
      }
      throw err;
    }
    this.cancel();
  }

  cancel(): void {
    this.holeMode = false;
    this.rings = [];
    this.drawing = [];
    this.editingSegment = null;
    this.modified = false;
    this.hover = null;
    this.dragging = null;
    this.ctx.redraw();
  }

  drawOverlay(overlay: Overlay): void {
    if (this.rings.length) {
      overlay.drawPolygon(this.rings, {
        closed: true,
        color: "#00e5ff",
        fill: "rgba(0, 229, 255, 0.15)",
        vertexHandles: this.drawing.length === 0,
        activeVertex: this.dragging ?? this.hover,
      });
    }
    if (this.drawing.length) {
      const open: Ring = this.pointer ? [...this.drawing, [this.pointer.x, this.pointer.y]] : this.drawing;
      overlay.drawPolygon([open], { closed: false, color: "#ffeb3b", vertexHandles: true, activeVertex: { ring: 0, index: 0 } });
    }
  }

  hint(): string {
    if (this.drawing.length) return "Click to add vertices; click the first vertex or press Enter to close the ring.";
    if (this.rings.length) {
      return "Enter: commit · H: add a hole · drag vertices · Alt+click an edge: insert · right-click/Delete: remove · Esc: cancel";
    }
    return "Click to start a polygon; double-click a polygon segment (or E) to edit its vertices.";
  }
}

/** Vertices are kept at 1/100 pixel: exact enough, and short in JSON. */
function round(v: number): number {
  return Math.round(v * 100) / 100;
}
