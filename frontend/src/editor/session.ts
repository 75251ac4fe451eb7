// One open annotation in the editor: the label map, the segment table and their undo history, plus the
// editing operations the tools and panels call. Every operation is one undo step and ends with `changed()`,
// which refreshes area/bbox and tells listeners (UI, renderer, autosave). No DOM here.
import * as api from "../api/client";
import { History } from "../core/history";
import { ChangeRecorder, LabelMap, type TileChange } from "../core/labelMap";
import { brushStroke, maskArea, rasterizeRings, type RegionMask, type Ring } from "../core/raster";
import { SegmentRuleError, SegmentTable, type SaveRow, type SegmentChange, type SegmentRow, type SegmentSource } from "../core/segments";
import { decodeTile } from "../core/tileCodec";
import { maskToRings, ringPoints, ringsDescribe } from "../core/trace";

/** What changed: "hover" only moves the highlight (cheap; panels must not re-render on it); "review": a
 * reviewer's decisions on segments, stored by the server already (nothing to save). */
export type ChangeKind = "pixels" | "segments" | "selection" | "view" | "hover" | "saved" | "review";

export interface LoadedAnnotation {
  image: api.Image;
  project: api.Project;
  classes: api.LabelClass[];
  annotation: api.AnnotationDetail;
  /** The user looking at it (the workflow compares them with the annotation's author). */
  me?: api.Me;
}

export interface LoadOptions {
  /** Open this annotation (a reviewer's view of someone's work) instead of the user's own. */
  annotationId?: number;
}

export const tileKey = (tx: number, ty: number) => `${tx},${ty}`;

/** Why a pixel was kept: "existing" (Protect existing) or "locked" (a locked or hidden segment). */
export type Protection = "existing" | "locked";

/** What a stroke did: `changed` false means no pixel changed and no undo step was added; `message` says why. */
export interface StrokeResult {
  changed: boolean;
  message?: string;
}

// Vertex editing draws a handle per vertex: past this many, a traced outline is no use as a polygon.
const MAX_EDIT_POINTS = 10_000;

export class EditorSession {
  readonly map: LabelMap;
  readonly table: SegmentTable;
  readonly history: History;
  readonly classes: Map<number, api.LabelClass>;
  version: number;
  /** Server-confirmed pixels of every non-empty tile: the base of a three-way merge after a 409. */
  readonly savedTiles = new Map<string, Uint32Array>();
  /** Server-confirmed rows, in the save API's shape (the merge's base rows). */
  readonly savedRows = new Map<number, SaveRow>();

  activeSegment: number | null = null;
  currentClassId: number | null;
  protectExisting = false;
  readonly hiddenSegments = new Set<number>();
  readonly hiddenClasses = new Set<number>();
  readonly lockedSegments = new Set<number>();
  hoverSegment: number | null = null;
  /**
   * Image-space box of the pixels the last "pixels" event changed, when it is known to be all of them (brush
   * dabs); null means "anything may have changed". The renderer then re-uploads just that part of a tile.
   */
  lastPaintBox: { x: number; y: number; width: number; height: number } | null = null;

  private readonly listeners = new Set<(kind: ChangeKind) => void>();
  private stroke: { recorder: ChangeRecorder; target: number; rows: SegmentChange[]; last: [number, number] | null;
    radius: number; erase: boolean; created: boolean; label?: string;
    /** Ids the stroke's changed pixels held before, and why pixels under it were kept. */
    lost: Set<number>; blocked: Set<Protection> } | null = null;

  constructor(readonly data: LoadedAnnotation) {
    const { image, annotation, classes } = data;
    this.map = new LabelMap(image.width, image.height, annotation.tile_size);
    this.classes = new Map(classes.map((c) => [c.id, c]));
    this.table = new SegmentTable(classes.map((c) => ({ id: c.id, kind: c.kind })));
    this.history = new History({ map: this.map, table: this.table });
    this.version = annotation.version;
    this.currentClassId = classes[0]?.id ?? null;
  }

  static async load(imageId: number, options: LoadOptions = {}): Promise<EditorSession> {
    const image = await api.getImage(imageId);
    const [project, classes, annotation, me] = await Promise.all([
      api.getProject(image.project),
      api.listClasses(image.project),
      options.annotationId !== undefined ? api.getAnnotation(options.annotationId) : api.openAnnotation(imageId),
      api.me(),
    ]);
    if (annotation.image !== image.id) throw new Error(`annotation ${annotation.id} is not of image ${image.id}`);
    const session = new EditorSession({ image, project, classes, annotation, me });
    await session.loadServerState(annotation);
    return session;
  }

