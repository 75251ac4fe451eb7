// SAM in the editor: availability (/api/sam/), the image's embedding (computed on demand with job progress),
// the decoder worker, the server decode endpoint as a fallback, and which of the two answers a click. No DOM
// beyond Worker: the SAM tool (src/tools/sam.ts) owns prompts and drawing.
import { ApiError } from "../api/client";
import { followJob } from "../api/jobs";
import * as samApi from "../api/sam";
import type { RegionMask } from "../core/raster";
import { type SamPrompt, decoderInputs, maskFromRle } from "../core/samPrompts";
import { DecoderClient } from "./decoderClient";

export type SamState = "checking" | "unavailable" | "loading" | "embedding" | "ready" | "error";
export type DecodePath = "worker" | "server";

export interface SamResult {
  masks: RegionMask[];
  scores: number[];
  path: DecodePath;
  /** Pure decode time (session.run in the worker; the HTTP round trip for the server). */
  decodeMs: number;
  /** From the request to masks in hand on the main thread. */
  totalMs: number;
}

export interface SamEngineOptions {
  /** Where the ORT .mjs/.wasm files are served (copied there by vite.config.ts). */
  wasmPaths: string;
  numThreads: number;
  /** Load the uint8-quantised decoder (default) or the float32 one. */
  quantized: boolean;
  /** "auto" measures both paths and uses the faster. */
  path: DecodePath | "auto";
  /** Called for the next images' embeddings (prefetch); returns their ids. */
  nextImages?: () => Promise<number[]>;
}

const CALIBRATION_RUNS = 3;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : Infinity;
};

/** Options from the page URL: ?sam_decoder=fp32|quantized, ?sam_path=worker|server|auto, ?sam_threads=N. */
export function samOptionsFromUrl(search: string, base: string): SamEngineOptions {
  const q = new URLSearchParams(search);
  const path = q.get("sam_path");
  return {
    wasmPaths: `${base}ort/`,
    numThreads: Number(q.get("sam_threads")) || Math.min(4, navigator.hardwareConcurrency || 2),
    quantized: q.get("sam_decoder") !== "fp32",
    path: path === "worker" || path === "server" ? path : "auto",
  };
}

export class SamEngine {
  state: SamState = "checking";
  message = "Checking SAM…";
  /** Job progress 0..1 while the embedding is computed. */
  progress: number | null = null;
  status: samApi.SamStatus | null = null;
  path: DecodePath = "worker";
  workerReady = false;
  /** Recent latencies per path (ms, request → masks on the main thread). */
  readonly latencies: Record<DecodePath, number[]> = { worker: [], server: [] };
  threads = 0;
  isolated = false;
  decoderLoadMs = 0;

  private worker: DecoderClient | null = null;
  private embeddingKey: string | null = null;
  private originalSize: [number, number];
  private readonly listeners = new Set<() => void>();
  private disposed = false;
  // Aborts following an embedding job when the editor closes.
  private readonly stopped = new AbortController();
  private starting: Promise<void> | null = null;

