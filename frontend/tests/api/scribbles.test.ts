import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../src/api/client";
import {
  type DecodedProposal,
  type PngDecoder,
  type ScribbleProposalResponse,
  NEED_TWO_LABELS,
  ScribbleProposer,
  decodeProposal,
  postScribbleProposal,
  requestBody,
  scribbleErrorMessage,
} from "../../src/api/scribbles";
import type { ScribbleStroke } from "../../src/core/scribbleProposal";

const strokes: ScribbleStroke[] = [
  { classId: 3, radius: 4, points: [[1, 2], [5, 6]] },
  { classId: null, radius: 2.5, points: [[40, 41]] },
];

/** A "PNG" for the fake decoder: its bytes are [width, height, ...pixels]. */
const fakePng = (width: number, height: number, pixels: number[]) => btoa(String.fromCharCode(width, height, ...pixels));
const fakeDecode: PngDecoder = async (png) => ({ width: png[0], height: png[1], data: png.slice(2) });

function answer(resolution: "coarse" | "full", label = 1): ScribbleProposalResponse {
  return {
    region: [0, 0, 4, 2], scale: resolution === "coarse" ? 0.5 : 1, resolution, classes: [3, null],
    labels: fakePng(2, 1, [label, 2]), confidence: fakePng(2, 1, [200, 100]), seconds: { fit: 0.1, predict: 0.2 },
  };
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

describe("the scribble-proposal request", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("posts the strokes as the server reads them, with the CSRF header, and the region only when given", async () => {
    const fetchMock = vi.fn(async () => json(answer("coarse")));
    vi.stubGlobal("fetch", fetchMock);
    vi.stubGlobal("document", { cookie: "csrftoken=tok%2B1" });
    await postScribbleProposal(12, requestBody(strokes, "coarse"));
    await postScribbleProposal(12, requestBody(strokes, "full", [10, 20, 300, 200]));
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/images/12/scribble-proposal/");
    expect(init.method).toBe("POST");
    expect((init.headers as Record<string, string>)["X-CSRFToken"]).toBe("tok+1");
    expect(JSON.parse(init.body as string)).toEqual({
      strokes: [
        { class_id: 3, radius: 4, points: [[1, 2], [5, 6]] },
        { class_id: null, radius: 2.5, points: [[40, 41]] },
      ],
      resolution: "coarse",
    });
    const second = JSON.parse((fetchMock.mock.calls[1] as unknown as [string, RequestInit])[1].body as string);
    expect(second).toMatchObject({ resolution: "full", region: [10, 20, 300, 200] });
  });

  it("leaves out strokes without points", () => {
    expect(requestBody([{ classId: 1, radius: 1, points: [] }, ...strokes], "full").strokes).toHaveLength(2);
  });

  it("decodes both rasters and refuses rasters of different sizes", async () => {
    const p = await decodeProposal(answer("full"), fakeDecode);
    expect(p).toMatchObject({ width: 2, height: 1, classes: [3, null], region: [0, 0, 4, 2], resolution: "full", scale: 1 });
    expect([...p.labels]).toEqual([1, 2]);
    expect([...p.confidence]).toEqual([200, 100]);
    await expect(decodeProposal({ ...answer("full"), confidence: fakePng(1, 1, [0]) }, fakeDecode)).rejects.toThrow(/differ in size/);
  });

  it("maps errors to what the panel says", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => json({ message: "need two", code: "need_two_labels", extra: {} }, 400)));
    const err = await postScribbleProposal(1, requestBody(strokes, "coarse")).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(scribbleErrorMessage(err)).toBe(NEED_TWO_LABELS);
    expect(scribbleErrorMessage(new ApiError(503, "classifier_busy", "try again"))).toBe("No proposal: try again");
    expect(scribbleErrorMessage(new ApiError(0, "network", "down"))).toMatch(/could not be reached/);
  });
});

