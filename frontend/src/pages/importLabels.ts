// The Upload tab's "Import labels" card (managers): send a label file (COCO instances or panoptic, mask PNGs,
// Pascal VOC) in one of the server's import formats, follow the import job, then show what it did and every
// problem it found. Imported annotations become pre-labels an annotator starts from; a file with errors applies
// nothing unless "Skip invalid items" is on (then every valid item is applied and the rest listed), and a dry run
// only checks the file. Formats that read mask PNGs take a void value: a pixel value that means no label.
import { listImports, startImport, type ImportFormat, type Job } from "../api/client";
import { followJob } from "../api/jobs";
import { field, h, replaceChildren } from "../ui/dom";
import { percent, plural } from "../ui/format";
import { errorMessage } from "../ui/session";
import { badge, jobStatusBadge, errorBox, progressBar, spinner } from "../ui/widgets";

export interface ImportProblem { severity: "error" | "warning"; code: string; where: string; message: string }

/** An import job's result, on success and on failure alike (a failed import applied nothing). */
export interface ImportResult {
  format: string;
  dry_run: boolean;
  skip_invalid?: boolean; // absent in jobs from before the option
  applied: boolean;
  images: number;
  segments: number;
  errors: number;
  warnings: number;
  problems: ImportProblem[];
  problems_left_off: number;
}

type ImportJob = Pick<Job, "status" | "error" | "result" | "params">;

/** The job's result when it has one (a queued job, or one that crashed before checking, has none). */
export function importResult(job: Pick<Job, "result">): ImportResult | null {
  const result = job.result as Partial<ImportResult> | null | undefined;
  return result && typeof result === "object" && Array.isArray(result.problems) ? (result as ImportResult) : null;
}

/** "2 errors, 1 warning", or "" when there were no problems. */
export function problemCounts(result: Pick<ImportResult, "errors" | "warnings">): string {
  return [result.errors ? plural(result.errors, "error") : "", result.warnings ? plural(result.warnings, "warning") : ""]
    .filter(Boolean).join(", ");
}

interface ImportParams { format?: string; dry_run?: boolean; skip_invalid?: boolean; void_value?: number | null; file_name?: string }
const paramsOf = (job: Pick<Job, "params">) => (job.params ?? {}) as ImportParams;
const isDryRun = (job: ImportJob, result: ImportResult | null) => result?.dry_run ?? paramsOf(job).dry_run ?? false;

/** One line saying what a finished (or running) import did. */
export function importSummary(job: ImportJob): string {
  const result = importResult(job);
  const counts = result ? problemCounts(result) : "";
  const withCounts = (text: string) => (counts ? `${text} (${counts})` : text);
  const what = result ? `${plural(result.images, "image")}, ${plural(result.segments, "segment")}` : "";
  const skipped = result?.errors ? ", skipping the invalid items" : ""; // errors in a success: skip_invalid left them out
  switch (job.status) {
    case "succeeded":
      if (isDryRun(job, result) || result?.applied === false) return withCounts(`Checked: nothing applied${what ? `; ${what} would be imported as pre-labels${skipped}` : ""}`);
      return withCounts(`Imported ${what || "the labels"} as pre-labels${skipped}`);
    case "failed":
      return withCounts(`Import failed: nothing was applied${result ? "" : job.error ? ` (${job.error})` : ""}`);
    case "cancelled":
      return "Import cancelled";
    case "queued":
      return "Waiting for a worker…";
    default:
      return isDryRun(job, result) ? "Checking…" : "Importing…";
  }
}

/** A void value as typed: null when empty, a whole number from 1 to 65535, or an error to show. */
export function parseVoidValue(text: string): { value: number | null; error: string | null } {
  const trimmed = text.trim();
  if (!trimmed) return { value: null, error: null };
  const value = Number(trimmed);
  if (!/^[0-9]+$/.test(trimmed) || value < 1 || value > 65535) return { value: null, error: "A whole number from 1 to 65535 (0 is unlabelled already)." };
  return { value, error: null };
}

/** What a job was asked beside its format: " · dry run · skip invalid · void 255". */
export function importOptionsNote(job: Pick<Job, "params">, result: ImportResult | null): string {
  const params = paramsOf(job);
  return [isDryRun(job as ImportJob, result) ? "dry run" : "", params.skip_invalid ? "skip invalid" : "",
    params.void_value != null ? `void ${params.void_value}` : ""].filter(Boolean).map((s) => ` · ${s}`).join("");
}

/** The file-input `accept` list from a format's hint (".json or .zip" → ".json,.zip"). */
export const acceptList = (accepts: string): string => (accepts.match(/\.[a-z0-9]+/gi) ?? []).join(",");

export function problemsTable(result: ImportResult): HTMLElement {
  if (!result.problems.length) return h("p", { class: "muted", testid: "import-no-problems" }, "No problems.");
  return h("div", { class: "import-problems" },
    h("table", { class: "table compact", testid: "import-problems" },
      h("thead", null, h("tr", null, h("th", null, "Severity"), h("th", null, "Where"), h("th", null, "Message"))),
      h("tbody", null, result.problems.map((p) =>
        h("tr", { testid: "import-problem", "data-severity": p.severity },
          h("td", null, badge(p.severity, `severity-${p.severity}`)),
          h("td", { class: "file-name" }, p.where),
          h("td", { title: p.code }, p.message))))),
    result.problems_left_off
      ? h("p", { class: "muted", testid: "import-problems-left-off" }, `… and ${plural(result.problems_left_off, "more problem")} not listed`)
      : null);
}

