// The segment panel: every segment with its class, instance number, area, visibility and lock; select one to
// change its class, instance number or attributes, merge another into it, split it, or delete it.
import type { LabelClass } from "../api/client";
import { SegmentRuleError, type SegmentRow } from "../core/segments";
import { h, replaceChildren } from "../ui/dom";
import type { EditorSession } from "./session";

export interface SegmentPanelOptions {
  notify(message: string, kind?: "info" | "error"): void;
  canEdit: boolean;
}

interface AttributeSpec {
  name: string;
  type: "text" | "number" | "boolean" | "select";
  options?: string[];
  required?: boolean;
}

export class SegmentPanel {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private readonly details: HTMLElement;
  private mergeSource: number | null = null;
  /** The list item shown for each segment, with what it was built from: unchanged rows keep their element. */
  private items = new Map<number, { el: HTMLElement; key: string }>();
  /** What the details form was built from ("none": no selection), and its area line. */
  private detailsKey = "";
  private areaEl: HTMLElement | null = null;

  constructor(
    private readonly session: EditorSession,
    private readonly options: SegmentPanelOptions,
  ) {
    this.list = h("ul", { class: "segment-list", testid: "segment-list" });
    this.details = h("div", { class: "segment-details", testid: "segment-details" });
    this.el = h("section", { class: "panel segment-panel" }, h("h3", null, "Segments"), this.list, this.details);
    session.onChange((kind) => {
      if (kind === "segments" || kind === "selection" || kind === "view" || kind === "saved" || kind === "review") this.render();
    });
    this.render();
  }

  private classOf(row: SegmentRow): LabelClass | undefined {
    return this.session.classes.get(row.classId);
  }

  private guard(action: () => void): void {
    try {
      action();
    } catch (err) {
      if (err instanceof SegmentRuleError) {
        this.options.notify(err.message, "error");
        this.rebuild(); // the form shows the value refused: back to the segment's own
      } else throw err;
    }
  }

  /** Render with the details form rebuilt even though the segment did not change. */
  private rebuild(): void {
    this.detailsKey = "";
    this.render();
  }

  render(): void {
    const { session } = this;
    const rows = session.table.all().sort((a, b) => {
      const ca = this.classOf(a)?.order ?? 0;
      const cb = this.classOf(b)?.order ?? 0;
      return ca - cb || (a.instance ?? 0) - (b.instance ?? 0) || a.segmentId - b.segmentId;
    });
    if (!rows.length) {
      this.items.clear();
      replaceChildren(this.list, h("li", { class: "muted empty" }, "No segments yet: paint or draw one."));
      this.renderDetails(rows);
      return;
    }
    // Keyed: with 1000 segments, rebuilding every item on each save, stroke or selection took 60-110 ms of
    // main thread (long tasks that dropped frames while painting); now only changed items are rebuilt.
    const next = new Map<number, { el: HTMLElement; key: string }>();
    const els = rows.map((row) => {
      const key = this.itemKey(row);
      const old = this.items.get(row.segmentId);
      const el = old && old.key === key ? old.el : this.item(row);
      next.set(row.segmentId, { el, key });
      return el;
    });
    this.items = next;
    placeChildren(this.list, els);
    this.renderDetails(rows);
  }

  /** "class #instance", as the list and the merge choice show a segment. */
  private rowLabel(row: SegmentRow): string {
    return `${this.classOf(row)?.name ?? "?"}${row.instance !== null ? ` #${row.instance}` : ""}`;
  }

  /** Everything item(row) shows: equal keys give equal items. */
  private itemKey(row: SegmentRow): string {
    const { session } = this;
    const cls = this.classOf(row);
    const flags = (session.activeSegment === row.segmentId ? 1 : 0) | (session.hiddenSegments.has(row.segmentId) ? 2 : 0)
      | (session.lockedSegments.has(row.segmentId) ? 4 : 0) | (row.rings ? 8 : 0);
    // Names and colours cannot hold a newline.
    return `${cls?.id}\n${cls?.name}\n${cls?.color}\n${row.instance}\n${row.area}\n${flags}\n${row.reviewState}`;
  }

