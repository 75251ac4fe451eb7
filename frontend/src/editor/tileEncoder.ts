// Where autosave compresses changed label tiles for the wire. Deflating a 512² tile (1 MB) took ~45 ms of the
// main thread here (CompressionStream does its work on the calling thread), a long task that dropped frames
// in the middle of brush strokes; WorkerTileEncoder does it in a Web Worker. If the worker cannot start (its
// script blocked, say), the tiles are encoded in this thread as before: a save is never lost to the worker.
import { bytesToBase64, encodeTile } from "../core/tileCodec";

/** Encodes one tile's pixels to the save API's `data` (base64 of the zlib stream). */
export interface TileEncoder {
  /** Whether tiles are encoded off the main thread. */
  readonly inWorker: boolean;
  encode(pixels: Uint32Array): Promise<string>;
  destroy(): void;
}

export async function encodeTileBase64(pixels: Uint32Array): Promise<string> {
  return bytesToBase64(await encodeTile(pixels));
}

export interface EncodeRequest {
  id: number;
  pixels: Uint32Array;
}

export type EncodeResponse = { id: number; data: string } | { id: number; error: string };

interface Waiting {
  pixels: Uint32Array;
  resolve: (data: string) => void;
  reject: (error: Error) => void;
}

/** Encodes in this thread: where Web Workers do not exist (tests in Node) or the worker failed. */
export const inlineTileEncoder: TileEncoder = { inWorker: false, encode: encodeTileBase64, destroy() {} };

export class WorkerTileEncoder implements TileEncoder {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  /** The worker failed or was terminated: encode in this thread. */
  private failed = false;

  constructor() {
    this.worker = new Worker(new URL("./tileEncode.worker.ts", import.meta.url), { type: "module", name: "tile-encode" });
    this.worker.onmessage = (event: MessageEvent<EncodeResponse>) => {
      const job = this.waiting.get(event.data.id);
      this.waiting.delete(event.data.id);
      if (!job) return;
      if ("data" in event.data) job.resolve(event.data.data);
      else job.reject(new Error(event.data.error));
    };
    this.worker.onerror = (event) => {
      event.preventDefault();
      if (!this.failed) console.warn("tile encoder worker failed; encoding tiles on the main thread", event.message);
      this.failed = true;
      const jobs = [...this.waiting.values()];
      this.waiting.clear();
      for (const job of jobs) encodeTileBase64(job.pixels).then(job.resolve, job.reject);
    };
  }

  get inWorker(): boolean {
    return !this.failed;
  }

  /** `pixels` is copied to the worker: the caller may keep using it. */
  encode(pixels: Uint32Array): Promise<string> {
    if (this.failed) return encodeTileBase64(pixels);
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.waiting.set(id, { pixels, resolve, reject });
      const request: EncodeRequest = { id, pixels };
      this.worker.postMessage(request);
    });
  }

  destroy(): void {
    const jobs = [...this.waiting.values()];
    this.waiting.clear();
    this.worker.terminate();
    this.failed = true; // a save that outlives the editor (the last one on leaving) encodes in this thread
    // A save still waiting finishes in this thread rather than hanging.
    for (const job of jobs) encodeTileBase64(job.pixels).then(job.resolve, job.reject);
  }
}

export function defaultTileEncoder(): TileEncoder {
  return typeof Worker !== "undefined" ? new WorkerTileEncoder() : inlineTileEncoder;
}
