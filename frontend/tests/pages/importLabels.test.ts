import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, postForm, startImport, uploadImages } from "../../src/api/client";
import {
  acceptList, importOptionsNote, importResult, importSummary, parseVoidValue, problemCounts, type ImportResult,
} from "../../src/pages/importLabels";

const result = (over: Partial<ImportResult> = {}): ImportResult => ({
  format: "coco_instances", dry_run: false, applied: true, images: 12, segments: 240, errors: 0, warnings: 0,
  problems: [], problems_left_off: 0, ...over,
});
const job = (status: string, r: ImportResult | Record<string, never> = result(), over: Record<string, unknown> = {}) =>
  ({ status, result: r, error: "", params: {}, ...over }) as never;

describe("importSummary", () => {
  it("says what was imported as pre-labels, with the problem counts", () => {
    expect(importSummary(job("succeeded"))).toBe("Imported 12 images, 240 segments as pre-labels");
    expect(importSummary(job("succeeded", result({ images: 1, segments: 1, warnings: 2 }))))
      .toBe("Imported 1 image, 1 segment as pre-labels (2 warnings)");
  });

  it("says a dry run applied nothing", () => {
    expect(importSummary(job("succeeded", result({ dry_run: true, applied: false, warnings: 1 }))))
      .toBe("Checked: nothing applied; 12 images, 240 segments would be imported as pre-labels (1 warning)");
  });

  it("says a failed import applied nothing, with its counts or, without a result, the job's error", () => {
    expect(importSummary(job("failed", result({ applied: false, errors: 3, warnings: 1 }))))
      .toBe("Import failed: nothing was applied (3 errors, 1 warning)");
    expect(importSummary(job("failed", {}, { error: "worker lost" }))).toBe("Import failed: nothing was applied (worker lost)");
  });

  it("says invalid items were skipped when a job with errors applied (or would apply) the rest", () => {
    expect(importSummary(job("succeeded", result({ images: 2, segments: 2, errors: 4, skip_invalid: true }))))
      .toBe("Imported 2 images, 2 segments as pre-labels, skipping the invalid items (4 errors)");
    expect(importSummary(job("succeeded", result({ dry_run: true, applied: false, images: 2, segments: 2, errors: 1 }))))
      .toBe("Checked: nothing applied; 2 images, 2 segments would be imported as pre-labels, skipping the invalid items (1 error)");
  });

  it("follows a job that has not finished, naming a check as a check", () => {
    expect(importSummary(job("queued", {}))).toBe("Waiting for a worker…");
    expect(importSummary(job("running", {}))).toBe("Importing…");
    expect(importSummary(job("running", {}, { params: { dry_run: true } }))).toBe("Checking…");
  });
});

describe("import options", () => {
  it("reads a void value as a whole number from 1 to 65535, or none", () => {
    expect(parseVoidValue("")).toEqual({ value: null, error: null });
    expect(parseVoidValue(" 255 ")).toEqual({ value: 255, error: null });
    for (const bad of ["0", "65536", "2.5", "-1", "x"]) expect(parseVoidValue(bad).error).toMatch(/1 to 65535/);
  });

  it("notes what a job was asked beside its format", () => {
    expect(importOptionsNote({ params: {} } as never, null)).toBe("");
    expect(importOptionsNote({ params: { dry_run: true, skip_invalid: true, void_value: 255 } } as never, null))
      .toBe(" · dry run · skip invalid · void 255");
  });
});

describe("import helpers", () => {
  it("reads a result only when it has the import's shape", () => {
    expect(importResult({ result: {} })).toBeNull();
    expect(importResult({ result: null })).toBeNull();
    expect(importResult({ result: result() })?.images).toBe(12);
  });

  it("counts problems and turns a format's hint into an accept list", () => {
    expect(problemCounts({ errors: 0, warnings: 0 })).toBe("");
    expect(problemCounts({ errors: 1, warnings: 0 })).toBe("1 error");
    expect(acceptList(".json or .zip")).toBe(".json,.zip");
    expect(acceptList(".zip")).toBe(".zip");
    expect(acceptList("anything")).toBe("");
  });
});

