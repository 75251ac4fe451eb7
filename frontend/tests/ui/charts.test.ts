import { describe, expect, it } from "vitest";
import { niceMax, shorten, stack } from "../../src/ui/charts";

describe("chart scales", () => {
  it("rounds an axis maximum up to 1, 2, 2.5 or 5 times a power of ten", () => {
    expect([0, 1, 3, 7, 11, 24, 26, 99, 1234, 0.03].map(niceMax)).toEqual([1, 1, 5, 10, 20, 25, 50, 100, 2000, 0.05]);
  });

  it("stacks series bottom first", () => {
    expect(stack([[1, 2], [3, 4], [0, 1]])).toEqual([[1, 2], [4, 6], [4, 7]]);
    expect(stack([])).toEqual([]);
  });

  it("shortens long labels in the middle", () => {
    expect(shorten("annotator", 16)).toBe("annotator");
    expect(shorten("bench-1000-annotator-7", 16)).toBe("bench-10…tator-7");
    expect(shorten("bench-1000-annotator-7", 16)).toHaveLength(16);
  });
});
