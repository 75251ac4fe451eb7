// SAM: click to segment. Left click adds a positive point, right click or Alt+click a negative one, a drag
// draws a box; after each prompt the decoder's mask is previewed. C cycles SAM's three candidates, Enter
// paints the shown one as a new segment of the current class (source "sam"), Shift+Enter (or the "add to
// selected" option) adds it to the selected segment, Esc clears the prompts. "Segment everything" proposals
// are outlined under the cursor; a click accepts one. The decode runs in src/sam/ (worker or server).
import type { Overlay, RGBA } from "../canvas/overlay";
import type { Point } from "../canvas/viewport";
import type { RegionMask } from "../core/raster";
import { type PointLabel, type SamPrompt, maskFromRle } from "../core/samPrompts";
import { SegmentRuleError } from "../core/segments";
import type { SamProposal } from "../api/sam";
import type { DecodePath, SamEngine } from "../sam/engine";
import type { Tool, ToolContext } from "./tool";

const PREVIEW_FILL: RGBA = [30, 144, 255, 150];
const PREVIEW_EDGE: RGBA = [255, 255, 255, 255];
const PROPOSAL_FILL: RGBA = [255, 214, 0, 60];
const PROPOSAL_EDGE: RGBA = [255, 214, 0, 255];
const DRAG_PX = 4;
const LATENCIES_KEPT = 200;

export interface SamLatency {
  /** Pointer event → preview painted on the overlay. */
  clickToPaintMs: number;
  /** session.run in the worker, or the server round trip. */
  decodeMs: number;
  path: DecodePath;
}

interface Candidate {
  mask: RegionMask;
  score: number;
}

export class SamTool implements Tool {
  readonly name = "sam";
  readonly cursor = "crosshair";
  points: Array<[number, number]> = [];
  labels: PointLabel[] = [];
  box: [number, number, number, number] | null = null;
  candidates: Candidate[] = [];
  choice = 0;
  addToSelected = false;
  pickProposals = false;
  proposals: Array<SamProposal & { mask?: RegionMask }> = [];
  hoverProposal: (SamProposal & { mask?: RegionMask }) | null = null;
  readonly latencies: SamLatency[] = [];
  private drag: { start: Point; screen: { x: number; y: number }; current: Point; moved: boolean; negative: boolean } | null = null;
  private generation = 0;
  private readonly listeners = new Set<() => void>();
  private started = false;

  constructor(private readonly ctx: ToolContext, readonly engine: SamEngine) {}

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Tell listeners (the options panel) and redraw, after changing `choice` from outside. */
  onChangeNotify(): void {
    this.changed();
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
    this.ctx.redraw();
  }

  activate(): void {
    if (!this.started) {
      this.started = true;
      void this.engine.start();
    }
  }

  deactivate(): void {
    this.drag = null;
    this.hoverProposal = null;
  }

  // --- prompts ------------------------------------------------------------------------------------------

  pointerDown(p: Point, event: PointerEvent): void {
    if (event.button !== 0 && event.button !== 2) return;
    this.drag = { start: p, current: p, screen: { x: event.clientX, y: event.clientY }, moved: false,
      negative: event.button === 2 || event.altKey };
  }

  pointerMove(p: Point, event: PointerEvent): void {
    const drag = this.drag;
    if (drag) {
      drag.current = p;
      if (!drag.moved && Math.abs(event.clientX - drag.screen.x) + Math.abs(event.clientY - drag.screen.y) > DRAG_PX && !drag.negative) {
        drag.moved = true;
      }
      if (drag.moved) this.ctx.redraw();
      return;
    }
    if (this.pickProposals && this.proposals.length) {
      const hover = this.proposalAt(p);
      if (hover !== this.hoverProposal) {
        this.hoverProposal = hover;
        this.ctx.redraw();
      }
    }
  }

  pointerUp(p: Point, event: PointerEvent): void {
    const drag = this.drag;
    this.drag = null;
    if (!drag) return;
    const { width, height } = this.ctx.session.map;
    const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
    if (drag.moved) {
      const x0 = clamp(Math.min(drag.start.x, p.x), width), x1 = clamp(Math.max(drag.start.x, p.x), width);
      const y0 = clamp(Math.min(drag.start.y, p.y), height), y1 = clamp(Math.max(drag.start.y, p.y), height);
      if (x1 - x0 < 1 || y1 - y0 < 1) return;
      this.box = [x0, y0, x1, y1];
    } else {
      const x = Math.floor(p.x), y = Math.floor(p.y);
      if (x < 0 || y < 0 || x >= width || y >= height) return;
      if (!drag.negative && this.pickProposals && !this.points.length && !this.box && this.hoverProposal) {
        this.acceptProposal(this.hoverProposal);
        return;
      }
      // A click on pixel (i, j) is the continuous point (i + 0.5, j + 0.5), as the server expects.
      this.points.push([x + 0.5, y + 0.5]);
      this.labels.push(drag.negative ? 0 : 1);
    }
    void this.requestDecode(event.timeStamp);
  }

  get prompt(): SamPrompt {
    return { points: this.points, labels: this.labels, box: this.box };
  }

