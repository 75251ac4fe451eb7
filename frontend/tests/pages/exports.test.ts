import { describe, expect, it } from "vitest";
import { chosenClassIds } from "../../src/pages/exports";

describe("chosenClassIds", () => {
  const classes = [{ id: 4 }, { id: 2 }, { id: 9 }];
  it("sends no filter when every class is ticked", () => {
    expect(chosenClassIds(classes, new Set([2, 4, 9]))).toBeNull();
  });
  it("sends the ticked ids in the classes' order", () => {
    expect(chosenClassIds(classes, new Set([9, 4]))).toEqual([4, 9]);
    expect(chosenClassIds(classes, new Set())).toEqual([]);
  });
  it("ignores ids that are not classes of the project", () => {
    expect(chosenClassIds(classes, new Set([2, 4, 9, 77]))).toBeNull();
  });
});
