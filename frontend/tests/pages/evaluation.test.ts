import { describe, expect, it } from "vitest";
import { classRows, score, setKey, type EvaluationResult } from "../../src/pages/evaluation";

const result: EvaluationResult = {
  images: 2,
  params: { source: "model", trained_model_id: 4 },
  semantic: { miou: 0.5, pixel_accuracy: 0.9, per_class: { "1": { iou: 0.75 }, "2": { iou: 0.25 } } },
  panoptic: { pq: 0.4, sq: 0.8, rq: 0.5, things: { pq: 0.4 }, stuff: { pq: null },
    per_class: { "1": { pq: 0.4, sq: 0.8, rq: 0.5, tp: 1, fp: 1, fn: 1 } } },
  instance: { ap: 0.3, ap50: 1, ap75: 0, per_class: { "1": { ap: 0.3 } } },
  classes: { "1": { name: "car", kind: "thing", color: "#ff0000" }, "2": { name: "road", kind: "stuff", color: "#808080" } },
};

describe("evaluation tables", () => {
  it("formats scores to three decimals and a dash where there is no number", () => {
    expect(score(0.12345)).toBe("0.123");
    expect(score(null)).toBe("–");
    expect(score(undefined)).toBe("–");
  });

  it("lists every class in order with IoU, PQ / SQ / RQ, counts, and AP for things only", () => {
    expect(classRows(result)).toEqual([
      { name: "car", color: "#ff0000", kind: "thing", cells: ["0.750", "0.400", "0.800", "0.500", "1 / 1 / 1", "0.300"] },
      { name: "road", color: "#808080", kind: "stuff", cells: ["0.250", "–", "–", "–", "–", "–"] },
    ]);
  });

  it("keys a set by its source and the model or annotator it names", () => {
    expect(setKey({ source: "model", trained_model_id: 4 })).toBe("model:4");
    expect(setKey({ source: "annotator", annotator_id: 7, trained_model_id: null })).toBe("annotator:7");
    expect(setKey({ source: "import" })).toBe("import:");
  });
});
