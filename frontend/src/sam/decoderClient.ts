// A promise API over the decoder worker. Decodes are serialised (one session.run at a time) and only the
// latest waiting request is kept: while the mouse moves, each new prompt supersedes the one not yet started,
// whose promise resolves to null.
import type { DecodedMasks, WorkerRequest, WorkerResponse } from "./protocol";

type Pending = { resolve: (value: WorkerResponse) => void; reject: (err: Error) => void };
type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

export interface DecodeInput {
  key: string;
  pointCoords: Float32Array;
  pointLabels: Float32Array;
  multimask: boolean;
  within?: [number, number, number, number];
}

export class DecoderClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private decoding: Promise<unknown> | null = null;
  private waiting: { input: DecodeInput; resolve: (value: DecodedMasks | null) => void; reject: (err: Error) => void } | null = null;
  threads = 1;
  isolated = false;

  constructor(worker?: Worker) {
    this.worker = worker ?? new Worker(new URL("./decoder.worker.ts", import.meta.url), { type: "module", name: "sam-decoder" });
    this.worker.onmessage = (event: MessageEvent<WorkerResponse>) => {
      const p = this.pending.get(event.data.id);
      if (!p) return;
      this.pending.delete(event.data.id);
      if (event.data.type === "error") p.reject(new Error(event.data.message));
      else p.resolve(event.data);
    };
    this.worker.onerror = (event) => {
      const err = new Error(`SAM worker failed: ${event.message}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
  }

  private call(request: Request, transfer: Transferable[] = []): Promise<WorkerResponse> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id }, transfer);
    });
  }

  /** Load the ONNX decoder (bytes are transferred). */
  async init(model: ArrayBuffer, wasmPaths: string, numThreads: number): Promise<{ threads: number; loadMs: number }> {
    const r = await this.call({ type: "init", model, wasmPaths, numThreads }, [model]);
    if (r.type !== "ready") throw new Error("unexpected answer");
    this.threads = r.threads;
    this.isolated = r.isolated;
    return { threads: r.threads, loadMs: r.loadMs };
  }

  /** Hand an fp16 embedding to the worker (bytes are transferred), kept under `key`. */
  async setEmbedding(key: string, bytes: ArrayBuffer, shape: [number, number, number], originalSize: [number, number]): Promise<void> {
    await this.call({ type: "embedding", key, bytes, shape, originalSize }, [bytes]);
  }

  /** Decode; resolves to null when a newer decode replaced this one before it started. */
  decode(input: DecodeInput): Promise<DecodedMasks | null> {
    return new Promise((resolve, reject) => {
      this.waiting?.resolve(null);
      this.waiting = { input, resolve, reject };
      if (!this.decoding) this.pump();
    });
  }

  private pump(): void {
    const job = this.waiting;
    this.waiting = null;
    if (!job) {
      this.decoding = null;
      return;
    }
    const { input } = job;
    this.decoding = this.call({ type: "decode", ...input })
      .then((r) => {
        if (r.type !== "masks") throw new Error("unexpected answer");
        job.resolve({ masks: r.masks, scores: r.scores, decodeMs: r.decodeMs, workerMs: r.workerMs });
      })
      .catch((err: Error) => job.reject(err))
      .finally(() => this.pump());
  }

  terminate(): void {
    this.worker.terminate();
    for (const p of this.pending.values()) p.reject(new Error("SAM worker stopped"));
    this.pending.clear();
  }
}
