// /app/projects/:id/dashboard (managers and reviewers): progress by state over time, class balance, throughput
// and rejection rate per annotator, the distributions of consensus agreement and gold scores, and evaluations
// of annotation sets against the approved labels.
import { getDashboard } from "../api/client";
import type { PageContext } from "../ui/app";
import { h, replaceChildren } from "../ui/dom";
import { STATE_LABELS, percent } from "../ui/format";
import { bars, histogram, stackedArea } from "../ui/charts";
import { loadSection } from "../ui/session";
import { emptyState, errorBox, spinner } from "../ui/widgets";
import { evaluationSection } from "./evaluation";
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
  const progress = stackedArea(data.progress.days, STATE_ORDER.map((s) => ({
    name: STATE_LABELS[s] ?? s, color: STATE_COLORS[s], values: data.progress.states[s] ?? [],
  })), { title: "Images by state, per day" });
  const classes = h("div", { class: "chart-row" },
    bars(data.classes.map((c) => ({ label: c.name, value: c.approved_pixels, color: c.color })), { title: "Approved pixels per class", width: 420 }),
    bars(data.classes.map((c) => ({ label: c.name, value: c.approved_segments, color: c.color, text: `${c.approved_segments} (${c.all_segments} in all work)` })),
      { title: "Approved segments per class (instances for things)", width: 420 }));
  const people = data.annotators;
  const palette = ["#3b6fd8", "#2e9d58", "#d64545", "#f0a432", "#8a63d2", "#17a2b8", "#c08a1e", "#6b7280"];
  const perDay = stackedArea(data.progress.days, people.map((p, i) => ({
    name: p.username, color: palette[i % palette.length], values: data.progress.days.map((d) => p.per_day[d] ?? 0),
  })), { title: "Throughput: submissions per day, per annotator" });
  const throughput = h("div", { class: "chart-row" },
    bars(people.map((p) => ({ label: p.username, value: p.submissions })), { title: "Submissions per annotator", width: 420 }),
    bars(people.map((p) => ({ label: p.username, value: p.rejection_rate ?? 0, color: "#d64545",
      text: p.rejection_rate === null ? "no decisions yet" : `${percent(p.rejection_rate)} of ${p.approved + p.rejected}` })),
    { title: "Rejection rate per annotator", width: 420, max: 1 }));
  const scores = h("div", { class: "chart-row" },
    histogram(data.agreement.histogram, { title: `Consensus agreement (${data.agreement.count} images${data.agreement.mean !== null ? `, mean ${data.agreement.mean.toFixed(2)}` : ""})` }),
    histogram(data.gold.histogram, { title: `Gold scores (${data.gold.count} tasks${data.gold.mean !== null ? `, mean ${data.gold.mean.toFixed(2)}` : ""})`, color: "#c08a1e" }),
    bars(people.filter((p) => p.gold_score !== null).map((p) => ({ label: p.username, value: p.gold_score!, color: "#c08a1e", text: `${p.gold_score!.toFixed(2)} over ${p.gold_tasks}` })),
      { title: "Quality score per annotator (gold)", width: 420, max: 1 }));
  replaceChildren(body, summary, progress, classes, perDay, throughput, scores, evaluationSection(project.id, ctx.signal));
}
