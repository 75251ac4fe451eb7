// /app/projects/:id/dashboard (managers and reviewers): progress by state over time, class balance, throughput
// and rejection rate per annotator, the distributions of consensus agreement and gold scores, and evaluations
// of annotation sets against the approved labels; the trained models and their learning curve (learningCurve.ts).
import { getDashboard, type Dashboard } from "../api/client";
import type { PageContext } from "../ui/app";
import { h, replaceChildren } from "../ui/dom";
import { STATE_LABELS, percent } from "../ui/format";
import { bars, histogram, stackedArea } from "../ui/charts";
import { loadSection } from "../ui/session";
import { emptyState, errorBox, spinner } from "../ui/widgets";
import { evaluationSection } from "./evaluation";
import { labelErrorsSection } from "./labelErrors";
import { learningCurveSection } from "./learningCurve";
import { projectPage } from "./projectShell";

const STATE_COLORS: Record<string, string> = {
  new: "#c3c9d4", in_progress: "#f0a432", submitted: "#8a63d2", approved: "#2e9d58", rejected: "#d64545",
};
const STATE_ORDER = ["approved", "submitted", "rejected", "in_progress", "new"];

export async function dashboardPage(ctx: PageContext): Promise<void> {
  const project = await projectPage(ctx, "dashboard", "Dashboard");
  if (!project) return;
  const body = h("div", { class: "dashboard", testid: "dashboard" }, spinner("Computing the dashboard…"));
  const error = errorBox("dashboard-error");
  ctx.el.append(error.el, body);
  const data = await loadSection(() => getDashboard(project.id), body, error.show, ctx.signal);
  if (!data) return;
  if (!data.images) {
    replaceChildren(body, emptyState("No images yet: the dashboard fills in as images are uploaded and labelled."));
    return;
  }
  const summary = h("div", { class: "dashboard-summary", testid: "dashboard-summary" },
    STATE_ORDER.map((s) => h("div", { class: "stat", "data-state": s },
      h("strong", null, String(data.states[s] ?? 0)), h("span", { class: "muted" }, STATE_LABELS[s] ?? s))));
  const charts = h("div", { class: "dashboard-charts", testid: "dashboard-charts" });
  replaceChildren(body, summary, charts, evaluationSection(project.id, ctx.signal));
  charts.after(learningCurveSection(project.id, ctx.signal));
  body.append(labelErrorsSection(project.id, ctx.signal));
  // Charts are drawn at the width they get (text keeps its size), and again when the page is resized.
  let drawnAt = 0;
  const draw = () => {
    const width = Math.floor(charts.clientWidth);
    if (!width || Math.abs(width - drawnAt) < 24) return;
    drawnAt = width;
    replaceChildren(charts, ...dashboardCharts(data, width));
  };
  draw();
  const resize = new ResizeObserver(draw);
  resize.observe(charts);
  ctx.onLeave(() => resize.disconnect());
}

const GAP = 16; // .chart-row's gap
const FIGURE_CHROME = 2 * 12 + 2; // a .chart-figure's padding and border
const MIN_FIGURE = 360; // .chart-row > .chart-figure's flex-basis (border-box)

/**
 * The drawing width of each of `count` charts in a row `available` px wide, as the row lays them out: as many per line
 * as fit at MIN_FIGURE (it wraps the rest), each line shared equally among its charts.
 */
export function chartWidths(available: number, count: number): number[] {
  const perLine = Math.max(1, Math.min(count, Math.floor((available + GAP) / (MIN_FIGURE + GAP))));
  return Array.from({ length: count }, (_, i) => {
    const onLine = Math.min(perLine, count - Math.floor(i / perLine) * perLine);
    return Math.max(120, Math.floor((available - GAP * (onLine - 1)) / onLine - FIGURE_CHROME));
  });
}

function dashboardCharts(data: Dashboard, available: number): HTMLElement[] {
  const [full] = chartWidths(available, 1);
  const [left, right] = chartWidths(available, 2);
  const [first, second, third] = chartWidths(available, 3);
  const progress = stackedArea(data.progress.days, STATE_ORDER.map((s) => ({
    name: STATE_LABELS[s] ?? s, color: STATE_COLORS[s], values: data.progress.states[s] ?? [],
  })), { title: "Images by state, per day", width: full });
  const classes = h("div", { class: "chart-row" },
    bars(data.classes.map((c) => ({ label: c.name, value: c.approved_pixels, color: c.color })), { title: "Approved pixels per class", width: left }),
    bars(data.classes.map((c) => ({ label: c.name, value: c.approved_segments, color: c.color, text: `${c.approved_segments} (${c.all_segments} in all work)` })),
      { title: "Approved segments per class (instances for things)", width: right }));
  const people = data.annotators;
  const palette = ["#3b6fd8", "#2e9d58", "#d64545", "#f0a432", "#8a63d2", "#17a2b8", "#c08a1e", "#6b7280"];
  const perDay = stackedArea(data.progress.days, people.map((p, i) => ({
    name: p.username, color: palette[i % palette.length], values: data.progress.days.map((d) => p.per_day[d] ?? 0),
  })), { title: "Throughput: submissions per day, per annotator", width: full });
  const throughput = h("div", { class: "chart-row" },
    bars(people.map((p) => ({ label: p.username, value: p.submissions })), { title: "Submissions per annotator", width: left }),
    bars(people.map((p) => ({ label: p.username, value: p.rejection_rate ?? 0, color: "#d64545",
      text: p.rejection_rate === null ? "no decisions yet" : `${percent(p.rejection_rate)} of ${p.approved + p.rejected}` })),
    { title: "Rejection rate per annotator", width: right, max: 1 }));
  const scores = h("div", { class: "chart-row" },
    histogram(data.agreement.histogram, { title: `Consensus agreement (${data.agreement.count} images${data.agreement.mean !== null ? `, mean ${data.agreement.mean.toFixed(2)}` : ""})`, width: first }),
    histogram(data.gold.histogram, { title: `Gold scores (${data.gold.count} tasks${data.gold.mean !== null ? `, mean ${data.gold.mean.toFixed(2)}` : ""})`, color: "#c08a1e", width: second }),
    bars(people.filter((p) => p.gold_score !== null).map((p) => ({ label: p.username, value: p.gold_score!, color: "#c08a1e", text: `${p.gold_score!.toFixed(2)} over ${p.gold_tasks}` })),
      { title: "Quality score per annotator (gold)", width: third, max: 1 }));
  return [progress, classes, perDay, throughput, scores];
}
