// The scribble classifier's endpoint (POST /api/images/{id}/scribble-proposal/): the annotator's strokes in,
// a proposal out (a label raster and a confidence raster over an image region, both 8-bit PNGs in base64).
// ScribbleProposer runs the editor's rounds: debounced after each stroke, first a coarse answer then a full one,
// and a newer round aborts the older one, whose late answers are dropped.
import type { Box } from "../core/raster";
import type { ProposalResolution, ScribbleClass, ScribbleProposal, ScribbleStroke } from "../core/scribbleProposal";
import * as client from "./client";

export interface ScribbleProposalRequest {
  strokes: Array<{ class_id: ScribbleClass; radius: number; points: Array<[number, number]> }>;
  resolution: ProposalResolution;
  /** [x, y, w, h] image pixels; left out for images small enough to classify whole. */
  region?: Box;
}

export interface ScribbleProposalResponse {
  region: Box;
  scale: number;
  resolution: ProposalResolution;
  classes: ScribbleClass[];
  /** base64 8-bit PNG: value i means classes[i - 1], 0 unlabelled. */
  labels: string;
  /** base64 8-bit grey PNG, 0..255. */
  confidence: string;
  seconds?: Record<string, number>;
}

/** A decoded proposal with what the server said about it. */
export interface DecodedProposal extends ScribbleProposal {
  scale: number;
  seconds: Record<string, number>;
}

export interface GreyImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Decodes an 8-bit PNG to one byte per pixel (its first channel). */
export type PngDecoder = (png: Uint8Array) => Promise<GreyImage>;

export const NEED_TWO_LABELS = "Scribble at least two classes (or a class and Background)";

export async function postScribbleProposal(imageId: number, body: ScribbleProposalRequest, signal?: AbortSignal): Promise<ScribbleProposalResponse> {
  const response = await client.request("POST", `/api/images/${imageId}/scribble-proposal/`, body, "application/json", signal);
  return (await response.json()) as ScribbleProposalResponse;
}

export function base64Bytes(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * The browser's own PNG decoder (createImageBitmap, off the main thread), read back through a 2D canvas. No
 * colour conversion or premultiplication, so label values come back exactly.
 */
export const decodeGreyPng: PngDecoder = async (png) => {
  const bitmap = await createImageBitmap(new Blob([png as BlobPart], { type: "image/png" }),
    { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = rgba[i * 4];
  return { width, height, data };
};

export async function decodeProposal(response: ScribbleProposalResponse, decode: PngDecoder = decodeGreyPng): Promise<DecodedProposal> {
  const [labels, confidence] = await Promise.all([decode(base64Bytes(response.labels)), decode(base64Bytes(response.confidence))]);
  if (labels.width !== confidence.width || labels.height !== confidence.height) {
    throw new Error(`the proposal's labels (${labels.width}×${labels.height}) and confidence (${confidence.width}×${confidence.height}) differ in size`);
  }
  return {
    region: response.region, resolution: response.resolution, classes: response.classes, scale: response.scale,
    seconds: response.seconds ?? {}, width: labels.width, height: labels.height, labels: labels.data, confidence: confidence.data,
  };
}

/** What the Scribble panel says for a failed request. */
export function scribbleErrorMessage(err: unknown): string {
  if (err instanceof client.ApiError) {
    if (err.code === "need_two_labels") return NEED_TWO_LABELS;
    if (err.isNetwork) return "The server could not be reached; the next stroke asks again.";
    return `No proposal: ${err.message}`;
  }
  return `No proposal: ${(err as Error).message}`;
}

export function requestBody(strokes: readonly ScribbleStroke[], resolution: ProposalResolution, region?: Box): ScribbleProposalRequest {
  const body: ScribbleProposalRequest = {
    strokes: strokes.filter((s) => s.points.length).map((s) => ({ class_id: s.classId, radius: s.radius, points: s.points })),
    resolution,
  };
  if (region) body.region = region;
  return body;
}

export type ProposerState = "waiting" | "coarse" | "full" | "ready" | "error";

export interface ProposerEvents {
  state(state: ProposerState): void;
  proposal(proposal: DecodedProposal): void;
  error(message: string, code: string): void;
}

export interface ProposerOptions {
  delayMs?: number;
  post?: typeof postScribbleProposal;
  decode?: PngDecoder;
}

/**
 * One round per call of `schedule`: after `delayMs` without another call, POST coarse, show it, POST full, show
 * it (unless the coarse answer was at scale 1 already). A newer round (or `cancel`) aborts the running one; an answer that arrives for an older round anyway (a
 * fetch that ignores the abort, a decode under way) is dropped.
 */
export class ScribbleProposer {
  private generation = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private controller: AbortController | null = null;
  private readonly delayMs: number;
  private readonly post: typeof postScribbleProposal;
  private readonly decode: PngDecoder;

  constructor(private readonly imageId: number, private readonly events: ProposerEvents, options: ProposerOptions = {}) {
    this.delayMs = options.delayMs ?? 300;
    this.post = options.post ?? postScribbleProposal;
    this.decode = options.decode ?? decodeGreyPng;
  }

  /** Ask again after the strokes changed; `region()` is read when the round starts (the view may move). */
  schedule(strokes: () => readonly ScribbleStroke[], region: () => Box | undefined): void {
    this.cancel();
    const generation = this.generation;
    this.events.state("waiting");
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run(generation, strokes(), region());
    }, this.delayMs);
  }

  /** Stop the pending or running round; nothing it would answer is reported. */
  cancel(): void {
    this.generation += 1;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.controller?.abort(new DOMException("a newer round started", "AbortError"));
    this.controller = null;
  }

  private async run(generation: number, strokes: readonly ScribbleStroke[], region: Box | undefined): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    for (const resolution of ["coarse", "full"] as const) {
      this.events.state(resolution);
      let proposal: DecodedProposal;
      try {
        const response = await this.post(this.imageId, requestBody(strokes, resolution, region), controller.signal);
        if (generation !== this.generation) return;
        proposal = await decodeProposal(response, this.decode);
      } catch (err) {
        if (generation !== this.generation) return;
        this.controller = null;
        this.events.state("error");
        this.events.error(scribbleErrorMessage(err), err instanceof client.ApiError ? err.code : "error");
        return;
      }
      if (generation !== this.generation) return;
      this.events.proposal(proposal);
      // A region small enough is classified at its own pixels already at "coarse": nothing finer to ask.
      if (proposal.resolution === "full" || proposal.scale >= 1) break;
    }
    if (generation !== this.generation) return;
    this.controller = null;
    this.events.state("ready");
  }
}
