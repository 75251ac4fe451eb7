import { describe, expect, it } from "vitest";
import type { LabelClass } from "../../src/api/client";
import { classesDirty, draftFromServer, planClassSave, type ClassDraft } from "../../src/pages/classPlan";
import { formatBytes, lastPage, pageNumbers, percent } from "../../src/ui/format";
import {
  allowedClassKinds,
  attributesToSchema,
  fieldErrors,
  nextColor,
  parseOptions,
  schemaToAttributes,
  validateAttributes,
  validateClass,
  validateProjectName,
  type ClassFields,
} from "../../src/ui/validation";

const cls = (fields: Partial<ClassFields> = {}): ClassFields => ({ name: "cat", color: "#ff0000", kind: "thing", attributes: [], ...fields });

describe("project form rules", () => {
  it("needs a name of at most 200 characters", () => {
    expect(validateProjectName("")).not.toBeNull();
    expect(validateProjectName("   ")).not.toBeNull();
    expect(validateProjectName("x".repeat(201))).not.toBeNull();
    expect(validateProjectName(" Streets ")).toBeNull();
  });

  it("admits class kinds by project kind", () => {
    expect(allowedClassKinds("semantic")).toEqual(["stuff"]);
    expect(allowedClassKinds("instance")).toEqual(["thing"]);
    expect(allowedClassKinds("panoptic")).toEqual(["thing", "stuff"]);
  });
});

describe("class rules", () => {
  it("accepts a good class", () => {
    expect(validateClass(cls(), "panoptic", ["dog"])).toEqual({});
  });

  it("reports each bad field", () => {
    expect(validateClass(cls({ name: " " }), "panoptic", []).name).toBeTruthy();
    expect(validateClass(cls({ name: "x".repeat(101) }), "panoptic", []).name).toBeTruthy();
    expect(validateClass(cls({ name: "dog " }), "panoptic", ["dog"]).name).toMatch(/already/);
    expect(validateClass(cls({ color: "red" }), "panoptic", []).color).toBeTruthy();
    expect(validateClass(cls({ color: "#12345" }), "panoptic", []).color).toBeTruthy();
    expect(validateClass(cls({ kind: "thing" }), "semantic", []).kind).toMatch(/stuff/);
    expect(validateClass(cls({ kind: "stuff" }), "instance", []).kind).toMatch(/thing/);
    expect(validateClass(cls({ attributes: [{ name: "", type: "text", options: "", required: false }] }), "panoptic", []).attributes).toBeTruthy();
  });
});

describe("attribute schema", () => {
  it("parses comma-separated options", () => {
    expect(parseOptions(" small, medium ,, large, small ")).toEqual(["small", "medium", "large"]);
    expect(parseOptions("")).toEqual([]);
  });

  it("validates names, duplicates and select options", () => {
    expect(validateAttributes([])).toBeNull();
    expect(validateAttributes([{ name: "occluded", type: "boolean", options: "", required: false }])).toBeNull();
    expect(validateAttributes([{ name: " ", type: "text", options: "", required: false }])).toMatch(/name/);
    expect(
      validateAttributes([
        { name: "a", type: "text", options: "", required: false },
        { name: "a", type: "number", options: "", required: false },
      ]),
    ).toMatch(/twice/);
    expect(validateAttributes([{ name: "size", type: "select", options: " , ", required: false }])).toMatch(/option/);
    expect(validateAttributes([{ name: "size", type: "select", options: "s, m", required: true }])).toBeNull();
  });

  it("converts drafts to the server schema and back", () => {
    const drafts = [
      { name: " size ", type: "select" as const, options: "s, m, l", required: true },
      { name: "note", type: "text" as const, options: "ignored", required: false },
    ];
    const schema = attributesToSchema(drafts);
    expect(schema).toEqual([
      { name: "size", type: "select", options: ["s", "m", "l"], required: true },
      { name: "note", type: "text" },
    ]);
    expect(schemaToAttributes(schema)).toEqual([
      { name: "size", type: "select", options: "s, m, l", required: true },
      { name: "note", type: "text", options: "", required: false },
    ]);
  });

  it("tolerates malformed server schemas", () => {
    expect(schemaToAttributes(null)).toEqual([]);
    expect(schemaToAttributes({ name: "x" })).toEqual([]);
    expect(schemaToAttributes([null, 3, { name: 5, type: "weird", options: [1, "a"] }])).toEqual([
      { name: "", type: "text", options: "a", required: false },
    ]);
  });
});

