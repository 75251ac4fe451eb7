// /app/projects/:id/upload: choose or drop images and ZIPs, upload with a progress bar, show each file's
// result, then follow the processing job ("Building display tiles") until it ends. Below, the "Import labels"
// card (pages/importLabels.ts) brings in labels from another tool as pre-labels.
import { ApiError, uploadImages, type Job, type UploadResponse } from "../api/client";
import { followJob } from "../api/jobs";
import type { PageContext } from "../ui/app";
import { h, replaceChildren } from "../ui/dom";
import { formatBytes, plural } from "../ui/format";
import { errorMessage } from "../ui/session";
import { toast } from "../ui/toast";
import { badge, emptyState, errorBox, progressBar } from "../ui/widgets";
import { importLabelsCard } from "./importLabels";
import { isManager, projectPage, projectUrl } from "./projectShell";

const ACCEPT = "image/jpeg,image/png,image/tiff,image/webp,image/bmp,.jpg,.jpeg,.png,.tif,.tiff,.webp,.bmp,.zip,application/zip";
const LISTED_FILES = 50; // longer selections show a count instead of every name
const JOB_POLL_MS = 1000;

export async function uploadPage(ctx: PageContext): Promise<void> {
  const project = await projectPage(ctx, "upload", "Upload");
  if (!project) return;
  if (!isManager(project)) {
    ctx.el.append(emptyState("Only managers can upload images.", h("a", { href: projectUrl(project.id) }, "Back to the images")));
    return;
  }

  let files: File[] = [];
  let uploading = false;

  const input = h("input", { type: "file", multiple: true, accept: ACCEPT, class: "sr-only", id: "upload-input", testid: "upload-input" });
  const choose = h("button", { type: "button", class: "btn", testid: "upload-choose" }, "Choose files…");
  choose.addEventListener("click", () => input.click());
  const zone = h(
    "div",
    { class: "dropzone", testid: "upload-dropzone" },
    h("div", { class: "dropzone-icon", "aria-hidden": "true" }, "⬆"),
    h("p", { class: "dropzone-title" }, "Drop images or ZIP archives here"),
    h("p", { class: "muted" }, "JPEG, PNG, TIFF, WebP, BMP, or ZIPs of them. Duplicates are detected and skipped."),
    h("label", { for: "upload-input", class: "sr-only" }, "Images or ZIP archives"),
    input,
    choose,
  );

  const selection = h("div", { class: "selection", testid: "upload-selection" });
  const start = h("button", { type: "button", class: "btn btn-primary", testid: "upload-submit", disabled: true }, "Upload");
  const clear = h("button", { type: "button", class: "btn btn-ghost", testid: "upload-clear", hidden: true }, "Clear");
  const error = errorBox("upload-error");
  const progress = progressBar("Uploading", "upload-progress");
  progress.el.hidden = true;
  const results = h("div", { class: "upload-results", testid: "upload-results" });

  const setFiles = (next: File[]) => {
    files = next;
    const total = files.reduce((sum, f) => sum + f.size, 0);
    start.disabled = files.length === 0 || uploading;
    start.textContent = files.length ? `Upload ${plural(files.length, "file")} (${formatBytes(total)})` : "Upload";
    clear.hidden = files.length === 0 || uploading;
    replaceChildren(
      selection,
      files.length
        ? h(
            "ul",
            { class: "file-list", "aria-label": "Selected files" },
            files.slice(0, LISTED_FILES).map((f) => h("li", null, h("span", { class: "file-name" }, f.name), h("span", { class: "muted" }, formatBytes(f.size)))),
            files.length > LISTED_FILES ? h("li", { class: "muted" }, `… and ${files.length - LISTED_FILES} more`) : null,
          )
        : null,
    );
  };

  input.addEventListener("change", () => {
    setFiles([...files, ...Array.from(input.files ?? [])]);
    input.value = ""; // choosing the same file again still fires "change"
  });
  clear.addEventListener("click", () => setFiles([]));
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("is-over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.remove("is-over");
    });
  }
  zone.addEventListener("drop", (event) => {
    if (!uploading) setFiles([...files, ...Array.from((event as DragEvent).dataTransfer?.files ?? [])]);
  });

  start.addEventListener("click", async () => {
    if (!files.length || uploading) return;
    uploading = true;
    start.disabled = true;
    clear.hidden = true;
    choose.disabled = true;
    error.show(null);
    replaceChildren(results);
    progress.el.hidden = false;
    progress.set(0);
    const batch = files;
    try {
      const response = await uploadImages(project.id, batch, (fraction) => progress.set(fraction));
      if (ctx.signal.aborted) return;
      progress.set(1, "Done");
      setFiles([]);
      showResults(response);
      if (response.job) showJob(response.job);
    } catch (err) {
      if (ctx.signal.aborted) return;
      progress.el.hidden = true;
      error.show(errorMessage(err));
      // Nothing stored (every file refused, or the server's disk is full): the answer still says why, per file.
      const refused = refusedResults(err);
      if (refused) showResults(refused);
    } finally {
      uploading = false;
      choose.disabled = false;
      setFiles(files);
    }
  });

  /** The per-file results of a refused upload (422 nothing_accepted, 507 insufficient_storage), if any. */
  function refusedResults(err: unknown): UploadResponse | null {
    if (!(err instanceof ApiError) || !Array.isArray(err.extra.results)) return null;
    const list = err.extra.results as UploadResponse["results"];
    const count = (status: string) => list.filter((r) => r.status === status).length;
    return { accepted: 0, rejected: count("rejected"), duplicates: count("duplicate"), results: list, job: null,
      processing_delayed: false, message: "" };
  }

  function showResults(response: UploadResponse): void {
    const counts = h(
      "div",
      { class: "result-counts", testid: "upload-summary" },
      h("span", { class: "count count-ok", testid: "upload-count-accepted" }, `${response.accepted} accepted`),
      h("span", { class: "count count-bad", testid: "upload-count-rejected" }, `${response.rejected} rejected`),
      h("span", { class: "count count-dup", testid: "upload-count-duplicates" }, `${response.duplicates} duplicates`),
      h("a", { class: "btn btn-sm", href: projectUrl(project!.id), testid: "upload-grid-link" }, "Open the image grid →"),
    );
    const variants: Record<string, string> = { accepted: "approved", rejected: "rejected", duplicate: "new" };
    const table = h(
      "table",
      { class: "table", testid: "upload-result-table" },
      h("thead", null, h("tr", null, h("th", null, "File"), h("th", null, "Result"), h("th", null, "Details"))),
      h(
        "tbody",
        null,
        response.results.map((result) =>
          h(
            "tr",
            { testid: "upload-result", "data-status": result.status },
            h("td", { class: "file-name" }, result.name),
            h("td", null, badge(result.status, variants[result.status] ?? "new")),
            h("td", { class: result.status === "accepted" ? "muted" : "" }, result.status === "accepted" ? "" : result.message),
          ),
        ),
      ),
    );
    replaceChildren(results, h("section", { class: "card", "aria-labelledby": "results-title" }, h("div", { class: "card-title-row" }, h("h2", { id: "results-title", class: "card-title" }, "Results"), counts), table));
    toast(`${response.accepted} of ${response.results.length} files accepted`, response.accepted ? "success" : "info");
  }

  function showJob(initial: Job): void {
    const bar = progressBar("Building display tiles", "job-progress");
    const status = h("p", { class: "muted", testid: "job-status" });
    const section = h("section", { class: "card card-pad job", testid: "job" }, bar.el, status);
    results.prepend(section);
    const show = (job: Job) => {
      bar.set(job.progress ?? 0);
      status.textContent =
        job.status === "succeeded" ? "Display tiles are ready." :
        job.status === "failed" ? `Processing failed: ${job.error || "unknown error"}` :
        job.status === "cancelled" ? "Processing was cancelled." :
        job.status === "queued" && !job.dispatched_at
          ? "The images are stored. The task queue is unreachable right now; processing starts by itself when it is back."
          : job.status === "queued" ? "Waiting for a worker…" : "Working…";
      section.dataset.status = job.status;
    };
    followJob(initial, show, { signal: ctx.signal, intervalMs: JOB_POLL_MS, maxIntervalMs: JOB_POLL_MS }).catch((err) => {
      if (ctx.signal.aborted) return;
      const message = errorMessage(err);
      if (message) status.textContent = `Could not follow the job: ${message}`;
    });
  }

  ctx.el.append(
    h(
      "section",
      { class: "card card-pad upload-card", "aria-labelledby": "upload-title" },
      h("h2", { id: "upload-title" }, "Upload images"),
      zone,
      selection,
      error.el,
      h("div", { class: "form-footer" }, start, clear),
      progress.el,
    ),
    results,
    importLabelsCard(project.id, ctx.signal),
  );
}
