// The segment table in the browser: segment id -> class, instance, attributes, source, score, rings, area,
// bbox, review state. It enforces locally the rules the server checks on save
// (labeling/services/labelmaps.py), so the user learns about a conflict when making it, not at autosave:
// a stuff class has at most one segment per map, thing segments carry an instance number unique within
// their class (assigned automatically when not given). Rows are immutable objects: an edit replaces the row,
// so undo records can share them safely.

import type { Box } from "./raster";

export type ClassKind = "thing" | "stuff";
export type SegmentSource = "manual" | "sam" | "model" | "import";
export type ReviewState = "pending" | "accepted" | "rejected";
export type Rings = number[][][];

export interface SegmentRow {
  readonly segmentId: number;
  readonly classId: number;
  readonly instance: number | null;
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly source: SegmentSource;
  readonly score: number | null;
  readonly rings: Rings | null;
  readonly area: number;
  readonly bbox: readonly number[]; // [x, y, w, h], [] when the segment has no pixels
  readonly reviewState: ReviewState;
}

/** Undo record of one row: undefined = the row does not exist. */
export interface SegmentChange {
  segmentId: number;
  before: SegmentRow | undefined;
  after: SegmentRow | undefined;
}

/** A segment row as the save API takes it (SegmentInputRequest). */
export interface SaveRow {
  segment_id: number;
  class_id: number;
  instance: number | null;
  attributes: Record<string, unknown>;
  source: SegmentSource;
  score: number | null;
  rings: Rings | null;
}

/** A segment row as the API returns it (Segment); loose types, as in the generated schema. */
export interface ServerSegment {
  segment_id: number;
  class_id: number;
  instance: number | null;
  attributes?: unknown;
  source: string;
  score: number | null;
  rings?: unknown;
  area: number;
  bbox: number[];
  review_state: string;
}

export interface NewSegment {
  segmentId?: number; // default: nextSegmentId()
  classId: number;
  instance?: number | null; // things: default next free instance; stuff: must be null
  attributes?: Record<string, unknown>;
  source?: SegmentSource;
  score?: number | null;
  rings?: Rings | null;
}

export type SegmentPatch = Partial<Omit<SegmentRow, "segmentId" | "area" | "bbox">>;

/** What a save sent; hand it back to markSaved when the server accepts the save. */
export interface SegmentSaveSnapshot {
  rows: SaveRow[];
  deletedIds: number[];
  revisions: Map<number, number>;
}

/** A rule the server would reject a save for; `code` matches the server's error code. */
export class SegmentRuleError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "SegmentRuleError";
  }
}

const MAX_SEGMENT_ID = 2 ** 32 - 1;

export class SegmentTable {
  private readonly kinds = new Map<number, ClassKind>();
  private readonly rows = new Map<number, SegmentRow>();
  // Indexes behind the rules: stuff class -> its segment, "class:instance" -> segment.
  private readonly stuffIndex = new Map<number, number>();
  private readonly instanceIndex = new Map<string, number>();
  // Autosave bookkeeping, the same scheme as LabelMap's tiles: every change stamps the row with a new
  // revision from `clock`; a save records the revisions it sent, so a row edited during the save stays dirty.
  private clock = 0;
  private readonly revisions = new Map<number, number>();
  private readonly savedRevisions = new Map<number, number>();
  private readonly onServer = new Set<number>();
  // Never hand out an id again in this session: a deleted id may still be pending deletion on the server.
  private maxIdSeen = 0;

  constructor(classes: Iterable<{ id: number; kind: ClassKind }>) {
    for (const c of classes) this.kinds.set(c.id, c.kind);
  }

  /** Replace the whole table by the server's rows (as saved: nothing dirty). */
  load(rows: Iterable<ServerSegment>): void {
    for (const id of [...this.rows.keys()]) this.setRow(id, undefined);
    this.revisions.clear();
    this.savedRevisions.clear();
    this.onServer.clear();
    for (const row of rows) {
      const parsed = fromServer(row);
      this.setRow(parsed.segmentId, parsed);
      this.onServer.add(parsed.segmentId);
    }
  }

