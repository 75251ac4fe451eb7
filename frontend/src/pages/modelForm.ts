// Pure helpers of the Models page (no DOM): the example manifest, manifest text checks, which form field a
// server error belongs to, and the words for a pre-label job's result.

export type OutputKind = "semantic_logits" | "instance_masks" | "panoptic";

export const OUTPUT_LABELS: Record<string, string> = {
  semantic_logits: "Semantic logits",
  instance_masks: "Instance masks",
  panoptic: "Panoptic",
  class_probabilities: "Class probabilities",
};

/** A starting manifest for a project: its classes mapped from model index 1 on (0 is background). */
export function exampleManifest(classNames: readonly string[], projectKind: string): string {
  const output: OutputKind = projectKind === "instance" ? "instance_masks" : projectKind === "panoptic" ? "panoptic" : "semantic_logits";
  const classMap: Record<string, string> = {};
  classNames.forEach((name, i) => {
    classMap[String(i + 1)] = name;
  });
  const manifest = {
    input_size: [512, 512],
    resize: "stretch",
    normalize: { scale: 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    output,
    class_map: classMap,
    score_threshold: 0.5,
  };
  return JSON.stringify(manifest, null, 2);
}

/** Parse the manifest text; a message says where the JSON breaks, before anything is uploaded. */
export function parseManifestText(text: string): { value: Record<string, unknown> } | { error: string } {
  if (!text.trim()) return { error: "Enter the manifest (JSON)." };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: `The manifest is not valid JSON: ${(err as Error).message}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: "The manifest must be a JSON object ({ … })." };
  }
  return { value: value as Record<string, unknown> };
}

export type UploadField = "file" | "name" | "manifest" | null;

/** Which field of the upload form an API error belongs to (null: show it above the form). */
export function errorField(code: string, extra: Record<string, unknown>): UploadField {
  if (code === "bad_manifest") return "manifest";
  if (code === "bad_model_file" || code === "model_too_large" || code === "model_failed") return "file";
  if (code === "duplicate_name") return "name";
  const field = extra.field ?? Object.keys((extra.fields as Record<string, unknown>) ?? {})[0];
  return field === "file" || field === "name" || field === "manifest" ? field : null;
}

export interface PrelabelError {
  image_id: number;
  name: string;
  message: string;
}

export interface PrelabelResult {
  images?: number;
  labeled?: number;
  skipped?: number;
  failed?: number;
  segments?: number;
  errors?: PrelabelError[];
}

const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "3 of 4 images pre-labeled, 12 segments; 1 failed" */
export function prelabelSummary(result: PrelabelResult): string {
  const images = result.images ?? 0;
  const parts = [`${result.labeled ?? 0} of ${count(images, "image")} pre-labeled`, count(result.segments ?? 0, "segment")];
  let text = parts.join(", ");
  const tail: string[] = [];
  if (result.failed) tail.push(`${result.failed} failed`);
  if (result.skipped) tail.push(`${result.skipped} skipped (deleted)`);
  if (tail.length) text += `; ${tail.join(", ")}`;
  return text;
}
