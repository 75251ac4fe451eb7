// Superpixel: click fills the region under the cursor with the selected segment (or a new one of the current
// class), a drag fills every region it crosses, all as ONE undo step. Like the brush, "protect existing",
// locked and hidden segments are respected. The regions come from the server (computed after upload, or on
// request); the grid → pixel mapping is core/superpixelFill's. Works without any model weights.
import * as api from "../api/client";
import { followJob } from "../api/jobs";
import type { Overlay, RGBA } from "../canvas/overlay";
import type { Point } from "../canvas/viewport";
import type { RegionMask } from "../core/raster";
import { SegmentRuleError } from "../core/segments";
import {
  type CellBoxes,
  type SuperpixelGrid,
  cellBoxes,
  makeGrid,
  superpixelAt,
  superpixelMask,
  superpixelsAlong,
} from "../core/superpixelFill";
import { decodeTile } from "../core/tileCodec";
import type { Tool, ToolContext } from "./tool";

const HOVER_FILL: RGBA = [255, 255, 255, 45];
const HOVER_EDGE: RGBA = [255, 255, 255, 235];
const JOB_POLL_MS = 1000;

export type SuperpixelState = "idle" | "loading" | "missing" | "computing" | "ready" | "error";

interface LoadedGrid {
  grid: SuperpixelGrid;
  boxes: CellBoxes;
}

export class SuperpixelTool implements Tool {
  readonly name = "superpixel";
  readonly cursor = "crosshair";
  state: SuperpixelState = "idle";
  message = "";
  /** Available granularities, fine (most regions) first: the slider goes fine → coarse. */
  levels: api.Superpixels[] = [];
  level = 0;
  job: api.Job | null = null;
  private readonly grids = new Map<number, Promise<LoadedGrid>>();
  private current: LoadedGrid | null = null;
  private hover: { id: number; mask: RegionMask } | null = null;
  private painting: { last: Point; done: Set<number> } | null = null;
  private readonly listeners = new Set<() => void>();
  private disposed = false;
  // Aborts following a superpixels job when the editor closes.
  private readonly stopped = new AbortController();

  constructor(
    private readonly ctx: ToolContext,
    readonly imageId: number,
    private readonly imageSize: { width: number; height: number },
  ) {}

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private notifyChange(): void {
    for (const fn of this.listeners) fn();
    this.ctx.redraw();
  }

  activate(): void {
    if (this.state === "idle" || this.state === "error") void this.load();
  }

  deactivate(): void {
    this.finishPainting();
    this.hover = null;
  }

  dispose(): void {
    this.disposed = true;
    this.stopped.abort(new DOMException("editor closed", "AbortError"));
    this.listeners.clear();
  }

  /** List the image's superpixels and load the chosen grid. */
  async load(): Promise<void> {
    this.setState("loading", "Loading superpixels…");
    try {
      const levels = await api.listSuperpixels(this.imageId);
      if (this.disposed) return;
      this.levels = [...levels].sort((a, b) => b.granularity - a.granularity);
      if (!this.levels.length) {
        this.setState("missing", "Superpixels are not computed for this image yet.");
        return;
      }
      this.level = Math.min(this.levels.length - 1, Math.floor(this.levels.length / 2));
      await this.useLevel(this.level);
    } catch (err) {
      this.setState("error", `Superpixels could not be loaded: ${(err as Error).message}`);
    }
  }

  /** Ask the server to compute them (202 + job) and wait for the job. */
  async compute(): Promise<void> {
    this.setState("computing", "Computing superpixels…");
    try {
      const job = await followJob(await api.requestSuperpixels(this.imageId), (update) => {
        this.job = update;
        this.setState("computing", `Computing superpixels… ${Math.round(update.progress * 100)}%`);
      }, { signal: this.stopped.signal, intervalMs: JOB_POLL_MS, maxIntervalMs: JOB_POLL_MS });
      if (job.status !== "succeeded") {
        this.setState("error", `Computing superpixels ${job.status}${job.error ? `: ${job.error}` : ""}`);
        return;
      }
    } catch (err) {
      if (this.disposed) return;
      // Computed meanwhile (e.g. by the upload's own job): just load them.
      if (!(err instanceof api.ApiError && err.code === "superpixels_exist")) {
        this.setState("error", `Superpixels could not be computed: ${(err as Error).message}`);
        return;
      }
    }
    this.job = null;
    await this.load();
  }