  constructor(readonly imageId: number, size: [number, number], readonly options: SamEngineOptions) {
    this.originalSize = size;
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private set(state: SamState, message: string, progress: number | null = null): void {
    this.state = state;
    this.message = message;
    this.progress = progress;
    for (const fn of this.listeners) fn();
  }

  get ready(): boolean {
    return this.state === "ready";
  }

  /** Check availability, then load the decoder and the embedding side by side. */
  async start(): Promise<void> {
    if (this.starting) return this.starting;
    this.starting = this.run();
    return this.starting;
  }

  /** Ask the server whether SAM is configured (cheap; the editor disables the tool when it is not). */
  async checkStatus(): Promise<boolean> {
    if (this.status) return this.status.available;
    try {
      this.status = await samApi.getSamStatus();
    } catch (err) {
      this.set("error", `SAM status: ${(err as Error).message}`);
      return false;
    }
    if (!this.status.available) {
      this.set("unavailable", this.status.reason || "SAM is not configured (no checkpoint).");
      return false;
    }
    // Masks are upscaled to the image's size (float32 logits on the server): past its limit they take gigabytes.
    const [height, width] = this.originalSize;
    if (width * height > this.status.max_mask_pixels) {
      this.set("unavailable", `SAM masks are limited to ${this.status.max_mask_pixels} pixels and this image has `
        + `${width}x${height}: use the brush, polygons or superpixels`);
      return false;
    }
    this.set("checking", "SAM is available: choose the tool to load it");
    return true;
  }

  private async run(): Promise<void> {
    if (!(await this.checkStatus())) return;
    if (!this.status!.decoder.available) {
      // A new model or decoder format: the embeddings job exports the decoders (its POST starts it).
      try {
        const { job } = await samApi.computeEmbedding(this.imageId);
        if (job !== null) {
          await this.waitForJob(samApi.jobId(job), (p) =>
            this.set("loading", `Preparing the SAM decoder…${p !== null ? ` ${Math.round(p * 100)} %` : " (queued)"}`, p));
        }
        this.status = await samApi.getSamStatus();
      } catch (err) {
        if (this.disposed) return;
        this.set("error", `Preparing the SAM decoder: ${(err as Error).message}`);
        return;
      }
    }
    this.set("loading", "Loading SAM…");
    // Decoder and embedding download side by side; the embedding goes to the worker once it is loaded.
    const decoder = this.options.path !== "server" ? this.loadDecoder() : Promise.resolve();
    try {
      await Promise.all([decoder, this.loadEmbedding(decoder)]);
    } catch (err) {
      if (this.disposed) return;
      this.set("error", err instanceof Error ? err.message : String(err));
      return;
    }
    if (this.disposed) return;
    if (this.options.path === "auto" && this.workerReady) await this.calibrate();
    else this.path = this.workerReady && this.options.path !== "server" ? "worker" : "server";
    this.set("ready", this.describe());
    void this.prefetchNext();
  }

  describe(): string {
    const ms = (p: DecodePath) => (this.latencies[p].length ? ` ${median(this.latencies[p]).toFixed(0)} ms` : "");
    const where = this.path === "worker"
      ? `in the browser (${this.threads} thread${this.threads === 1 ? "" : "s"}${ms("worker")})`
      : `on the server (${ms("server").trim() || "—"}${this.workerReady ? `; browser${ms("worker")}` : ""})`;
    return `SAM ready: decoding ${where}`;
  }

  private async loadDecoder(): Promise<void> {
    const status = this.status!;
    if (!status.decoder.available || typeof Worker === "undefined") return;
    const url = this.options.quantized ? status.decoder.quantized_url : status.decoder.url;
    try {
      const model = await samApi.getSamDecoder(url);
      this.worker = new DecoderClient();
      const { threads, loadMs } = await this.worker.init(model, this.options.wasmPaths, this.options.numThreads);
      this.threads = threads;
      this.isolated = this.worker.isolated;
      this.decoderLoadMs = loadMs;
    } catch (err) {
      // The server endpoint still answers: the browser decoder is an optimisation.
      console.warn("SAM: the browser decoder is unavailable, using the server", err);
      this.worker?.terminate();
      this.worker = null;
    }
  }

  /** GET the embedding; when missing, POST to compute it and follow the job's progress. */
  private async fetchEmbedding(imageId: number, onProgress?: (p: number | null) => void): Promise<samApi.SamEmbedding> {
    for (let attempt = 0; ; attempt++) {
      let running: samApi.JobRef | null = null;
      try {
        return await samApi.getEmbedding(imageId);
      } catch (err) {
        if (!(err instanceof ApiError && err.code === "embedding_missing") || attempt > 1) throw err;
        running = (err.extra.job as samApi.JobRef | null | undefined) ?? null; // a job already on it (e.g. upload's)
      }
      // 202 with the new job, or 200 {job: null} when it was computed meanwhile.
      running ??= (await samApi.computeEmbedding(imageId)).job;
      if (running !== null) await this.waitForJob(samApi.jobId(running), onProgress);
    }
  }

  private async waitForJob(id: number, onProgress?: (p: number | null) => void): Promise<void> {
    const job = await followJob(id, (update) => onProgress?.(update.status === "running" ? update.progress : null),
      { signal: this.stopped.signal, intervalMs: 250 });
    if (job.status !== "succeeded") {
      throw new Error(`computing the embedding ${job.status}: ${job.error || "no reason given"}`);
    }
  }


  private async loadEmbedding(decoder: Promise<void>): Promise<void> {
    const embedding = await this.fetchEmbedding(this.imageId, (p) =>
      this.set("embedding", `Computing the image embedding…${p !== null ? ` ${Math.round(p * 100)} %` : " (queued)"}`, p));
    this.originalSize = embedding.originalSize;
    this.embeddingKey = `${this.imageId}:${embedding.model}:${embedding.etag ?? ""}`;
    await decoder;
    if (this.worker) {
      await this.worker.setEmbedding(this.embeddingKey, embedding.bytes, embedding.shape, embedding.originalSize);
      this.workerReady = true;
    }
  }

  /**
   * Make sure the next images' embeddings exist (the server computes missing ones) and sit in the browser's
   * HTTP cache, so opening the next image does not wait for the encoder or the download. They are not handed
   * to this editor's worker: it ends with this image.
   */
  private async prefetchNext(): Promise<void> {
    if (!this.options.nextImages) return;
    let ids: number[];
    try {
      ids = await this.options.nextImages();
    } catch {
      return;
    }
    for (const id of ids) {
      if (this.disposed) return;
      await this.fetchEmbedding(id).catch(() => null);
    }
  }

  /** Time both paths on a neutral prompt (centre click) and keep the faster. */
  private async calibrate(): Promise<void> {
    const [h, w] = this.originalSize;
    const prompt: SamPrompt = { points: [[w / 2, h / 2]], labels: [1], box: null };
    // One warm-up each (WASM compilation, the thread pool, a cold HTTP connection) is not counted.
    for (const path of ["worker", "server"] as DecodePath[]) await this.decodeOn(path, prompt, true).catch(() => null);
    this.latencies.worker.length = 0;
    this.latencies.server.length = 0;
    for (let i = 0; i < CALIBRATION_RUNS; i++) {
      for (const path of ["worker", "server"] as DecodePath[]) {
        try {
          await this.decodeOn(path, prompt, true);
        } catch {
          if (path === "server") this.latencies.server.push(Infinity);
        }
      }
    }
    this.choosePath();
  }

  private choosePath(): void {
    if (this.options.path !== "auto") {
      this.path = this.options.path === "worker" && this.workerReady ? "worker" : "server";
      return;
    }
    if (!this.workerReady) {
      this.path = "server";
      return;
    }
    this.path = median(this.latencies.server) < median(this.latencies.worker) ? "server" : "worker";
  }

  /** Force a path (benchmarks); "auto" re-measures. */
  async setPath(path: DecodePath | "auto"): Promise<void> {
    this.options.path = path;
    if (path === "auto" && this.workerReady) {
      this.latencies.worker.length = 0;
      this.latencies.server.length = 0;
      await this.calibrate();
    } else this.choosePath();
    this.set(this.state, this.state === "ready" ? this.describe() : this.message);
  }

  /** Decode prompts on the chosen path; null when a newer request superseded this one. */
  async decode(prompt: SamPrompt, multimask: boolean, within?: [number, number, number, number]): Promise<SamResult | null> {
    if (!this.ready) throw new Error(this.message);
    return this.decodeOn(this.path, prompt, multimask, within);
  }

  private async decodeOn(path: DecodePath, prompt: SamPrompt, multimask: boolean,
    within?: [number, number, number, number]): Promise<SamResult | null> {
    const t0 = performance.now();
    let result: SamResult | null;
    if (path === "worker" && this.worker && this.embeddingKey) {
      const inputs = decoderInputs(prompt.points, prompt.labels, prompt.box, this.originalSize);
      const r = await this.worker.decode({
        key: this.embeddingKey, pointCoords: inputs.pointCoords, pointLabels: inputs.pointLabels, multimask, within,
      });
      if (!r) return null;
      result = { masks: r.masks, scores: r.scores, path, decodeMs: r.decodeMs, totalMs: performance.now() - t0 };
    } else {
      const answer = await samApi.samDecode(this.imageId, {
        points: prompt.points, labels: prompt.labels, box: prompt.box, multimask,
        decoder: this.options.quantized ? "quantized" : "fp32",
      });
      const decodeMs = performance.now() - t0;
      result = { masks: answer.masks.map((m) => maskFromRle(m.rle)), scores: answer.masks.map((m) => m.score),
        path: "server", decodeMs, totalMs: performance.now() - t0 };
    }
    const list = this.latencies[result.path];
    list.push(result.totalMs);
    if (list.length > 20) list.shift();
    return result;
  }

  dispose(): void {
    this.disposed = true;
    this.stopped.abort(new DOMException("editor closed", "AbortError"));
    this.worker?.terminate();
    this.worker = null;
    this.listeners.clear();
  }
}