  get size(): number {
    return this.rows.size;
  }

  get(segmentId: number): SegmentRow | undefined {
    return this.rows.get(segmentId);
  }

  has(segmentId: number): boolean {
    return this.rows.has(segmentId);
  }

  /** All rows by increasing segment id. */
  all(): SegmentRow[] {
    return [...this.rows.values()].sort((a, b) => a.segmentId - b.segmentId);
  }

  classKind(classId: number): ClassKind {
    const kind = this.kinds.get(classId);
    if (!kind) throw new SegmentRuleError(`class ${classId} is not a class of this project`, "unknown_class", { class_id: classId });
    return kind;
  }

  /** A segment id never used in this session (and at least `atLeast`, e.g. LabelMap.nextFreeId()). */
  nextSegmentId(atLeast = 1): number {
    return Math.max(this.maxIdSeen + 1, atLeast);
  }

  /** The next instance number of a thing class: one more than the largest in use (the server's rule). */
  nextInstance(classId: number): number {
    let max = 0;
    for (const row of this.rows.values()) {
      if (row.classId === classId && row.instance !== null && row.instance > max) max = row.instance;
    }
    return max + 1;
  }

  /** The one segment of a stuff class, if any: painting that class reuses it instead of adding a segment. */
  segmentForStuff(classId: number): SegmentRow | undefined {
    const id = this.stuffIndex.get(classId);
    return id === undefined ? undefined : this.rows.get(id);
  }

  add(input: NewSegment): SegmentChange {
    const segmentId = input.segmentId ?? this.nextSegmentId();
    if (!Number.isInteger(segmentId) || segmentId < 1 || segmentId > MAX_SEGMENT_ID) {
      throw new SegmentRuleError(`segment id ${segmentId} must be in 1..${MAX_SEGMENT_ID}`, "bad_segment_id", { segment_id: segmentId });
    }
    if (this.rows.has(segmentId)) {
      throw new SegmentRuleError(`segment ${segmentId} already exists`, "duplicate_segment", { segment_id: segmentId });
    }
    const row = this.checked({
      segmentId,
      classId: input.classId,
      instance: input.instance ?? null,
      attributes: input.attributes ?? {},
      source: input.source ?? "manual",
      score: input.score ?? null,
      rings: input.rings ?? null,
      area: 0,
      bbox: [],
      reviewState: "pending",
    });
    return this.commit(segmentId, row);
  }

  /**
   * Change fields of a row. Changing the class re-applies the rules (a thing gets an instance, stuff loses
   * it). Like the server, a content edit sends the segment back to review unless `reviewState` is given.
   */
  update(segmentId: number, patch: SegmentPatch): SegmentChange {
    const before = this.rows.get(segmentId);
    if (!before) throw new SegmentRuleError(`segment ${segmentId} does not exist`, "unknown_segment", { segment_id: segmentId });
    let instance = patch.instance !== undefined ? patch.instance : before.instance;
    const classId = patch.classId ?? before.classId;
    if (classId !== before.classId && patch.instance === undefined) instance = null;
    const row = this.checked({ ...before, ...patch, classId, instance, reviewState: patch.reviewState ?? "pending" });
    return this.commit(segmentId, row);
  }

  remove(segmentId: number): SegmentChange {
    if (!this.rows.has(segmentId)) {
      throw new SegmentRuleError(`segment ${segmentId} does not exist`, "unknown_segment", { segment_id: segmentId });
    }
    return this.commit(segmentId, undefined);
  }

  /** Undo (rows back to `before`, last first) or redo (to `after`, in order); no rule checks: replays states. */
  applyChanges(changes: readonly SegmentChange[], direction: "undo" | "redo"): void {
    const ordered = direction === "undo" ? [...changes].reverse() : changes;
    for (const change of ordered) {
      this.setRow(change.segmentId, direction === "undo" ? change.before : change.after);
      this.revisions.set(change.segmentId, ++this.clock);
    }
  }

