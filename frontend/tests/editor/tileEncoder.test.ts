// WorkerTileEncoder with a stand-in Worker running the worker's own encoding in this thread: results match the
// in-thread encoder, and a worker that fails (or is destroyed) never loses a tile: it is encoded here instead.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { base64ToBytes, decodeTile } from "../../src/core/tileCodec";
import { encodeTileBase64, WorkerTileEncoder, type EncodeRequest, type EncodeResponse } from "../../src/editor/tileEncoder";

class FakeWorker {
  static last: FakeWorker;
  onmessage: ((event: MessageEvent<EncodeResponse>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  requests: EncodeRequest[] = [];
  constructor() {
    FakeWorker.last = this;
  }
  postMessage(message: EncodeRequest): void {
    this.requests.push(structuredClone(message));
  }
  async answer(): Promise<void> {
    const { id, pixels } = this.requests.shift()!;
    this.onmessage?.({ data: { id, data: await encodeTileBase64(pixels) } } as MessageEvent<EncodeResponse>);
  }
  fail(): void {
    this.onerror?.({ message: "blocked", preventDefault() {} } as ErrorEvent);
  }
  terminate(): void {}
}

const tile = () => Uint32Array.from({ length: 16 }, (_, i) => (i < 8 ? 3 : 70000));

describe("WorkerTileEncoder", () => {
  beforeEach(() => vi.stubGlobal("Worker", FakeWorker));
  afterEach(() => vi.unstubAllGlobals());

  it("returns what the in-thread encoder returns", async () => {
    const encoder = new WorkerTileEncoder();
    const pending = encoder.encode(tile());
    await FakeWorker.last.answer();
    const data = await pending;
    expect(data).toBe(await encodeTileBase64(tile()));
    expect(Array.from(await decodeTile(base64ToBytes(data), 4, 4))).toEqual(Array.from(tile()));
  });

  it("encodes in this thread what a failed or destroyed worker still had, and everything after", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const encoder = new WorkerTileEncoder();
    const waiting = encoder.encode(tile());
    FakeWorker.last.fail();
    expect(await waiting).toBe(await encodeTileBase64(tile()));
    expect(await encoder.encode(tile())).toBe(await encodeTileBase64(tile()));
    expect(FakeWorker.last.requests).toHaveLength(1); // nothing more went to the failed worker
    warn.mockRestore();

    const other = new WorkerTileEncoder();
    const inFlight = other.encode(tile());
    other.destroy();
    expect(await inFlight).toBe(await encodeTileBase64(tile()));
    expect(await other.encode(tile())).toBe(await encodeTileBase64(tile()));
  });
});
