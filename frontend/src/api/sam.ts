// SAM endpoints (labeling/api/sam.py), typed from the OpenAPI schema. The embedding and decoder downloads are
// binary, so they read the X-Embedding-* headers here. The GETs touch no DOM (usable from a worker).
import * as client from "./client";
import type { components } from "./schema";

export type SamStatus = components["schemas"]["SamStatus"];
export type SamRle = components["schemas"]["Rle"];
export type SamMask = components["schemas"]["SamMask"];
export type SamProposal = components["schemas"]["Proposal"];

export interface SamEmbedding {
  /** Raw little-endian float16 [C, 64, 64]. */
  bytes: ArrayBuffer;
  shape: [number, number, number];
  inputSize: [number, number];
  originalSize: [number, number];
  model: string;
  etag: string | null;
}

export interface SamDecodeRequest {
  points: Array<[number, number]>;
  labels: number[];
  box: [number, number, number, number] | null;
  multimask: boolean;
  /** The decoder variant: the editor asks for the one its browser worker loads, so both paths agree. */
  decoder?: "fp32" | "quantized";
}

const pair = (value: string | null): [number, number] => {
  const [a, b] = (value ?? "").split(",").map(Number);
  return [a, b];
};

export const getSamStatus = () => client.json<SamStatus>("GET", "/api/sam/");

/** The ONNX decoder's bytes (the quantised one with `quantized`). */
export async function getSamDecoder(url: string): Promise<ArrayBuffer> {
  return (await client.request("GET", url, undefined, "*/*")).arrayBuffer();
}

/** The image's embedding; an ApiError with code `embedding_missing` (404) when it was not computed yet. */
export async function getEmbedding(imageId: number, signal?: AbortSignal): Promise<SamEmbedding> {
  const response = await client.request("GET", `/api/images/${imageId}/embedding/`, undefined,
    "*/*", signal);
  const shape = (response.headers.get("X-Embedding-Shape") ?? "").split(",").map(Number) as [number, number, number];
  return {
    bytes: await response.arrayBuffer(),
    shape,
    inputSize: pair(response.headers.get("X-Embedding-Input-Size")),
    originalSize: pair(response.headers.get("X-Embedding-Original-Size")),
    model: response.headers.get("X-Embedding-Model") ?? "",
    etag: response.headers.get("ETag"),
  };
}

/** A job as the 202 answers give it (the job object, or just its id). */
export type JobRef = number | { id: number };

/** Start computing the embedding: 202 {job}, or 200 {job: null} when it exists already. */
export const computeEmbedding = (imageId: number) => client.json<{ job: JobRef | null }>("POST", `/api/images/${imageId}/embedding/`);

export const samDecode = (imageId: number, body: SamDecodeRequest) =>
  client.json<components["schemas"]["SamDecodeResponse"]>("POST", `/api/images/${imageId}/sam/decode/`, body);

export const startProposals = (imageId: number) => client.json<{ job: JobRef | null }>("POST", `/api/images/${imageId}/proposals/`);
export const getProposals = (imageId: number) =>
  client.json<{ model_key: string; results: SamProposal[] }>("GET", `/api/images/${imageId}/proposals/`);

/** A job reference as the 202 answers give it (an id, or the job object). */
export const jobId = (job: JobRef): number => (typeof job === "number" ? job : job.id);