  /** Area and bbox from the label map (LabelMap.segmentStats). Derived data: neither an edit nor dirty. */
  setStats(stats: ReadonlyMap<number, { area: number; bbox: Box }>): void {
    for (const [id, row] of this.rows) {
      const s = stats.get(id);
      const area = s?.area ?? 0;
      const bbox = s ? [...s.bbox] : [];
      if (row.area !== area || row.bbox.length !== bbox.length || row.bbox.some((v, i) => v !== bbox[i])) {
        this.rows.set(id, { ...row, area, bbox });
      }
    }
  }

  // --- autosave -------------------------------------------------------------------------------------------

  /** Rows created or changed since they were last saved. */
  dirtyRows(): SegmentRow[] {
    // Loaded rows have no revision (0); every local change stamps one >= 1.
    return this.all().filter((row) => (this.revisions.get(row.segmentId) ?? 0) > (this.savedRevisions.get(row.segmentId) ?? 0));
  }

  /** Ids the server has but the table no longer does. */
  deletedIds(): number[] {
    return [...this.onServer].filter((id) => !this.rows.has(id)).sort((a, b) => a - b);
  }

  /** Everything the next save must send, with the revisions to pass to markSaved. */
  saveSnapshot(): SegmentSaveSnapshot {
    const dirty = this.dirtyRows();
    const deletedIds = this.deletedIds();
    const revisions = new Map<number, number>();
    for (const id of [...dirty.map((r) => r.segmentId), ...deletedIds]) revisions.set(id, this.revisions.get(id) ?? 0);
    return { rows: this.toSaveRows(dirty), deletedIds, revisions };
  }

  /**
   * The server accepted the save of `snapshot`. Rows unchanged since then adopt the server's derived fields
   * (instance, area, bbox, review state) from `serverRows`; rows changed meanwhile stay dirty. `serverDeleted`
   * are the ids the save removed: the ones asked for, and rows the server dropped for having no pixel, which
   * go here too unless changed meanwhile (then they are sent again, as new rows). Returns the ids dropped.
   */
  markSaved(snapshot: SegmentSaveSnapshot, serverRows: Iterable<ServerSegment> = [], serverDeleted: Iterable<number> = []): number[] {
    for (const row of snapshot.rows) this.onServer.add(row.segment_id);
    for (const id of snapshot.deletedIds) this.onServer.delete(id);
    const dropped: number[] = [];
    for (const id of serverDeleted) {
      this.onServer.delete(id);
      if (!this.rows.has(id)) continue;
      const sent = snapshot.revisions.get(id) ?? this.savedRevisions.get(id) ?? 0;
      if ((this.revisions.get(id) ?? 0) > sent) continue; // changed since: stays, and is sent again
      this.setRow(id, undefined);
      dropped.push(id);
    }
    for (const [id, revision] of snapshot.revisions) {
      this.savedRevisions.set(id, Math.max(this.savedRevisions.get(id) ?? 0, revision));
    }
    for (const server of serverRows) {
      const id = server.segment_id;
      const row = this.rows.get(id);
      if (!row || this.revisions.get(id) !== snapshot.revisions.get(id)) continue;
      this.setRow(id, { ...row, ...pick(fromServer(server), ["instance", "area", "bbox", "reviewState"]) });
    }
    return dropped;
  }

  /** A reviewer's decisions, as the server stored them: only the review state changes; nothing becomes dirty. */
  setReviewStates(serverRows: Iterable<ServerSegment>): void {
    for (const server of serverRows) {
      const row = this.rows.get(server.segment_id);
      if (row) this.setRow(row.segmentId, { ...row, reviewState: server.review_state as ReviewState });
    }
  }

