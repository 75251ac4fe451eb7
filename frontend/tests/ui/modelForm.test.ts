import { describe, expect, it } from "vitest";
import { errorField, exampleManifest, parseManifestText, prelabelSummary } from "../../src/pages/modelForm";

describe("exampleManifest", () => {
  it("maps the project's classes from index 1 and picks the output kind from the project kind", () => {
    const semantic = JSON.parse(exampleManifest(["road", "sky"], "semantic"));
    expect(semantic.output).toBe("semantic_logits");
    expect(semantic.class_map).toEqual({ "1": "road", "2": "sky" });
    expect(semantic.input_size).toEqual([512, 512]);
    expect(JSON.parse(exampleManifest(["car"], "instance")).output).toBe("instance_masks");
    expect(JSON.parse(exampleManifest([], "panoptic")).output).toBe("panoptic");
  });
});

describe("parseManifestText", () => {
  it("accepts an object and explains broken JSON, arrays and empty text", () => {
    expect(parseManifestText('{"output": "panoptic"}')).toEqual({ value: { output: "panoptic" } });
    const broken = parseManifestText('{"output": ');
    expect("error" in broken && broken.error).toMatch(/^The manifest is not valid JSON: /);
    expect(parseManifestText("[1, 2]")).toEqual({ error: "The manifest must be a JSON object ({ … })." });
    expect(parseManifestText("  ")).toEqual({ error: "Enter the manifest (JSON)." });
  });
});

describe("errorField", () => {
  it("sends each server error to the field it concerns", () => {
    expect(errorField("bad_manifest", { field: "class_map" })).toBe("manifest");
    expect(errorField("bad_model_file", {})).toBe("file");
    expect(errorField("model_failed", {})).toBe("file");
    expect(errorField("duplicate_name", { field: "name" })).toBe("name");
    expect(errorField("invalid", { fields: { name: ["required"] } })).toBe("name");
    expect(errorField("permission_denied", {})).toBeNull();
  });
});

describe("prelabelSummary", () => {
  it("counts images, segments, failures and skips", () => {
    expect(prelabelSummary({ images: 4, labeled: 3, segments: 12, failed: 1, skipped: 0 })).toBe(
      "3 of 4 images pre-labeled, 12 segments; 1 failed",
    );
    expect(prelabelSummary({ images: 1, labeled: 1, segments: 1 })).toBe("1 of 1 image pre-labeled, 1 segment");
    expect(prelabelSummary({ images: 2, labeled: 1, segments: 0, skipped: 1 })).toBe(
      "1 of 2 images pre-labeled, 0 segments; 1 skipped (deleted)",
    );
  });
});
