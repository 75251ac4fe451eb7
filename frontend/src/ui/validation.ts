// Pure form rules, mirrored from the server (labeling/services/projects.py) so mistakes show before a round
// trip. The server stays the judge: its messages are shown as well.

import type { ApiError } from "../api/client";

export type ProjectKind = "semantic" | "instance" | "panoptic";
export type ClassKind = "thing" | "stuff";
export type AttributeType = "text" | "number" | "boolean" | "select";

export const PROJECT_KINDS: readonly { value: ProjectKind; label: string; hint: string }[] = [
  { value: "semantic", label: "Semantic", hint: "Every pixel gets a class; no instances (stuff classes only)." },
  { value: "instance", label: "Instance", hint: "Separate countable objects, each its own mask (thing classes only)." },
  { value: "panoptic", label: "Panoptic", hint: "Both: instances of things plus regions of stuff, no overlaps." },
];

export const CLASS_KINDS: readonly { value: ClassKind; label: string }[] = [
  { value: "thing", label: "Thing" },
  { value: "stuff", label: "Stuff" },
];

export const ATTRIBUTE_TYPES: readonly AttributeType[] = ["text", "number", "boolean", "select"];

const ALLOWED: Record<ProjectKind, readonly ClassKind[]> = {
  semantic: ["stuff"],
  instance: ["thing"],
  panoptic: ["thing", "stuff"],
};

/** Which class kinds a project kind admits (same table as CLASS_KINDS_FOR_PROJECT on the server). */
export function allowedClassKinds(kind: ProjectKind): readonly ClassKind[] {
  return ALLOWED[kind];
}

export const COLOR = /^#[0-9a-fA-F]{6}$/;

export interface AttributeDraft {
  name: string;
  type: AttributeType;
  options: string; // comma-separated, for select
  required: boolean;
}

export interface ClassFields {
  name: string;
  color: string;
  kind: ClassKind;
  attributes: AttributeDraft[];
}

export interface AttributeSpec {
  name: string;
  type: AttributeType;
  options?: string[];
  required?: boolean;
}

export function validateProjectName(name: string): string | null {
  const trimmed = name.trim();
  if (!trimmed) return "A project needs a name.";
  if (trimmed.length > 200) return "At most 200 characters.";
  return null;
}

/** "a, b ,, a" -> ["a", "b"] */
export function parseOptions(text: string): string[] {
  const seen = new Set<string>();
  for (const part of text.split(",")) {
    const option = part.trim();
    if (option) seen.add(option);
  }
  return [...seen];
}

/** The first problem with an attribute list, or null. */
export function validateAttributes(attributes: readonly AttributeDraft[]): string | null {
  const names = new Set<string>();
  for (const attribute of attributes) {
    const name = attribute.name.trim();
    if (!name) return "Every attribute needs a name.";
    if (names.has(name)) return `Attribute "${name}" is defined twice.`;
    names.add(name);
    if (!ATTRIBUTE_TYPES.includes(attribute.type)) return `Attribute "${name}": unknown type.`;
    if (attribute.type === "select" && parseOptions(attribute.options).length === 0) {
      return `Attribute "${name}": a select needs at least one option.`;
    }
  }
  return null;
}

/** Problems with one class, by field; `otherNames` are the names of the project's other classes. */
export function validateClass(
  fields: ClassFields,
  projectKind: ProjectKind,
  otherNames: readonly string[],
): Partial<Record<"name" | "color" | "kind" | "attributes", string>> {
  const errors: Partial<Record<"name" | "color" | "kind" | "attributes", string>> = {};
  const name = fields.name.trim();
  if (!name) errors.name = "A class needs a name.";
  else if (name.length > 100) errors.name = "At most 100 characters.";
  else if (otherNames.some((other) => other.trim() === name)) errors.name = `Another class is already called "${name}".`;
  if (!COLOR.test(fields.color)) errors.color = "Colour must look like #rrggbb.";
  if (!allowedClassKinds(projectKind).includes(fields.kind)) {
    errors.kind = `A ${projectKind} project takes ${allowedClassKinds(projectKind).join(" or ")} classes.`;
  }
  const attributes = validateAttributes(fields.attributes);
  if (attributes) errors.attributes = attributes;
  return errors;
}

export function attributesToSchema(attributes: readonly AttributeDraft[]): AttributeSpec[] {
  return attributes.map((attribute) => {
    const spec: AttributeSpec = { name: attribute.name.trim(), type: attribute.type };
    if (attribute.type === "select") spec.options = parseOptions(attribute.options);
    if (attribute.required) spec.required = true;
    return spec;
  });
}

/** The server's attribute_schema (typed `unknown`) as editable drafts; malformed entries are skipped. */
export function schemaToAttributes(schema: unknown): AttributeDraft[] {
  if (!Array.isArray(schema)) return [];
  return schema
    .filter((item): item is Record<string, unknown> => typeof item === "object" && item !== null)
    .map((item) => ({
      name: typeof item.name === "string" ? item.name : "",
      type: ATTRIBUTE_TYPES.includes(item.type as AttributeType) ? (item.type as AttributeType) : "text",
      options: Array.isArray(item.options) ? item.options.filter((o) => typeof o === "string").join(", ") : "",
      required: item.required === true,
    }));
}

/** Per-field messages from a DRF validation error ({extra: {fields: {name: ["..."]}}}). */
export function fieldErrors(error: Pick<ApiError, "extra">): Record<string, string> {
  const fields = error.extra?.fields;
  const out: Record<string, string> = {};
  if (!fields || typeof fields !== "object") return out;
  for (const [key, value] of Object.entries(fields as Record<string, unknown>)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === "string") out[key] = first;
  }
  return out;
}

// A palette of distinct colours for new classes (Sasha Trubetskoy's list).
const PALETTE = [
  "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c",
  "#fabebe", "#008080", "#e6beff", "#9a6324", "#ffe119", "#800000", "#aaffc3", "#808000",
];

/** The first palette colour no class uses yet. */
export function nextColor(used: readonly string[]): string {
  const taken = new Set(used.map((c) => c.toLowerCase()));
  return PALETTE.find((c) => !taken.has(c)) ?? PALETTE[used.length % PALETTE.length];
}
