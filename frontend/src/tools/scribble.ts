// Scribble: a pixel classifier trained live on the annotator's strokes (like ilastik). Drag paints a stroke of
// the Scribble panel's class (Background: "nothing here"); strokes live in their own overlay, never in the
// label map. After each stroke the server proposes labels (coarse, then full: api/scribbles), shown in each
// class's colour, fainter where it is unsure. Enter (or the panel) accepts all of it, the panel one class, and
// Shift+click the connected region under the cursor; accepting paints through the session as one undo step
// (core/scribbleProposal plans the parts, session.paintClassParts paints them).
import { type DecodedProposal, NEED_TWO_LABELS, type ProposerState, ScribbleProposer } from "../api/scribbles";
import type { Overlay, RGBA } from "../canvas/overlay";
import { type Point, visibleImageRect } from "../canvas/viewport";
import type { RegionMask } from "../core/raster";
import {
  type AcceptWhat,
  type ScribbleClass,
  type ScribbleStroke,
  acceptPlan,
  classAt,
  clearAccepted,
  proposalRegion,
  rasterComponents,
  regionMaskAt,
  strokeLabels,
  strokePoints,
} from "../core/scribbleProposal";
import { SegmentRuleError } from "../core/segments";
import type { Tool, ToolContext } from "./tool";

export type ScribbleState = "idle" | ProposerState;

const BACKGROUND_COLOR = "#263238";
const HALO = "rgba(255, 255, 255, 0.85)";
const SHADOW = "rgba(0, 0, 0, 0.45)";
const REGION_EDGE: RGBA = [255, 255, 255, 255];
const REGION_FILL: RGBA = [255, 255, 255, 50];
/** Thing pieces under this many pixels are a classifier's specks, not instances: accepting leaves them out. */
export const MIN_THING_AREA = 16;
const MAX_RADIUS = 100;

function hasClassPixels(p: DecodedProposal): boolean {
  return p.labels.some((v) => v !== 0 && p.classes[v - 1] !== null);
}

function hexRgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export class ScribbleTool implements Tool {
  readonly name = "scribble";
  readonly cursor = "none";
  strokes: ScribbleStroke[] = [];
  /** The panel's Background choice; otherwise strokes take the editor's current class. */
  background = false;
  radius: number;
  proposal: DecodedProposal | null = null;
  state: ScribbleState = "idle";
  message = "";
  showConfidence = false;
  /** Proposals shown so far (tests wait on it). */
  proposalsShown = 0;
  /** The proposal still holds pixels of some class (not only Background). */
  acceptable = false;
  private drawing: { classId: ScribbleClass; points: Array<[number, number]> } | null = null;
  private pointer: Point | null = null;
  private shift = false;
  private components: { ids: Int32Array; count: number } | null = null;
  private hover: { piece: number; mask: RegionMask } | null = null;
  private picture: { key: string; canvas: HTMLCanvasElement } | null = null;
  private seenClass: number | null;
  private readonly listeners = new Set<() => void>();
  private readonly proposer: ScribbleProposer;

  constructor(
    private readonly ctx: ToolContext,
    readonly imageId: number,
    private readonly imageSize: { width: number; height: number },
    proposer?: ScribbleProposer,
  ) {
    this.radius = Math.max(3, Math.round(Math.min(imageSize.width, imageSize.height) / 150));
    this.seenClass = ctx.session.currentClassId;
    this.proposer = proposer ?? new ScribbleProposer(imageId, {
      state: (state) => this.setState(state, state === "coarse" ? "Proposing (coarse)…" : state === "full" ? "Refining…" : this.message),
      proposal: (proposal) => this.show(proposal),
      error: (message) => this.setState("error", message),
    });
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
    this.ctx.redraw();
  }

  private setState(state: ScribbleState, message: string): void {
    this.state = state;
    if (state === "ready" && this.proposal) message = this.describe(this.proposal);
    this.message = message;
    this.changed();
  }

  private describe(p: DecodedProposal): string {
    // The server's own time: its total, else the sum of its steps.
    const seconds = p.seconds.total ?? Object.values(p.seconds).reduce((a, b) => a + b, 0);
    const took = seconds >= 1 ? `, ${seconds.toFixed(1)} s` : seconds > 0 ? `, ${Math.round(seconds * 1000)} ms` : "";
    return `Proposal (${p.resolution === "full" || p.scale >= 1 ? "full resolution" : "coarse"}${took})`;
  }

  private show(proposal: DecodedProposal): void {
    this.proposal = proposal;
    this.proposalsShown += 1;
    this.components = null;
    this.hover = null;
    this.picture = null;
    this.acceptable = hasClassPixels(proposal);
    this.message = this.describe(proposal);
    this.changed();
  }

  /** The class new strokes get: Background, or the editor's current class (which the panel and 1-9 set). */
  get strokeClass(): ScribbleClass {
    const current = this.ctx.session.currentClassId;
    // Choosing a class anywhere (panel, 1-9, a segment) ends the Background choice.
    if (current !== this.seenClass) {
      this.seenClass = current;
      this.background = false;
    }
    return this.background ? null : current;
  }

  chooseBackground(): void {
    this.seenClass = this.ctx.session.currentClassId;
    this.background = true;
    this.changed();
  }

  setRadius(radius: number): void {
    this.radius = Math.max(1, Math.min(MAX_RADIUS, Math.round(radius)));
    this.changed();
  }

  setShowConfidence(show: boolean): void {
    this.showConfidence = show;
    this.changed();
  }

  deactivate(): void {
    this.finishStroke();
    this.pointer = null;
    this.hover = null;
  }

  dispose(): void {
    this.proposer.cancel();
    this.listeners.clear();
  }

  // --- strokes ------------------------------------------------------------------------------------------

  pointerDown(p: Point, event: PointerEvent): void {
    if (event.button !== 0) return;
    if (event.shiftKey) {
      this.acceptRegionAt(p);
      return;
    }
    const classId = this.strokeClass;
    if (classId === null && !this.background) {
      this.ctx.notify("Create a class first (project settings).", "error");
      return;
    }
    this.drawing = { classId, points: [[p.x, p.y]] };
    this.ctx.redraw();
  }

  pointerMove(p: Point, event: PointerEvent): void {
    this.pointer = p;
    this.shift = event.shiftKey;
    if (this.drawing) this.drawing.points.push([p.x, p.y]);
    this.updateHover();
    this.ctx.redraw();
  }

  pointerUp(): void {
    this.finishStroke();
  }

  private finishStroke(): void {
    const drawing = this.drawing;
    if (!drawing) return;
    this.drawing = null;
    // The server takes points up to one radius outside the image: a drag past the edge is clamped to it.
    const { width, height } = this.imageSize;
    const inside = drawing.points.map(([x, y]) => [Math.min(width, Math.max(0, x)), Math.min(height, Math.max(0, y))] as [number, number]);
    this.strokes.push({ classId: drawing.classId, radius: this.radius, points: strokePoints(inside, Math.max(1, this.radius / 2)) });
    this.ask();
  }

  /** Remove the last stroke and ask again. */
  undoStroke(): void {
    if (!this.strokes.length) return;
    this.strokes.pop();
    if (this.strokes.length) this.ask();
    else this.clearScribbles();
  }

  /** Drop every stroke and the proposal. */
  clearScribbles(): void {
    this.proposer.cancel();
    this.strokes = [];
    this.proposal = null;
    this.acceptable = false;
    this.components = null;
    this.hover = null;
    this.picture = null;
    this.setState("idle", "");
  }

  private ask(): void {
    if (strokeLabels(this.strokes) < 2) {
      this.proposer.cancel();
      this.setState("error", NEED_TWO_LABELS);
      return;
    }
    this.proposer.schedule(() => this.strokes.slice(), () => {
      const { width, height } = this.ctx.overlay.size;
      return proposalRegion(this.imageSize, visibleImageRect(this.ctx.viewport(), width, height));
    });
  }

  // --- accepting ----------------------------------------------------------------------------------------

  /** Paint part of the proposal into the label map (one undo step); returns the segments painted. */
  accept(what: AcceptWhat): number[] {
    const proposal = this.proposal;
    if (!proposal) {
      this.ctx.notify("There is no proposal yet: scribble at least two classes.", "info");
      return [];
    }
    const session = this.ctx.session;
    // Protect existing and locks, per pixel; a run of pixels mostly holds one id, so remember the last answer.
    let lastClass = -1;
    let lastId = -1;
    let lastKeep = false;
    const keep = (classId: number, x: number, y: number) => {
      const id = session.map.get(x, y);
      if (classId !== lastClass || id !== lastId) {
        lastClass = classId;
        lastId = id;
        lastKeep = session.keepsFor(classId, id);
      }
      return lastKeep;
    };
    let painted: number[];
    try {
      const parts = acceptPlan(proposal, what, {
        kindOf: (classId) => session.table.classKind(classId), keep, minThingArea: MIN_THING_AREA,
      });
      if (!parts.length) {
        this.ctx.notify(what.kind === "region" ? "Nothing to accept here: Shift+click a coloured part of the proposal." : "Nothing to accept.", "info");
        return [];
      }
      painted = session.paintClassParts(parts, { label: "Scribble proposal", source: "model" });
    } catch (err) {
      if (err instanceof SegmentRuleError) {
        this.ctx.notify(err.message, "error");
        return [];
      }
      throw err;
    }
    if (!painted.length) {
      this.ctx.notify(session.protectExisting
        ? "Nothing painted: Protect existing keeps the proposal off the other segments here."
        : "Nothing painted: the segments here are locked or hidden, or already hold these classes.", "info");
      return [];
    }
    clearAccepted(proposal, what);
    this.acceptable = hasClassPixels(proposal);
    this.components = null;
    this.hover = null;
    this.picture = null;
    // A finer answer still on its way would show the accepted pixels again: it is not waited for.
    this.proposer.cancel();
    this.state = "ready";
    this.message = `Accepted: ${painted.length === 1 ? "1 segment" : `${painted.length} segments`} painted (one undo step)`;
    this.changed();
    return painted;
  }

  acceptAll(): number[] {
    return this.accept({ kind: "all" });
  }

  acceptClass(classId: number): number[] {
    return this.accept({ kind: "class", classId });
  }

  acceptRegionAt(p: Point): number[] {
    return this.accept({ kind: "region", x: Math.floor(p.x), y: Math.floor(p.y) });
  }

  private updateHover(): void {
    const p = this.pointer;
    const proposal = this.proposal;
    if (!p || !proposal || !this.shift || this.drawing) {
      this.hover = null;
      return;
    }
    const x = Math.floor(p.x);
    const y = Math.floor(p.y);
    const cls = classAt(proposal, x, y);
    if (cls === undefined || cls === null) {
      this.hover = null;
      return;
    }
    this.components ??= rasterComponents(proposal);
    const region = regionMaskAt(proposal, this.components, x, y);
    if (!region) {
      this.hover = null;
      return;
    }
    // The same piece keeps its mask (built once, cached by the overlay).
    const [rx, ry, rw, rh] = proposal.region;
    const cx = Math.min(proposal.width - 1, Math.floor(((x - rx) * proposal.width) / rw));
    const cy = Math.min(proposal.height - 1, Math.floor(((y - ry) * proposal.height) / rh));
    const piece = this.components.ids[cy * proposal.width + cx];
    if (this.hover?.piece !== piece) this.hover = { piece, mask: region.mask };
  }

  key(event: KeyboardEvent): boolean {
    if (event.key === "[" || event.key === "]") {
      this.setRadius(event.key === "[" ? Math.min(this.radius - 1, this.radius / 1.25) : Math.max(this.radius + 1, this.radius * 1.25));
      return true;
    }
    if (event.key === "Enter" && this.acceptable) {
      this.acceptAll();
      return true;
    }
    if (event.key === "Shift" && this.shift !== (event.type === "keydown")) {
      this.shift = event.type === "keydown";
      this.updateHover();
      this.ctx.redraw();
      return false;
    }
    return false;
  }

  // --- drawing ------------------------------------------------------------------------------------------

  private colorOf(classId: ScribbleClass): string {
    if (classId === null) return BACKGROUND_COLOR;
    return this.ctx.session.classes.get(classId)?.color ?? "#999999";
  }

  /** The proposal as an RGBA picture of its raster: class colours with alpha from confidence, or grey confidence. */
  private proposalPicture(p: DecodedProposal): HTMLCanvasElement {
    const key = `${this.proposalsShown}:${this.showConfidence}`;
    if (this.picture?.key === key) return this.picture.canvas;
    const canvas = document.createElement("canvas");
    canvas.width = p.width;
    canvas.height = p.height;
    const image = new ImageData(p.width, p.height);
    const px = image.data;
    const colors = p.classes.map((c) => (c === null ? null : hexRgb(this.colorOf(c))));
    for (let i = 0; i < p.labels.length; i++) {
      const label = p.labels[i];
      if (label === 0) continue;
      const c = p.confidence[i];
      if (this.showConfidence) {
        px[i * 4] = px[i * 4 + 1] = px[i * 4 + 2] = c;
        px[i * 4 + 3] = 220;
        continue;
      }
      const rgb = colors[label - 1];
      if (!rgb) continue; // Background: nothing to show
      px[i * 4] = rgb[0];
      px[i * 4 + 1] = rgb[1];
      px[i * 4 + 2] = rgb[2];
      // Opaque where sure, faint where unsure.
      px[i * 4 + 3] = Math.round(25 + (135 * c) / 255);
    }
    canvas.getContext("2d")!.putImageData(image, 0, 0);
    this.picture = { key, canvas };
    return canvas;
  }

  private drawStroke(overlay: Overlay, classId: ScribbleClass, radius: number, points: ReadonlyArray<readonly [number, number]>): void {
    const scale = this.ctx.viewport().scale;
    const width = Math.max(2, 2 * radius * scale);
    const color = this.colorOf(classId);
    const ring = points.map(([x, y]) => [x, y] as [number, number]);
    // A dark and a light rim keep a stroke visible on any picture, even one of its own class's colour.
    if (ring.length > 1) {
      overlay.drawPolygon([ring], { closed: false, color: SHADOW, lineWidth: width + 5 });
      overlay.drawPolygon([ring], { closed: false, color: HALO, lineWidth: width + 3 });
      overlay.drawPolygon([ring], { closed: false, color, lineWidth: width });
    }
    // Round ends (and a click's dot).
    const r = width / 2 / scale;
    for (const [x, y] of [ring[0], ring[ring.length - 1]]) {
      overlay.drawCircle({ x, y }, r, { fill: color, color: HALO, lineWidth: 1.5 });
    }
  }

  drawOverlay(overlay: Overlay): void {
    const p = this.proposal;
    if (p) overlay.drawPicture(this.proposalPicture(p), p.region[2], p.region[3], p.region[0], p.region[1]);
    for (const s of this.strokes) if (s.points.length) this.drawStroke(overlay, s.classId, s.radius, s.points);
    if (this.drawing) this.drawStroke(overlay, this.drawing.classId, this.radius, this.drawing.points);
    if (this.hover) overlay.drawMask(this.hover.mask, { fill: REGION_FILL, outline: REGION_EDGE });
    if (this.pointer && !this.hover) {
      overlay.drawCircle(this.pointer, this.radius, { color: this.shift && p ? "#ffffff" : this.colorOf(this.strokeClass), lineWidth: 1.5 });
    }
  }

  hint(): string {
    if (this.proposal && this.acceptable) {
      return "Coloured: the proposal (fainter where unsure). Enter or \"Accept all\" takes it all, the panel one class, " +
        "Shift+click the region under the cursor. More strokes refine it; correct the rest with the usual tools.";
    }
    return "Scribble: drag a few strokes on each class (choose it in the Scribble panel or with 1-9; Background marks " +
      "what is not labelled). A proposal follows each stroke. [ and ] change the stroke width.";
  }
}
