// decoderInputs, pickMasks, the fp16 embedding and COCO RLE against the Python side's fixture; then the
// decoder itself in onnxruntime-web's WASM build (the same runtime the browser worker uses) and the mask
// upscaling, mask for mask.
import * as ort from "onnxruntime-web";
import { describe, expect, it } from "vitest";
import {
  decoderInputs, embeddingFromBytes, float16ToFloat32, maskDifference, maskFromRle, pickMasks,
  preprocessShape, rleCountsFromString,
} from "../../src/core/samPrompts";
import { maskArea } from "../../src/core/raster";
import { maskFromLowRes } from "../../src/core/samUpscale";
import { samBytes, samCases, samMeta } from "./samGolden";

const cases = samCases();
const meta = samMeta();

describe("decoderInputs", () => {
  it("has fixture cases", () => expect(cases.length).toBeGreaterThanOrEqual(5));

  it.each(cases.map((c) => [c.name, c] as const))("matches Python's decoder_inputs for %s", (_name, c) => {
    const inputs = decoderInputs(c.points, c.labels, c.box, meta.original_size);
    const expectedCoords = c.decoder_inputs.point_coords[0];
    expect(inputs.count).toBe(expectedCoords.length);
    // Exact: both sides compute in float64 and round once to float32.
    expect(Array.from(inputs.pointCoords)).toEqual(expectedCoords.flat().map(Math.fround));
    expect(Array.from(inputs.pointLabels)).toEqual(c.decoder_inputs.point_labels[0]);
  });

  it("appends the padding point without a box and box corners with one", () => {
    const a = decoderInputs([[10, 20]], [1], null, [100, 200]);
    expect(Array.from(a.pointLabels)).toEqual([1, -1]);
    expect(Array.from(a.pointCoords)).toEqual([51.2, 102.4, 0, 0].map(Math.fround));
    const b = decoderInputs([], [], [0, 0, 200, 100], [100, 200]);
    expect(Array.from(b.pointLabels)).toEqual([2, 3]);
    expect(Array.from(b.pointCoords)).toEqual([0, 0, 1024, 512]);
    expect(() => decoderInputs([[1, 1]], [], null, [10, 10])).toThrow(RangeError);
  });

  it("rounds the resized shape like ResizeLongestSide", () => {
    expect(preprocessShape(150, 240)).toEqual(meta.input_size);
    expect(preprocessShape(480, 640)).toEqual([768, 1024]);
    expect(preprocessShape(1000, 3)).toEqual([1024, 3]);
  });
});

describe("pickMasks", () => {
  it.each(cases.map((c) => [c.name, c] as const))("picks the outputs the server picked for %s", (_name, c) => {
    const picked = pickMasks(c.iou_predictions, c.multimask, c.decoder_inputs.point_labels[0].length);
    expect(picked).toEqual(c.masks.map((m) => m.output));
  });
});

describe("fp16 embedding", () => {
  it("converts exactly, including subnormals, infinities and signed zero", () => {
    const bits = new Uint16Array([0x0000, 0x8000, 0x3c00, 0xc000, 0x0001, 0x03ff, 0x7bff, 0x7c00, 0xfc00, 0x3555]);
    const out = float16ToFloat32(bits);
    expect(Array.from(out.slice(0, 9))).toEqual([0, -0, 1, -2, 2 ** -24, 1023 * 2 ** -24, 65504, Infinity, -Infinity]);
    expect(out[9]).toBeCloseTo(0.333251953125, 12);
    expect(Number.isNaN(float16ToFloat32(new Uint16Array([0x7e00]))[0])).toBe(true);
  });

  it("reads the fixture's embedding", () => {
    const bytes = samBytes("embedding.f16");
    const data = embeddingFromBytes(bytes.slice().buffer);
    expect(data.length).toBe(meta.shape[0] * meta.shape[1] * meta.shape[2]);
    expect(data.every(Number.isFinite)).toBe(true);
  });
});

describe("COCO RLE", () => {
  it("decodes the server's masks to their area and bbox", () => {
    for (const c of cases) {
      for (const m of c.masks) {
        const mask = maskFromRle(m.rle);
        expect(maskArea(mask)).toBe(m.area);
        if (m.area) expect([mask.x0, mask.y0, mask.width, mask.height]).toEqual(m.bbox);
      }
    }
  });

  it("reads pycocotools' string counts", () => {
    // 3x3 image, column-major runs: 1 zero, 2 ones, 6 zeros -> counts [1, 2, 6]
    expect(rleCountsFromString("12")).toEqual([1, 2]);
    const m = maskFromRle({ size: [3, 3], counts: [1, 2, 6] });
    expect([m.x0, m.y0, m.width, m.height, ...m.data]).toEqual([0, 1, 1, 2, 1, 1]);
    // A run that goes on into the next column: pixels 1-5 of a 3x3 image (column-major).
    const wrap = maskFromRle({ size: [3, 3], counts: [1, 5, 3] });
    expect([wrap.x0, wrap.y0, wrap.width, wrap.height, ...wrap.data]).toEqual([0, 0, 2, 3, 0, 1, 1, 1, 1, 1]);
  });
});

describe("decoder in onnxruntime-web (WASM, Node)", () => {
  it("gives the server's masks for every fixture prompt", async () => {
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(samBytes("decoder.onnx"));
    const embedding = embeddingFromBytes(samBytes("embedding.f16").slice().buffer);
    const report: string[] = [];
    for (const c of cases) {
      const inputs = decoderInputs(c.points, c.labels, c.box, meta.original_size);
      const out = await session.run({
        image_embeddings: new ort.Tensor("float32", embedding, [1, ...meta.shape]),
        point_coords: new ort.Tensor("float32", inputs.pointCoords, [1, inputs.count, 2]),
        point_labels: new ort.Tensor("float32", inputs.pointLabels, [1, inputs.count]),
        mask_input: new ort.Tensor("float32", new Float32Array(256 * 256), [1, 1, 256, 256]),
        has_mask_input: new ort.Tensor("float32", new Float32Array([0]), [1]),
      });
      const scores = Array.from(out.iou_predictions.data as Float32Array);
      scores.forEach((s, i) => expect(s).toBeCloseTo(c.iou_predictions[i], 4));
      const picked = pickMasks(scores, c.multimask, inputs.count);
      expect(picked).toEqual(c.masks.map((m) => m.output));
      c.masks.forEach((m, i) => {
        const diff = maskDifference(
          maskFromLowRes(out.low_res_masks.data as Float32Array, picked[i], meta.original_size), maskFromRle(m.rle));
        report.push(`${c.name}[${m.output}]: ${diff} px differ (${m.near_threshold} within 1e-3 of 0)`);
        // Only pixels whose logit is within float noise of the threshold may flip between builds.
        expect(diff).toBeLessThanOrEqual(m.near_threshold);
      });
    }
    console.log(`SAM parity (onnxruntime-web WASM in Node vs server):\n  ${report.join("\n  ")}`);
  });
});
