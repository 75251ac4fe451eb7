// /app/projects/:id/models: the project's own models (TorchScript or ONNX + manifest). Everyone sees the list;
// managers upload models (file + name + manifest JSON, with the server's validation message shown at the field
// it concerns), delete them, and run one as a pre-label job over all images or the images in one task state,
// following the job with a progress bar until it ends and then showing its counts and per-image errors.
// Managers also train a pixel classifier on the approved labels ("Train from approved labels", followed the same
// way); a trained model's row shows what it learned from and its validation mIoU.
import {
  ApiError,
  deleteModel,
  listClasses,
  listJobs,
  listModels,
  runPrelabel,
  uploadModel,
  type Job,
  type Project,
  type TrainedModel,
} from "../api/client";
import { followJob, isFinished } from "../api/jobs";
import { trainModel, type TrainingRecord, type TrainingResult } from "../api/training";
import type { PageContext } from "../ui/app";
import { field, h, replaceChildren } from "../ui/dom";
import { STATE_LABELS, formatBytes, formatDate } from "../ui/format";
import { errorMessage } from "../ui/session";
import { toast } from "../ui/toast";
import { badge, emptyState, errorBox, progressBar } from "../ui/widgets";
import {
  OUTPUT_LABELS,
  errorField,
  exampleManifest,
  parseManifestText,
  prelabelSummary,
  type PrelabelResult,
} from "./modelForm";
import { isManager, projectPage } from "./projectShell";

const JOB_POLL_MS = 1000;
const FORMAT_LABELS: Record<string, string> = { onnx: "ONNX", torchscript: "TorchScript", pixel_forest: "Pixel classifier" };
const ACCEPT = ".pt,.pth,.ts,.torchscript,.onnx,application/octet-stream";

