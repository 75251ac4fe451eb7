// Where whole label tiles are packed into texels. Packing a 512² tile (edge flags for every pixel) takes 3 ms of
// JavaScript on an idle core and 8-15 ms beside SwiftShader's rasteriser threads on 2 cores: done in the frame, a
// pan that brings new tiles into view stalls. WorkerPacker does it in a Web Worker and the frame that follows
// only remaps tile-local indices to palette indices (globalizeTexels, well under 1 ms) and uploads.
import type { TileBorders } from "./labelTexels";

export interface PackRequest {
  id: number;
  width: number;
  height: number;
  data: Uint32Array;
  borders: TileBorders;
}

export interface PackResponse {
  id: number;
  /** The request's data buffer, handed back for reuse. */
  data: Uint32Array;
  /** Tile-local index << 4 | edge flags. */
  texels: Uint32Array;
  /** Tile-local index → segment id. */
  ids: Uint32Array;
}

/** A packed tile, or null when the packer failed (the caller then packs the tile itself). */
export type PackDone = (result: Omit<PackResponse, "id" | "data"> | null) => void;

/** Packs tiles asynchronously; `done` runs once per request, in order of completion. */
export interface LabelPacker {
  /** The packer cannot pack (its worker failed to start or crashed): pack on the main thread instead. */
  readonly failed: boolean;
  /** `request.data` is copied (the caller keeps it); the borders are handed over. */
  pack(request: Omit<PackRequest, "id">, done: PackDone): void;
  destroy(): void;
}

/** Data buffers kept for reuse: MAX_PACKING in flight plus a few coming back. */
const POOL_SIZE = 8;

export class WorkerPacker implements LabelPacker {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, PackDone>();
  /**
   * Data buffers back from the worker. Copying a tile into one costs ~0.1 ms; a fresh 1 MB copy (slice) cost
   * 0.5-3 ms of main-thread time here, allocation and page faults beside SwiftShader's threads.
   */
  private pool: ArrayBuffer[] = [];
  failed = false;

  constructor() {
    this.worker = new Worker(new URL("./labelPack.worker.ts", import.meta.url), { type: "module", name: "label-pack" });
    this.worker.onmessage = (event: MessageEvent<PackResponse>) => {
      const { id, data, texels, ids } = event.data;
      if (this.pool.length < POOL_SIZE) this.pool.push(data.buffer as ArrayBuffer);
      const done = this.pending.get(id);
      this.pending.delete(id);
      done?.({ texels, ids });
    };
    // A worker script blocked by the server (a cross-origin isolated page needs COEP on it too) or a crash:
    // every request still waiting is handed back, and the layer packs on the main thread from then on.
    this.worker.onerror = (event) => {
      event.preventDefault();
      if (!this.failed) console.warn("label packer worker failed; packing label tiles on the main thread", event.message);
      this.failed = true;
      const waiting = [...this.pending.values()];
      this.pending.clear();
      for (const done of waiting) done(null);
    };
  }

  pack(request: Omit<PackRequest, "id">, done: PackDone): void {
    if (this.failed) {
      queueMicrotask(() => done(null));
      return;
    }
    const id = this.nextId++;
    this.pending.set(id, done);
    const n = request.data.length;
    const reused = this.pool.findIndex((b) => b.byteLength === n * 4);
    const data = reused >= 0 ? new Uint32Array(this.pool.splice(reused, 1)[0]) : new Uint32Array(n);
    data.set(request.data);
    const message: PackRequest = { ...request, id, data };
    const { left, right, top, bottom } = request.borders;
    this.worker.postMessage(message, [data.buffer, left.buffer, right.buffer, top.buffer, bottom.buffer]);
  }

  destroy(): void {
    this.pending.clear();
    this.pool = [];
    this.worker.terminate();
  }
}