  /** Rows in the save API's shape (default: the dirty ones). */
  toSaveRows(rows: Iterable<SegmentRow> = this.dirtyRows()): SaveRow[] {
    return [...rows].map((row) => ({
      segment_id: row.segmentId,
      class_id: row.classId,
      instance: row.instance,
      attributes: { ...row.attributes },
      source: row.source,
      score: row.score,
      rings: row.rings,
    }));
  }

  // --- internals ------------------------------------------------------------------------------------------

  /** Apply the class rules to a would-be row (ignoring the row it replaces) and return it, or throw. */
  private checked(row: SegmentRow): SegmentRow {
    const kind = this.classKind(row.classId);
    const id = row.segmentId;
    if (kind === "stuff") {
      if (row.instance !== null) {
        throw new SegmentRuleError(`segment ${id}: stuff class ${row.classId} has no instances`, "instance_on_stuff", { segment_id: id });
      }
      const owner = this.stuffIndex.get(row.classId);
      if (owner !== undefined && owner !== id) {
        throw new SegmentRuleError(
          `stuff class ${row.classId} already has segment ${owner}; paint into it or merge segment ${id} into it`,
          "duplicate_stuff_segment",
          { class_id: row.classId, segment_ids: [owner, id] },
        );
      }
      return row;
    }
    if (row.instance === null) {
      const previous = this.rows.get(id);
      // Keep the number when the row already had one in this class (e.g. an attribute edit).
      const instance = previous?.classId === row.classId && previous.instance !== null ? previous.instance : this.nextInstance(row.classId);
      return { ...row, instance };
    }
    if (!Number.isInteger(row.instance) || row.instance < 1) {
      throw new SegmentRuleError(`segment ${id}: instance must be a positive integer, got ${row.instance}`, "bad_instance", { segment_id: id });
    }
    const owner = this.instanceIndex.get(`${row.classId}:${row.instance}`);
    if (owner !== undefined && owner !== id) {
      throw new SegmentRuleError(
        `instance ${row.instance} of class ${row.classId} is already used by segment ${owner}`,
        "duplicate_instance",
        { segment_ids: [owner, id], class_id: row.classId, instance: row.instance },
      );
    }
    return row;
  }

  private commit(segmentId: number, after: SegmentRow | undefined): SegmentChange {
    const before = this.rows.get(segmentId);
    this.setRow(segmentId, after);
    this.revisions.set(segmentId, ++this.clock);
    return { segmentId, before, after };
  }

  /** Store or drop a row and keep the rule indexes in step (an index entry is only dropped by its owner). */
  private setRow(segmentId: number, row: SegmentRow | undefined): void {
    const old = this.rows.get(segmentId);
    if (old) {
      if (this.stuffIndex.get(old.classId) === segmentId) this.stuffIndex.delete(old.classId);
      const key = `${old.classId}:${old.instance}`;
      if (this.instanceIndex.get(key) === segmentId) this.instanceIndex.delete(key);
    }
    if (!row) {
      this.rows.delete(segmentId);
      return;
    }
    this.rows.set(segmentId, row);
    this.maxIdSeen = Math.max(this.maxIdSeen, segmentId);
    if (this.kinds.get(row.classId) === "stuff") this.stuffIndex.set(row.classId, segmentId);
    else if (row.instance !== null) this.instanceIndex.set(`${row.classId}:${row.instance}`, segmentId);
  }
}

function fromServer(row: ServerSegment): SegmentRow {
  return {
    segmentId: row.segment_id,
    classId: row.class_id,
    instance: row.instance,
    attributes: (row.attributes ?? {}) as Record<string, unknown>,
    source: row.source as SegmentSource,
    score: row.score,
    rings: (row.rings ?? null) as Rings | null,
    area: row.area,
    bbox: row.bbox,
    reviewState: row.review_state as ReviewState,
  };
}

function pick<T, K extends keyof T>(value: T, keys: K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const key of keys) out[key] = value[key];
  return out;
}
