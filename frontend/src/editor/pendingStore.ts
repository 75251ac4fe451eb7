// Unsaved edits of each label map, kept in IndexedDB so that a reload, a dropped network or an expired session
// loses nothing: on the next open the editor replays them on top of the server's state (see merge.ts).
//
// An entry holds, for every tile changed since the last accepted save, the pixels it was based on and our
// current pixels, plus the changed and deleted segment rows. Tiles are records of their own, so a write after an
// edit stores only the tiles that changed since the previous write (a brush dab touches one or two of possibly
// hundreds of dirty tiles); the rows and the list of dirty tiles are rewritten each time, in the same
// transaction, so what is stored is always one consistent state. The entry is removed once a save covering it
// is accepted.
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

/** One write: the whole entry except tiles, the tiles that changed since the last write, and every dirty key. */
export interface PendingUpdate extends Omit<PendingEdits, "tiles"> {
  /** Tiles to (re)write. */
  tiles: PendingTile[];
  /** Every tile key the entry holds after this write (stored tiles not listed are dropped). */
  tileKeys: string[];
}

type StoredMeta = Omit<PendingEdits, "tiles"> & { tileKeys: string[] };
type StoredTile = PendingTile & { annotationId: number };

const DB_NAME = "annotator";
const META = "pending-meta";
const TILES = "pending-tiles";
// Version 1 kept whole entries (tiles inline) in one store; the upgrade moves them over, losing nothing.
const LEGACY = "pending-edits";

function openDb(factory: IDBFactory): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = factory.open(DB_NAME, 2);
    request.onupgradeneeded = () => {
      const db = request.result;
      const tx = request.transaction!;
      if (!db.objectStoreNames.contains(META)) db.createObjectStore(META, { keyPath: "annotationId" });
      if (!db.objectStoreNames.contains(TILES)) {
        db.createObjectStore(TILES, { keyPath: ["annotationId", "key"] }).createIndex("annotation", "annotationId");
      }
      if (db.objectStoreNames.contains(LEGACY)) {
        const legacy = tx.objectStore(LEGACY).getAll() as IDBRequest<PendingEdits[]>;
        legacy.onsuccess = () => {
          for (const entry of legacy.result) writeEntry(tx, { ...entry, tileKeys: entry.tiles.map((t) => t.key) });
          db.deleteObjectStore(LEGACY);
        };
      }
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

function writeEntry(tx: IDBTransaction, update: PendingUpdate): void {
  const { tiles, ...meta } = update;
  tx.objectStore(META).put(meta satisfies StoredMeta);
  const tileStore = tx.objectStore(TILES);
  for (const t of tiles) tileStore.put({ ...t, annotationId: update.annotationId } satisfies StoredTile);
  const keep = new Set(update.tileKeys);
  deleteTiles(tileStore, update.annotationId, (key) => !keep.has(key));
}

function deleteTiles(tileStore: IDBObjectStore, annotationId: number, which: (key: string) => boolean): void {
  const keys = tileStore.index("annotation").getAllKeys(annotationId);
  keys.onsuccess = () => {
    for (const key of keys.result as unknown as [number, string][]) if (which(key[1])) tileStore.delete(key);
  };
}

export class PendingStore {
  private db: Promise<IDBDatabase>;

  constructor(factory: IDBFactory = indexedDB) {
    this.db = openDb(factory);
  }

  /** Store one consistent state of the entry: its rows, the given tiles, and no tile outside `tileKeys`. */
  async write(update: PendingUpdate): Promise<void> {
    const tx = (await this.db).transaction([META, TILES], "readwrite");
    writeEntry(tx, update);
    await done(tx);
  }

  /** Store a whole entry (every tile). */
  async put(edits: PendingEdits): Promise<void> {
    await this.write({ ...edits, tileKeys: edits.tiles.map((t) => t.key) });
  }

  async get(annotationId: number): Promise<PendingEdits | undefined> {
    const tx = (await this.db).transaction([META, TILES], "readonly");
    const meta = tx.objectStore(META).get(annotationId) as IDBRequest<StoredMeta | undefined>;
    const tiles = tx.objectStore(TILES).index("annotation").getAll(annotationId) as IDBRequest<StoredTile[]>;
    await done(tx);
    if (!meta.result) return undefined;
    const { tileKeys, ...entry } = meta.result;
    const byKey = new Map(tiles.result.map((t) => [t.key, t]));
    const listed = tileKeys.map((key) => byKey.get(key)).filter((t): t is StoredTile => t !== undefined);
    return { ...entry, tiles: listed.map(({ key, base, local }) => ({ key, base, local })) };
  }

  async remove(annotationId: number): Promise<void> {
    const tx = (await this.db).transaction([META, TILES], "readwrite");
    tx.objectStore(META).delete(annotationId);
    deleteTiles(tx.objectStore(TILES), annotationId, () => true);
    await done(tx);
  }
}
