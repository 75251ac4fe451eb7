// The editor's keyboard shortcuts, listed once: the help overlay (?) is generated from this table.
import { h } from "../ui/dom";

export const SHORTCUTS: ReadonlyArray<readonly [string, string]> = [
  ["V", "Select / pan tool (click a segment to select it, drag to pan)"],
  ["P", "Polygon tool: click vertices, click the first vertex or Enter to close; H adds a hole"],
  ["B", "Brush: paints the selected segment, or a new one of the current class"],
  ["E", "Eraser (with the polygon tool and a polygon segment selected: edit its vertices)"],
  ["S", "SAM: click adds, right/Alt+click removes, drag draws a box; C next candidate; Enter accepts (Shift+Enter: into the selected segment); Esc clears"],
  ["X", "Superpixel: click fills the region under the cursor, drag fills every region it crosses (one undo step)"],
  ["K", "Scribble: drag strokes on a few classes (and Background); a proposal follows each stroke. Enter accepts it all, Shift+click one region, the panel one class"],
  ["[ / ]", "Smaller / larger brush; with the superpixel tool: finer / coarser regions; with Scribble: thinner / wider strokes"],
  ["1 … 9", "Choose the current class"],
  ["N", "Start a new segment with the next stroke or polygon"],
  ["Enter / Esc", "Commit / cancel the polygon being drawn"],
  ["Delete", "Delete the selected segment (or the hovered polygon vertex)"],
  ["H", "Hide / show the selected segment"],
  ["O", "Fill or outline overlay"],
  ["Ctrl+Z / Ctrl+Shift+Z", "Undo / redo"],
  ["Ctrl+S", "Save now (saving is automatic)"],
  ["Wheel, + / -", "Zoom"],
  ["Space+drag, middle drag, arrows", "Pan"],
  ["F or 0", "Fit the image"],
  ["C", "Pin a review comment (reviewers): click the place (on a segment, it is pinned to it too) or press Enter for the selected segment, type, Enter"],
  ["J / K", "Review: next / previous segment (selects it and brings it into view)"],
  ["A / R", "Review: accept / reject the selected segment, then go to the next pending one"],
  ["Shift+A", "Review: approve the image and open the next one to review"],
  ["Shift+R", "Review: reject the image — type the reason, Ctrl+Enter"],
  ["Shift+N", "Review: next image to review"],
  ["D", "Review, with several annotators: show / hide where they disagree"],
  ["?", "Show or hide this help"],
];

export function helpOverlay(): { el: HTMLElement; toggle(): void; hide(): void } {
  const el = h("div", { class: "help-overlay", testid: "help-overlay", hidden: true, role: "dialog", "aria-label": "Keyboard shortcuts" },
    h("div", { class: "help-card" },
      h("h2", null, "Keyboard shortcuts"),
      h("table", null, h("tbody", null, SHORTCUTS.map(([key, what]) => h("tr", null, h("th", null, h("kbd", null, key)), h("td", null, what))))),
      h("p", { class: "muted" }, "Press ? or Esc to close.")));
  el.addEventListener("click", (e) => {
    if (e.target === el) el.hidden = true;
  });
  return {
    el,
    toggle: () => (el.hidden = !el.hidden),
    hide: () => (el.hidden = true),
  };
}
