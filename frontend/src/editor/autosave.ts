// Continuous autosave: changed tiles and segment rows go to the server within ~2 s as a diff against the
// version they were based on. Unsaved edits are mirrored to IndexedDB (pendingStore.ts) so nothing is lost to
// a reload, a dropped network or an expired session. A 409 (someone else saved) is resolved by a three-way
// merge (merge.ts) and the save is retried; the user is told. Every save carries an idempotency key, and a save
// that got no answer is resent as it was, under the same key: if the server did apply it, the server answers
// with the first result rather than a 409.
import { ApiError, newIdempotencyKey, saveAnnotation, getAnnotation, type SaveInputRequest } from "../api/client";
import type { DirtyTile } from "../core/labelMap";
import type { SaveRow, SegmentSaveSnapshot } from "../core/segments";
import { mergeLabelMaps, type MergeResult, type SegmentRow as MergeRow } from "./merge";
import type { PendingEdits, PendingTile } from "./pendingStore";
import type { PendingEditsStore } from "./pendingStoreClient";
import { type EditorSession, tileKey } from "./session";
import { defaultTileEncoder, type TileEncoder } from "./tileEncoder";

export type SaveState = "saved" | "unsaved" | "saving" | "offline" | "expired" | "error";

export interface SaveStatus {
  state: SaveState;
  message: string;
  /** Set after a conflict was merged: shown once to the user. */
  merged?: string;
}

const IDLE_MS = 800; // save after this much quiet...
const MAX_WAIT_MS = 2000; // ...but never later than this after the first unsaved change
const MAX_BACKOFF_MS = 30_000;

export class Autosaver {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private firstChangeAt = 0;
  private inFlight: Promise<void> | null = null;
  private again = false;
  private backoff = 2000;
  private persistTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new Set<(status: SaveStatus) => void>();
  status: SaveStatus = { state: "saved", message: "All changes saved" };
  private readonly onOnline = () => this.schedule(0);
  // IndexedDB writes run one after another, each reading the editor's state when it runs, so a slow
  // "persist" can never land after the "remove" of a save that covered it.
  private storeQueue: Promise<void> = Promise.resolve();
  // What the last successful write to the store holds for each tile (see writePending).
  private persisted = new Map<string, PersistedTile>();
  private disposed = false;
  // The save sent last that got no answer (network error, 5xx, expired session): the next try resends it.
  private unanswered: SentSave | null = null;

  constructor(
    private readonly session: EditorSession,
    private readonly store: PendingEditsStore | null,
    private readonly encoder: TileEncoder = defaultTileEncoder(),
  ) {
    window.addEventListener("online", this.onOnline);
  }

  /** Whether changed tiles are compressed in a Web Worker (false in Node or once the worker failed). */
  get tilesEncodedInWorker(): boolean {
    return this.encoder.inWorker;
  }

  dispose(): void {
    this.disposed = true;
    this.encoder.destroy();
    clearTimeout(this.timer);
    clearTimeout(this.persistTimer);
    window.removeEventListener("online", this.onOnline);
  }

  onStatus(listener: (status: SaveStatus) => void): () => void {
    this.listeners.add(listener);
    listener(this.status);
    return () => this.listeners.delete(listener);
  }

  private setStatus(status: SaveStatus): void {
    this.status = status;
    for (const listener of this.listeners) listener(status);
  }

  hasUnsaved(): boolean {
    const { map, table } = this.session;
    return map.dirtyTiles().length > 0 || table.dirtyRows().length > 0 || table.deletedIds().length > 0;
  }

  /** Call after every edit. */
  changed(): void {
    if (this.status.state === "saved") this.setStatus({ state: "unsaved", message: "Unsaved changes" });
    if (!this.firstChangeAt) this.firstChangeAt = Date.now();
    const wait = Math.max(0, Math.min(IDLE_MS, this.firstChangeAt + MAX_WAIT_MS - Date.now()));
    this.schedule(wait);
    clearTimeout(this.persistTimer);
    this.persistTimer = setTimeout(() => void this.persist(), 300);
  }

  private schedule(ms: number): void {
    if (this.disposed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.saveNow(), ms);
  }