  private item(row: SegmentRow): HTMLElement {
    const { session } = this;
    const cls = this.classOf(row);
    const selected = session.activeSegment === row.segmentId;
    const hidden = session.hiddenSegments.has(row.segmentId);
    const locked = session.lockedSegments.has(row.segmentId);
    const label = this.rowLabel(row);
    return h(
      "li",
      {
        class: `segment-item${selected ? " selected" : ""}${hidden ? " hidden" : ""}`,
        testid: "segment-item",
        "data-segment-id": row.segmentId,
        "data-class": cls?.name ?? "",
        "data-instance": row.instance ?? "",
        "data-area": row.area,
        "data-review": row.reviewState,
        onmouseenter: () => {
          session.hoverSegment = row.segmentId;
          session.emit("hover");
        },
        onmouseleave: () => {
          if (session.hoverSegment === row.segmentId) session.hoverSegment = null;
          session.emit("hover");
        },
      },
      h("span", { class: "swatch", style: `background:${cls?.color ?? "#999"}` }),
      h("button", {
        class: "link segment-name", testid: "segment-select", title: `Segment ${row.segmentId}`,
        onclick: () => session.select(row.segmentId),
      }, label),
      h("span", { class: "muted area", title: "area in pixels" }, row.area.toLocaleString()),
      row.rings ? h("span", { class: "badge", title: "still an editable polygon" }, "poly") : null,
      row.reviewState !== "pending"
        ? h("span", { class: `badge badge-review-${row.reviewState}`, testid: "segment-review", title: `Reviewer: ${row.reviewState}` },
          row.reviewState === "accepted" ? "✓ accepted" : "✗ rejected")
        : null,
      h("button", {
        class: "icon", testid: "segment-visibility", title: hidden ? "Show" : "Hide", "aria-pressed": hidden,
        onclick: () => session.toggleHidden(row.segmentId),
      }, hidden ? "show" : "hide"),
      h("button", {
        class: "icon", testid: "segment-lock", title: locked ? "Unlock" : "Lock (protect from edits)", "aria-pressed": locked,
        onclick: () => session.toggleLocked(row.segmentId),
      }, locked ? "unlock" : "lock"),
    );
  }

  /**
   * The selected segment's form. Rebuilt only when what it shows changes (not on every save or stroke: that
   * cost ~60 ms with 1000 segments to merge from, and reset a merge choice or an attribute being typed); the
   * area, which changes with every brush step, is updated in place. `rows`: every segment, in list order.
   */
  private renderDetails(rows: SegmentRow[]): void {
    const { session } = this;
    const id = session.activeSegment;
    const row = id !== null ? session.table.get(id) : undefined;
    if (!row) {
      if (this.detailsKey !== "none") replaceChildren(this.details, h("p", { class: "muted" }, "Select a segment to edit it."));
      this.detailsKey = "none";
      return;
    }
    const others = rows.filter((r) => r.segmentId !== row.segmentId);
    const key = JSON.stringify([
      row.segmentId, row.classId, row.instance, row.attributes, this.options.canEdit,
      [...session.classes.values()].map((c) => [c.id, c.name, c.kind, c.attribute_schema]),
      others.map((r) => `${r.segmentId} ${this.rowLabel(r)}`).join("\n"),
    ]);
    const area = `Area ${row.area.toLocaleString()} px · source ${row.source}${row.score !== null ? ` · score ${row.score.toFixed(2)}` : ""}`;
    if (key === this.detailsKey && this.areaEl) {
      if (this.areaEl.textContent !== area) this.areaEl.textContent = area;
      return;
    }
    this.detailsKey = key;
    this.areaEl = h("div", { class: "muted", testid: "segment-area" }, area);
    const cls = this.classOf(row);
    const canEdit = this.options.canEdit;
    const mergeNotice = h("div", { class: "merge-notice", testid: "stuff-merge-confirm", role: "alert", hidden: true });
    const classSelect = h(
      "select",
      {
        testid: "segment-class", disabled: !canEdit,
        onchange: (e: Event) => this.changeClass(row, Number((e.target as HTMLSelectElement).value), mergeNotice),
      },
      [...session.classes.values()].map((c) => h("option", { value: c.id, selected: c.id === row.classId }, `${c.name} (${c.kind})`)),
    );
    const instance = cls?.kind === "thing"
      ? h("input", {
        type: "number", min: 1, value: row.instance ?? "", testid: "segment-instance", disabled: !canEdit,
        onchange: (e: Event) => {
          const value = Number((e.target as HTMLInputElement).value);
          if (!Number.isInteger(value) || value < 1) {
            this.options.notify("Instance numbers are whole numbers from 1", "error");
            this.rebuild();
            return;
          }
          this.guard(() => session.setInstance(row.segmentId, value));
        },
      })
      : h("span", { class: "muted" }, "stuff: one segment per class");
    const mergeSelect = h(
      "select",
      { testid: "merge-source", onchange: (e: Event) => (this.mergeSource = Number((e.target as HTMLSelectElement).value) || null) },
      h("option", { value: "" }, "merge another segment into this…"),
      others.map((r) => h("option", { value: r.segmentId }, `${this.rowLabel(r)} (segment ${r.segmentId})`)),
    );
    this.mergeSource = null;
    replaceChildren(
      this.details,
      h("h4", null, `Segment ${row.segmentId}`),
      h("label", { class: "field-row" }, "Class ", classSelect),
      mergeNotice,
      h("label", { class: "field-row" }, "Instance ", instance),
      this.areaEl,
      this.attributeEditor(row, (cls?.attribute_schema ?? []) as AttributeSpec[]),
      canEdit
        ? h("div", { class: "button-row" },
          mergeSelect,
          h("button", {
            testid: "segment-merge",
            onclick: () => {
              if (this.mergeSource === null) return this.options.notify("Choose the segment to merge in first", "info");
              this.guard(() => session.mergeSegments(row.segmentId, [this.mergeSource!]));
            },
          }, "Merge"),
          h("button", {
            testid: "segment-split", title: "Split into connected parts",
            onclick: () => this.guard(() => {
              const parts = session.splitSegment(row.segmentId);
              this.options.notify(parts ? `Split into ${parts} segments` : "This segment is one connected piece", "info");
            }),
          }, "Split"),
          h("button", { class: "danger", testid: "segment-delete", onclick: () => this.guard(() => session.deleteSegment(row.segmentId)) }, "Delete"),
        )
        : null,
    );
  }