/** The card; `signal` (the page's) stops following the job when the page is left. */
export function importLabelsCard(projectId: number, signal: AbortSignal): HTMLElement {
  const error = errorBox("import-error");
  const format = h("select", { testid: "import-format" });
  const formatField = field("Format", format, { hint: " " });
  const hint = formatField.wrap.querySelector<HTMLElement>(".field-hint")!; // "Accepts …", set per format
  const file = h("input", { type: "file", id: "import-file", testid: "import-file" });
  const dryRun = h("input", { type: "checkbox", testid: "import-dry-run" });
  const skipInvalid = h("input", { type: "checkbox", testid: "import-skip-invalid" });
  const voidValue = h("input", { type: "text", inputmode: "numeric", placeholder: "none", style: "width: 8em", testid: "import-void-value" });
  const voidField = field("Void value", voidValue, { hint: " ", class: "import-void" });
  const voidHint = voidField.wrap.querySelector<HTMLElement>(".field-hint")!;
  const start = h("button", { type: "button", class: "btn btn-primary", testid: "import-start", disabled: true }, "Import");
  const bar = progressBar("Import", "import-progress");
  bar.el.hidden = true;
  const outcome = h("div", { class: "import-outcome", testid: "import-outcome" });
  const list = h("ul", { class: "export-list", testid: "import-jobs" }, h("li", null, spinner()));
  let formats: ImportFormat[] = [];
  let busy = false;

  const sync = () => {
    const chosen = formats.find((f) => f.name === format.value);
    hint.textContent = chosen ? `Accepts ${chosen.accepts}` : "";
    file.accept = chosen ? acceptList(chosen.accepts) : "";
    voidField.wrap.hidden = !chosen?.takes_void_value;
    voidHint.textContent = chosen?.name === "pascal_voc"
      ? "Another mask value that means no label (VOC's 255 always does)"
      : "A mask value that means no label, e.g. 255 (VOC's boundary)";
    const invalid = !voidField.wrap.hidden && parseVoidValue(voidValue.value).error;
    voidField.setError(invalid || null);
    start.disabled = busy || !chosen || !file.files?.length || Boolean(invalid);
  };
  format.addEventListener("change", sync);
  file.addEventListener("change", sync);
  voidValue.addEventListener("input", sync);

  const showOutcome = (job: Job) => {
    const result = importResult(job);
    const variant = job.status === "failed" ? "field-error" : "";
    replaceChildren(outcome,
      h("p", { class: `import-summary ${variant}`, testid: "import-summary", "data-status": job.status }, importSummary(job)),
      result ? problemsTable(result) : null);
  };

  const row = (job: Job) => {
    const result = importResult(job);
    const params = paramsOf(job);
    return h("li", { class: "export-item", testid: "import-job", "data-status": job.status },
      jobStatusBadge(job.status),
      ` ${params.format ?? result?.format ?? "?"}${params.file_name ? ` · ${params.file_name}` : ""}${importOptionsNote(job, result)}`
        + ` · ${new Date(job.created_at).toLocaleString()} · ${importSummary(job)} `,
      result?.problems.length
        ? h("button", { type: "button", class: "btn btn-sm btn-ghost", testid: "import-job-problems", onclick: () => showOutcome(job) }, "Problems")
        : null);
  };

  const refresh = async () => {
    const data = await listImports(projectId);
    if (signal.aborted) return;
    if (!formats.length) {
      formats = data.formats;
      replaceChildren(format, formats.map((f) => h("option", { value: f.name }, f.title)));
      sync();
    }
    replaceChildren(list, data.jobs.length ? data.jobs.map(row) : h("li", { class: "muted" }, "No imports yet."));
  };

  start.addEventListener("click", async () => {
    const chosen = file.files?.[0];
    if (busy || !chosen) return;
    busy = true;
    sync();
    error.show(null);
    replaceChildren(outcome);
    bar.el.hidden = false;
    bar.set(0, "Uploading 0%");
    try {
      const voidChosen = voidField.wrap.hidden ? null : parseVoidValue(voidValue.value).value;
      const job = await startImport(projectId,
        { format: format.value, file: chosen, dry_run: dryRun.checked, skip_invalid: skipInvalid.checked, void_value: voidChosen },
        (fraction) => bar.set(fraction, `Uploading ${percent(fraction)}`));
      const done = await followJob(job, (j) => {
        bar.set(j.progress ?? 0, j.status === "queued" ? "Waiting for a worker…" : undefined);
        showOutcome(j);
      }, { signal });
      if (importResult(done)?.applied) file.value = ""; // after a check or a failure the same file is still chosen
      await refresh();
    } catch (err) {
      const message = errorMessage(err);
      if (message && !signal.aborted) error.show(message);
    } finally {
      busy = false;
      bar.el.hidden = true;
      sync();
    }
  });

  refresh().catch((err) => {
    const message = errorMessage(err);
    if (message && !signal.aborted) error.show(message);
    replaceChildren(list);
  });

  return h("section", { class: "card card-pad import-card", "aria-labelledby": "import-title", testid: "import-card" },
    h("h2", { id: "import-title" }, "Import labels"),
    h("p", { class: "muted" },
      "Labels from another tool become pre-labels: an annotator who opens an image starts from them. A file with errors imports nothing unless you skip invalid items; check only to see its problems first."),
    h("div", { class: "import-form" },
      formatField.wrap,
      h("div", { class: "field" }, h("label", { for: "import-file" }, "Label file"), file),
      voidField.wrap,
      h("label", { class: "tool-option inline", title: "Apply every valid annotation, PNG or class and list the rest; off, any error applies nothing" },
        skipInvalid, " Skip invalid items"),
      h("label", { class: "tool-option inline" }, dryRun, " Check only (dry run)")),
    error.el,
    h("div", { class: "form-footer" }, start),
    bar.el,
    outcome,
    h("h3", { class: "import-jobs-title" }, "Recent imports"),
    list);
}
