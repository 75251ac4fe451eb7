// Where the editor's IndexedDB copy of unsaved edits is written. IndexedDB serialises a value on the calling
// thread, and the copy holds each changed tile twice (our pixels and the base, 1 MB each at 512²): `put`
// took ~74 ms of the main thread per brush stroke here, a long task at the end of every stroke.
// WorkerPendingStore runs the same PendingStore in a Web Worker; handing it the tiles is a plain copy (a few
// ms). The tiles are copied, not transferred, so that if the worker cannot start or fails, every request, the
// waiting ones included, runs on a PendingStore in this thread with its data intact: a write is never lost.
import { PendingStore, type PendingEdits, type PendingUpdate } from "./pendingStore";

/** What the autosave needs from the store (PendingStore and WorkerPendingStore). */
export interface PendingEditsStore {
  write(update: PendingUpdate): Promise<void>;
  get(annotationId: number): Promise<PendingEdits | undefined>;
  remove(annotationId: number): Promise<void>;
}

export type StoreRequest =
  | { id: number; op: "write"; update: PendingUpdate }
  | { id: number; op: "get"; annotationId: number }
  | { id: number; op: "remove"; annotationId: number };

export type StoreResponse = { id: number; result?: PendingEdits } | { id: number; error: string };

/** Runs one request on a store (the worker's, or this thread's after a failure). */
export async function runRequest(store: PendingEditsStore, request: StoreRequest): Promise<PendingEdits | undefined> {
  switch (request.op) {
    case "write":
      return void (await store.write(request.update));
    case "get":
      return store.get(request.annotationId);
    case "remove":
      return void (await store.remove(request.annotationId));
  }
}

/** The tile buffers of an entry read in the worker, transferred to the page instead of copied. */
export function tileBuffers(entry: PendingEdits | undefined): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const t of entry?.tiles ?? []) {
    for (const pixels of [t.local, t.base]) if (pixels && pixels.buffer instanceof ArrayBuffer) out.add(pixels.buffer);
  }
  return [...out];
}

interface Waiting {
  request: StoreRequest;
  resolve: (result: PendingEdits | undefined) => void;
  reject: (error: Error) => void;
}

export class WorkerPendingStore implements PendingEditsStore {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private fallback: PendingStore | null = null;
  // The failed worker's waiting requests, re-run here; later requests queue behind them.
  private replay: Promise<void> = Promise.resolve();

  /** `factory` is the in-thread fallback's IndexedDB (tests). */
  constructor(private readonly factory?: IDBFactory) {
    this.worker = new Worker(new URL("./pendingStore.worker.ts", import.meta.url), { type: "module", name: "pending-store" });
    this.worker.onmessage = (event: MessageEvent<StoreResponse>) => {
      const job = this.waiting.get(event.data.id);
      this.waiting.delete(event.data.id);
      if (!job) return;
      if ("error" in event.data) job.reject(new Error(event.data.error));
      else job.resolve(event.data.result);
    };
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.fail(`pending-edits worker failed; writing them on the main thread (${event.message})`);
    };
  }

  /** Whether the store runs off the main thread (false once the worker failed). */
  get inWorker(): boolean {
    return this.fallback === null;
  }

  write(update: PendingUpdate): Promise<void> {
    return this.call({ id: 0, op: "write", update }).then(() => undefined);
  }

  get(annotationId: number): Promise<PendingEdits | undefined> {
    return this.call({ id: 0, op: "get", annotationId });
  }

  remove(annotationId: number): Promise<void> {
    return this.call({ id: 0, op: "remove", annotationId }).then(() => undefined);
  }

  /** Stop the worker; requests still waiting, and later ones, run in this thread. */
  destroy(): void {
    this.fail(null);
  }

  private call(request: StoreRequest): Promise<PendingEdits | undefined> {
    const fallback = this.fallback;
    if (fallback) return this.replay.then(() => runRequest(fallback, request));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const sent = { ...request, id } as StoreRequest;
      this.waiting.set(id, { request: sent, resolve, reject });
      this.worker.postMessage(sent);
    });
  }

  private fail(warning: string | null): void {
    if (this.fallback) return;
    if (warning) console.warn(warning);
    this.fallback = new PendingStore(this.factory);
    this.worker.terminate();
    // In the order they were asked: a write, then the remove that covers it.
    const jobs = [...this.waiting.values()];
    this.waiting.clear();
    const fallback = this.fallback;
    this.replay = (async () => {
      for (const job of jobs) await runRequest(fallback, job.request).then(job.resolve, job.reject);
    })();
  }
}
