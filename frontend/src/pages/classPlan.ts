// The class list is edited locally and saved in one go; this pure module decides which API calls a save needs.
import type { LabelClass } from "../api/client";
import {
  allowedClassKinds,
  attributesToSchema,
  schemaToAttributes,
  type AttributeSpec,
  type ClassFields,
  type ClassKind,
  type ProjectKind,
} from "../ui/validation";

export interface ClassDraft extends ClassFields {
  /** Local identity for rendering (stable across saves). */
  key: number;
  /** Server id; null until created. */
  id: number | null;
  /** The payload last saved to the server (JSON), to tell what changed. */
  saved: string | null;
  /** The server's message from the last failed save of this class. */
  error: string | null;
  /** Attribute editor open. */
  open: boolean;
}

export interface ClassPayload {
  name: string;
  color: string;
  kind: ClassKind;
  order: number;
  attribute_schema: AttributeSpec[];
}

let keys = 0;
export const nextKey = () => ++keys;

export function payloadOf(draft: ClassFields, order: number): ClassPayload {
  return {
    name: draft.name.trim(),
    color: draft.color.toLowerCase(),
    kind: draft.kind,
    order,
    attribute_schema: attributesToSchema(draft.attributes),
  };
}

export function draftFromServer(label: LabelClass, index: number): ClassDraft {
  const draft: ClassDraft = {
    key: nextKey(),
    id: label.id,
    name: label.name,
    color: label.color,
    kind: label.kind,
    attributes: schemaToAttributes(label.attribute_schema),
    saved: null,
    error: null,
    open: false,
  };
  // What the server has, in the same normal form as payloadOf, so an untouched class is not re-sent.
  draft.saved = JSON.stringify({ ...payloadOf(draft, index), order: label.order });
  return draft;
}

export interface ClassPlan {
  deletes: number[];
  /** Existing classes whose payload changed, with their position in the list. */
  updates: { draft: ClassDraft; payload: ClassPayload }[];
  creates: { draft: ClassDraft; payload: ClassPayload }[];
  /** Whether the project update should run after the class updates (the new kind admits fewer class kinds). */
  classesFirst: boolean;
}

/** The calls a save needs: deletions first (they free names), then updates, then creations. */
export function planClassSave(
  drafts: readonly ClassDraft[],
  deletedIds: readonly number[],
  oldKind: ProjectKind | null,
  newKind: ProjectKind,
): ClassPlan {
  const updates: ClassPlan["updates"] = [];
  const creates: ClassPlan["creates"] = [];
  drafts.forEach((draft, index) => {
    const payload = payloadOf(draft, index);
    if (draft.id === null) creates.push({ draft, payload });
    else if (JSON.stringify(payload) !== draft.saved) updates.push({ draft, payload });
  });
  // Narrowing the project kind (e.g. panoptic -> semantic) needs the classes converted before the project;
  // widening it needs the project first so the classes' new kind is admitted.
  const classesFirst =
    oldKind !== null && !allowedClassKinds(oldKind).every((kind) => allowedClassKinds(newKind).includes(kind));
  return { deletes: [...deletedIds], updates, creates, classesFirst };
}

/** Whether anything in the class list differs from what the server has. */
export function classesDirty(drafts: readonly ClassDraft[], deletedIds: readonly number[]): boolean {
  return deletedIds.length > 0 || drafts.some((draft, index) => draft.id === null || JSON.stringify(payloadOf(draft, index)) !== draft.saved);
}
