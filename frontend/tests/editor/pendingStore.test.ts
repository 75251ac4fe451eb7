import { IDBFactory } from "fake-indexeddb";
import { describe, expect, it } from "vitest";
import { PendingStore, type PendingEdits } from "../../src/editor/pendingStore";

const row = { segment_id: 1, class_id: 2, instance: 1, attributes: {}, source: "manual", score: null, rings: null };

function entry(annotationId: number, tiles: PendingEdits["tiles"]): PendingEdits {
  return { annotationId, baseVersion: 3, updatedAt: 1, baseRows: [], tiles, rows: [row], changed: [1], deleted: [] };
}

describe("PendingStore", () => {
  it("keeps typed pixel arrays and rows across reopen, and forgets them on remove", async () => {
    const factory = new IDBFactory();
    const store = new PendingStore(factory);
    const local = new Uint32Array([1, 2, 4294967295, 0]);
    await store.put(entry(7, [{ key: "0,0", base: null, local }]));
    await store.put(entry(8, [{ key: "0,0", base: null, local: new Uint32Array([9]) }]));
    const reopened = new PendingStore(factory); // a reload opens the database again
    const got = await reopened.get(7);
    expect(got?.baseVersion).toBe(3);
    expect(got?.tiles[0].local).toEqual(local);
    expect(got?.rows[0].segment_id).toBe(1);
    await reopened.remove(7);
    expect(await reopened.get(7)).toBeUndefined();
    expect((await reopened.get(8))?.tiles[0].local).toEqual(new Uint32Array([9])); // other maps untouched
  });

  it("writes tiles incrementally: unlisted stored tiles are dropped, listed ones kept", async () => {
    const store = new PendingStore(new IDBFactory());
    const a = { key: "0,0", base: null, local: new Uint32Array([1]) };
    const b = { key: "1,0", base: new Uint32Array([2]), local: new Uint32Array([3]) };
    await store.put(entry(5, [a, b]));
    await store.write({ ...entry(5, []), baseVersion: 4, tileKeys: ["1,0", "2,0"],
      tiles: [{ key: "2,0", base: null, local: new Uint32Array([4]) }] });
    const got = await store.get(5);
    expect(got?.baseVersion).toBe(4);
    expect(got?.tiles.map((t) => [t.key, t.local?.[0]])).toEqual([["1,0", 3], ["2,0", 4]]);
  });

  it("moves entries of the first database version over on upgrade", async () => {
    const factory = new IDBFactory();
    const old = entry(11, [{ key: "3,4", base: null, local: new Uint32Array([7, 7]) }]);
    await new Promise<void>((resolve, reject) => {
      const request = factory.open("annotator", 1);
      request.onupgradeneeded = () => request.result.createObjectStore("pending-edits", { keyPath: "annotationId" });
      request.onsuccess = () => {
        const tx = request.result.transaction("pending-edits", "readwrite");
        tx.objectStore("pending-edits").put(old);
        tx.oncomplete = () => { request.result.close(); resolve(); };
        tx.onerror = () => reject(tx.error);
      };
      request.onerror = () => reject(request.error);
    });
    const got = await new PendingStore(factory).get(11);
    expect(got?.tiles).toEqual(old.tiles);
    expect(got?.rows).toEqual(old.rows);
  });
});
