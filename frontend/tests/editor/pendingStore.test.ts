import { IDBFactory } from "fake-indexeddb";
import { describe, expect, it } from "vitest";
import { PendingStore } from "../../src/editor/pendingStore";

describe("PendingStore", () => {
  it("keeps typed pixel arrays and rows across reopen, and forgets them on remove", async () => {
    const factory = new IDBFactory();
    const store = new PendingStore(factory);
    const local = new Uint32Array([1, 2, 4294967295, 0]);
    await store.put({
      annotationId: 7, baseVersion: 3, updatedAt: 1, baseRows: [],
      tiles: [{ key: "0,0", base: null, local }],
      rows: [{ segment_id: 1, class_id: 2, instance: 1, attributes: {}, source: "manual", score: null, rings: null }],
      changed: [1], deleted: [],
    });
    const reopened = new PendingStore(factory); // a reload opens the database again
    const entry = await reopened.get(7);
    expect(entry?.baseVersion).toBe(3);
    expect(entry?.tiles[0].local).toEqual(local);
    expect(entry?.rows[0].segment_id).toBe(1);
    await reopened.remove(7);
    expect(await reopened.get(7)).toBeUndefined();
  });
});
