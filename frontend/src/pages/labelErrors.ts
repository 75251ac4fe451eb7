// The dashboard's "Possible label errors" card (issue 17 item 5): managers and reviewers check the approved labels
// with the best trained model (a job on a GPU worker), then review the images where the confident model disagrees
// most with an approved segment. Each row opens the image in review mode, so the list is a review queue.
import { isFinished, followJob } from "../api/jobs";
import { allowedMethods, listJobs, thumbnailUrl, type Job } from "../api/client";
import { labelCheckUrl, listLabelErrors, startLabelCheck, type LabelCheckResult, type LabelError, type LabelErrorSegment } from "../api/labelErrors";
import { h, replaceChildren } from "../ui/dom";
import { errorMessage } from "../ui/session";
import { progressBar } from "../ui/widgets";

const JOB_POLL_MS = 1000;
// Images whose worst segment disagrees less than this (IoU above 0.7) are not worth a second look.
export const MIN_SCORE = 0.3;
const LIMIT = 20;

/** "car #2 — IoU 0.31" (a stuff segment has no instance number). */
export function segmentText(segment: Pick<LabelErrorSegment, "class_name" | "instance" | "iou">): string {
  const name = segment.class_name || "a deleted class";
  return `${name}${segment.instance == null ? "" : ` #${segment.instance}`} — IoU ${segment.iou.toFixed(2)}`;
}

/** The job's status line. */
export function checkStatus(job: Pick<Job, "status" | "error"> & { result?: unknown }): string {
  const result = (job.result ?? {}) as LabelCheckResult;
  switch (job.status) {
    case "succeeded":
      return `Checked ${result.checked ?? 0} approved image(s) with ${result.model_name ?? "the model"}${result.failed ? `; ${result.failed} could not be read` : ""}.`;
    case "failed": return `Failed: ${job.error || "unknown error"}`;
    case "cancelled": return "Cancelled.";
    case "queued": return "Waiting for a GPU worker…";
    default: return "Checking the approved labels…";
  }
}

function row(item: LabelError): HTMLElement {
  const href = `/app/images/${item.image_id}?review=1`;
  const [worst, ...rest] = item.segments;
  return h("li", { class: "label-error", testid: "label-error", "data-image-id": item.image_id },
    h("a", { href, class: "label-error-thumb", "aria-hidden": "true", tabindex: "-1" },
      h("img", { src: thumbnailUrl(item.image_id), alt: "", loading: "lazy", decoding: "async" })),
    h("div", { class: "label-error-text" },
      h("a", { href, class: "strong-link", testid: "label-error-link" }, item.name),
      worst ? h("div", { testid: "label-error-segment" }, segmentText(worst)) : null,
      rest.length ? h("div", { class: "muted" }, rest.filter((s) => s.disagreement >= MIN_SCORE).map(segmentText).join("; ")) : null),
    h("a", { href, class: "btn" }, "Review"));
}

export function labelErrorsSection(projectId: number, signal: AbortSignal): HTMLElement {
  const list = h("div", { testid: "label-errors" }, h("p", { class: "muted" }, "Loading…"));
  const start = h("button", { type: "button", class: "btn btn-primary", testid: "label-check-start", hidden: true },
    "Check approved labels with the best model");
  const bar = progressBar("Checking", "label-check-progress");
  const line = h("p", { class: "muted", testid: "label-check-status" });
  const job = h("div", { class: "job", testid: "label-check-job", hidden: true }, bar.el, line);

  const load = () => listLabelErrors(projectId, LIMIT, MIN_SCORE).then((items) => {
    if (signal.aborted) return;
    replaceChildren(list, items.length
      ? h("ul", { class: "label-errors" }, items.map(row))
      : h("p", { class: "muted" }, "No approved image is flagged: run a check after training a model, or the model agrees with the approved labels."));
  }, (err) => {
    if (!signal.aborted) replaceChildren(list, h("p", { class: "field-error" }, `Could not load the list: ${errorMessage(err) ?? ""}`));
  });

  const follow = (initial: Job) => {
    start.disabled = true;
    job.hidden = false;
    const show = (current: Job) => {
      bar.set(current.progress ?? 0);
      job.dataset.status = current.status;
      line.textContent = checkStatus(current);
    };
    followJob(initial, show, { signal, intervalMs: JOB_POLL_MS, maxIntervalMs: JOB_POLL_MS })
      .then((finished) => {
        start.disabled = false;
        if (finished.status === "succeeded") void load();
      })
      .catch((err) => {
        start.disabled = false;
        if (!signal.aborted) line.textContent = `Could not follow the job: ${errorMessage(err) ?? ""}`;
      });
  };
  start.addEventListener("click", async () => {
    start.disabled = true;
    try {
      follow((await startLabelCheck(projectId)).job);
    } catch (err) {
      start.disabled = false;
      job.hidden = false;
      line.textContent = errorMessage(err) ?? "Could not start the check.";
    }
  });
  // The server says whether this user may start a check (its scope), as for every other action.
  allowedMethods(labelCheckUrl(projectId)).then((methods) => { start.hidden = !methods.includes("POST"); }, () => {});
  listJobs(projectId).then((page) => {
    const active = page.results.find((j) => j.kind === "label_check" && !isFinished(j));
    if (active && !signal.aborted) follow(active);
  }, () => { /* the button still works */ });
  void load();

  return h("section", { class: "card card-pad", testid: "label-errors-card" },
    h("h2", null, "Possible label errors"),
    h("p", { class: "muted" }, "A trained model predicts every approved image; where it is confident (top class probability at least 0.8) and its prediction of a segment's class overlaps the approved segment poorly (low IoU), the image is listed here, worst first, for a second review."),
    h("div", { class: "form-footer" }, start),
    job,
    list);
}