  /** A stuff class has one segment per image: relabelling a segment into one that has it merges the two, so ask
   * first (the merge is undoable, but easy to miss in a long list). */
  private changeClass(row: SegmentRow, classId: number, notice: HTMLElement): void {
    const { session } = this;
    const into = session.table.classKind(classId) === "stuff" ? session.table.segmentForStuff(classId) : undefined;
    if (!into || into.segmentId === row.segmentId) {
      this.guard(() => session.setSegmentClass(row.segmentId, classId));
      return;
    }
    const name = session.classes.get(classId)?.name ?? "?";
    notice.hidden = false;
    replaceChildren(notice,
      h("p", null, `Merge into the existing '${name}' segment? ${this.rowLabel(row)} becomes part of it: a stuff class has one segment per image.`),
      h("div", { class: "button-row" },
        h("button", { class: "btn btn-primary btn-sm", testid: "stuff-merge-accept",
          onclick: () => this.guard(() => session.setSegmentClass(row.segmentId, classId)) }, `Merge into ${name}`),
        h("button", { class: "btn btn-ghost btn-sm", testid: "stuff-merge-cancel", onclick: () => this.rebuild() }, "Cancel")));
    notice.querySelector<HTMLButtonElement>("[data-testid=stuff-merge-accept]")?.focus();
  }

  private attributeEditor(row: SegmentRow, schema: AttributeSpec[]): HTMLElement | null {
    if (!schema.length) return null;
    const { session } = this;
    const set = (name: string, value: unknown) =>
      this.guard(() => session.setAttributes(row.segmentId, { ...row.attributes, [name]: value }));
    return h(
      "fieldset",
      { class: "attributes", testid: "segment-attributes" },
      h("legend", null, "Attributes"),
      schema.map((spec) => {
        const current = row.attributes[spec.name];
        let input: HTMLElement;
        if (spec.type === "boolean") {
          input = h("input", { type: "checkbox", checked: Boolean(current), onchange: (e: Event) => set(spec.name, (e.target as HTMLInputElement).checked) });
        } else if (spec.type === "select") {
          input = h("select", { onchange: (e: Event) => set(spec.name, (e.target as HTMLSelectElement).value) },
            h("option", { value: "" }, "—"),
            (spec.options ?? []).map((o) => h("option", { value: o, selected: current === o }, o)));
        } else {
          input = h("input", {
            type: spec.type === "number" ? "number" : "text", value: current ?? "",
            onchange: (e: Event) => {
              const raw = (e.target as HTMLInputElement).value;
              set(spec.name, spec.type === "number" ? (raw === "" ? null : Number(raw)) : raw);
            },
          });
        }
        return h("label", { class: "field-row", "data-attribute": spec.name }, `${spec.name}${spec.required ? " *" : ""} `, input);
      }),
    );
  }
}

/** Make `els` the children of `parent`, in order, moving or inserting only the ones out of place. */
function placeChildren(parent: HTMLElement, els: HTMLElement[]): void {
  let at = parent.firstElementChild;
  for (const el of els) {
    if (at === el) at = el.nextElementSibling;
    else parent.insertBefore(el, at);
  }
  while (at) {
    const next = at.nextElementSibling;
    at.remove();
    at = next;
  }
}