// A stand-in for XMLHttpRequest (node has none): records what was sent and answers with `answer`.
class FakeXhr {
  static last: FakeXhr;
  static answer = { status: 202, body: '{"id": 5, "kind": "import", "status": "queued"}' };
  method = "";
  url = "";
  headers: Record<string, string> = {};
  sent: FormData | null = null;
  status = 0;
  responseText = "";
  upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor() { FakeXhr.last = this; }
  open(method: string, url: string) { this.method = method; this.url = url; }
  setRequestHeader(name: string, value: string) { this.headers[name] = value; }
  send(form: FormData) {
    this.sent = form;
    this.upload.onprogress?.({ lengthComputable: true, loaded: 50, total: 100 });
    this.upload.onprogress?.({ lengthComputable: true, loaded: 100, total: 100 });
    this.status = FakeXhr.answer.status;
    this.responseText = FakeXhr.answer.body;
    queueMicrotask(() => (this.status ? this.onload?.() : this.onerror?.()));
  }
}

describe("postForm (images and imports)", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("posts an import's format, dry run and file, reports upload progress, and answers with the job", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    FakeXhr.answer = { status: 202, body: '{"id": 5, "kind": "import", "status": "queued"}' };
    const seen: number[] = [];
    const file = new File(['{"images": []}'], "instances.json", { type: "application/json" });
    const started = await startImport(3, { format: "coco_instances", file, dry_run: true }, (f) => seen.push(f));
    expect(started).toMatchObject({ id: 5, kind: "import" });
    expect(seen).toEqual([0.5, 1]);
    const xhr = FakeXhr.last;
    expect([xhr.method, xhr.url]).toEqual(["POST", "/api/projects/3/imports/"]);
    expect(Object.keys(xhr.headers).sort()).toEqual(["Accept", "X-CSRFToken"]);
    expect(xhr.sent!.get("format")).toBe("coco_instances");
    expect(xhr.sent!.get("dry_run")).toBe("true");
    expect(xhr.sent!.get("skip_invalid")).toBe("false");
    expect(xhr.sent!.has("void_value")).toBe(false);
    expect((xhr.sent!.get("file") as File).name).toBe("instances.json");
    await startImport(3, { format: "pascal_voc", file, dry_run: false, skip_invalid: true, void_value: 255 });
    expect(FakeXhr.last.sent!.get("skip_invalid")).toBe("true");
    expect(FakeXhr.last.sent!.get("void_value")).toBe("255");
  });

  it("uploads images through the same helper", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    FakeXhr.answer = { status: 201, body: '{"accepted": 2, "results": []}' };
    const files = [new File(["a"], "a.png"), new File(["b"], "b.png")];
    expect(await uploadImages(3, files, () => {})).toMatchObject({ accepted: 2 });
    expect(FakeXhr.last.url).toBe("/api/projects/3/images/");
    expect((FakeXhr.last.sent!.getAll("files") as File[]).map((f) => f.name)).toEqual(["a.png", "b.png"]);
  });

  it("turns error answers and network failures into ApiErrors", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    FakeXhr.answer = { status: 400, body: '{"message": "not a COCO file", "code": "bad_import_file"}' };
    const refused = postForm("/api/x/", new FormData());
    await expect(refused).rejects.toBeInstanceOf(ApiError);
    await expect(refused).rejects.toMatchObject({ status: 400, code: "bad_import_file", message: "not a COCO file" });
    FakeXhr.answer = { status: 502, body: "<html>bad gateway</html>" };
    await expect(postForm("/api/x/", new FormData())).rejects.toMatchObject({ status: 502, message: "HTTP 502" });
    FakeXhr.answer = { status: 0, body: "" };
    await expect(postForm("/api/x/", new FormData())).rejects.toMatchObject({ status: 0, code: "network" });
  });
});
