import { describe, expect, it } from "vitest";
import { colourUncertainty, heatColor } from "../../src/editor/uncertaintyOverlay";

// Issue 17 item 4: the uncertainty map over the image, clear where the model is sure.
describe("heatColor", () => {
  it("is clear at 0, yellow to red to magenta, and more opaque as uncertainty grows", () => {
    expect(heatColor(0)).toEqual([255, 230, 0, 0]);
    expect(heatColor(128)).toEqual([255, 0, 1, 230]); // u ≈ 0.5: a coin toss between two classes
    expect(heatColor(255)).toEqual([255, 0, 255, 230]);
    const alphas = [0, 32, 64, 96, 127].map((v) => heatColor(v)[3]);
    expect(alphas).toEqual([...alphas].sort((a, b) => a - b));
    expect(new Set(alphas).size).toBe(alphas.length);
  });
});

describe("colourUncertainty", () => {
  it("colours each grey pixel from its red channel, in place", () => {
    const pixels = new Uint8ClampedArray([0, 0, 0, 255, 255, 255, 255, 255]);
    colourUncertainty(pixels);
    expect([...pixels]).toEqual([...heatColor(0), ...heatColor(255)]);
  });
});
