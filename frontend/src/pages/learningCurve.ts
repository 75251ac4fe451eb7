// The dashboard's "Models" card (issue 17 item 6): the models trained on the approved labels, and their
// validation mIoU against the number of approved images each was trained on — the learning curve.
import { listModels, type TrainedModel } from "../api/client";
import type { TrainingRecord } from "../api/training";
import { lineChart } from "../ui/charts";
import { h, replaceChildren } from "../ui/dom";
import { errorMessage } from "../ui/session";

export interface CurvePoint {
  id: number;
  name: string;
  createdAt: string;
  trainImages: number;
  valImages: number;
  miou: number | null;
}

/** Trained models (origin "trained") in the order they were trained; uploaded ones have no training record. */
export function learningCurve(models: ReadonlyArray<Pick<TrainedModel, "id" | "name" | "origin" | "created_at" | "training">>): CurvePoint[] {
  return models
    .filter((m) => m.origin === "trained")
    .map((m) => {
      const t = (m.training ?? {}) as TrainingRecord;
      return { id: m.id, name: m.name, createdAt: m.created_at, trainImages: t.train_image_ids?.length ?? 0,
        valImages: t.val?.images ?? t.val_image_ids?.length ?? 0, miou: t.val?.miou ?? null };
    })
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id - b.id);
}

const FIGURE_CHROME = 2 * 12 + 2; // a .chart-figure's padding and border

/** The card. Its chart is drawn at the width the card gets, like the dashboard's, and again when that changes. */
export function learningCurveSection(projectId: number, signal: AbortSignal): HTMLElement {
  const body = h("div", { class: "learning-curve", testid: "learning-curve" }, h("p", { class: "muted" }, "Loading the models…"));
  let points: CurvePoint[] | null = null;
  let width = 0;
  const draw = () => {
    if (!points) return;
    if (!points.length) {
      replaceChildren(body, h("p", { class: "muted" }, "No trained model yet: train one from the approved labels on the Models tab."));
      return;
    }
    const measured = points.filter((p) => p.miou !== null);
    const chart = lineChart(measured.map((p) => ({ x: p.trainImages, y: p.miou!, title: `${p.name}: mIoU ${p.miou!.toFixed(3)} on ${p.valImages} validation image(s)` })),
      { title: "Validation mIoU against approved images trained on", xLabel: "approved images trained on", yLabel: "val mIoU", width: Math.max(240, width), yMax: 1, color: "#2e9d58" });
    const table = h("table", { class: "table compact", testid: "learning-curve-models" },
      h("thead", null, h("tr", null, ["Model", "Trained", "Images trained on", "Val mIoU"].map((t) => h("th", null, t)))),
      h("tbody", null, [...points].reverse().map((p) => h("tr", { testid: "learning-curve-model", "data-model-id": p.id },
        h("td", null, p.name),
        h("td", null, h("time", { datetime: p.createdAt }, new Date(p.createdAt).toLocaleString())),
        h("td", { class: "num" }, String(p.trainImages)),
        h("td", { class: "num", title: `${p.valImages} validation image(s)` }, p.miou === null ? "—" : p.miou.toFixed(3))))));
    replaceChildren(body, chart, table);
  };
  listModels(projectId).then((models) => {
    points = learningCurve(models);
    draw();
  }, (err) => {
    const message = errorMessage(err);
    if (message && !signal.aborted) replaceChildren(body, h("p", { class: "field-error" }, `Could not load the models: ${message}`));
  });
  const resize = new ResizeObserver(() => {
    const available = Math.floor(body.clientWidth) - FIGURE_CHROME;
    if (available <= 0 || Math.abs(available - width) < 24) return;
    width = available;
    draw();
  });
  resize.observe(body);
  signal.addEventListener("abort", () => resize.disconnect());
  const el = h("section", { class: "card card-pad", testid: "models-card" },
    h("h2", null, "Models"),
    h("p", { class: "muted" }, "The models trained on the approved labels, and the learning curve: each point is one training, its mIoU measured on that training's own validation split (so points are not on one common test set)."),
    body);
  return el;
}
