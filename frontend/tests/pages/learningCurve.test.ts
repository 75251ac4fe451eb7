import { describe, expect, it } from "vitest";
import { learningCurve } from "../../src/pages/learningCurve";

const model = (id: number, origin: "trained" | "uploaded", created_at: string, training: unknown) =>
  ({ id, name: `Model ${id}`, origin, created_at, training });

// Issue 17 item 6: one point per trained model, val mIoU against the approved images it was trained on.
describe("learningCurve", () => {
  it("keeps trained models only, oldest first, with their split sizes and val mIoU", () => {
    const points = learningCurve([
      model(3, "trained", "2026-01-03T00:00:00Z", { train_image_ids: [1, 2, 3, 4, 5, 6, 7, 8], val_image_ids: [9, 10], val: { images: 2, miou: 0.71, pixel_accuracy: 0.9 } }),
      model(2, "uploaded", "2026-01-02T00:00:00Z", {}),
      model(1, "trained", "2026-01-01T00:00:00Z", { train_image_ids: [1, 2, 3, 4], val_image_ids: [5], val: { images: 1, miou: 0.52, pixel_accuracy: 0.8 } }),
    ]);
    expect(points.map((p) => [p.id, p.trainImages, p.valImages, p.miou])).toEqual([[1, 4, 1, 0.52], [3, 8, 2, 0.71]]);
  });

  it("has no mIoU for a training without a validation split, and survives an empty record", () => {
    const points = learningCurve([
      model(1, "trained", "2026-01-01T00:00:00Z", { train_image_ids: [1], val_image_ids: [], val: null }),
      model(2, "trained", "2026-01-01T00:00:00Z", null),
    ]);
    expect(points.map((p) => [p.id, p.trainImages, p.valImages, p.miou])).toEqual([[1, 1, 0, null], [2, 0, 0, null]]);
  });
});
