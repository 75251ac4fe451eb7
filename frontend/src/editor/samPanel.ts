// The SAM tool's options under the toolbar: status (availability, embedding progress, which path decodes),
// the candidates with their scores, "add to selected", and "Segment everything" with its job's progress.
import { followJob } from "../api/jobs";
import * as samApi from "../api/sam";
import type { SamEngine } from "../sam/engine";
import type { SamTool } from "../tools/sam";
import { h, replaceChildren } from "../ui/dom";

export class SamPanel {
  readonly el: HTMLElement;
  private readonly status = h("span", { class: "sam-status muted", testid: "sam-status", role: "status" });
  private readonly candidates = h("span", { class: "sam-candidates", testid: "sam-candidates" });
  private readonly everything: HTMLButtonElement;
  private readonly proposalsInfo = h("span", { class: "muted", testid: "sam-proposals-status" });
  private proposalsLoaded = false;
  private readonly pick: HTMLInputElement;
  private readonly unsubscribe: Array<() => void> = [];
  private disposed = false;
  // Aborts following the proposals job when the editor closes.
  private readonly stopped = new AbortController();

  constructor(private readonly tool: SamTool, private readonly engine: SamEngine, private readonly notify: (m: string, k?: "info" | "error") => void) {
    const add = h("input", {
      type: "checkbox", testid: "sam-add-to-selected",
      onchange: (e: Event) => (tool.addToSelected = (e.target as HTMLInputElement).checked),
    });
    this.pick = h("input", {
      type: "checkbox", testid: "sam-pick-proposals", disabled: true,
      onchange: (e: Event) => {
        tool.pickProposals = (e.target as HTMLInputElement).checked;
        tool.hoverProposal = null;
      },
    });
    this.everything = h("button", { testid: "sam-everything", onclick: () => void this.segmentEverything(),
      title: "Propose masks for the whole image; hover to see one, click to accept it with the current class" }, "Segment everything");
    this.el = h("div", { class: "sam-options", testid: "sam-options", hidden: true },
      this.status,
      this.candidates,
      h("label", { class: "tool-option", title: "Shift+Enter does the same once" }, add, " Add to selected"),
      this.everything,
      h("label", { class: "tool-option" }, this.pick, " Pick proposals"),
      this.proposalsInfo);
    this.unsubscribe.push(engine.onChange(() => this.render()), tool.onChange(() => this.render()));
    this.render();
  }

  render(): void {
    const engine = this.engine;
    this.status.textContent = engine.message;
    this.status.dataset.state = engine.state;
    this.status.dataset.path = engine.path;
    this.everything.disabled = engine.state === "unavailable" || engine.state === "error";
    this.pick.disabled = this.tool.proposals.length === 0;
    this.pick.checked = this.tool.pickProposals;
    // Accepting a proposal removes it from the tool's list: the count follows.
    if (this.proposalsLoaded) this.proposalsInfo.textContent = proposalsText(this.tool.proposals.length);
    replaceChildren(this.candidates, this.tool.candidates.map((c, i) =>
      h("button", {
        class: `sam-candidate${i === this.tool.choice ? " active" : ""}`, testid: "sam-candidate",
        "data-score": c.score.toFixed(3),
        title: "SAM's predicted IoU (C cycles)",
        onclick: () => {
          this.tool.choice = i;
          this.tool.onChangeNotify();
        },
      }, `${i + 1}: ${c.score.toFixed(2)}`)));
  }

  async segmentEverything(): Promise<void> {
    const imageId = this.engine.imageId;
    this.everything.disabled = true;
    try {
      let proposals = await samApi.getProposals(imageId).catch(() => null);
      if (!proposals || !proposals.results.length || proposals.model_key !== this.engine.status?.model_key) {
        const started = await samApi.startProposals(imageId);
        if (started.job !== null) {
          const job = await followJob(samApi.jobId(started.job), (update) => {
            this.proposalsInfo.textContent = `Segmenting everything… ${Math.round((update.progress ?? 0) * 100)} %`;
          }, { signal: this.stopped.signal });
          if (job.status !== "succeeded") throw new Error(job.error || job.status);
        }
        proposals = await samApi.getProposals(imageId);
      }
      if (this.disposed) return;
      this.proposalsLoaded = true;
      this.tool.setProposals(proposals.results);
      this.proposalsInfo.textContent = proposalsText(proposals.results.length);
    } catch (err) {
      if (this.disposed) return;
      this.proposalsInfo.textContent = "";
      this.notify(`Segment everything: ${(err as Error).message}`, "error");
    } finally {
      this.everything.disabled = false;
    }
  }

  dispose(): void {
    this.disposed = true;
    this.stopped.abort(new DOMException("editor closed", "AbortError"));
    for (const fn of this.unsubscribe) fn();
  }
}

function proposalsText(count: number): string {
  return count === 1 ? "1 proposal: hover to see, click to accept" : `${count} proposals: hover to see, click to accept`;
}