  /** Save now (or right after the save in flight). Resolves when nothing more is pending or saving failed. */
  async saveNow(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = this.saveLoop().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async saveLoop(): Promise<void> {
    do {
      this.again = false;
      await this.saveOnce();
    } while (this.again && !this.disposed);
  }

  private async saveOnce(): Promise<void> {
    const { session } = this;
    // An unanswered save goes first, unchanged and under its key; newer edits follow in the next save.
    let sent = this.unanswered?.body.base_version === session.version ? this.unanswered : null;
    this.unanswered = null;
    const tiles = sent?.tiles ?? session.map.dirtySnapshot();
    const rows = sent?.rows ?? session.table.saveSnapshot();
    if (!tiles.length && !rows.rows.length && !rows.deletedIds.length) {
      this.firstChangeAt = 0;
      this.setStatus({ state: "saved", message: "All changes saved" });
      await this.persist();
      return;
    }
    this.setStatus({ state: "saving", message: "Saving…" });
    try {
      if (!sent) {
        const encoded = await Promise.all(
          tiles.map(async (t) => ({
            tx: t.tx,
            ty: t.ty,
            data: await this.encoder.encode(t.pixels ?? new Uint32Array(session.map.tileShape(t.tx, t.ty).reduce((a, b) => a * b))),
          })),
        );
        const body = { base_version: session.version, tiles: encoded, segments: rows.rows, deleted_segment_ids: rows.deletedIds };
        sent = { key: newIdempotencyKey(), body, tiles, rows };
      }
      const result = await saveAnnotation(session.annotationId, sent.body, sent.key);
      session.version = result.version;
      session.map.markClean(tiles.map((t) => [t.tx, t.ty] as const), tiles.map((t) => t.revision));
      const dropped = session.table.markSaved(rows, result.segments, result.deleted_segment_ids);
      for (const t of tiles) {
        const key = tileKey(t.tx, t.ty);
        if (t.pixels && t.pixels.some((v) => v !== 0)) session.savedTiles.set(key, t.pixels);
        else session.savedTiles.delete(key);
      }
      for (const row of rows.rows) session.savedRows.set(row.segment_id, row);
      for (const id of [...rows.deletedIds, ...result.deleted_segment_ids]) session.savedRows.delete(id);
      if (dropped.length) {
        // The server dropped rows left without a pixel (another client's save, an old empty row).
        if (session.activeSegment !== null && dropped.includes(session.activeSegment)) session.activeSegment = null;
        session.emit("segments");
      }
      this.backoff = 2000;
      this.firstChangeAt = 0;
      session.emit("saved");
      if (this.hasUnsaved()) {
        this.again = true;
      } else {
        this.setStatus({ state: "saved", message: "All changes saved" });
        await this.persist();
      }
    } catch (err) {
      // Without an answer the save may have been applied or not; resent under its key, the server knows which.
      if (sent && err instanceof ApiError && (err.isNetwork || err.status >= 500 || err.status === 401 || err.status === 403)) {
        this.unanswered = sent;
      }
      await this.handleFailure(err);
    }
  }

  private async handleFailure(err: unknown): Promise<void> {
    await this.persist();
    if (!(err instanceof ApiError)) {
      this.setStatus({ state: "error", message: `Save failed: ${(err as Error).message}` });
      return;
    }
    if (err.status === 409 && err.code === "stale_version") {
      try {
        const summary = await this.mergeWithServer();
        this.setStatus({ state: "saving", message: "Saving merged changes…", merged: summary });
        this.again = true;
      } catch (mergeError) {
        // Our edits stay in IndexedDB (persisted above); a reload replays them on the server's state.
        this.setStatus({
          state: "error",
          message: `Another editor saved this image and merging failed (${(mergeError as Error).message}); reload to retry — your edits are kept on this device`,
        });
      }
      return;
    }
    if (err.isNetwork || err.status >= 500) {
      this.setStatus({ state: "offline", message: "Offline — changes are kept on this device and will be saved" });
      this.schedule(this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
      return;
    }
    if (err.status === 401 || err.status === 403) {
      this.setStatus({ state: "expired", message: "Your session expired — log in again; your changes are kept" });
      this.schedule(Math.max(this.backoff, 5000));
      return;
    }
    this.setStatus({ state: "error", message: `The server refused the save: ${err.message}` });
  }

  /** After a 409: load the server's state and replay our unsaved edits on top of it. */
  private async mergeWithServer(): Promise<string> {
    const { session } = this;
    const detail = await getAnnotation(session.annotationId);
    const dirtyKeys = session.map.dirtyTiles();
    // Fetched once: read by the merge, then handed to loadServerState.
    const serverTiles = await session.fetchTiles(detail.tiles.map(([tx, ty]) => [tx, ty] as [number, number]));
    const localTiles = new Map<string, { base: Uint32Array | undefined; local: Uint32Array | undefined }>();
    for (const [tx, ty] of dirtyKeys) {
      const key = tileKey(tx, ty);
      localTiles.set(key, { base: session.savedTiles.get(key), local: session.map.tile(tx, ty)?.slice() });
    }
    const snapshot = session.table.saveSnapshot();
    const localRows = new Map<number, MergeRow>(
      session.table.toSaveRows(session.table.all()).map((r) => [r.segment_id, r as MergeRow]),
    );
    const serverRows = new Map<number, MergeRow>(
      detail.segments.map((s) => [s.segment_id, {
        segment_id: s.segment_id, class_id: s.class_id, instance: s.instance,
        attributes: (s.attributes ?? {}) as Record<string, unknown>, source: s.source, score: s.score,
        rings: (s.rings ?? null) as number[][][] | null,
      }]),
    );
    const merged = mergeLabelMaps({
      localTiles,
      serverTiles,
      tileLength: (key) => tileLength(session, key),
      baseRows: new Map([...session.savedRows].map(([id, r]) => [id, r as MergeRow])),
      localRows,
      serverRows,
      localChanged: new Set(snapshot.rows.map((r) => r.segment_id)),
      localDeleted: new Set(snapshot.deletedIds),
      classKind: (classId) => session.table.classKind(classId),
    });

    // Start again from the server's state, then re-apply what merged differs from it, as unsaved edits.
    await session.loadServerState(detail, serverTiles);
    const skipped = applyMerge(session, merged);
    if (session.activeSegment !== null) {
      session.activeSegment = merged.remapped.get(session.activeSegment) ?? session.activeSegment;
    }
    // Undo steps refer to the pre-merge pixels; replaying them could erase the other editor's work.
    session.history.clear();
    session.table.setStats(session.map.segmentStats());
    session.emit("pixels");
    session.emit("segments");
    const remapped = merged.remapped.size ? `; ${merged.remapped.size} of your new segments got new ids` : "";
    const kept = skipped.length ? `; ${skipped.length} segment row(s) conflicted and kept their values` : "";
    return `Someone else saved this image meanwhile: their changes and yours were merged (${merged.changedTiles.size} tile(s) re-sent${remapped}${kept}). Undo history was reset.`;
  }

  /** Mirror unsaved edits to IndexedDB (or forget them when everything is saved). */
  persist(): Promise<void> {
    const run = this.storeQueue.then(() => this.writePending());
    this.storeQueue = run.catch(() => undefined);
    return run;
  }

  private async writePending(): Promise<void> {
    if (!this.store) return;
    const { session } = this;
    const dirty = session.map.dirtyTiles();
    const snapshot = session.table.saveSnapshot();
    if (!dirty.length && !snapshot.rows.length && !snapshot.deletedIds.length) {
      this.persisted.clear();
      await this.store.remove(session.annotationId);
      return;
    }
    // Only tiles whose pixels or base moved since the last write are stored again.
    const written = new Map<string, PersistedTile>();
    const tiles: PendingTile[] = [];
    for (const [tx, ty] of dirty) {
      const key = tileKey(tx, ty);
      const state = { revision: session.map.tileRevision(tx, ty), base: session.savedTiles.get(key) };
      written.set(key, state);
      const before = this.persisted.get(key);
      if (before && before.revision === state.revision && before.base === state.base) continue;
      tiles.push({ key, base: state.base ?? null, local: session.map.tile(tx, ty)?.slice() ?? null });
    }
    try {
      await this.store.write({
        annotationId: session.annotationId,
        baseVersion: session.version,
        updatedAt: Date.now(),
        tiles,
        tileKeys: [...written.keys()],
        baseRows: [...session.savedRows.values()] as MergeRow[],
        rows: session.table.toSaveRows(session.table.all()) as MergeRow[],
        changed: snapshot.rows.map((r) => r.segment_id),
        deleted: snapshot.deletedIds,
      });
      this.persisted = written;
    } catch {
      // Storage full or blocked: the server save still runs. Write every tile again next time.
      this.persisted.clear();
    }
  }

  /**
   * On open: replay edits left in IndexedDB by an earlier page (reload, crash, expired session) on top of the
   * server's current state. Returns a message for the user, or null when there was nothing to restore.
   */
  async restorePending(): Promise<string | null> {
    if (!this.store) return null;
    const { session } = this;
    const entry = await this.store.get(session.annotationId);
    if (!entry) return null;
    if (alreadyOnServer(entry, session)) {
      // The save went through but the page closed before this copy was dropped: nothing to replay.
      await this.persist();
      return null;
    }
    const localTiles = new Map<string, { base: Uint32Array | undefined; local: Uint32Array | undefined }>();
    for (const t of entry.tiles) localTiles.set(t.key, { base: t.base ?? undefined, local: t.local ?? undefined });
    const serverTiles = new Map<string, Uint32Array | undefined>();
    for (const t of entry.tiles) {
      const [tx, ty] = t.key.split(",").map(Number);
      serverTiles.set(t.key, session.map.tile(tx, ty)?.slice());
    }
    const serverRows = new Map(session.table.toSaveRows(session.table.all()).map((r) => [r.segment_id, r as MergeRow]));
    const merged = mergeLabelMaps({
      localTiles,
      serverTiles,
      tileLength: (key) => tileLength(session, key),
      baseRows: new Map(entry.baseRows.map((r) => [r.segment_id, r])),
      localRows: new Map(entry.rows.map((r) => [r.segment_id, r])),
      serverRows,
      localChanged: new Set(entry.changed),
      localDeleted: new Set(entry.deleted),
      classKind: (classId) => session.table.classKind(classId),
    });
    const skipped = applyMerge(session, merged);
    session.table.setStats(session.map.segmentStats());
    session.emit("pixels");
    session.emit("segments");
    if (!this.hasUnsaved()) {
      await this.persist();
      return null;
    }
    this.changed();
    const note = skipped.length ? ` (${skipped.length} segment row(s) conflicted and kept the server's values)` : "";
    return `Restored ${merged.changedTiles.size} tile(s) and ${merged.changedRows.size} segment(s) of unsaved edits from this device${note}.`;
  }
}

interface PersistedTile {
  revision: number;
  base: Uint32Array | undefined;
}

/** One logical save: its key, the body as sent, and the snapshots to mark saved when it is accepted. */
interface SentSave {
  key: string;
  body: SaveInputRequest;
  tiles: DirtyTile[];
  rows: SegmentSaveSnapshot;
}

/** True when every pixel and row of a pending entry already equals the server's state. */
export function alreadyOnServer(entry: PendingEdits, session: EditorSession): boolean {
  for (const t of entry.tiles) {
    const [tx, ty] = t.key.split(",").map(Number);
    const server = session.map.tile(tx, ty);
    const local = t.local;
    const length = session.map.tileShape(tx, ty).reduce((a, b) => a * b);
    for (let i = 0; i < length; i++) {
      if ((local ? local[i] : 0) !== (server ? server[i] : 0)) return false;
    }
  }
  const serverRows = new Map(session.table.toSaveRows(session.table.all()).map((r) => [r.segment_id, r]));
  const rows = new Map(entry.rows.map((r) => [r.segment_id, r]));
  for (const id of entry.changed) {
    const mine = rows.get(id);
    const theirs = serverRows.get(id);
    if (!mine || !theirs) return false;
    if (mine.class_id !== theirs.class_id || JSON.stringify(mine.attributes) !== JSON.stringify(theirs.attributes) ||
      JSON.stringify(mine.rings) !== JSON.stringify(theirs.rings) || (mine.instance !== null && mine.instance !== theirs.instance)) {
      return false;
    }
  }
  return entry.deleted.every((id) => !serverRows.has(id));
}

function tileLength(session: EditorSession, key: string): number {
  const [tx, ty] = key.split(",").map(Number);
  const [rows, cols] = session.map.tileShape(tx, ty);
  return rows * cols;
}

/**
 * Put a merge result into the session as unsaved edits: merged tiles that differ from the server's are dirty,
 * changed rows are added or updated, deleted rows removed. Returns the ids of rows that broke a segment rule
 * (e.g. an instance number taken meanwhile); those keep the server's values.
 */
function applyMerge(session: EditorSession, merged: MergeResult): number[] {
  for (const [key, pixels] of merged.tiles) {
    const [tx, ty] = key.split(",").map(Number);
    session.map.setTile(tx, ty, pixels, { dirty: merged.changedTiles.has(key) });
  }
  for (const id of merged.deletedRows) if (session.table.has(id)) session.table.remove(id);
  const skipped: number[] = [];
  for (const id of merged.changedRows) {
    const row = merged.rows.get(id)!;
    if (!session.classes.has(row.class_id)) continue; // the class was deleted meanwhile
    const fields = {
      classId: row.class_id, instance: row.instance, attributes: row.attributes,
      source: row.source as SaveRow["source"], score: row.score, rings: row.rings,
    };
    try {
      if (session.table.has(id)) session.table.update(id, fields);
      else session.table.add({ segmentId: id, ...fields });
    } catch {
      skipped.push(id);
    }
  }
  return skipped;
}
