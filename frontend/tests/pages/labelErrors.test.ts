import { describe, expect, it } from "vitest";
import { checkStatus, segmentText } from "../../src/pages/labelErrors";

// Issue 17 item 5: the label-error finder's rows and job line.
describe("label errors", () => {
  it("names a segment by class and instance number, with its IoU", () => {
    expect(segmentText({ class_name: "person", instance: 2, iou: 0.3123 })).toBe("person #2 — IoU 0.31");
    expect(segmentText({ class_name: "road", instance: null, iou: 0 })).toBe("road — IoU 0.00");
    expect(segmentText({ class_name: "", instance: null, iou: 1 })).toBe("a deleted class — IoU 1.00");
  });

  it("says how the check went", () => {
    expect(checkStatus({ status: "succeeded", error: "", result: { checked: 8, model_name: "Pixel classifier 1" } }))
      .toBe("Checked 8 approved image(s) with Pixel classifier 1.");
    expect(checkStatus({ status: "succeeded", error: "", result: { checked: 7, failed: 1, model_name: "M" } }))
      .toBe("Checked 7 approved image(s) with M; 1 could not be read.");
    expect(checkStatus({ status: "failed", error: "the model was deleted before the check ran" }))
      .toBe("Failed: the model was deleted before the check ran");
    expect(checkStatus({ status: "queued", error: "" })).toBe("Waiting for a GPU worker…");
  });
});
