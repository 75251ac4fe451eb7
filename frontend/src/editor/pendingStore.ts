// Unsaved edits of each label map, kept in IndexedDB so that a reload, a dropped network or an expired session
// loses nothing: on the next open the editor replays them on top of the server's state (see merge.ts).
//
// An entry holds, for every tile changed since the last accepted save, the pixels it was based on and our
// current pixels, plus the changed and deleted segment rows. It is rewritten after each edit (debounced) and
// removed once a save covering it is accepted.
import type { SegmentRow } from "./merge";

export interface PendingTile {
  key: string; // "tx,ty"
  base: Uint32Array | null; // null = all zeros
  local: Uint32Array | null;
}

export interface PendingEdits {
  annotationId: number;
  baseVersion: number;
  updatedAt: number;
  tiles: PendingTile[];
  baseRows: SegmentRow[];
  rows: SegmentRow[]; // our current version of every changed row
  changed: number[];
  deleted: number[];
}

const DB_NAME = "annotator";
const STORE = "pending-edits";

function openDb(factory: IDBFactory): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = factory.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(STORE, { keyPath: "annotationId" });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function run<T>(db: IDBDatabase, mode: IDBTransactionMode, body: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = body(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export class PendingStore {
  private db: Promise<IDBDatabase>;

  constructor(factory: IDBFactory = indexedDB) {
    this.db = openDb(factory);
  }

  async put(edits: PendingEdits): Promise<void> {
    await run(await this.db, "readwrite", (store) => store.put(edits));
  }

  async get(annotationId: number): Promise<PendingEdits | undefined> {
    return run(await this.db, "readonly", (store) => store.get(annotationId) as IDBRequest<PendingEdits | undefined>);
  }

  async remove(annotationId: number): Promise<void> {
    await run(await this.db, "readwrite", (store) => store.delete(annotationId));
  }
}