  /** Decode the current prompts and preview the best candidate; a newer prompt supersedes an older one. */
  async requestDecode(clickTime = performance.now()): Promise<void> {
    if (!this.points.length && !this.box) {
      this.candidates = [];
      this.changed();
      return;
    }
    if (!this.engine.ready) {
      this.ctx.notify(this.engine.message, this.engine.state === "error" || this.engine.state === "unavailable" ? "error" : "info");
      return;
    }
    const generation = ++this.generation;
    let result;
    try {
      result = await this.engine.decode({ points: [...this.points], labels: [...this.labels], box: this.box }, true);
    } catch (err) {
      this.ctx.notify(`SAM: ${(err as Error).message}`, "error");
      return;
    }
    if (!result || generation !== this.generation) return; // superseded
    this.candidates = result.masks.map((mask, i) => ({ mask, score: result.scores[i] }));
    this.choice = 0;
    // Paint now (not on the next frame) so the latency below ends with the preview on screen.
    this.ctx.overlay.drawNow();
    this.latencies.push({ clickToPaintMs: performance.now() - clickTime, decodeMs: result.decodeMs, path: result.path });
    if (this.latencies.length > LATENCIES_KEPT) this.latencies.shift();
    this.changed();
  }

  get current(): Candidate | null {
    return this.candidates[this.choice] ?? null;
  }

  cycle(): void {
    if (this.candidates.length < 2) return;
    this.choice = (this.choice + 1) % this.candidates.length;
    this.changed();
  }

  clear(): void {
    this.generation++;
    this.points = [];
    this.labels = [];
    this.box = null;
    this.candidates = [];
    this.choice = 0;
    this.changed();
  }

  /** Paint the shown candidate: a new segment of the current class, or into the selected one. */
  accept(addToSelected = this.addToSelected): number | null {
    const candidate = this.current;
    if (!candidate) return null;
    const session = this.ctx.session;
    const addTo = addToSelected ? session.activeSegment : null;
    if (addToSelected && addTo === null) {
      this.ctx.notify("Select a segment to add the mask to", "error");
      return null;
    }
    let id: number | null;
    try {
      // A new segment: not the selected one, even when something is selected.
      if (addTo === null) session.select(null);
      id = session.paintModelMask(candidate.mask, { label: addTo !== null ? "SAM (add)" : "SAM", source: "sam", score: candidate.score, addTo });
    } catch (err) {
      if (err instanceof SegmentRuleError) {
        this.ctx.notify(err.message, "error");
        return null;
      }
      throw err;
    }
    if (id === null) this.ctx.notify("Nothing painted: every pixel of the mask is protected or locked", "error");
    this.clear();
    return id;
  }

  key(event: KeyboardEvent): boolean {
    switch (event.key) {
      case "Enter":
        if (!this.current) return false;
        this.accept(event.shiftKey || this.addToSelected);
        return true;
      case "Escape":
        if (!this.points.length && !this.box && !this.candidates.length) return false;
        this.clear();
        return true;
      case "c": case "C":
        this.cycle();
        return true;
      default:
        return false;
    }
  }

  // --- proposals ("segment everything") -----------------------------------------------------------------

  setProposals(proposals: SamProposal[]): void {
    this.proposals = [...proposals];
    this.pickProposals = proposals.length > 0;
    this.hoverProposal = null;
    this.changed();
  }

  private proposalMask(proposal: SamProposal & { mask?: RegionMask }): RegionMask {
    proposal.mask ??= maskFromRle(proposal.rle);
    return proposal.mask;
  }

  /** The smallest proposal with the pixel under `p`. */
  proposalAt(p: Point): (SamProposal & { mask?: RegionMask }) | null {
    const x = Math.floor(p.x), y = Math.floor(p.y);
    let best: (SamProposal & { mask?: RegionMask }) | null = null;
    for (const proposal of this.proposals) {
      const [bx, by, bw, bh] = proposal.bbox;
      if (x < bx || y < by || x >= bx + bw || y >= by + bh) continue;
      if (best && proposal.area >= best.area) continue;
      const m = this.proposalMask(proposal);
      const cx = x - m.x0, cy = y - m.y0;
      if (cx >= 0 && cy >= 0 && cx < m.width && cy < m.height && m.data[cy * m.width + cx]) best = proposal;
    }
    return best;
  }

  acceptProposal(proposal: SamProposal & { mask?: RegionMask }): number | null {
    const session = this.ctx.session;
    try {
      session.select(null);
      const id = session.paintModelMask(this.proposalMask(proposal), { label: "SAM proposal", source: "sam", score: proposal.score, addTo: null });
      if (id === null) this.ctx.notify("Nothing painted: every pixel of the proposal is protected or locked", "error");
      // An accepted proposal is gone from the list; the map shows it now.
      this.proposals = this.proposals.filter((q) => q !== proposal);
      this.hoverProposal = null;
      this.changed();
      return id;
    } catch (err) {
      if (err instanceof SegmentRuleError) {
        this.ctx.notify(err.message, "error");
        return null;
      }
      throw err;
    }
  }

  // --- drawing ------------------------------------------------------------------------------------------

  drawOverlay(overlay: Overlay): void {
    if (this.hoverProposal && !this.candidates.length) {
      overlay.drawMask(this.proposalMask(this.hoverProposal), { fill: PROPOSAL_FILL, outline: PROPOSAL_EDGE });
    }
    const current = this.current;
    if (current) overlay.drawMask(current.mask, { fill: PREVIEW_FILL, outline: PREVIEW_EDGE });
    const box = this.drag?.moved ? [this.drag.start.x, this.drag.start.y, this.drag.current.x, this.drag.current.y] : this.box;
    if (box) {
      const [x0, y0, x1, y1] = box;
      overlay.drawPolygon([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], { color: "#ffd600", lineWidth: 1.5 });
    }
    const r = 5 / overlay.viewport.scale;
    this.points.forEach(([x, y], i) => {
      const positive = this.labels[i] === 1;
      overlay.drawCircle({ x, y }, r, { color: "#ffffff", fill: positive ? "#00c853" : "#ff1744", lineWidth: 1.5 });
    });
  }

  hint(): string {
    return "Click: add to the mask · right/Alt+click: remove · drag: box · C: next candidate · Enter: accept (Shift: add to selected) · Esc: clear";
  }
}
