// The superpixel tool's options under the toolbar: the granularity slider (fine ↔ coarse), its status, and
// "Compute superpixels" (with the job's progress) when the image has none yet.
import type { SuperpixelTool } from "../tools/superpixel";
import { h } from "../ui/dom";
import { progressBar } from "../ui/widgets";

export class SuperpixelPanel {
  readonly el: HTMLElement;
  private readonly status = h("span", { class: "muted", testid: "superpixel-status", role: "status" });
  private readonly slider: HTMLInputElement;
  private readonly sliderLabel: HTMLElement;
  private readonly compute: HTMLButtonElement;
  private readonly progress = progressBar("Superpixels", "superpixel-progress");
  private readonly unsubscribe: () => void;

  constructor(private readonly tool: SuperpixelTool) {
    this.slider = h("input", {
      type: "range", min: 0, max: 0, step: 1, value: 0, testid: "superpixel-granularity",
      "aria-label": "Superpixel size (fine to coarse)",
      oninput: (e: Event) => void tool.useLevel(Number((e.target as HTMLInputElement).value)),
    });
    this.sliderLabel = h("label", { class: "tool-option", title: "[ finer · ] coarser" },
      "Regions: fine ↔ coarse", this.slider);
    this.compute = h("button", { testid: "superpixel-compute", onclick: () => void tool.compute() }, "Compute superpixels");
    this.el = h("div", { class: "superpixel-options", testid: "superpixel-options", hidden: true },
      this.sliderLabel, this.status, this.compute, this.progress.el);
    this.unsubscribe = tool.onChange(() => this.render());
    this.render();
  }

  render(): void {
    const tool = this.tool;
    // "Not computed yet" is said by the tool hint right below; the status line would repeat it.
    this.status.textContent = tool.state === "missing" ? "" : tool.message;
    this.status.dataset.state = tool.state;
    this.slider.max = String(Math.max(0, tool.levels.length - 1));
    this.slider.value = String(tool.level);
    this.sliderLabel.hidden = tool.levels.length < 2;
    this.compute.hidden = tool.state !== "missing" && !(tool.state === "error" && tool.levels.length === 0);
    this.compute.disabled = tool.state === "computing";
    this.progress.el.hidden = tool.state !== "computing";
    if (tool.job) this.progress.set(tool.job.progress);
  }

  dispose(): void {
    this.unsubscribe();
  }
}
