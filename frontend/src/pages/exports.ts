// /app/projects/:id/exports (managers and reviewers): start an export of the approved set (or all work) in a
// format (with a split, polygons), follow its job, download the zip; earlier exports stay listed with their
// checksum, and managers freeze one as a dataset version (listed below them).
import { exportDownloadUrl, listClasses, listExports, startExport, type ExportInputRequest, type Job, type LabelClass } from "../api/client";
import { followJob } from "../api/jobs";
import type { PageContext } from "../ui/app";
import { field, h, replaceChildren } from "../ui/dom";
import { formatBytes, plural } from "../ui/format";
import { errorMessage, loadSection } from "../ui/session";
import { jobStatusBadge, errorBox, progressBar, spinner } from "../ui/widgets";
import { isManager, projectPage } from "./projectShell";
import { freezeButton, versionsSection } from "./versions";

/** The class filter to send: null (every class) when all are ticked, else the ticked ids in class order. */
export function chosenClassIds(classes: Pick<LabelClass, "id">[], ticked: Set<number>): number[] | null {
  const ids = classes.map((c) => c.id).filter((id) => ticked.has(id));
  return ids.length === classes.length ? null : ids;
}

export async function exportsPage(ctx: PageContext): Promise<void> {
  const project = await projectPage(ctx, "exports", "Exports");
  if (!project) return;
  const error = errorBox("export-error");
  const body = h("div", { class: "exports" }, spinner());
  ctx.el.append(error.el, body);
  const loaded = await loadSection(() => Promise.all([listExports(project.id), listClasses(project.id)]), body, error.show, ctx.signal);
  if (!loaded) return;
  const [data, classes] = loaded;
  const versions = versionsSection(project.id, ctx.signal, { canManage: isManager(project) });
  const format = h("select", { testid: "export-format" }, data.formats.map((f) => h("option", { value: f.name }, f.title)));
  const approvedOnly = h("input", { type: "checkbox", checked: true, testid: "export-approved-only" });
  const includeImages = h("input", { type: "checkbox", testid: "export-include-images" });
  const polygons = h("input", { type: "checkbox", testid: "export-polygons" });
  // The server says which formats take which options (GET exports/ lists each format's `options`).
  const takesPolygons = () => data.formats.find((f) => f.name === format.value)?.options.includes("polygons") ?? false;
  const polygonsOption = h("label", { class: "tool-option inline" }, polygons, " Polygons instead of RLE (segments with holes stay RLE)");
  const split = h("select", { testid: "export-split" },
    h("option", { value: "none" }, "No split"),
    h("option", { value: "stored" }, "The images' own train / val / test"),
    h("option", { value: "stratified" }, "New split, stratified by class"));
  const fraction = (name: string, value: number) =>
    h("input", { type: "number", min: "0", max: "100", step: "1", value: String(value), class: "split-share", testid: `export-split-${name}`, "aria-label": `${name} %` });
  const shares = { train: fraction("train", 80), val: fraction("val", 10), test: fraction("test", 10) };
  const seed = h("input", { type: "number", min: "0", step: "1", value: "0", class: "split-share", testid: "export-split-seed", "aria-label": "seed" });
  const splitOptions = h("div", { class: "split-options", testid: "export-split-options" },
    "Train ", shares.train, "% · val ", shares.val, "% · test ", shares.test, "% · seed ", seed);
  const syncOptions = () => {
    polygonsOption.hidden = !takesPolygons();
    splitOptions.hidden = split.value !== "stratified";
  };
  format.addEventListener("change", syncOptions);
  split.addEventListener("change", syncOptions);
  syncOptions();
  // Which classes: all ticked by default; segments of the others are left out (their pixels unlabelled).
  const classBoxes = classes.map((c) => ({ id: c.id, box: h("input", { type: "checkbox", checked: true, "data-class-id": String(c.id), testid: "export-class" }) }));
  const classList = h("div", { class: "export-classes", testid: "export-classes" }, classBoxes.map(({ box }, i) =>
    h("label", { class: "tool-option inline" }, box, h("span", { class: "swatch", style: `background:${classes[i].color}` }), ` ${classes[i].name}`)));
  const ticked = () => new Set(classBoxes.filter(({ box }) => box.checked).map(({ id }) => id));
  const start = h("button", { type: "button", class: "btn btn-primary", testid: "export-start" }, "Export");
  classList.addEventListener("change", () => { start.disabled = ticked().size === 0; });
  const bar = progressBar("Export", "export-progress");
  bar.el.hidden = true;
  const list = h("ul", { class: "export-list", testid: "export-list" });
  const row = (job: Job) => {
    const result = job.result as { bytes?: number; sha256?: string; images?: number; annotations?: number };
    const params = job.params as { format?: string; approved_only?: boolean; include_images?: boolean; polygons?: boolean; split?: { mode: string } | null; class_ids?: number[] | null };
    return h("li", { class: "export-item", testid: "export-item", "data-status": job.status },
      jobStatusBadge(job.status),
      ` ${params.format ?? "?"}${params.polygons ? " (polygons)" : ""} · ${params.approved_only === false ? "all images" : "approved images"}${params.include_images ? " + image files" : ""}${params.split ? ` · ${params.split.mode} split` : ""}${params.class_ids ? ` · ${plural(params.class_ids.length, "class", "classes")}` : ""} · ${new Date(job.created_at).toLocaleString()}`,
      job.status === "succeeded"
        ? h("span", null, ` · ${plural(result.images ?? 0, "image")} · ${formatBytes(result.bytes ?? 0)} · `,
          h("a", { href: exportDownloadUrl(job.id), testid: "export-download", download: "" }, "Download"),
          h("code", { class: "muted sha", title: "SHA-256 of the zip" }, ` ${result.sha256?.slice(0, 12) ?? ""}`),
          isManager(project) ? freezeButton(job, () => void versions.refresh()) : null)
        : job.status === "failed" ? h("span", { class: "field-error" }, ` · ${job.error}`) : null);
  };
  const render = (jobs: Job[]) => replaceChildren(list, jobs.length ? jobs.map(row) : h("li", { class: "muted" }, "No exports yet."));
  render(data.jobs);
  start.addEventListener("click", async () => {
    error.show(null);
    start.disabled = true;
    bar.el.hidden = false;
    bar.set(0);
    try {
      const body: ExportInputRequest = {
        format: format.value as ExportInputRequest["format"], approved_only: approvedOnly.checked, include_images: includeImages.checked,
        polygons: takesPolygons() && polygons.checked, split: split.value as ExportInputRequest["split"], split_seed: 0,
        class_ids: chosenClassIds(classes, ticked()),
      };
      if (split.value === "stratified") {
        body.split_fractions = { train: Number(shares.train.value) / 100, val: Number(shares.val.value) / 100, test: Number(shares.test.value) / 100 };
        body.split_seed = Number(seed.value);
      }
      const job = await startExport(project.id, body);
      const done = await followJob(job, (j) => bar.set(j.progress), { signal: ctx.signal });
      if (done.status === "failed") error.show(`The export failed: ${done.error}`);
      render((await listExports(project.id)).jobs);
    } catch (err) {
      const message = errorMessage(err);
      if (message && !ctx.signal.aborted) error.show(message);
    } finally {
      start.disabled = ticked().size === 0;
      bar.el.hidden = true;
    }
  });
  replaceChildren(body,
    h("section", { class: "card card-pad" },
      h("h2", null, "New export"),
      h("p", { class: "muted" }, "Exports are exact (masks as RLE, pixel-boundary polygons or per-pixel PNGs) and deterministic: the same labels give the same bytes."),
      h("div", { class: "form-grid" }, field("Format", format).wrap,
        h("div", { class: "field" },
          h("label", { class: "tool-option inline" }, approvedOnly, " Approved images only (the approved annotation of each)"),
          h("label", { class: "tool-option inline" }, includeImages, " Include the image files"),
          polygonsOption),
        h("div", { class: "field" }, field("Split", split).wrap, splitOptions),
        h("fieldset", { class: "field export-classes-field" }, h("legend", null, "Classes"), classList)),
      h("div", { class: "form-footer" }, start), bar.el),
    h("section", { class: "card card-pad" }, h("h2", null, "Exports"), list), versions);
}
