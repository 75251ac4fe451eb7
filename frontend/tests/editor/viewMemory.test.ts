import { beforeEach, describe, expect, it } from "vitest";
import { flushView, recallView, rememberView, viewStamp } from "../../src/editor/viewMemory";

// sessionStorage as a browser tab has it (the tests run in Node).
class MemoryStorage {
  private items = new Map<string, string>();
  getItem(key: string) { return this.items.get(key) ?? null; }
  setItem(key: string, value: string) { this.items.set(key, value); }
  removeItem(key: string) { this.items.delete(key); }
  clear() { this.items.clear(); }
}
(globalThis as unknown as { sessionStorage: MemoryStorage }).sessionStorage ??= new MemoryStorage();

describe("view memory (issue 16 item 19)", () => {
  beforeEach(() => (globalThis as unknown as { sessionStorage: MemoryStorage }).sessionStorage.clear());
  const zoomed = { scale: 4, x: -1200, y: -800 };

  it("restores the view of the same annotation at the same version (review and edit, Next and Back)", () => {
    rememberView(7, zoomed, viewStamp(31, 5));
    flushView();
    expect(recallView(7, viewStamp(31, 5))).toEqual(zoomed);
    expect(recallView(8, viewStamp(31, 5))).toBeNull();
  });

  it("forgets it once the map changed: a resubmitted fix may be off the old view, so the editor fits", () => {
    rememberView(7, zoomed, viewStamp(31, 5)); // the reviewer's zoom when rejecting
    expect(recallView(7, viewStamp(31, 6))).toBeNull(); // the annotator saved a fix since
    expect(recallView(7, viewStamp(32, 5))).toBeNull(); // another annotation of the image
  });

  it("reads what an older page wrote (no stamp) as a view of something else", () => {
    sessionStorage.setItem("annotator.view.7", JSON.stringify([4, -1200, -800]));
    expect(recallView(7, viewStamp(31, 5))).toBeNull();
  });
});