  get annotationId(): number {
    return this.data.annotation.id;
  }

  /** Replace local state by the server's (tiles and rows), all saved. `tiles`: the detail's tiles, if fetched. */
  async loadServerState(detail: api.AnnotationDetail, tiles?: Map<string, Uint32Array | undefined>): Promise<void> {
    tiles ??= await this.fetchTiles(detail.tiles.map(([tx, ty]) => [tx, ty] as [number, number]));
    for (let ty = 0; ty < this.map.rows; ty++) {
      for (let tx = 0; tx < this.map.cols; tx++) this.map.setTile(tx, ty, tiles.get(tileKey(tx, ty)));
    }
    this.savedTiles.clear();
    for (const [key, pixels] of tiles) if (pixels) this.savedTiles.set(key, pixels.slice());
    this.table.load(detail.segments);
    this.savedRows.clear();
    for (const row of this.table.toSaveRows(this.table.all())) this.savedRows.set(row.segment_id, row);
    this.version = detail.version;
    this.table.setStats(this.map.segmentStats());
    this.emit("pixels");
    this.emit("segments");
  }

  async fetchTiles(keys: Array<[number, number]>): Promise<Map<string, Uint32Array | undefined>> {
    const result = new Map<string, Uint32Array | undefined>();
    // A few requests at a time: tiles are small, but a big map has many.
    const queue = [...keys];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [tx, ty] = next;
        const [rows, cols] = this.map.tileShape(tx, ty);
        const bytes = await api.getLabelTile(this.annotationId, tx, ty);
        const pixels = await decodeTile(bytes, rows, cols);
        result.set(tileKey(tx, ty), pixels.some((v) => v !== 0) ? pixels : undefined);
      }
    };
    await Promise.all(Array.from({ length: Math.min(6, keys.length) }, worker));
    return result;
  }

  onChange(listener: (kind: ChangeKind) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(kind: ChangeKind): void {
    for (const listener of this.listeners) listener(kind);
  }

  private changed(): void {
    this.table.setStats(this.map.segmentStats());
    this.emit("pixels");
    this.emit("segments");
  }

  // --- selection and visibility -------------------------------------------------------------------------

  select(segmentId: number | null): void {
    this.activeSegment = segmentId !== null && this.table.has(segmentId) ? segmentId : null;
    if (this.activeSegment !== null) this.currentClassId = this.table.get(this.activeSegment)!.classId;
    this.emit("selection");
  }

  setCurrentClass(classId: number): void {
    this.currentClassId = classId;
    // Painting with another class starts a new segment; with stuff, the class's one segment.
    const active = this.activeSegment !== null ? this.table.get(this.activeSegment) : undefined;
    if (!active || active.classId !== classId) this.activeSegment = null;
    this.emit("selection");
  }

  isVisible(row: SegmentRow): boolean {
    return !this.hiddenSegments.has(row.segmentId) && !this.hiddenClasses.has(row.classId);
  }

  toggleHidden(segmentId: number): void {
    if (!this.hiddenSegments.delete(segmentId)) this.hiddenSegments.add(segmentId);
    this.emit("view");
  }

  toggleClassHidden(classId: number): void {
    if (!this.hiddenClasses.delete(classId)) this.hiddenClasses.add(classId);
    this.emit("view");
  }

  toggleLocked(segmentId: number): void {
    if (!this.lockedSegments.delete(segmentId)) this.lockedSegments.add(segmentId);
    this.emit("view");
  }

  /**
   * Why a pixel holding `id` must keep it when painting `target` (0: erasing), or null when it may change:
   * locked and hidden segments are never changed; with "protect existing" on, paint keeps off other segments
   * and the eraser erases only the selected segment (nothing when none is selected).
   */
  private protection(target: number, id: number): Protection | null {
    if (id === 0 || (target !== 0 && id === target)) return null;
    if (this.lockedSegments.has(id) || this.hiddenSegments.has(id)) return "locked";
    const row = this.table.get(id);
    if (row && this.hiddenClasses.has(row.classId)) return "locked";
    if (this.protectExisting && !(target === 0 && id === this.activeSegment)) return "existing";
    return null;
  }

  /** The protect test for LabelMap.paint; `blocked` collects why pixels were kept (for the message). */
  private protectFor(target: number, blocked?: Set<Protection>): (id: number) => boolean {
    return (id: number) => {
      const reason = this.protection(target, id);
      if (reason && blocked) blocked.add(reason);
      return reason !== null;
    };
  }

  // --- painting -------------------------------------------------------------------------------------------

  /**
   * The segment new paint goes into: the active one (unless `useActive` is false), the current class's stuff
   * segment, or a new one of the current class (with `source`/`score` when a model made the pixels). Painting
   * turns a polygon segment into a pixel segment (its rings are dropped), so this records that too.
   */
  private paintTarget(
    rows: SegmentChange[],
    opts: { useActive?: boolean; source?: SegmentSource; score?: number | null } = {},
  ): { id: number; created: boolean } {
    let target: { id: number; created: boolean };
    if (opts.useActive !== false && this.activeSegment !== null && this.table.has(this.activeSegment)) {
      target = { id: this.activeSegment, created: false };
    } else {
      if (this.currentClassId === null) throw new SegmentRuleError("create a class first (project settings)", "no_class");
      const stuff = this.table.segmentForStuff(this.currentClassId);
      if (stuff) target = { id: stuff.segmentId, created: false };
      else {
        const id = Math.max(this.table.nextSegmentId(), this.map.nextFreeId());
        rows.push(this.table.add({ segmentId: id, classId: this.currentClassId, source: opts.source, score: opts.score }));
        target = { id, created: true };
      }
    }
    this.toPixelSegment(target.id, rows);
    return target;
  }

  /** A polygon segment whose pixels are edited by other means stops being a polygon (its rings go). */
  private toPixelSegment(segmentId: number, rows: SegmentChange[]): void {
    const row = this.table.get(segmentId)!;
    if (row.rings) rows.push(this.table.update(segmentId, { rings: null, reviewState: row.reviewState }));
  }

  /**
   * After an edit took pixels from the segments `lost` (ids the changed pixels held): one left with no pixel
   * leaves the table in the same undo step (a segment is never kept, or saved, with area 0), and a polygon
   * segment that lost some becomes a pixel segment, since its rings no longer describe its pixels.
   */
  private settleLosers(lost: Iterable<number>, target: number, rows: SegmentChange[]): void {
    const stats = this.map.segmentStats();
    for (const id of lost) {
      if (id === 0 || id === target || !this.table.has(id)) continue;
      if (stats.has(id)) {
        this.toPixelSegment(id, rows);
        continue;
      }
      rows.push(this.table.remove(id));
      if (this.activeSegment === id) this.activeSegment = null;
    }
  }

  beginStroke(x: number, y: number, radius: number, erase: boolean): void {
    const rows: SegmentChange[] = [];
    let target = 0;
    let created = false;
    if (!erase) {
      ({ id: target, created } = this.paintTarget(rows));
      this.activeSegment = target;
    }
    this.stroke = { recorder: new ChangeRecorder(this.map), target, rows, last: null, radius, erase, created,
      lost: new Set(), blocked: new Set() };
    this.extendStroke(x, y);
  }

  extendStroke(x: number, y: number): void {
    const stroke = this.stroke;
    if (!stroke) return;
    const points: [number, number][] = stroke.last ? [stroke.last, [x, y]] : [[x, y]];
    const mask = brushStroke(points, stroke.radius, this.map.width, this.map.height);
    stroke.last = [x, y];
    this.map.paint(mask, stroke.target, {
      protect: this.protectFor(stroke.target, stroke.blocked), recorder: stroke.recorder, changedIds: stroke.lost,
    });
    this.lastPaintBox = { x: mask.x0, y: mask.y0, width: mask.width, height: mask.height };
    this.emit("pixels");
    this.lastPaintBox = null;
  }

  /**
   * Start a stroke painted with whole regions (the superpixel tool: a click or a drag over several regions)
   * into the active segment or a new one of the current class; it ends with endStroke as one undo step.
   */
  beginMaskStroke(label: string): void {
    const rows: SegmentChange[] = [];
    const { id: target, created } = this.paintTarget(rows);
    this.activeSegment = target;
    this.stroke = { recorder: new ChangeRecorder(this.map), target, rows, last: null, radius: 0, erase: false, created,
      label, lost: new Set(), blocked: new Set() };
  }

  /** Paint one region into the stroke begun by beginMaskStroke (locks and "protect existing" apply). */
  extendStrokeWithMask(mask: RegionMask): void {
    const stroke = this.stroke;
    if (!stroke || !mask.width || !mask.height) return;
    this.map.paint(mask, stroke.target, {
      protect: this.protectFor(stroke.target, stroke.blocked), recorder: stroke.recorder, changedIds: stroke.lost,
    });
    this.lastPaintBox = { x: mask.x0, y: mask.y0, width: mask.width, height: mask.height };
    this.emit("pixels");
    this.lastPaintBox = null;
  }

  /**
   * Finish the stroke as one undo step. A stroke that changed no pixel adds no step (a segment made for it, or
   * rings it dropped, come back) and its result says why, for the tool to show.
   */
  endStroke(): StrokeResult {
    const stroke = this.stroke;
    if (!stroke) return { changed: false };
    this.stroke = null;
    const tiles = stroke.recorder.finish();
    if (tiles.length === 0) {
      if (stroke.rows.length) this.table.applyChanges(stroke.rows, "undo");
      if (stroke.created) this.activeSegment = null;
      this.changed();
      return { changed: false, message: this.unchangedMessage(stroke.erase, stroke.blocked) };
    }
    this.settleLosers(stroke.lost, stroke.target, stroke.rows);
    this.history.push({ label: stroke.label ?? (stroke.erase ? "Erase" : "Brush"), tiles, rows: stroke.rows });
    this.changed();
    return { changed: true };
  }

  /** Why an edit changed no pixel, in words for the user. */
  private unchangedMessage(erase: boolean, blocked: ReadonlySet<Protection>): string {
    const nothing = erase ? "Nothing erased" : "Nothing painted";
    if (erase && blocked.has("existing")) {
      return this.activeSegment === null
        ? `${nothing}: with Protect existing on, the eraser erases only the selected segment, and none is selected.`
        : `${nothing}: with Protect existing on, the eraser erases only the selected segment, and the stroke missed it.`;
    }
    if (blocked.has("existing")) return `${nothing}: Protect existing keeps paint off the other segments here.`;
    if (blocked.has("locked")) return `${nothing}: the segments here are locked or hidden.`;
    return erase ? `${nothing}: there is no label under the stroke.` : `${nothing}: these pixels are already this segment's.`;
  }

  get stroking(): boolean {
    return this.stroke !== null;
  }

  /**
   * Rings to open a segment with for vertex editing: its own rings while they describe its pixels exactly,
   * else the traced outline of its current pixels (after the eraser or brush changed it), so committing them
   * unchanged keeps every pixel. Throws SegmentRuleError for a segment without pixels or with an outline too
   * detailed to edit as vertices.
   */
  editableRings(segmentId: number): Ring[] {
    const row = this.table.get(segmentId);
    if (!row) throw new SegmentRuleError(`segment ${segmentId} does not exist`, "unknown_segment", { segment_id: segmentId });
    const mask = this.map.segmentMask(segmentId);
    if (mask.width === 0) throw new SegmentRuleError("This segment has no pixels to outline.", "empty_segment");
    if (row.rings?.length && ringsDescribe(row.rings, mask, this.map.width, this.map.height)) {
      return row.rings.map((ring) => ring.map(([x, y]) => [x, y]));
    }
    const traced = maskToRings(mask);
    const points = ringPoints(traced);
    if (points > MAX_EDIT_POINTS) {
      throw new SegmentRuleError(
        `This segment's outline has ${points.toLocaleString()} vertices, too many to edit as a polygon: use the brush and eraser.`,
        "outline_too_detailed", { points },
      );
    }
    return traced;
  }

  /**
   * Rasterise finished polygon rings into a segment: a new one, or `segmentId` when editing its vertices. A
   * polygon that would leave its segment without a pixel (it covers no pixel centre, or only protected ones)
   * changes nothing and throws SegmentRuleError. The segment keeps the rings only while they describe its
   * pixels exactly (protected pixels inside them stay another segment's).
   */
  commitPolygon(rings: Ring[], segmentId: number | null = null): number {
    const mask = rasterizeRings(rings, this.map.width, this.map.height);
    const area = maskArea(mask);
    if (area === 0) {
      throw new SegmentRuleError(segmentId !== null
        ? "The polygon covers no pixel centre: move its vertices apart, or delete the segment."
        : "The polygon covers no pixel centre, so no segment was made: draw it larger.", "empty_polygon");
    }
    const rows: SegmentChange[] = [];
    const tiles: TileChange[] = [];
    const previousActive = this.activeSegment;
    let target: number;
    if (segmentId !== null) {
      target = segmentId;
      // Editing: the segment's old pixels go, the new polygon's come in (other segments keep theirs).
      tiles.push(...this.map.replaceIds(new Set([target]), 0));
      rows.push(this.table.update(target, { rings }));
    } else {
      this.activeSegment = null;
      const made = this.paintTarget(rows);
      target = made.id;
      const row = this.table.get(target)!;
      // A new polygon keeps its rings; adding a polygon to an existing (stuff) segment makes it pixels.
      rows.push(this.table.update(target, { rings: made.created ? rings : null, reviewState: row.reviewState }));
    }
    const lost = new Set<number>();
    const blocked = new Set<Protection>();
    const painted = this.map.paint(mask, target, { protect: this.protectFor(target, blocked), changedIds: lost });
    tiles.push(...painted);
    const targetArea = this.map.segmentStats().get(target)?.area ?? 0;
    if (targetArea === 0 || (segmentId === null && painted.length === 0)) {
      this.map.applyChanges(tiles, "undo");
      this.table.applyChanges(rows, "undo");
      this.activeSegment = previousActive;
      this.changed();
      throw new SegmentRuleError(this.unchangedMessage(false, blocked), "nothing_painted");
    }
    if (targetArea !== area && this.table.get(target)!.rings) {
      rows.push(this.table.update(target, { rings: null, reviewState: this.table.get(target)!.reviewState }));
    }
    this.settleLosers(lost, target, rows);
    this.history.push({ label: segmentId !== null ? "Edit polygon" : "Polygon", tiles, rows });
    this.activeSegment = target;
    this.changed();
    return target;
  }

  /**
   * Paint a model's mask (SAM) as one undo step: into `addTo` when given (adding to the selected segment),
   * else as a new segment of the current class (a stuff class's one segment) with `source` and `score`.
   * Locks, hidden segments and "protect existing" are respected as by the brush. Returns the segment id, or
   * null when every pixel was protected (nothing is created then).
   */
  paintModelMask(mask: RegionMask, opts: { label: string; source: SegmentSource; score: number | null; addTo: number | null }): number | null {
    const rows: SegmentChange[] = [];
    let target: number;
    if (opts.addTo !== null && this.table.has(opts.addTo)) {
      target = opts.addTo;
      this.toPixelSegment(target, rows);
    } else {
      target = this.paintTarget(rows, { useActive: false, source: opts.source, score: opts.score }).id;
    }
    const lost = new Set<number>();
    const tiles = this.map.paint(mask, target, { protect: this.protectFor(target), changedIds: lost });
    if (tiles.length === 0) {
      if (rows.length) this.table.applyChanges(rows, "undo");
      return null;
    }
    this.settleLosers(lost, target, rows);
    this.history.push({ label: opts.label, tiles, rows });
    this.activeSegment = target;
    this.changed();
    return target;
  }

  /**
   * True when painting `classId` as a model's part (paintClassParts) keeps a pixel holding `id`: locked and
   * hidden segments, and with Protect existing every other segment (a stuff class's own segment takes paint).
   */
  keepsFor(classId: number, id: number): boolean {
    if (id === 0) return false;
    const stuff = this.table.classKind(classId) === "stuff" ? this.table.segmentForStuff(classId) : undefined;
    return this.protection(stuff?.segmentId ?? -1, id) !== null;
  }

  /**
   * Paint class parts (an accepted scribble proposal) as ONE undo step: a stuff class's part goes into the
   * class's one segment, each thing part becomes a new segment; all with `source`, each with its score. Locks,
   * hidden segments and Protect existing are respected as by the brush. Returns the segments painted (none when
   * every pixel was kept: then nothing is recorded).
   */
  paintClassParts(parts: ReadonlyArray<{ classId: number; mask: RegionMask; score: number | null }>,
    opts: { label: string; source: SegmentSource }): number[] {
    const rows: SegmentChange[] = [];
    const recorder = new ChangeRecorder(this.map);
    const lost = new Set<number>();
    const painted = new Set<number>();
    for (const part of parts) {
      const stuff = this.table.classKind(part.classId) === "stuff" ? this.table.segmentForStuff(part.classId) : undefined;
      let target: number;
      let added: SegmentChange | null = null;
      if (stuff) target = stuff.segmentId;
      else {
        target = Math.max(this.table.nextSegmentId(), this.map.nextFreeId());
        added = this.table.add({ segmentId: target, classId: part.classId, source: opts.source, score: part.score });
      }
      const took = new Set<number>();
      this.map.paint(part.mask, target, { protect: this.protectFor(target), recorder, changedIds: took });
      if (took.size) {
        painted.add(target);
        if (added) rows.push(added);
        else this.toPixelSegment(target, rows);
        for (const id of took) lost.add(id);
      } else if (added) this.table.applyChanges([added], "undo"); // every pixel of it was kept
    }
    const tiles = recorder.finish();
    if (tiles.length === 0) {
      if (rows.length) this.table.applyChanges(rows, "undo");
      return [];
    }
    this.settleLosers(lost, -1, rows);
    this.history.push({ label: opts.label, tiles, rows });
    this.changed();
    return [...painted];
  }

  // --- segment operations ---------------------------------------------------------------------------------

  deleteSegment(segmentId: number): void {
    const tiles = this.map.replaceIds(new Set([segmentId]), 0);
    const rows = [this.table.remove(segmentId)];
    this.history.push({ label: "Delete segment", tiles, rows });
    if (this.activeSegment === segmentId) this.activeSegment = null;
    this.changed();
  }

  /** Merge `others` into `target`: their pixels take its id, their rows go. */
  mergeSegments(target: number, others: number[]): void {
    const from = new Set(others.filter((id) => id !== target));
    if (from.size === 0) return;
    const tiles = this.map.replaceIds(from, target);
    const rows = [...from].map((id) => this.table.remove(id));
    // The target's rings do not cover the pixels it took over.
    if (tiles.length) this.toPixelSegment(target, rows);
    this.history.push({ label: "Merge segments", tiles, rows });
    this.activeSegment = target;
    this.changed();
  }

  /** Split a segment into its 4-connected parts; the largest keeps the id, each other part becomes a segment. */
  splitSegment(segmentId: number): number {
    const row = this.table.get(segmentId);
    if (!row) return 0;
    if (this.table.classKind(row.classId) === "stuff") {
      throw new SegmentRuleError("a stuff class has one segment per image; it cannot be split", "split_stuff");
    }
    const parts = this.map.connectedComponents(segmentId).sort(
      (a, b) => countPixels(b) - countPixels(a),
    );
    if (parts.length < 2) return 0;
    const rows: SegmentChange[] = [];
    const tiles: TileChange[] = [];
    this.toPixelSegment(segmentId, rows);
    const only = new Set([segmentId]);
    for (const part of parts.slice(1)) {
      const id = Math.max(this.table.nextSegmentId(), this.map.nextFreeId());
      rows.push(this.table.add({ segmentId: id, classId: row.classId, attributes: { ...row.attributes } }));
      tiles.push(...this.map.paint(part, id, { onlyIds: only }));
    }
    this.history.push({ label: "Split segment", tiles, rows });
    this.changed();
    return parts.length;
  }

  setSegmentClass(segmentId: number, classId: number): void {
    const row = this.table.get(segmentId);
    if (!row || row.classId === classId) return;
    const stuff = this.table.classKind(classId) === "stuff" ? this.table.segmentForStuff(classId) : undefined;
    if (stuff) {
      // Stuff has one segment per class: relabelling into it merges.
      this.history.group("Change class", () => this.mergeSegments(stuff.segmentId, [segmentId]));
      return;
    }
    this.history.push({ label: "Change class", rows: [this.table.update(segmentId, { classId })] });
    this.changed();
  }

  setInstance(segmentId: number, instance: number): void {
    this.history.push({ label: "Change instance", rows: [this.table.update(segmentId, { instance })] });
    this.changed();
  }

  setAttributes(segmentId: number, attributes: Record<string, unknown>): void {
    this.history.push({ label: "Edit attributes", rows: [this.table.update(segmentId, { attributes })] });
    this.changed();
  }

  undo(): void {
    if (this.stroke) this.endStroke();
    if (this.history.undo()) this.changed();
  }

  redo(): void {
    if (this.history.redo()) this.changed();
  }
}

function countPixels(mask: RegionMask): number {
  let n = 0;
  for (const v of mask.data) n += v;
  return n;
}