export async function modelsPage(ctx: PageContext): Promise<void> {
  const id = Number(ctx.params.id);
  const [project, first, classes] = await Promise.all([projectPage(ctx, "models", "Models"), listModels(id), listClasses(id)]);
  if (!project || ctx.signal.aborted) return;
  const manager = isManager(project);
  let models = first;
  // The pre-label job being followed; aborted when another run panel opens, the panel closes or the page goes.
  let following: AbortController | null = null;
  const stopFollowing = () => following?.abort(new DOMException("stopped following", "AbortError"));
  ctx.onLeave(stopFollowing);

  const error = errorBox("models-error");
  const count = h("span", { class: "muted", testid: "models-count" });
  const listing = h("div");
  const runPanel = h("div", { testid: "prelabel-panel" });

  const render = () => {
    count.textContent = `${models.length} ${models.length === 1 ? "model" : "models"}`;
    if (!models.length) {
      replaceChildren(listing, emptyState("No models yet.", manager ? "Upload a TorchScript or ONNX model below." : "A manager can upload one."));
      return;
    }
    replaceChildren(
      listing,
      h(
        "table",
        { class: "table", testid: "model-table" },
        h("thead", null, h("tr", null, h("th", null, "Name"), h("th", null, "Format"), h("th", null, "Origin"), h("th", null, "Output"), h("th", null, "Classes"), h("th", { class: "num" }, "Images seen"), h("th", { class: "num" }, "Val mIoU"), h("th", { class: "num" }, "Size"), h("th", null, "Added"), manager ? h("th", null, "") : null)),
        h("tbody", null, models.map(row)),
      ),
    );
  };

  const row = (model: TrainedModel): HTMLElement => {
    const actions = manager ? h("td", { class: "row-actions" }) : null;
    if (actions) {
      const run = h("button", { type: "button", class: "btn btn-sm btn-primary", testid: "model-run" }, "Run pre-label…");
      run.addEventListener("click", () => showRun(model));
      const remove = h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", testid: "model-delete", "aria-label": `Delete ${model.name}` }, "Delete");
      remove.addEventListener("click", async () => {
        if (!window.confirm(`Delete the model “${model.name}”? Its pre-labels stay.`)) return;
        error.show(null);
        try {
          await deleteModel(model.id);
          models = models.filter((m) => m.id !== model.id);
          render();
          toast(`${model.name} deleted`, "success");
        } catch (err) {
          error.show(errorMessage(err));
        }
      });
      actions.append(run, remove);
    }
    const training = (model.training ?? {}) as TrainingRecord;
    const miou = training.val?.miou;
    return h(
      "tr",
      { testid: "model-row", "data-name": model.name },
      h("td", null, h("strong", null, model.name)),
      h("td", null, badge(FORMAT_LABELS[model.format] ?? model.format, "new")),
      h("td", { testid: "model-origin" }, model.origin === "trained" ? badge("Trained", "approved") : "Uploaded"),
      h("td", null, OUTPUT_LABELS[model.output] ?? model.output),
      h("td", { class: "model-classes" }, model.classes.join(", ")),
      h("td", { class: "num", testid: "model-images-seen" }, training.train_image_ids ? String(training.train_image_ids.length) : "—"),
      h("td", { class: "num", testid: "model-val-miou", title: training.val ? `${training.val.images} validation image(s)` : "" },
        miou == null ? "—" : miou.toFixed(3)),
      h("td", { class: "num muted" }, formatBytes(model.size_bytes)),
      h("td", { class: "muted" }, formatDate(model.created_at), model.created_by_name ? ` by ${model.created_by_name}` : ""),
      actions,
    );
  };

  function showRun(model: TrainedModel): void {
    stopFollowing();
    const scope = h(
      "select",
      { testid: "prelabel-scope" },
      h("option", { value: "" }, "All images"),
      Object.entries(STATE_LABELS).map(([value, label]) => h("option", { value }, `Images in state “${label}”`)),
    );
    const start = h("button", { type: "submit", class: "btn btn-primary", testid: "prelabel-start" }, "Start");
    const close = h("button", { type: "button", class: "btn btn-ghost" }, "Close");
    const status = h("div", { testid: "prelabel-status" });
    const form = h(
      "form",
      { class: "card card-pad prelabel-card", "aria-labelledby": "prelabel-title", novalidate: true },
      h("h2", { id: "prelabel-title" }, `Pre-label with “${model.name}”`),
      h("p", { class: "muted" }, "Results become segments (source: model, with a score) in the model's pre-label of each image; annotators who open an image afterwards start from it. Running again replaces the model's earlier pre-labels."),
      field("Images", scope).wrap,
      h("div", { class: "form-footer" }, start, close),
      status,
    );
    close.addEventListener("click", () => {
      stopFollowing();
      replaceChildren(runPanel);
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      start.disabled = true;
      replaceChildren(status);
      try {
        const state = scope.value;
        const { job } = await runPrelabel(model.id, state ? { all: true, state } : { all: true });
        showJob(job, status, () => (start.disabled = false));
      } catch (err) {
        start.disabled = false;
        replaceChildren(status, h("div", { class: "alert alert-error", role: "alert", testid: "prelabel-error" }, errorMessage(err) ?? ""));
      }
    });
    replaceChildren(runPanel, form);
    scope.focus();
  }

  function showJob(initial: Job, into: HTMLElement, done: () => void): void {
    const bar = progressBar("Pre-labeling", "prelabel-progress");
    const line = h("p", { class: "muted", testid: "prelabel-job-status" });
    const details = h("div");
    const section = h("div", { class: "job", testid: "prelabel-job" }, bar.el, line, details);
    replaceChildren(into, section);
    const show = (job: Job) => {
      bar.set(job.progress ?? 0);
      const result = (job.result ?? {}) as PrelabelResult;
      section.dataset.status = job.status;
      line.textContent =
        job.status === "succeeded" ? `Done: ${prelabelSummary(result)}.` :
        job.status === "failed" ? `Failed: ${job.error || "unknown error"}` :
        job.status === "cancelled" ? "Cancelled." :
        job.status === "queued" ? "Waiting for a GPU worker…" :
        result.images ? `Working… ${prelabelSummary(result)}` : "Working…";
      const errors = result.errors ?? [];
      replaceChildren(
        details,
        errors.length
          ? h(
            "table",
            { class: "table", testid: "prelabel-errors" },
            h("thead", null, h("tr", null, h("th", null, "Image"), h("th", null, "Problem"))),
            h("tbody", null, errors.map((e) => h("tr", null, h("td", null, h("a", { href: `/app/images/${e.image_id}` }, e.name || `#${e.image_id}`)), h("td", null, e.message)))),
          )
          : null,
      );
      if (isFinished(job)) {
        done();
        if (job.status === "succeeded") toast(`Pre-labels ready: ${prelabelSummary(result)}`, "success");
      }
    };
    following = new AbortController();
    const { signal } = following;
    followJob(initial, show, { signal, intervalMs: JOB_POLL_MS, maxIntervalMs: JOB_POLL_MS }).catch((err) => {
      if (signal.aborted) return;
      const message = errorMessage(err);
      if (message) line.textContent = `Could not follow the job: ${message}`;
      done();
    });
  }

  ctx.el.append(
    error.el,
    h("section", { class: "card", "aria-labelledby": "models-title" }, h("div", { class: "card-title-row" }, h("h2", { id: "models-title", class: "card-title" }, "Models"), count), listing),
    runPanel,
  );
  if (manager) ctx.el.append(trainCard(project), uploadForm(project));
  render();

  // A pixel classifier trained on the approved labels: one training per project at a time (a running one is
  // followed again when the page opens); when it succeeds the list is reloaded with the new model.
  function trainCard(project: Project): HTMLElement {
    const start = h("button", { type: "button", class: "btn btn-primary", testid: "train-start" }, "Train from approved labels");
    const bar = progressBar("Training", "train-progress");
    const line = h("p", { class: "muted", testid: "train-status" });
    const job = h("div", { class: "job", testid: "train-job", hidden: true }, bar.el, line);
    const follow = (initial: Job) => {
      start.disabled = true;
      job.hidden = false;
      const controller = new AbortController();
      ctx.onLeave(() => controller.abort(new DOMException("left the page", "AbortError")));
      const show = (current: Job) => {
        bar.set(current.progress ?? 0);
        job.dataset.status = current.status;
        const result = (current.result ?? {}) as TrainingResult;
        const miou = result.val?.miou;
        line.textContent =
          current.status === "succeeded" ? `Done: ${result.name ?? "a model"} learned from ${result.train_images ?? 0} image(s)${miou == null ? "" : `, validation mIoU ${miou.toFixed(3)} on ${result.val_images} image(s)`}.` :
          current.status === "failed" ? `Failed: ${current.error || "unknown error"}` :
          current.status === "cancelled" ? "Cancelled." :
          current.status === "queued" ? "Waiting for a GPU worker…" : "Training…";
      };
      followJob(initial, show, { signal: controller.signal, intervalMs: JOB_POLL_MS, maxIntervalMs: JOB_POLL_MS })
        .then(async (finished) => {
          start.disabled = false;
          if (finished.status !== "succeeded") return;
          models = await listModels(project.id);
          render();
          toast(line.textContent ?? "Model trained", "success");
        })
        .catch((err) => {
          start.disabled = false;
          if (!controller.signal.aborted) line.textContent = `Could not follow the job: ${errorMessage(err) ?? ""}`;
        });
    };
    start.addEventListener("click", async () => {
      error.show(null);
      start.disabled = true;
      try {
        follow((await trainModel(project.id)).job);
      } catch (err) {
        start.disabled = false;
        error.show(errorMessage(err));
      }
    });
    listJobs(project.id).then((page) => {
      const active = page.results.find((j) => j.kind === "train" && !isFinished(j));
      if (active && !ctx.signal.aborted) follow(active);
    }).catch(() => { /* the button still works */ });
    return h(
      "section",
      { class: "card card-pad", "aria-labelledby": "train-title", testid: "train-card" },
      h("h2", { id: "train-title" }, "Learn from approved labels"),
      h("p", { class: "muted" }, "Trains a pixel classifier (a random forest over colour, edge and texture features) on the approved images on a worker, and validates it on some of them. The project's settings can retrain it every N approvals, pre-label new images with it and hand out the most uncertain images first."),
      h("div", { class: "form-footer" }, start),
      job,
    );
  }

  function uploadForm(project: Project): HTMLElement {
    const file = h("input", { type: "file", accept: ACCEPT, testid: "model-file" });
    const name = h("input", { type: "text", autocomplete: "off", maxlength: 200, testid: "model-name" });
    const manifest = h("textarea", { rows: 14, spellcheck: false, testid: "model-manifest" });
    manifest.value = exampleManifest(classes.map((c) => c.name), project.kind);
    const fields = {
      file: field("Model file", file, { hint: "TorchScript (torch.jit.save) or ONNX. Pickled checkpoints (torch.save) are refused." }),
      name: field("Name", name),
      manifest: field("Manifest (JSON)", manifest, {
        hint: "input_size [h, w], resize, normalize {scale, mean, std}, output (semantic_logits | instance_masks | panoptic), class_map {model index: class name}, score_threshold, mask_threshold, output_names. See the README.",
      }),
    };
    const formError = errorBox("model-upload-error");
    const submit = h("button", { type: "submit", class: "btn btn-primary", testid: "model-upload" }, "Upload model");
    const form = h(
      "form",
      { class: "card card-pad model-upload", novalidate: true, "aria-labelledby": "model-upload-title" },
      h("h2", { id: "model-upload-title" }, "Upload a model"),
      formError.el,
      fields.file.wrap,
      fields.name.wrap,
      fields.manifest.wrap,
      h("div", { class: "form-footer" }, submit),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      formError.show(null);
      Object.values(fields).forEach((f) => f.setError(null));
      const chosen = file.files?.[0];
      const parsed = parseManifestText(manifest.value);
      if (!chosen) fields.file.setError("Choose a .pt or .onnx file.");
      if (!name.value.trim()) fields.name.setError("Give the model a name.");
      if ("error" in parsed) fields.manifest.setError(parsed.error);
      if (!chosen || !name.value.trim() || "error" in parsed) return;
      submit.disabled = true;
      submit.textContent = "Checking the model…";
      try {
        const model = await uploadModel(project.id, chosen, name.value.trim(), manifest.value);
        models = [...models, model];
        render();
        toast(`${model.name} uploaded`, "success");
        file.value = "";
        name.value = "";
      } catch (err) {
        const message = errorMessage(err);
        const target = err instanceof ApiError ? errorField(err.code, err.extra) : null;
        if (target) fields[target].setError(message);
        else formError.show(message);
      } finally {
        submit.disabled = false;
        submit.textContent = "Upload model";
      }
    });
    return form;
  }
}
