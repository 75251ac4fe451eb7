// The dashboard's evaluation card: compare an annotation set (a model's pre-labels, an annotator's work, the
// imported pre-labels) with the approved labels. Scores come from an evaluation job (mIoU, PQ / SQ / RQ, mask AP
// by COCOeval); the newest results stay listed, each with its per-class table.
import { listEvaluations, startEvaluation, type Evaluations, type Job } from "../api/client";
import { followJob } from "../api/jobs";
import { h, replaceChildren } from "../ui/dom";
import { plural } from "../ui/format";
import { errorMessage } from "../ui/session";
import { jobStatusBadge, errorBox, progressBar } from "../ui/widgets";

type EvaluationSet = Evaluations["sets"][number];

interface ClassRow { iou?: number | null; pq?: number; sq?: number; rq?: number; tp?: number; fp?: number; fn?: number; ap?: number | null }
export interface EvaluationResult {
  images: number;
  params: { source: string; trained_model_id?: number; annotator_id?: number };
  semantic: { miou: number | null; pixel_accuracy: number | null; per_class: Record<string, { iou: number }> };
  panoptic: { pq: number | null; sq: number | null; rq: number | null; things: { pq: number | null }; stuff: { pq: number | null };
    per_class: Record<string, { pq: number; sq: number; rq: number; tp: number; fp: number; fn: number }> };
  instance: { ap: number | null; ap50: number | null; ap75: number | null; per_class: Record<string, { ap: number | null }> };
  classes: Record<string, { name: string; kind: string; color: string }>;
}

/** A score for a table cell: two decimals, or a dash where there is no number (no ground truth for it). */
export const score = (value: number | null | undefined): string =>
  value === null || value === undefined || Number.isNaN(value) ? "–" : value.toFixed(3);

export const setKey = (s: { source: string; trained_model_id?: number | null; annotator_id?: number | null }) =>
  `${s.source}:${s.trained_model_id ?? s.annotator_id ?? ""}`;

/** Per class, in the project's class order: IoU, PQ / SQ / RQ with TP / FP / FN, and AP (things). */
export function classRows(result: EvaluationResult): { name: string; color: string; kind: string; cells: string[] }[] {
  return Object.entries(result.classes).map(([id, c]) => {
    const p = result.panoptic.per_class[id] as ClassRow | undefined;
    return {
      name: c.name, color: c.color, kind: c.kind,
      cells: [score(result.semantic.per_class[id]?.iou), score(p?.pq), score(p?.sq), score(p?.rq),
        p ? `${p.tp} / ${p.fp} / ${p.fn}` : "–", c.kind === "thing" ? score(result.instance.per_class[id]?.ap) : "–"],
    };
  });
}

export function evaluationSection(projectId: number, signal: AbortSignal): HTMLElement {
  const error = errorBox("evaluation-error");
  const choice = h("select", { testid: "evaluation-set", "aria-label": "Annotation set" });
  const start = h("button", { type: "button", class: "btn btn-primary", testid: "evaluation-start" }, "Evaluate");
  const bar = progressBar("Evaluation", "evaluation-progress");
  bar.el.hidden = true;
  const results = h("div", { class: "evaluation-results", testid: "evaluation-results" });
  let sets: EvaluationSet[] = [];
  const labelOf = (params: EvaluationResult["params"]) => sets.find((s) => setKey(s) === setKey(params))?.label ?? params.source;

  const resultCard = (job: Job) => {
    const r = job.result as unknown as EvaluationResult;
    if (job.status !== "succeeded") {
      return h("div", { class: "evaluation-item muted", testid: "evaluation-item", "data-status": job.status },
        jobStatusBadge(job.status), ` ${labelOf(job.params as EvaluationResult["params"])}`,
        job.error ? h("span", { class: "field-error" }, ` · ${job.error}`) : null);
    }
    const head = ["mIoU", "PQ", "PQ things", "PQ stuff", "mask AP", "AP50", "AP75"];
    const values = [r.semantic.miou, r.panoptic.pq, r.panoptic.things.pq, r.panoptic.stuff.pq, r.instance.ap, r.instance.ap50, r.instance.ap75];
    const perClass = h("details", { class: "evaluation-classes" }, h("summary", null, "Per class"),
      h("table", { class: "table compact" },
        h("thead", null, h("tr", null, ["Class", "IoU", "PQ", "SQ", "RQ", "TP / FP / FN", "AP"].map((t) => h("th", null, t)))),
        h("tbody", null, classRows(r).map((row) => h("tr", null,
          h("td", null, h("span", { class: "swatch", style: `background:${row.color}` }), ` ${row.name}`),
          row.cells.map((c) => h("td", { class: "num" }, c)))))));
    return h("div", { class: "evaluation-item", testid: "evaluation-item", "data-status": job.status },
      h("div", { class: "evaluation-title" }, h("strong", null, labelOf(r.params)),
        h("span", { class: "muted" }, ` · ${plural(r.images, "approved image")} · ${new Date(job.created_at).toLocaleString()}`)),
      h("table", { class: "table compact evaluation-scores" },
        h("thead", null, h("tr", null, head.map((t) => h("th", null, t)))),
        h("tbody", null, h("tr", null, values.map((v, i) => h("td", { class: "num", testid: `evaluation-${head[i].toLowerCase().replace(/ /g, "-")}` }, score(v)))))),
      perClass);
  };

  const render = (data: Evaluations) => {
    sets = data.sets;
    const chosen = choice.value; // kept across a refresh, so the set just evaluated stays selected
    replaceChildren(choice, sets.length ? sets.map((s) => h("option", { value: setKey(s) }, `${s.label} (${plural(s.images, "image")})`))
      : h("option", { value: "" }, "Nothing to compare yet"));
    if (sets.some((s) => setKey(s) === chosen)) choice.value = chosen;
    start.disabled = !sets.length;
    replaceChildren(results, data.jobs.length ? data.jobs.map(resultCard) : h("p", { class: "muted" }, "No evaluation yet."));
  };

  start.addEventListener("click", async () => {
    const chosen = sets.find((s) => setKey(s) === choice.value);
    if (!chosen) return;
    error.show(null);
    start.disabled = true;
    bar.el.hidden = false;
    bar.set(0);
    try {
      const job = await startEvaluation(projectId, { source: chosen.source, trained_model_id: chosen.trained_model_id ?? null, annotator_id: chosen.annotator_id ?? null });
      const done = await followJob(job, (j) => bar.set(j.progress), { signal });
      if (done.status === "failed") error.show(`The evaluation failed: ${done.error}`);
      render(await listEvaluations(projectId));
    } catch (err) {
      const message = errorMessage(err);
      if (message && !signal.aborted) error.show(message);
    } finally {
      start.disabled = !sets.length;
      bar.el.hidden = true;
    }
  });
  listEvaluations(projectId).then(render, (err) => { if (!signal.aborted) error.show(errorMessage(err)); });
  return h("section", { class: "card card-pad evaluation", testid: "evaluation" },
    h("h2", null, "Evaluation against the approved labels"),
    h("p", { class: "muted" }, "Scores a model's pre-labels, an annotator's work or imported labels on the approved images they cover: mIoU and IoU per class, panoptic quality (PQ = SQ × RQ), and mask AP from COCOeval."),
    error.el,
    h("div", { class: "form-footer evaluation-form" }, choice, start), bar.el, results);
}
