// WorkerPacker against a stand-in Worker that runs the real packing function (the worker script's body) in
// this thread: requests copy the caller's data, buffers come back for reuse, and a failed worker hands every
// waiting request back (null) and refuses new ones.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WorkerPacker, type PackRequest, type PackResponse } from "../../src/canvas/labelPacker";
import { packLocalTexels } from "../../src/canvas/labelTexels";

class FakeWorker {
  static last: FakeWorker;
  onmessage: ((event: MessageEvent<PackResponse>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  requests: PackRequest[] = [];
  terminated = false;
  constructor() {
    FakeWorker.last = this;
  }
  postMessage(message: PackRequest, transfer: ArrayBuffer[]): void {
    expect(transfer).toContain(message.data.buffer);
    this.requests.push(message);
  }
  /** Answer the oldest request as labelPack.worker.ts does. */
  answer(): void {
    const { id, width, height, data, borders } = this.requests.shift()!;
    const { texels, ids } = packLocalTexels(width, height, data, borders);
    this.onmessage?.({ data: { id, data, texels, ids } } as MessageEvent<PackResponse>);
  }
  fail(): void {
    this.onerror?.({ message: "blocked", preventDefault() {} } as ErrorEvent);
  }
  terminate(): void {
    this.terminated = true;
  }
}

const borders = () => ({
  left: new Uint32Array(2),
  right: new Uint32Array(2),
  top: new Uint32Array(2),
  bottom: new Uint32Array(2),
});

describe("WorkerPacker", () => {
  beforeEach(() => vi.stubGlobal("Worker", FakeWorker));
  afterEach(() => vi.unstubAllGlobals());

  it("packs a copy of the tile and reuses the buffer that comes back", () => {
    const packer = new WorkerPacker();
    const worker = FakeWorker.last;
    const tile = Uint32Array.from([5, 5, 0, 9]);
    const results: (Omit<PackResponse, "id" | "data"> | null)[] = [];
    packer.pack({ width: 2, height: 2, data: tile, borders: borders() }, (r) => results.push(r));
    const sent = worker.requests[0].data;
    expect(sent).not.toBe(tile);
    expect(Array.from(sent)).toEqual([5, 5, 0, 9]);
    tile[0] = 7; // the caller's tile stays its own
    expect(sent[0]).toBe(5);
    worker.answer();
    expect(Array.from(results[0]!.ids)).toEqual([0, 5, 9]);
    expect(results[0]!.texels[0] >>> 4).toBe(1);

    packer.pack({ width: 2, height: 2, data: tile, borders: borders() }, (r) => results.push(r));
    expect(worker.requests[0].data.buffer).toBe(sent.buffer);
    expect(Array.from(worker.requests[0].data)).toEqual([7, 5, 0, 9]);
    packer.destroy();
    expect(worker.terminated).toBe(true);
  });

  it("hands waiting requests back when the worker fails, and every later one", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const packer = new WorkerPacker();
    const done: (string | null)[] = [];
    const record = (r: Omit<PackResponse, "id" | "data"> | null) => done.push(r ? "packed" : null);
    packer.pack({ width: 2, height: 2, data: new Uint32Array(4), borders: borders() }, record);
    packer.pack({ width: 2, height: 2, data: new Uint32Array(4), borders: borders() }, record);
    expect(packer.failed).toBe(false);
    FakeWorker.last.fail();
    expect(packer.failed).toBe(true);
    expect(done).toEqual([null, null]);
    packer.pack({ width: 2, height: 2, data: new Uint32Array(4), borders: borders() }, record);
    expect(FakeWorker.last.requests).toHaveLength(2); // nothing more sent to a dead worker
    await Promise.resolve();
    expect(done).toEqual([null, null, null]);
    expect(warn).toHaveBeenCalledTimes(1);
    warn.mockRestore();
  });
});
