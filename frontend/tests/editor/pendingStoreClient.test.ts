// WorkerPendingStore with a stand-in Worker that runs the worker's own request handling on a PendingStore in
// this thread (fake IndexedDB): requests answer as the store does, in order, and a worker that fails (or is
// destroyed) loses nothing: what it still had, and everything after, runs on a store in this thread.
import { IDBFactory } from "fake-indexeddb";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PendingStore, type PendingUpdate } from "../../src/editor/pendingStore";
import { runRequest, WorkerPendingStore, type StoreRequest, type StoreResponse } from "../../src/editor/pendingStoreClient";

let factory: IDBFactory;

class FakeWorker {
  static last: FakeWorker;
  onmessage: ((event: MessageEvent<StoreResponse>) => void) | null = null;
  onerror: ((event: ErrorEvent) => void) | null = null;
  requests: StoreRequest[] = [];
  terminated = false;
  private readonly store = new PendingStore(factory);
  constructor() {
    FakeWorker.last = this;
  }
  postMessage(message: StoreRequest): void {
    this.requests.push(structuredClone(message)); // what postMessage does to the data
  }
  async answer(): Promise<void> {
    const request = this.requests.shift()!;
    const result = await runRequest(this.store, request);
    this.onmessage?.({ data: { id: request.id, result } } as MessageEvent<StoreResponse>);
  }
  fail(): void {
    this.onerror?.({ message: "blocked", preventDefault() {} } as ErrorEvent);
  }
  terminate(): void {
    this.terminated = true;
  }
}

const row = { segment_id: 1, class_id: 2, instance: 1, attributes: {}, source: "manual", score: null, rings: null };

function update(annotationId: number, value: number): PendingUpdate {
  return {
    annotationId, baseVersion: 3, updatedAt: 1, baseRows: [], rows: [row], changed: [1], deleted: [],
    tiles: [{ key: "0,0", base: new Uint32Array([7, 7]), local: new Uint32Array([value, 4294967295]) }],
    tileKeys: ["0,0"],
  };
}

describe("WorkerPendingStore", () => {
  beforeEach(() => {
    factory = new IDBFactory();
    vi.stubGlobal("Worker", FakeWorker);
  });
  afterEach(() => vi.unstubAllGlobals());

  it("writes, reads and removes through the worker, as PendingStore does", async () => {
    const store = new WorkerPendingStore(factory);
    const written = store.write(update(4, 1));
    await FakeWorker.last.answer();
    await written;
    const read = store.get(4);
    await FakeWorker.last.answer();
    const entry = await read;
    expect(Array.from(entry!.tiles[0].local!)).toEqual([1, 4294967295]);
    expect(Array.from(entry!.tiles[0].base!)).toEqual([7, 7]);
    expect(entry!.rows).toEqual([row]);
    const removed = store.remove(4);
    await FakeWorker.last.answer();
    await removed;
    expect(await new PendingStore(factory).get(4)).toBeUndefined();
    expect(store.inWorker).toBe(true);
  });

  it("runs what a failed worker still had in this thread, in order and with its data, and everything after", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const store = new WorkerPendingStore(factory);
    const worker = FakeWorker.last;
    const first = store.write(update(5, 1));
    const second = store.write(update(5, 2)); // the later write must win
    const read = store.get(5);
    worker.fail();
    const third = store.write(update(5, 9)); // asked after the failure: runs after the replayed ones
    await Promise.all([first, second]);
    expect(Array.from((await read)!.tiles[0].local!)).toEqual([2, 4294967295]);
    await third;
    expect(Array.from((await store.get(5))!.tiles[0].local!)).toEqual([9, 4294967295]);
    expect(worker.terminated && !store.inWorker).toBe(true);
    await store.write(update(5, 3));
    expect(Array.from((await new PendingStore(factory).get(5))!.tiles[0].local!)).toEqual([3, 4294967295]);
    expect(worker.requests).toHaveLength(3); // nothing after the failure went to the worker
    warn.mockRestore();
  });

  it("after destroy, waiting and later requests run in this thread", async () => {
    const store = new WorkerPendingStore(factory);
    const waiting = store.write(update(6, 8));
    store.destroy();
    await waiting;
    expect(Array.from((await store.get(6))!.tiles[0].local!)).toEqual([8, 4294967295]);
  });
});
