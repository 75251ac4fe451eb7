// The SAM fixture shared with Python (tests/golden/sam/, written by the server side from
// workers/runners/sam.py): a tiny decoder, an fp16 embedding, prompts with their decoder inputs and masks.
import { readFileSync } from "node:fs";

export const SAM_GOLDEN = new URL("../../../tests/golden/sam/", import.meta.url);

export interface SamGoldenMask {
  area: number;
  bbox: number[];
  near_threshold: number;
  output: number;
  rle: { size: [number, number]; counts: string };
  score: number;
}

export interface SamGoldenCase {
  name: string;
  points: Array<[number, number]>;
  labels: Array<0 | 1>;
  box: [number, number, number, number] | null;
  multimask: boolean;
  decoder_inputs: { point_coords: number[][][]; point_labels: number[][]; has_mask_input: number[] };
  iou_predictions: number[];
  masks: SamGoldenMask[];
}

export interface SamGoldenMeta {
  shape: [number, number, number];
  input_size: [number, number];
  original_size: [number, number];
  model_key: string;
}

export const samMeta = (): SamGoldenMeta => JSON.parse(readFileSync(new URL("meta.json", SAM_GOLDEN), "utf8"));
export const samCases = (): SamGoldenCase[] => JSON.parse(readFileSync(new URL("prompts.json", SAM_GOLDEN), "utf8")).cases;
export const samBytes = (name: string): Uint8Array => readFileSync(new URL(name, SAM_GOLDEN));

export interface SamUpscaleCase {
  name: string;
  size: [number, number];
  pattern: { kind: "blob"; cy: number; cx: number; radius: number } | { kind: "stripes"; a: number; b: number; period: number };
  rle: { size: [number, number]; counts: string };
  area: number;
  bbox: number[];
  near_threshold: number;
}

export const samUpscaleCases = (): SamUpscaleCase[] =>
  JSON.parse(readFileSync(new URL("upscale.json", SAM_GOLDEN), "utf8")).cases;
