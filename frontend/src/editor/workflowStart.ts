// Starting a task at the first edit. Opening an image the user has no annotation of claims nothing: the editor
// shows what a new annotation would start from (the pre-label, or an empty map) under a placeholder id, and the
// first edit starts the user's annotation (POST images/{id}/annotations/), which takes a place among the image's
// annotators. Until it exists, edits are kept on this device under the placeholder (a reload, a dropped network or
// an expired session loses nothing, as with saves); once it exists they move to it and autosave takes over.
import { ApiError, openAnnotation, type AnnotationDetail } from "../api/client";
import type { Autosaver, SaveStatus } from "./autosave";
import type { PendingEditsStore } from "./pendingStoreClient";
import type { EditorSession } from "./session";
import { sameSegments, type TaskRefusal } from "./workflow";

/** The id a preview's unsaved edits are kept under on this device: never a real annotation's (those are > 0). */
export const previewAnnotationId = (imageId: number) => -imageId;

const MAX_BACKOFF_MS = 30_000;

export interface TaskStarterOptions {
  session: EditorSession;
  autosave: Autosaver;
  store: PendingEditsStore | null;
  /** The version a new annotation has when it starts: 1 when it copies a pre-label, else 0. */
  startVersion: number;
  /** Show a save status while the task is not started (autosave reports its own afterwards). */
  status(status: SaveStatus): void;
  /** The annotation exists now. */
  started(): void;
  /** The server refused to start it (someone took the image's last place meanwhile, or it was decided). */
  refused(refusal: TaskRefusal): void;
  /** The pre-label changed between opening and starting: open the image again. */
  reopen(): void;
}

export class TaskStarter {
  private done: boolean;
  private starting: Promise<boolean> | null = null;
  private moving = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private persistTimer: ReturnType<typeof setTimeout> | undefined;
  private backoff = 2000;
  private disposed = false;
  private readonly onOnline = () => void this.retryNow();

  constructor(private readonly options: TaskStarterOptions, preview: boolean) {
    this.done = !preview;
    if (preview) window.addEventListener("online", this.onOnline);
  }

  /** The user's annotation exists (it always does outside a preview). */
  get started(): boolean {
    return this.done;
  }

  /** Call after every edit: autosave once started, else keep the edit on this device and start the task. */
  edited(): void {
    if (this.done) {
      this.options.autosave.changed();
      return;
    }
    if (!this.starting) this.options.status({ state: "unsaved", message: "Unsaved changes" });
    clearTimeout(this.persistTimer);
    this.persistTimer = setTimeout(() => {
      if (!this.moving && !this.done) void this.options.autosave.persist();
    }, 300);
    void this.start().then((ok) => ok && this.options.autosave.changed());
  }

  /** Start the user's annotation now (Submit does this without an edit); false when it could not be. */
  start(): Promise<boolean> {
    if (this.done) return Promise.resolve(true);
    this.starting ??= this.startOnce().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  /** Resolves once a start in flight has settled (true: the annotation exists). */
  settled(): Promise<boolean> {
    return this.starting ?? Promise.resolve(this.done);
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.retry);
    clearTimeout(this.persistTimer);
    window.removeEventListener("online", this.onOnline);
  }

  private async retryNow(): Promise<void> {
    clearTimeout(this.retry);
    if (this.disposed || this.done || !this.options.autosave.hasUnsaved()) return;
    if (await this.start()) this.options.autosave.changed();
  }

  private async startOnce(): Promise<boolean> {
    const { session, autosave, store, startVersion } = this.options;
    const placeholder = session.annotationId;
    let detail: AnnotationDetail;
    try {
      detail = await openAnnotation(session.data.image.id);
    } catch (err) {
      this.failed(err);
      return false;
    }
    // A fresh start holds a copy of what the user saw, unless the pre-label changed meanwhile. One the user had
    // started already (another tab) may hold saves since: the first save then merges with them (409, then merge).
    if (detail.version === startVersion && !sameSegments(detail.segments, [...session.savedRows.values()])) {
      if (!this.disposed) this.options.reopen();
      return false;
    }
    // Move the copy of unsaved edits to the annotation, whole: autosave then writes only what changes after.
    this.moving = true;
    try {
      await autosave.persist();
      const entry = await store?.get(placeholder);
      if (store && entry) {
        await store.write({ ...entry, annotationId: detail.id, tileKeys: entry.tiles.map((t) => t.key) });
        await store.remove(placeholder);
      }
    } catch {
      /* the copy stays under the placeholder; the saves that follow still carry the edits */
    } finally {
      this.moving = false;
    }
    session.data.annotation = detail;
    session.version = startVersion;
    this.done = true;
    window.removeEventListener("online", this.onOnline);
    if (!this.disposed) this.options.started();
    return true;
  }

  /** Report a failed start the way autosave reports a failed save, and try again when it may succeed. */
  private failed(err: unknown): void {
    if (this.disposed) return;
    if (err instanceof ApiError && err.status === 409) {
      // Nothing to keep: these edits can never be saved to this image.
      clearTimeout(this.persistTimer);
      void this.options.store?.remove(this.options.session.annotationId);
      this.options.refused({ code: err.code, message: err.message, extra: err.extra });
      return;
    }
    void this.options.autosave.persist();
    const again = (ms: number) => {
      clearTimeout(this.retry);
      this.retry = setTimeout(() => void this.retryNow(), ms);
    };
    if (err instanceof ApiError && (err.isNetwork || err.status >= 500)) {
      this.options.status({ state: "offline", message: "Offline — changes are kept on this device and will be saved" });
      again(this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    } else if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      this.options.status({ state: "expired", message: "Your session expired — log in again; your changes are kept" });
      again(Math.max(this.backoff, 5000));
    } else {
      this.options.status({ state: "error", message: `Could not start your annotation: ${(err as Error).message}` });
    }
  }
}

/**
 * Edits kept under the preview's placeholder whose start went through without the page seeing the answer (it was
 * reloaded or closed meanwhile) belong to the user's annotation of the image: move them there, unless it has edits
 * of its own kept already. Call before autosave replays what is kept for the annotation.
 */
export async function adoptPreviewEdits(store: PendingEditsStore, imageId: number, annotationId: number): Promise<void> {
  const placeholder = previewAnnotationId(imageId);
  const entry = await store.get(placeholder);
  if (!entry) return;
  if (!(await store.get(annotationId))) {
    await store.write({ ...entry, annotationId, tileKeys: entry.tiles.map((t) => t.key) });
  }
  await store.remove(placeholder);
}
