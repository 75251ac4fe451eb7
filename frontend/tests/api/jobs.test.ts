import { afterEach, describe, expect, it, vi } from "vitest";
import { followJob, isFinished } from "../../src/api/jobs";

const job = (status: string, progress = 0) => ({ id: 7, status, progress, error: "" });

describe("followJob", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("polls until the job is finished and reports every state", async () => {
    const states = [job("running", 0.5), job("succeeded", 1)];
    const fetchMock = vi.fn(async () => new Response(JSON.stringify(states.shift()), { status: 200 }));
    vi.stubGlobal("fetch", fetchMock);
    const seen: string[] = [];
    const done = await followJob(job("queued") as never, (j) => seen.push(`${j.status}:${j.progress}`),
      { intervalMs: 1 });
    expect(seen).toEqual(["queued:0", "running:0.5", "succeeded:1"]);
    expect(done.status).toBe("succeeded");
    expect(fetchMock).toHaveBeenCalledTimes(2);
    expect(String((fetchMock.mock.calls[0] as unknown[])[0])).toBe("/api/jobs/7/");
  });

  it("fetches the job first when given an id, and stops when aborted", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response(JSON.stringify(job("running", 0.1)), { status: 200 })));
    const controller = new AbortController();
    const following = followJob(7, () => controller.abort(new Error("left the page")),
      { intervalMs: 1000, signal: controller.signal });
    await expect(following).rejects.toThrow("left the page");
  });

  it("knows the finished statuses", () => {
    expect(["queued", "running", "succeeded", "failed", "cancelled"].map((s) => isFinished({ status: s } as never)))
      .toEqual([false, false, true, true, true]);
  });
});
