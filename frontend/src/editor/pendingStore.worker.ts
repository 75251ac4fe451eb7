// The IndexedDB copy of unsaved edits, written off the main thread; see pendingStoreClient.ts.
import { PendingStore } from "./pendingStore";
import { runRequest, tileBuffers, type StoreRequest, type StoreResponse } from "./pendingStoreClient";

const store = new PendingStore();
// One request at a time, in the order sent (PendingStore's transactions would also queue, but a get must
// see the writes sent before it).
let queue: Promise<void> = Promise.resolve();

self.onmessage = (event: MessageEvent<StoreRequest>) => {
  const request = event.data;
  queue = queue.then(async () => {
    let response: StoreResponse;
    let transfer: ArrayBuffer[] = [];
    try {
      const result = await runRequest(store, request);
      response = { id: request.id, result };
      transfer = tileBuffers(result);
    } catch (error) {
      response = { id: request.id, error: error instanceof Error ? error.message : String(error) };
    }
    (self as unknown as Worker).postMessage(response, transfer);
  });
};
