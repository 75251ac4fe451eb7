import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { newIdempotencyKey, saveAnnotation } from "../../src/api/client";
import { Autosaver } from "../../src/editor/autosave";
import type { EditorSession } from "../../src/editor/session";
import { inlineTileEncoder, type TileEncoder } from "../../src/editor/tileEncoder";
import { LabelMap } from "../../src/core/labelMap";
import { SegmentTable } from "../../src/core/segments";

// Two 4x4 tiles side by side.
function fakeSession() {
  const map = new LabelMap(8, 4, 4);
  const table = new SegmentTable([{ id: 1, kind: "stuff" }]);
  return {
    map, table, savedTiles: new Map<string, Uint32Array>(), savedRows: new Map(), annotationId: 9, version: 3,
    emit: () => {},
  };
}

interface Sent {
  url: string;
  key: string | undefined;
  body: { base_version: number; tiles: Array<{ tx: number; ty: number; data: string }> };
}

/** fetch that records each save and answers from `answers` in turn: a Response, or an Error to throw. */
function fakeServer(answers: Array<Response | Error>) {
  const sent: Sent[] = [];
  const fetchMock = vi.fn(async (url: string, init: RequestInit) => {
    const headers = init.headers as Record<string, string>;
    sent.push({ url, key: headers["Idempotency-Key"], body: JSON.parse(String(init.body)) });
    const answer = answers.shift();
    if (!answer) throw new Error("no answer left");
    if (answer instanceof Error) throw answer;
    return answer;
  });
  vi.stubGlobal("fetch", fetchMock);
  return sent;
}

const saved = (version: number, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ version, revision: version, segments: [], deleted_segment_ids: [] }),
    { status: 200, headers });

function countingEncoder(): TileEncoder & { calls: number } {
  return {
    inWorker: false,
    calls: 0,
    encode(pixels) {
      this.calls++;
      return inlineTileEncoder.encode(pixels);
    },
    destroy() {},
  };
}

describe("Autosaver's idempotency keys", () => {
  beforeEach(() => vi.stubGlobal("window", new EventTarget()));
  afterEach(() => vi.unstubAllGlobals());

  it("resends a save that got no answer with the same key and body, and takes the replayed answer as saved", async () => {
    const session = fakeSession();
    const encoder = countingEncoder();
    const autosave = new Autosaver(session as unknown as EditorSession, null, encoder);
    const sent = fakeServer([new TypeError("timed out"), saved(4, { "Idempotent-Replayed": "true" })]);

    session.map.setTile(0, 0, new Uint32Array(16).fill(1), { dirty: true });
    await autosave.saveNow();
    expect(autosave.status.state).toBe("offline");
    expect(session.map.dirtyTiles()).toEqual([[0, 0]]);

    await autosave.saveNow();
    expect(sent).toHaveLength(2);
    expect(sent[0].url).toBe("/api/annotations/9/save/");
    expect(sent[0].key).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent[1].key).toBe(sent[0].key);
    expect(sent[1].body).toEqual(sent[0].body);
    expect(encoder.calls).toBe(1); // the resend reuses the encoded body
    expect(autosave.status.state).toBe("saved");
    expect(session.version).toBe(4);
    expect(session.map.dirtyTiles()).toEqual([]);
    autosave.dispose();
  });

  it("resends the unanswered save first and sends edits made meanwhile as a new save with a new key", async () => {
    const session = fakeSession();
    const autosave = new Autosaver(session as unknown as EditorSession, null, inlineTileEncoder);
    const sent = fakeServer([
      new Response(JSON.stringify({ message: "bad gateway", code: "error", extra: {} }), { status: 502 }),
      saved(4, { "Idempotent-Replayed": "true" }),
      saved(5),
    ]);

    session.map.setTile(0, 0, new Uint32Array(16).fill(1), { dirty: true });
    await autosave.saveNow();
    session.map.setTile(1, 0, new Uint32Array(16).fill(1), { dirty: true }); // edited while offline
    await autosave.saveNow();

    expect(sent.map((s) => s.body.tiles.map((t) => [t.tx, t.ty]))).toEqual([[[0, 0]], [[0, 0]], [[1, 0]]]);
    expect(sent.map((s) => s.body.base_version)).toEqual([3, 3, 4]);
    expect(sent[1].key).toBe(sent[0].key);
    expect(sent[2].key).not.toBe(sent[0].key);
    expect(session.version).toBe(5);
    expect(autosave.status.state).toBe("saved");
    autosave.dispose();
  });

  it("uses a new key for every logical save and forgets a save the server refused", async () => {
    const session = fakeSession();
    const autosave = new Autosaver(session as unknown as EditorSession, null, inlineTileEncoder);
    const sent = fakeServer([
      saved(4),
      new Response(JSON.stringify({ message: "broken tile", code: "bad_tile", extra: {} }), { status: 400 }),
      saved(5),
    ]);

    session.map.setTile(0, 0, new Uint32Array(16).fill(1), { dirty: true });
    await autosave.saveNow();
    session.map.setTile(0, 0, new Uint32Array(16).fill(2), { dirty: true });
    await autosave.saveNow();
    expect(autosave.status.state).toBe("error");
    await autosave.saveNow(); // a refused save is not resent under its key: the edits go as a new save
    expect(new Set(sent.map((s) => s.key)).size).toBe(3);
    expect(session.version).toBe(5);
    autosave.dispose();
  });
});

describe("saveAnnotation", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("sends the key in the Idempotency-Key header, and none when not given", async () => {
    const sent = fakeServer([saved(1), saved(2)]);
    const body = { base_version: 0, tiles: [], segments: [], deleted_segment_ids: [] };
    expect((await saveAnnotation(9, body, "key-1")).version).toBe(1);
    await saveAnnotation(9, { ...body, base_version: 1 });
    expect(sent.map((s) => s.key)).toEqual(["key-1", undefined]);
  });

  it("makes random version-4 UUIDs, also without crypto.randomUUID (plain-HTTP pages)", () => {
    const keys = new Set(Array.from({ length: 50 }, () => newIdempotencyKey()));
    expect(keys.size).toBe(50);
    const real = globalThis.crypto;
    vi.stubGlobal("crypto", { getRandomValues: (a: Uint8Array) => real.getRandomValues(a) });
    const fallback = newIdempotencyKey();
    expect(fallback).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
