import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/api/client";
import { freezeErrorText, splitSummary, versionLabel } from "../../src/pages/versions";

describe("splitSummary", () => {
  it("lists train, val and test first whatever order the server sent, then other splits by name", () => {
    expect(splitSummary({ test: 10, val: 10, train: 80 })).toBe("train 80 · val 10 · test 10");
    expect(splitSummary({ holdout: 3, train: 5, extra: 1 })).toBe("train 5 · extra 1 · holdout 3");
    expect(splitSummary({ train: 4, test: 0 })).toBe("train 4 · test 0");
  });

  it("says so when the export had no split", () => {
    expect(splitSummary({})).toBe("no split");
    expect(splitSummary(undefined)).toBe("no split");
  });
});

describe("versionLabel", () => {
  it("shows the number, and the name only when it is not the default", () => {
    expect(versionLabel({ number: 3, name: "v3" })).toBe("v3");
    expect(versionLabel({ number: 3, name: "" })).toBe("v3");
    expect(versionLabel({ number: 3, name: "baseline" })).toBe("v3 · baseline");
  });
});

describe("freezeErrorText", () => {
  it("names the version a job was already frozen as, and passes other errors through", () => {
    expect(freezeErrorText(new ApiError(409, "already_versioned", "export job 7 is already frozen as version 2", { number: 2 }))).toBe("Already frozen as v2.");
    expect(freezeErrorText(new ApiError(409, "export_file_changed", "the export's stored file no longer matches"))).toBe("the export's stored file no longer matches");
  });
});
