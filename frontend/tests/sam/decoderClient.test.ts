// The decoder client keeps one decode in flight and only the newest waiting one: superseded requests resolve
// to null, so the worker never works on a prompt the mouse has already left.
import { describe, expect, it } from "vitest";
import { DecoderClient } from "../../src/sam/decoderClient";
import type { WorkerRequest, WorkerResponse } from "../../src/sam/protocol";

class FakeWorker {
  onmessage: ((e: MessageEvent<WorkerResponse>) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  readonly posted: WorkerRequest[] = [];
  postMessage(message: WorkerRequest): void {
    this.posted.push(message);
  }
  answer(id: number, score: number): void {
    this.onmessage!({ data: { type: "masks", id, masks: [], scores: [score], decodeMs: 1, workerMs: 2 } } as unknown as MessageEvent<WorkerResponse>);
  }
  terminate(): void {}
}

const input = (n: number) => ({ key: "k", pointCoords: new Float32Array([n, n]), pointLabels: new Float32Array([1]), multimask: true });
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("DecoderClient", () => {
  it("drops waiting decodes that a newer one replaced", async () => {
    const worker = new FakeWorker();
    const client = new DecoderClient(worker as unknown as Worker);
    const first = client.decode(input(1));
    const second = client.decode(input(2));
    const third = client.decode(input(3));
    expect(worker.posted.map((m) => m.type === "decode" && m.pointCoords[0])).toEqual([1]); // one in flight
    expect(await second).toBeNull(); // superseded before it started
    worker.answer(worker.posted[0].id, 0.5);
    expect((await first)?.scores).toEqual([0.5]);
    await tick();
    expect(worker.posted.map((m) => m.type === "decode" && m.pointCoords[0])).toEqual([1, 3]);
    worker.answer(worker.posted[1].id, 0.9);
    expect((await third)?.scores).toEqual([0.9]);
  });

  it("rejects a decode the worker failed", async () => {
    const worker = new FakeWorker();
    const client = new DecoderClient(worker as unknown as Worker);
    const p = client.decode(input(1));
    worker.onmessage!({ data: { type: "error", id: worker.posted[0].id, message: "no embedding k" } } as unknown as MessageEvent<WorkerResponse>);
    await expect(p).rejects.toThrow("no embedding k");
  });
});
