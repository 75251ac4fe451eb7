// The SAM prompt decoder in a Web Worker: one onnxruntime-web session (WASM, SIMD; threads when the page is
// cross-origin isolated), the embeddings of the current and the next images as float32, and decodes that
// answer with the chosen outputs upscaled to the image (src/core/samUpscale.ts). Everything ORT loads comes
// from our static files (`wasmPaths`), never a CDN.
import * as ort from "onnxruntime-web/wasm";
import type { RegionMask } from "../core/raster";
import { embeddingFromBytes, pickMasks } from "../core/samPrompts";
import { maskFromLowRes } from "../core/samUpscale";
import type { WorkerRequest, WorkerResponse } from "./protocol";

interface Embedding {
  data: Float32Array;
  shape: [number, number, number];
  originalSize: [number, number];
}

const EMBEDDINGS_KEPT = 4; // the current image and the prefetched next ones
const embeddings = new Map<string, Embedding>();
let session: ort.InferenceSession | null = null;
let maskInput: ort.Tensor | null = null;
let hasMaskInput: ort.Tensor | null = null;

const post = (message: WorkerResponse, transfer: Transferable[] = []) =>
  (self as unknown as Worker).postMessage(message, transfer);

async function init(model: ArrayBuffer, wasmPaths: string, numThreads: number): Promise<number> {
  ort.env.wasm.wasmPaths = wasmPaths;
  // Threads need SharedArrayBuffer, which only a cross-origin isolated context has.
  const threads = self.crossOriginIsolated ? Math.max(1, numThreads) : 1;
  ort.env.wasm.numThreads = threads;
  session = await ort.InferenceSession.create(new Uint8Array(model), {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  maskInput = new ort.Tensor("float32", new Float32Array(256 * 256), [1, 1, 256, 256]);
  hasMaskInput = new ort.Tensor("float32", new Float32Array([0]), [1]);
  return threads;
}

async function run(key: string, pointCoords: Float32Array, pointLabels: Float32Array) {
  const embedding = embeddings.get(key);
  if (!session) throw new Error("the decoder is not loaded");
  if (!embedding) throw new Error(`no embedding ${key}`);
  // Most recently used last: Map keeps insertion order.
  embeddings.delete(key);
  embeddings.set(key, embedding);
  const n = pointLabels.length;
  const [c, eh, ew] = embedding.shape;
  const feeds: Record<string, ort.Tensor> = {
    image_embeddings: new ort.Tensor("float32", embedding.data, [1, c, eh, ew]),
    point_coords: new ort.Tensor("float32", pointCoords, [1, n, 2]),
    point_labels: new ort.Tensor("float32", pointLabels, [1, n]),
    mask_input: maskInput!,
    has_mask_input: hasMaskInput!,
  };
  const t0 = performance.now();
  const out = await session.run(feeds, ["low_res_masks", "iou_predictions"]);
  const decodeMs = performance.now() - t0;
  return { lowRes: out.low_res_masks, scores: Array.from(out.iou_predictions.data as Float32Array), decodeMs,
    originalSize: embedding.originalSize };
}

async function handle(msg: WorkerRequest): Promise<void> {
  switch (msg.type) {
    case "init": {
      const t0 = performance.now();
      const threads = await init(msg.model, msg.wasmPaths, msg.numThreads);
      post({ type: "ready", id: msg.id, threads, isolated: self.crossOriginIsolated, loadMs: performance.now() - t0 });
      return;
    }
    case "embedding": {
      const t0 = performance.now();
      embeddings.delete(msg.key);
      embeddings.set(msg.key, { data: embeddingFromBytes(msg.bytes), shape: msg.shape, originalSize: msg.originalSize });
      while (embeddings.size > EMBEDDINGS_KEPT) embeddings.delete(embeddings.keys().next().value!);
      post({ type: "embedding-ready", id: msg.id, key: msg.key, convertMs: performance.now() - t0 });
      return;
    }
    case "decode": {
      const t0 = performance.now();
      const { lowRes, scores, decodeMs, originalSize } = await run(msg.key, msg.pointCoords, msg.pointLabels);
      // Output 0 is the single-mask token, 1-3 the multimask answers; pick_masks' rule chooses.
      const indices = pickMasks(scores, msg.multimask, msg.pointLabels.length);
      const out: RegionMask[] = indices.map((i) => maskFromLowRes(lowRes.data as Float32Array, i, originalSize, msg.within));
      lowRes.dispose();
      post({
        type: "masks", id: msg.id, masks: out, scores: indices.map((i) => scores[i]), decodeMs,
        workerMs: performance.now() - t0,
      }, out.map((m) => m.data.buffer as ArrayBuffer));
      return;
    }
  }
}

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  handle(event.data).catch((err: unknown) =>
    post({ type: "error", id: event.data.id, message: err instanceof Error ? err.message : String(err) }));
};