describe("server errors", () => {
  it("takes the first message of each field", () => {
    expect(fieldErrors({ extra: { fields: { name: ["This field may not be blank."], kind: "bad" } } })).toEqual({
      name: "This field may not be blank.",
      kind: "bad",
    });
    expect(fieldErrors({ extra: {} })).toEqual({});
  });
});

describe("class save plan", () => {
  const server = (id: number, name: string, order: number, extra: Partial<LabelClass> = {}): LabelClass => ({
    id,
    project: 1,
    name,
    color: "#ff0000",
    kind: "thing",
    order,
    number: id,
    attribute_schema: [],
    ...extra,
  });

  it("sends nothing for an untouched list", () => {
    const drafts = [server(1, "a", 0), server(2, "b", 1)].map(draftFromServer);
    expect(classesDirty(drafts, [])).toBe(false);
    const plan = planClassSave(drafts, [], "panoptic", "panoptic");
    expect(plan.updates).toEqual([]);
    expect(plan.creates).toEqual([]);
  });

  it("updates moved and edited classes, creates new ones, deletes removed ones", () => {
    const drafts: ClassDraft[] = [server(1, "a", 0), server(2, "b", 1), server(3, "c", 2)].map(draftFromServer);
    const [a, b, c] = drafts;
    const list = [b, a]; // c deleted, a and b swapped
    b.color = "#00FF00";
    list.push({ ...a, key: 99, id: null, name: "d", saved: null });
    const plan = planClassSave(list, [c.id!], "panoptic", "panoptic");
    expect(plan.deletes).toEqual([3]);
    expect(plan.updates.map((u) => [u.draft.id, u.payload.order, u.payload.color])).toEqual([
      [2, 0, "#00ff00"],
      [1, 1, "#ff0000"],
    ]);
    expect(plan.creates.map((u) => [u.payload.name, u.payload.order])).toEqual([["d", 2]]);
    expect(classesDirty(list, [])).toBe(true);
  });

  it("respects a server order that differs from the list position", () => {
    const drafts = [server(1, "a", 5)].map(draftFromServer);
    expect(planClassSave(drafts, [], "panoptic", "panoptic").updates.map((u) => u.payload.order)).toEqual([0]);
  });

  it("converts classes before narrowing the project kind, and after widening it", () => {
    expect(planClassSave([], [], "panoptic", "semantic").classesFirst).toBe(true);
    expect(planClassSave([], [], "semantic", "panoptic").classesFirst).toBe(false);
    expect(planClassSave([], [], null, "semantic").classesFirst).toBe(false);
    expect(planClassSave([], [], "instance", "instance").classesFirst).toBe(false);
  });
});

describe("formatting", () => {
  it("formats sizes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MB");
    expect(formatBytes(300 * 1024 * 1024)).toBe("300 MB");
    expect(formatBytes(-1)).toBe("");
  });

  it("formats percentages", () => {
    expect(percent(0.456)).toBe("46%");
    expect(percent(2)).toBe("100%");
    expect(percent(-1)).toBe("0%");
  });

  it("lists page numbers with gaps", () => {
    expect(pageNumbers(1, 1)).toEqual([1]);
    expect(pageNumbers(1, 3)).toEqual([1, 2, 3]);
    expect(pageNumbers(5, 10)).toEqual([1, "…", 4, 5, 6, "…", 10]);
    expect(pageNumbers(3, 10)).toEqual([1, 2, 3, 4, "…", 10]);
    expect(pageNumbers(10, 10)).toEqual([1, "…", 9, 10]);
    expect(lastPage(0, 48)).toBe(1);
    expect(lastPage(97, 48)).toBe(3);
  });

  it("picks unused colours", () => {
    expect(nextColor([])).toBe("#e6194b");
    expect(nextColor(["#E6194B"])).toBe("#3cb44b");
  });
});