describe("ScribbleProposer", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function setup(post: (body: { resolution: string }, signal?: AbortSignal) => Promise<ScribbleProposalResponse>) {
    const events: string[] = [];
    const shown: DecodedProposal[] = [];
    const calls: Array<{ resolution: string; signal?: AbortSignal }> = [];
    const proposer = new ScribbleProposer(5, {
      state: (s) => events.push(s),
      proposal: (p) => shown.push(p),
      error: (message, code) => events.push(`error:${code}:${message}`),
    }, {
      delayMs: 300, decode: fakeDecode,
      post: async (_id, body, signal) => {
        calls.push({ resolution: body.resolution, signal });
        return post(body, signal);
      },
    });
    return { proposer, events, shown, calls };
  }

  it("waits for the debounce, then shows coarse and then full", async () => {
    const { proposer, events, shown, calls } = setup(async (body) => answer(body.resolution as "coarse" | "full"));
    proposer.schedule(() => strokes, () => undefined);
    await vi.advanceTimersByTimeAsync(299);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => c.resolution)).toEqual(["coarse", "full"]);
    expect(shown.map((p) => p.resolution)).toEqual(["coarse", "full"]);
    expect(events).toEqual(["waiting", "coarse", "full", "ready"]);
  });

  it("a stroke during the debounce restarts it: one round only", async () => {
    const { proposer, calls } = setup(async (body) => answer(body.resolution as "coarse" | "full"));
    proposer.schedule(() => strokes, () => undefined);
    await vi.advanceTimersByTimeAsync(200);
    proposer.schedule(() => strokes, () => undefined);
    await vi.advanceTimersByTimeAsync(200);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(calls.map((c) => c.resolution)).toEqual(["coarse", "full"]);
  });

  it("a newer round aborts the running one, and the older answer is dropped even when it arrives", async () => {
    const pending: Array<(r: ScribbleProposalResponse) => void> = [];
    const { proposer, shown, calls } = setup(() => new Promise((resolve) => pending.push(resolve)));
    proposer.schedule(() => strokes, () => undefined);
    await vi.advanceTimersByTimeAsync(300);
    expect(calls).toHaveLength(1);
    proposer.schedule(() => strokes, () => undefined); // a new stroke while the coarse request runs
    expect(calls[0].signal?.aborted).toBe(true);
    pending[0](answer("coarse", 1)); // the old answer arrives anyway (a fetch that ignored the abort)
    await vi.advanceTimersByTimeAsync(0);
    expect(shown).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(300);
    pending[1](answer("coarse", 2));
    await vi.advanceTimersByTimeAsync(0);
    expect(shown).toHaveLength(1);
    expect(shown[0].labels[0]).toBe(2);
  });

  it("reports an error once and stops the round; a cancelled round reports nothing", async () => {
    const { proposer, events, calls } = setup(async () => {
      throw new ApiError(400, "need_two_labels", "need two");
    });
    proposer.schedule(() => strokes, () => undefined);
    await vi.advanceTimersByTimeAsync(300);
    expect(calls).toHaveLength(1);
    expect(events.slice(-2)).toEqual(["error", `error:need_two_labels:${NEED_TWO_LABELS}`]);
    const before = events.length;
    proposer.schedule(() => strokes, () => undefined);
    proposer.cancel();
    await vi.advanceTimersByTimeAsync(1000);
    expect(events.length).toBe(before + 1); // only "waiting"
  });

  it("stops after the coarse request when it was answered at the region's own pixels (scale 1)", async () => {
    const { proposer, calls, events } = setup(async () => ({ ...answer("coarse"), scale: 1 }));
    proposer.schedule(() => strokes, () => [0, 0, 10, 10]);
    await vi.advanceTimersByTimeAsync(300);
    expect(calls.map((c) => c.resolution)).toEqual(["coarse"]);
    expect(events.at(-1)).toBe("ready");
  });
});
