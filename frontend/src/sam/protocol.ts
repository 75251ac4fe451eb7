// Messages between the editor and the SAM decoder worker (src/sam/decoder.worker.ts).
import type { RegionMask } from "../core/raster";

export type WorkerRequest =
  | { type: "init"; id: number; model: ArrayBuffer; wasmPaths: string; numThreads: number }
  | { type: "embedding"; id: number; key: string; bytes: ArrayBuffer; shape: [number, number, number];
      originalSize: [number, number] }
  | { type: "decode"; id: number; key: string; pointCoords: Float32Array; pointLabels: Float32Array;
      multimask: boolean; within?: [number, number, number, number] };

export interface DecodedMasks {
  /** Candidate masks cropped to content, in image pixels; the multimask candidates or the single mask. */
  masks: RegionMask[];
  scores: number[];
  /** session.run alone. */
  decodeMs: number;
  /** In the worker: inputs, run and upscaling. */
  workerMs: number;
}

export type WorkerResponse =
  | { type: "ready"; id: number; threads: number; isolated: boolean; loadMs: number }
  | { type: "embedding-ready"; id: number; key: string; convertMs: number }
  | ({ type: "masks"; id: number } & DecodedMasks)
  | { type: "error"; id: number; message: string };
