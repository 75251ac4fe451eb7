// /app/projects/:id/jobs: the project's long work (upload processing, superpixels, embeddings, pre-labels…)
// with a progress bar each, its error when it failed, and Cancel for active jobs the user may cancel
// (managers, and whoever started the job). Polls while any job is active. Managers can ask for missing
// derived data again ("Reprocess missing"), e.g. after a worker or disk failure the sweep gave up on.
import { ApiError, cancelJob, listJobs, reprocessProject, type Job } from "../api/client";
import type { PageContext } from "../ui/app";
import { h, replaceChildren, srOnly } from "../ui/dom";
import { formatDate } from "../ui/format";
import { errorMessage } from "../ui/session";
import { toast } from "../ui/toast";
import { jobStatusBadge, emptyState, errorBox, progressBar } from "../ui/widgets";
import { isManager, projectPage } from "./projectShell";

const POLL_MS = 1500;
const ACTIVE: readonly Job["status"][] = ["queued", "running"];

/** What each job kind does, in the words of the UI (unknown kinds show their name). */
export const JOB_KIND_LABELS: Record<string, string> = {
  process_uploads: "Upload processing",
  superpixels: "Superpixels",
  embeddings: "SAM embeddings",
  proposals: "Segment everything",
  prelabel: "Pre-labels",
  delete_files: "File cleanup",
  label_check: "Label check",
};

/** Where a job stands beyond its status: not yet handed to the task queue, resumed, which worker runs it. */
export function jobNote(job: Job): string {
  if (job.status === "queued" && !job.dispatched_at) return "waiting for the task queue (sent when it is reachable)";
  if (job.status === "running" && job.worker) return `on ${job.worker}`;
  return "";
}

function jobSummary(job: Job): string {
  const params = (job.params ?? {}) as { image_ids?: unknown[] };
  const images = Array.isArray(params.image_ids) ? params.image_ids.length : 0;
  return images ? `${images} ${images === 1 ? "image" : "images"}` : "";
}

export async function jobsPage(ctx: PageContext): Promise<void> {
  const id = Number(ctx.params.id);
  const [project, first] = await Promise.all([projectPage(ctx, "jobs", "Jobs"), listJobs(id)]);
  if (!project || ctx.signal.aborted) return;
  const manager = isManager(project);
  const error = errorBox("jobs-error");
  const body = h("tbody");
  const count = h("span", { class: "muted", testid: "jobs-count" });
  const listing = h("div");
  let jobs = first.results;
  let total = first.count;
  let timer: number | undefined;
  ctx.onLeave(() => window.clearTimeout(timer));

  const mayCancel = (job: Job) => manager || (ctx.user !== null && job.created_by === ctx.user.id);

  const row = (job: Job): HTMLElement => {
    const bar = progressBar(JOB_KIND_LABELS[job.kind] ?? job.kind, "job-row-progress");
    bar.set(job.progress ?? 0);
    const active = ACTIVE.includes(job.status);
    const cancel = active && mayCancel(job)
      ? h("button", {
        class: "btn btn-sm", testid: "job-cancel",
        onclick: async (e: Event) => {
          (e.target as HTMLButtonElement).disabled = true;
          try {
            const updated = await cancelJob(job.id);
            jobs = jobs.map((j) => (j.id === updated.id ? updated : j));
            render();
          } catch (err) {
            // Finished meanwhile: the next refresh shows how it ended.
            if (!(err instanceof ApiError && err.code === "job_finished")) toast(errorMessage(err) ?? "Cancel failed", "error");
            void refresh();
          }
        },
      }, "Cancel")
      : null;
    return h("tr", { class: "job", testid: "job-row", "data-status": job.status, "data-kind": job.kind, "data-job-id": job.id },
      h("td", { class: "job-progress-cell" }, bar.el,
        jobSummary(job) ? h("small", { class: "muted" }, jobSummary(job)) : null),
      h("td", null, jobStatusBadge(job.status, "job-status"),
        job.attempts > 1 ? h("small", { class: "muted", title: "a worker stopped and another resumed the job" }, ` attempt ${job.attempts}`) : null,
        jobNote(job) ? h("div", { class: "muted small", testid: "job-note" }, jobNote(job)) : null),
      h("td", { class: "muted" }, formatDate(job.created_at)),
      h("td", { class: "job-error", testid: "job-error" }, job.error || ""),
      h("td", null, cancel));
  };

  const render = () => {
    count.textContent = total > jobs.length ? `latest ${jobs.length} of ${total}` : `${total} ${total === 1 ? "job" : "jobs"}`;
    if (!jobs.length) {
      replaceChildren(listing, emptyState("No jobs yet", h("p", { class: "muted" },
        "Uploads, superpixels, embeddings and pre-labels run as jobs on the workers; they appear here with their progress.")));
      return;
    }
    replaceChildren(body, jobs.map(row));
    replaceChildren(listing, h("table", { class: "table", testid: "job-table" },
      h("thead", null, h("tr", null, h("th", null, "Job"), h("th", null, "Status"), h("th", null, "Created"),
        h("th", null, "Error"), h("th", null, srOnly("Actions")))),
      body));
  };

  const schedule = () => {
    window.clearTimeout(timer);
    if (jobs.some((j) => ACTIVE.includes(j.status))) timer = window.setTimeout(() => void refresh(), POLL_MS);
  };

  async function refresh(): Promise<void> {
    try {
      const page = await listJobs(id);
      if (ctx.signal.aborted) return;
      jobs = page.results;
      total = page.count;
      error.show(null);
      render();
    } catch (err) {
      if (ctx.signal.aborted) return;
      error.show(`Could not refresh the jobs: ${errorMessage(err) ?? "unknown error"}`);
    }
    schedule();
  }

  const reprocess = manager
    ? h("button", {
      class: "btn btn-sm", testid: "jobs-reprocess",
      title: "Build the thumbnails, display tiles and superpixels that images lack (failed, cancelled or lost processing)",
      onclick: async (e: Event) => {
        const button = e.currentTarget as HTMLButtonElement;
        button.disabled = true;
        try {
          const started = await reprocessProject(id);
          toast(started.jobs.length ? "Reprocessing started" : "Every image has its derived data", "success");
          await refresh();
        } catch (err) {
          toast(errorMessage(err) ?? "Reprocess failed", "error");
        } finally {
          button.disabled = false;
        }
      },
    }, "Reprocess missing")
    : null;

  ctx.el.append(error.el, h("section", { class: "card", "aria-labelledby": "jobs-title" },
    h("div", { class: "card-title-row" }, h("h2", { id: "jobs-title", class: "card-title" }, "Jobs"), count, reprocess),
    listing));
  render();
  schedule();
}
