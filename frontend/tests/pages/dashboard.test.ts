import { describe, expect, it } from "vitest";
import { chartWidths } from "../../src/pages/dashboard";

// Issue 16 item 19: the dashboard's charts fill the width they get (they were drawn at most 420-640 px wide).
describe("chartWidths", () => {
  it("gives a lone chart the whole row, less its figure's padding and border", () => {
    expect(chartWidths(1200, 1)).toEqual([1174]);
  });

  it("shares a line equally when the charts fit side by side", () => {
    expect(chartWidths(1200, 2)).toEqual([566, 566]);
    expect(chartWidths(1200, 3)).toEqual([363, 363, 363]);
    const [a, b, c] = chartWidths(1200, 3);
    expect(a + b + c + 3 * 26 + 2 * 16).toBeLessThanOrEqual(1200);
  });

  it("wraps like the row does, and a chart alone on its line takes all of it", () => {
    expect(chartWidths(1000, 3)).toEqual([466, 466, 974]); // 3 x 360 + 2 gaps > 1000: two, then one
    expect(chartWidths(500, 2)).toEqual([474, 474]); // a narrow window: one per line
  });
});
