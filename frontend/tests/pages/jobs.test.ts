import { describe, expect, it } from "vitest";
import type { Job } from "../../src/api/client";
import { jobNote } from "../../src/pages/jobs";

const job = (fields: Partial<Job>): Job => ({
  id: 1, kind: "process_uploads", project: 1, status: "queued", progress: 0, params: {}, result: {}, error: "",
  attempts: 0, dispatched_at: null, lease_expires_at: null, worker: "", created_by: null,
  created_at: "2026-12-07T00:00:00Z", started_at: null, finished_at: null, ...fields,
} as Job);

describe("jobNote", () => {
  it("says a queued job the broker never took waits for the task queue", () => {
    expect(jobNote(job({}))).toContain("waiting for the task queue");
  });
  it("says nothing of a queued job the broker has", () => {
    expect(jobNote(job({ dispatched_at: "2026-12-07T00:00:01Z" }))).toBe("");
  });
  it("names the worker running a job", () => {
    expect(jobNote(job({ status: "running", worker: "host-a:42", dispatched_at: "2026-12-07T00:00:01Z" })))
      .toBe("on host-a:42");
  });
  it("says nothing of a finished job", () => {
    expect(jobNote(job({ status: "succeeded", worker: "host-a:42" }))).toBe("");
  });
});