  /** Choose a granularity by slider index (0 = finest). */
  async useLevel(index: number): Promise<void> {
    const level = this.levels[index];
    if (!level) return;
    this.level = index;
    this.hover = null;
    this.finishPainting(); // a drag's regions are ids of the old grid
    let pending = this.grids.get(level.granularity);
    if (!pending) {
      pending = this.fetchGrid(level);
      this.grids.set(level.granularity, pending);
      pending.catch(() => this.grids.delete(level.granularity));
    }
    this.setState(this.current ? this.state : "loading", "Loading superpixels…");
    try {
      const loaded = await pending;
      if (this.disposed || this.levels[this.level] !== level) return;
      this.current = loaded;
      this.setState("ready", `${loaded.grid.count} superpixels`);
    } catch (err) {
      this.setState("error", `Superpixels could not be loaded: ${(err as Error).message}`);
    }
  }

  private async fetchGrid(level: api.Superpixels): Promise<LoadedGrid> {
    const bytes = await api.getSuperpixelGrid(level.url);
    const ids = await decodeTile(bytes, level.height, level.width);
    const grid = makeGrid({
      width: level.width, height: level.height, imageWidth: this.imageSize.width, imageHeight: this.imageSize.height,
      ids, count: level.count, granularity: level.granularity,
    });
    return { grid, boxes: cellBoxes(grid) };
  }

  private setState(state: SuperpixelState, message: string): void {
    this.state = state;
    this.message = message;
    this.notifyChange();
  }

  /** The loaded grid (tests and the e2e check read it). */
  get grid(): SuperpixelGrid | null {
    return this.state === "ready" && this.current ? this.current.grid : null;
  }

  private maskOf(id: number): RegionMask {
    return superpixelMask(this.current!.grid, [id], this.current!.boxes);
  }

  // --- pointer ------------------------------------------------------------------------------------------

  pointerDown(p: Point, event: PointerEvent): void {
    if (event.button !== 0) return;
    const grid = this.grid;
    if (!grid) {
      this.ctx.notify(this.hint(), this.state === "error" ? "error" : "info");
      return;
    }
    const id = superpixelAt(grid, p.x, p.y);
    if (!id) return;
    try {
      this.ctx.session.beginMaskStroke("Superpixel");
    } catch (err) {
      if (err instanceof SegmentRuleError) this.ctx.notify(err.message, "error");
      else throw err;
      return;
    }
    this.painting = { last: p, done: new Set([id]) };
    this.ctx.session.extendStrokeWithMask(this.maskOf(id));
  }

  pointerMove(p: Point): void {
    const grid = this.grid;
    if (!grid) return;
    if (this.painting) {
      for (const id of superpixelsAlong(grid, this.painting.last, p)) {
        if (this.painting.done.has(id)) continue;
        this.painting.done.add(id);
        this.ctx.session.extendStrokeWithMask(this.maskOf(id));
      }
      this.painting.last = p;
    }
    const id = superpixelAt(grid, p.x, p.y);
    if (id !== (this.hover?.id ?? 0)) {
      this.hover = id ? { id, mask: this.maskOf(id) } : null;
      this.ctx.redraw();
    }
  }

  pointerUp(): void {
    this.finishPainting();
  }

  private finishPainting(): void {
    if (!this.painting) return;
    this.painting = null;
    if (!this.ctx.session.stroking) return;
    const result = this.ctx.session.endStroke();
    if (result.message) this.ctx.notify(result.message, "info");
  }

  key(event: KeyboardEvent): boolean {
    if (event.key === "[" || event.key === "]") {
      const next = this.level + (event.key === "[" ? -1 : 1);
      if (next >= 0 && next < this.levels.length) void this.useLevel(next);
      return true;
    }
    return false;
  }

  drawOverlay(overlay: Overlay): void {
    if (this.hover) overlay.drawMask(this.hover.mask, { fill: HOVER_FILL, outline: HOVER_EDGE });
  }

  hint(): string {
    switch (this.state) {
      case "missing":
        return "Superpixels are not computed for this image yet: press \"Compute superpixels\".";
      case "computing":
        return `${this.message} The tool works as soon as they are ready.`;
      case "loading":
      case "idle":
        return "Loading superpixels…";
      case "error":
        return this.message;
      default:
        return "Click fills the region under the cursor with the selected segment (N: a new one); drag fills every region it crosses. [ and ] switch between finer and coarser regions.";
    }
  }
}
