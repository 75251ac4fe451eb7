// The Scribble tool's options under the toolbar: which class the next stroke marks (the project's classes and
// Background, "not labelled"), the proposal's status, Accept all / one class, Show confidence, the stroke
// width, and Undo stroke / Clear scribbles.
import { classShares } from "../core/scribbleProposal";
import type { ScribbleTool } from "../tools/scribble";
import { h, replaceChildren } from "../ui/dom";
import type { EditorSession } from "./session";

export class ScribblePanel {
  readonly el: HTMLElement;
  private readonly classes = h("div", { class: "scribble-classes", testid: "scribble-classes", role: "radiogroup", "aria-label": "Scribble class" });
  private readonly status = h("span", { class: "scribble-status muted", testid: "scribble-status", role: "status" });
  private readonly acceptAll: HTMLButtonElement;
  private readonly acceptClasses = h("div", { class: "scribble-accept-classes", testid: "scribble-accept-classes" });
  private readonly confidence: HTMLInputElement;
  private readonly confidenceOption: HTMLElement;
  private readonly radius: HTMLInputElement;
  private readonly radiusValue = h("span", { testid: "scribble-radius-value" });
  private readonly undoStroke: HTMLButtonElement;
  private readonly clear: HTMLButtonElement;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(private readonly tool: ScribbleTool, private readonly session: EditorSession) {
    this.acceptAll = h("button", { testid: "scribble-accept-all", title: "Paint the whole proposal (Enter): one undo step",
      onclick: () => tool.acceptAll() }, "Accept all");
    this.confidence = h("input", { type: "checkbox", testid: "scribble-confidence",
      onchange: (e: Event) => tool.setShowConfidence((e.target as HTMLInputElement).checked) });
    this.radius = h("input", { type: "range", min: 1, max: 100, step: 1, testid: "scribble-radius", "aria-label": "Stroke width",
      oninput: (e: Event) => tool.setRadius(Number((e.target as HTMLInputElement).value)) });
    this.undoStroke = h("button", { testid: "scribble-undo-stroke", title: "Remove the last stroke",
      onclick: () => tool.undoStroke() }, "Undo stroke");
    this.clear = h("button", { testid: "scribble-clear", title: "Remove every stroke and the proposal",
      onclick: () => tool.clearScribbles() }, "Clear scribbles");
    this.confidenceOption = h("label", { class: "tool-option inline", title: "Grey: light where the classifier is sure, dark where it is not" },
      this.confidence, " Show confidence");
    this.el = h("div", { class: "scribble-options", testid: "scribble-options", hidden: true },
      h("span", { class: "tool-option" }, "Stroke class"),
      this.classes,
      h("label", { class: "tool-option inline", title: "[ thinner · ] wider" }, "Width", this.radius, this.radiusValue),
      this.status,
      h("div", { class: "scribble-accept" }, this.acceptAll, this.acceptClasses),
      this.confidenceOption,
      h("div", { class: "scribble-stroke-buttons" }, this.undoStroke, this.clear));
    this.unsubscribe.push(
      tool.onChange(() => this.render()),
      session.onChange((kind) => {
        if (kind === "selection") this.render();
      }),
    );
    this.render();
  }

  render(): void {
    const tool = this.tool;
    const strokeClass = tool.strokeClass;
    const choice = (classId: number | null, name: string, color: string, title: string) => {
      const active = classId === strokeClass && (classId !== null || tool.background);
      return h("button", {
        class: `scribble-class${active ? " active" : ""}`, testid: "scribble-class", role: "radio", "aria-checked": active,
        "data-class-id": classId === null ? "background" : classId, title,
        onclick: () => {
          if (classId === null) tool.chooseBackground();
          else this.session.setCurrentClass(classId);
        },
      }, h("span", { class: `swatch${classId === null ? " background" : ""}`, style: `background:${color}` }), ` ${name}`);
    };
    const classes = [...this.session.classes.values()];
    replaceChildren(this.classes,
      classes.map((c, i) => choice(c.id, c.name, c.color, `Strokes mark ${c.name}${i < 9 ? ` (key ${i + 1})` : ""}`)),
      choice(null, "Background", "#263238", "Strokes mark what is not labelled (no class)"));

    this.status.textContent = tool.message;
    this.status.dataset.state = tool.state;
    const proposal = tool.proposal;
    const shares = proposal ? classShares(proposal) : [];
    this.acceptAll.hidden = !proposal;
    this.acceptAll.disabled = !tool.acceptable;
    replaceChildren(this.acceptClasses, shares.map(({ classId, share }) => {
      const c = this.session.classes.get(classId);
      return h("button", {
        class: "scribble-accept-class", testid: "scribble-accept-class", "data-class-id": classId,
        title: `Paint only the proposal's ${c?.name ?? "class"} pixels`, onclick: () => tool.acceptClass(classId),
      }, h("span", { class: "swatch", style: `background:${c?.color ?? "#999"}` }), ` Accept ${c?.name ?? classId}`,
      h("small", { class: "muted" }, ` ${Math.max(share * 100, 0.1).toFixed(share < 0.1 ? 1 : 0)} %`));
    }));
    this.radius.value = String(tool.radius);
    this.radiusValue.textContent = `${tool.radius} px`;
    this.confidence.checked = tool.showConfidence;
    this.confidenceOption.hidden = !proposal;
    this.undoStroke.disabled = tool.strokes.length === 0;
    this.clear.disabled = tool.strokes.length === 0 && !proposal;
  }

  dispose(): void {
    for (const fn of this.unsubscribe) fn();
  }
}
