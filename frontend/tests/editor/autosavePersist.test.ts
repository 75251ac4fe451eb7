import { IDBFactory } from "fake-indexeddb";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Autosaver } from "../../src/editor/autosave";
import { PendingStore, type PendingUpdate } from "../../src/editor/pendingStore";
import type { EditorSession } from "../../src/editor/session";
import { LabelMap } from "../../src/core/labelMap";
import { SegmentTable } from "../../src/core/segments";

// Two 4x4 tiles side by side.
function fakeSession() {
  const map = new LabelMap(8, 4, 4);
  const table = new SegmentTable([{ id: 1, kind: "stuff" }]);
  return { map, table, savedTiles: new Map<string, Uint32Array>(), savedRows: new Map(), annotationId: 9, version: 3 };
}

function filled(value: number): Uint32Array {
  return new Uint32Array(16).fill(value);
}

describe("Autosaver's local copy of unsaved edits", () => {
  beforeEach(() => vi.stubGlobal("window", new EventTarget()));
  afterEach(() => vi.unstubAllGlobals());

  it("writes only the tiles that changed since the last write, and drops saved ones", async () => {
    const session = fakeSession();
    const store = new PendingStore(new IDBFactory());
    const writes: PendingUpdate[] = [];
    const write = store.write.bind(store);
    store.write = (update) => {
      writes.push(update);
      return write(update);
    };
    const autosave = new Autosaver(session as unknown as EditorSession, store);

    session.map.setTile(0, 0, filled(1), { dirty: true });
    session.map.setTile(1, 0, filled(2), { dirty: true });
    await autosave.persist();
    expect(writes.at(-1)!.tiles.map((t) => t.key).sort()).toEqual(["0,0", "1,0"]);

    // A second edit of one tile rewrites that tile alone; the other stays stored as it was.
    session.map.setTile(1, 0, filled(5), { dirty: true });
    await autosave.persist();
    expect(writes.at(-1)!.tiles.map((t) => t.key)).toEqual(["1,0"]);
    let entry = await store.get(9);
    expect(entry!.baseVersion).toBe(3);
    expect(new Map(entry!.tiles.map((t) => [t.key, t.local![0]]))).toEqual(new Map([["0,0", 1], ["1,0", 5]]));

    // Nothing changed: nothing but the rows is written.
    await autosave.persist();
    expect(writes.at(-1)!.tiles).toEqual([]);

    // Tile (0,0) is saved: it leaves the stored entry.
    session.map.markClean([[0, 0]], [session.map.tileRevision(0, 0)]);
    session.savedTiles.set("0,0", filled(1));
    await autosave.persist();
    entry = await store.get(9);
    expect(entry!.tiles.map((t) => t.key)).toEqual(["1,0"]);

    // (1,0) saved as of an older revision while it was edited again: still dirty, and its new base is stored.
    const sentRevision = session.map.tileRevision(1, 0);
    session.map.setTile(1, 0, filled(6), { dirty: true });
    session.map.markClean([[1, 0]], [sentRevision]);
    session.savedTiles.set("1,0", filled(5));
    await autosave.persist();
    entry = await store.get(9);
    expect(entry!.tiles[0].base![0]).toBe(5);
    expect(entry!.tiles[0].local![0]).toBe(6);

    session.map.markClean([[1, 0]], [session.map.tileRevision(1, 0)]);
    await autosave.persist();
    expect(await store.get(9)).toBeUndefined();
    autosave.dispose();
  });
});
