// Undo/redo for the editor. A step is data (tile and segment-row records, so it can be merged and its memory
// counted) plus optional closures for state outside the map and table (selection, tool state). Steps are
// pushed after they were applied. Grouping merges many edits into one step: a brush stroke of hundreds of
// dabs undoes at once and keeps one before-copy per tile. Memory is bounded by the bytes of stored tile
// copies: past the cap the oldest steps are dropped.

import type { LabelMap, TileChange } from "./labelMap";
import type { SegmentChange, SegmentTable } from "./segments";

export interface Command {
  /** Shown in the UI ("Undo brush"). */
  label: string;
  tiles?: TileChange[];
  rows?: SegmentChange[];
  /** Extra state: undo runs before the data is restored, redo after it is re-applied. */
  undo?(): void;
  redo?(): void;
}

export interface HistoryOptions {
  /** Cap on stored bytes (tile copies and an estimate for rows); default 256 MB. */
  maxBytes?: number;
  /** Cap on undo steps; default unlimited (the byte cap is what matters). */
  maxSteps?: number;
}

interface Step {
  label: string;
  tiles: TileChange[];
  rows: SegmentChange[];
  undos: Array<() => void>;
  redos: Array<() => void>;
  bytes: number;
  // Lookups for merging, so a group over many tiles stays linear.
  tileIndex: Map<string, TileChange>;
  rowIndex: Map<number, SegmentChange>;
}

const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
// Rough cost of a row record beyond its rings (object, attributes, strings).
const ROW_BYTES = 256;

export class History {
  private readonly undoStack: Step[] = [];
  private readonly redoStack: Step[] = [];
  private readonly listeners = new Set<(history: History) => void>();
  private open: Step | undefined;
  private depth = 0;
  // Groups closed early by undo/redo, whose owner will still call endGroup (e.g. on pointer up).
  private orphanEnds = 0;
  private totalBytes = 0;
  private readonly maxBytes: number;
  private readonly maxSteps: number;

  constructor(
    private readonly target: { map?: LabelMap; table?: SegmentTable },
    options: HistoryOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.maxSteps = options.maxSteps ?? Infinity;
  }

  /** Record an already applied edit. Inside a group it merges into the group's step. Clears redo. */
  push(command: Command): void {
    const step = this.open ?? emptyStep(command.label);
    mergeInto(step, command);
    if (this.open) return;
    this.commit(step);
  }

  /** Start merging pushes into one step; groups nest, the outermost label wins. */
  beginGroup(label: string): void {
    if (this.depth++ === 0) this.open = emptyStep(label);
  }

  /** Close a group; the step is recorded when the outermost group closes and holds any change. */
  endGroup(): void {
    if (this.depth === 0) {
      if (this.orphanEnds === 0) throw new Error("endGroup without beginGroup");
      this.orphanEnds -= 1;
      return;
    }
    if (--this.depth > 0) return;
    const step = this.open!;
    this.open = undefined;
    if (step.tiles.length || step.rows.length || step.undos.length || step.redos.length) this.commit(step);
  }

  /** Run `fn` inside a group, closing it even when `fn` throws (what it did so far stays undoable). */
  group<T>(label: string, fn: () => T): T {
    this.beginGroup(label);
    try {
      return fn();
    } finally {
      this.endGroup();
    }
  }

  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }

  get undoLabel(): string | undefined {
    return this.undoStack.at(-1)?.label;
  }

  get redoLabel(): string | undefined {
    return this.redoStack.at(-1)?.label;
  }

  /** Bytes held by all undo and redo steps. */
  get bytes(): number {
    return this.totalBytes;
  }

  get undoDepth(): number {
    return this.undoStack.length;
  }

  undo(): boolean {
    this.closeOpenGroups();
    const step = this.undoStack.pop();
    if (!step) return false;
    for (let i = step.undos.length - 1; i >= 0; i--) step.undos[i]();
    this.target.table?.applyChanges(step.rows, "undo");
    this.target.map?.applyChanges(step.tiles, "undo");
    this.redoStack.push(step);
    this.emit();
    return true;
  }

  redo(): boolean {
    this.closeOpenGroups();
    const step = this.redoStack.pop();
    if (!step) return false;
    this.target.map?.applyChanges(step.tiles, "redo");
    this.target.table?.applyChanges(step.rows, "redo");
    for (const redo of step.redos) redo();
    this.undoStack.push(step);
    this.emit();
    return true;
  }

  clear(): void {
    this.undoStack.length = 0;
    this.redoStack.length = 0;
    this.totalBytes = 0;
    this.emit();
  }

  /** Call `listener` after every change of the stacks; returns the unsubscribe function. */
  onChange(listener: (history: History) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private commit(step: Step): void {
    for (const dropped of this.redoStack.splice(0)) this.totalBytes -= dropped.bytes;
    this.undoStack.push(step);
    this.totalBytes += step.bytes;
    // Drop the oldest steps past the caps, but always keep the newest: undoing the last edit matters most.
    while (this.undoStack.length > 1 && (this.totalBytes > this.maxBytes || this.undoStack.length > this.maxSteps)) {
      this.totalBytes -= this.undoStack.shift()!.bytes;
    }
    this.emit();
  }

  /** Undo/redo in the middle of a gesture ends the gesture first, so its edits are one step. */
  private closeOpenGroups(): void {
    const open = this.depth;
    while (this.depth > 0) this.endGroup();
    this.orphanEnds += open;
  }

  private emit(): void {
    for (const listener of this.listeners) listener(this);
  }
}

function emptyStep(label: string): Step {
  return { label, tiles: [], rows: [], undos: [], redos: [], bytes: 0, tileIndex: new Map(), rowIndex: new Map() };
}

function tileBytes(change: TileChange): number {
  return (change.before?.byteLength ?? 0) + (change.after?.byteLength ?? 0);
}

function rowBytes(change: SegmentChange): number {
  const ringPoints = (row: SegmentChange["before"]) => (row?.rings ?? []).reduce((n, ring) => n + ring.length, 0);
  return 2 * ROW_BYTES + 16 * (ringPoints(change.before) + ringPoints(change.after));
}

/**
 * Merge a command into a step: per tile and per row, the step keeps the earliest `before` and the latest
 * `after`, so intermediate copies are released. Rows that were created and deleted inside the step vanish.
 */
function mergeInto(step: Step, command: Command): void {
  for (const change of command.tiles ?? []) {
    const key = `${change.tx},${change.ty}`;
    const existing = step.tileIndex.get(key);
    if (existing) {
      step.bytes -= tileBytes(existing);
      existing.after = change.after;
      step.bytes += tileBytes(existing);
    } else {
      const copy = { ...change };
      step.tiles.push(copy);
      step.tileIndex.set(key, copy);
      step.bytes += tileBytes(change);
    }
  }
  for (const change of command.rows ?? []) {
    const existing = step.rowIndex.get(change.segmentId);
    if (!existing) {
      const copy = { ...change };
      step.rows.push(copy);
      step.rowIndex.set(change.segmentId, copy);
      step.bytes += rowBytes(change);
      continue;
    }
    step.bytes -= rowBytes(existing);
    existing.after = change.after;
    if (existing.before === undefined && existing.after === undefined) {
      step.rows.splice(step.rows.indexOf(existing), 1);
      step.rowIndex.delete(change.segmentId);
    } else {
      step.bytes += rowBytes(existing);
    }
  }
  if (command.undo) step.undos.push(command.undo.bind(command));
  if (command.redo) step.redos.push(command.redo.bind(command));
}
