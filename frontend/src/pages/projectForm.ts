// /app/projects/new and /app/projects/:id/settings: name, kind, guidelines (with a live preview) and the class
// list, saved with one button. Members who are not managers get a read-only view of guidelines and classes.
import {
  ApiError,
  createClass,
  createProject,
  deleteClass,
  deleteProject,
  listClasses,
  updateClass,
  updateProject,
  type LabelClass,
  type Project,
} from "../api/client";
import type { PageContext } from "../ui/app";
import { field, h, nextId, replaceChildren } from "../ui/dom";
import { markdownToDom } from "../ui/markdown";
import { errorMessage } from "../ui/session";
import { toast } from "../ui/toast";
import { PROJECT_KINDS, fieldErrors, schemaToAttributes, validateProjectName, type ProjectKind } from "../ui/validation";
import { errorBox, pageHeader } from "../ui/widgets";
import { classEditor, type ClassEditor } from "./classEditor";
import { draftFromServer, planClassSave } from "./classPlan";
import { isManager, projectPage, projectUrl } from "./projectShell";

export async function newProjectPage(ctx: PageContext): Promise<void> {
  ctx.setCrumbs([{ label: "Projects", href: "/app/projects" }, { label: "New project" }]);
  ctx.el.append(pageHeader("New project"));
  projectForm(ctx, null, []);
}

export async function projectSettingsPage(ctx: PageContext): Promise<void> {
  const [project, classes] = await Promise.all([
    projectPage(ctx, "settings", "Settings"),
    listClasses(Number(ctx.params.id)),
  ]);
  if (!project || ctx.signal.aborted) return;
  if (isManager(project)) projectForm(ctx, project, classes);
  else readOnlyView(ctx.el, project, classes);
}

function projectForm(ctx: PageContext, existing: Project | null, classes: LabelClass[]): void {
  let project = existing;
  let kind: ProjectKind = project?.kind ?? "panoptic";

  // --- project fields
  const name = h("input", { type: "text", value: project?.name ?? "", maxlength: 200, required: true, testid: "project-name-input", autocomplete: "off" });
  const nameField = field("Name", name);
  name.addEventListener("input", () => {
    if (name.getAttribute("aria-invalid") && !validateProjectName(name.value)) {
      nameField.setError(null);
      formError.show(null);
    }
  });

  const kindError = h("div", { class: "field-error", role: "alert", testid: "project-kind-error" });
  const kindGroup = h(
    "fieldset",
    { class: "field kind-group", testid: "project-kind" },
    h("legend", null, "Kind"),
    PROJECT_KINDS.map((option) => {
      const id = nextId("kind");
      const radio = h("input", { type: "radio", name: "kind", id, value: option.value, checked: option.value === kind, testid: `project-kind-${option.value}` });
      radio.addEventListener("change", () => {
        kind = option.value;
        kindError.textContent = "";
        classes_.setProjectKind(kind);
      });
      return h(
        "label",
        { class: "kind-option", for: id },
        radio,
        h("span", { class: "kind-text" }, h("strong", null, option.label), h("span", { class: "muted" }, option.hint)),
      );
    }),
    kindError,
  );

  const guidelines = h("textarea", { rows: 12, testid: "project-guidelines", spellcheck: "true", placeholder: "# How to label\n\n* Paint every **person** as its own instance\n* …" });
  guidelines.value = project?.guidelines ?? "";
  const preview = h("div", { class: "markdown preview", testid: "guidelines-preview", "aria-label": "Guidelines preview" });
  const renderPreview = () =>
    replaceChildren(preview, guidelines.value.trim() ? markdownToDom(guidelines.value) : h("p", { class: "muted" }, "The preview appears here."));
  guidelines.addEventListener("input", renderPreview);
  renderPreview();
  const guidelinesField = field("Guidelines", guidelines, { hint: "Markdown: # headings, **bold**, *italic*, lists, `code`, [links](https://…)." });

  // --- workflow: consensus
  const consensus = h("input", { type: "number", min: 1, max: 20, step: 1, value: project?.annotators_per_image ?? 1, testid: "project-annotators-per-image" });
  const consensusField = field("Annotators per image", consensus, {
    hint: "1: each image is labelled once, then reviewed. 2 or more: that many different annotators label it (consensus) before review.",
  });

  const goldShare = h("input", { type: "number", min: 0, max: 50, step: 1, value: Math.round((project?.gold_share ?? 0) * 100), testid: "project-gold-share" });
  const goldField = field("Gold images (% of each annotator's tasks)", goldShare, {
    hint: "0 to 50. Mark approved images as gold in the image grid; annotators get them unseen and are scored against the approved labels.",
  });

  // --- learning from approved labels (README "Learning from approved labels")
  const retrainEvery = h("input", { type: "number", min: 0, max: 100000, step: 1, value: project?.retrain_every ?? 0, testid: "project-retrain-every" });
  const retrainField = field("Retrain after every N approved images", retrainEvery, {
    hint: "0: off. Otherwise a pixel classifier is trained again on the approved labels once N more images are approved.",
  });
  const prelabelNew = h("input", { type: "checkbox", checked: project?.prelabel_new ?? false, testid: "project-prelabel-new" });
  const nextOrder = h(
    "select",
    { testid: "project-next-task-order" },
    h("option", { value: "default", selected: (project?.next_task_order ?? "default") === "default" }, "Oldest first"),
    h("option", { value: "uncertainty", selected: project?.next_task_order === "uncertainty" }, "Most uncertain first (active learning)"),
  );
  const nextOrderField = field("Next task", nextOrder, {
    hint: "Within each priority (own rejected work, drafts, assignments, pre-labelled images, the rest): which image comes first.",
  });

  // --- classes
  const classes_: ClassEditor = classEditor(classes.map(draftFromServer), kind);

  // --- save
  const formError = errorBox("form-error");
  const save = h("button", { type: "submit", class: "btn btn-primary", testid: "save-project" }, project ? "Save changes" : "Create project");
  const cancel = h("a", { class: "btn btn-ghost", href: project ? projectUrl(project.id) : "/app/projects", testid: "cancel" }, "Cancel");

  const form = h(
    "form",
    { class: "project-form", novalidate: true, testid: "project-form" },
    formError.el,
    h(
      "section",
      { class: "card card-pad", "aria-labelledby": "project-section" },
      h("h2", { id: "project-section" }, "Project"),
      h("div", { class: "form-grid" }, nameField.wrap, kindGroup),
      h("div", { class: "form-grid" }, consensusField.wrap, goldField.wrap),
      h("div", { class: "guidelines-editor" }, guidelinesField.wrap, h("div", { class: "field" }, h("div", { class: "label-like" }, "Preview"), preview)),
    ),
    h(
      "section",
      { class: "card card-pad", "aria-labelledby": "learning-section" },
      h("h2", { id: "learning-section" }, "Learning from approved labels"),
      h("div", { class: "form-grid" }, retrainField.wrap, nextOrderField.wrap),
      h("label", { class: "tool-option inline" }, prelabelNew, " After each training, pre-label the images nobody has started with the best trained model"),
    ),
    h(
      "section",
      { class: "card card-pad", "aria-labelledby": "classes-section" },
      h("h2", { id: "classes-section" }, "Classes"),
      h("p", { class: "muted" }, "Things are countable objects (each instance its own segment); stuff is amorphous regions (one segment per class). Order sets the order in the editor's palette."),
      classes_.el,
    ),
    h("div", { class: "form-footer" }, save, cancel),
  );
  ctx.el.append(form);
  if (project) ctx.el.append(dangerZone(ctx, project));
  if (!project) name.focus();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.show(null);
    const nameProblem = validateProjectName(name.value);
    nameField.setError(nameProblem);
    const k = Number(consensus.value);
    const consensusProblem = Number.isInteger(k) && k >= 1 && k <= 20 ? null : "A whole number from 1 to 20";
    consensusField.setError(consensusProblem);
    const share = Number(goldShare.value);
    const goldProblem = Number.isFinite(share) && share >= 0 && share <= 50 ? null : "A percentage from 0 to 50";
    goldField.setError(goldProblem);
    const every = Number(retrainEvery.value);
    const retrainProblem = Number.isInteger(every) && every >= 0 && every <= 100000 ? null : "A whole number, 0 for off";
    retrainField.setError(retrainProblem);
    const classesOk = classes_.validate();
    if (consensusProblem || goldProblem || retrainProblem) {
      formError.show("Check the workflow settings.");
      (consensusProblem ? consensus : goldProblem ? goldShare : retrainEvery).focus();
      return;
    }
    if (nameProblem || !classesOk) {
      formError.show(nameProblem ? "Check the project name." : "Some classes need fixing (see the messages under them).");
      (nameProblem ? name : classes_.el.querySelector<HTMLElement>("[aria-invalid], .has-error"))?.focus();
      return;
    }
    save.disabled = true;
    save.textContent = "Saving…";
    try {
      await saveAll();
    } finally {
      if (!ctx.signal.aborted) {
        save.disabled = false;
        save.textContent = project ? "Save changes" : "Create project";
      }
    }
  });

  async function saveAll(): Promise<void> {
    const data = {
      name: name.value.trim(), kind, guidelines: guidelines.value, annotators_per_image: Number(consensus.value), gold_share: Number(goldShare.value) / 100,
      retrain_every: Number(retrainEvery.value), prelabel_new: prelabelNew.checked, next_task_order: nextOrder.value as "default" | "uncertainty",
    };
    const created = project === null;
    const plan = planClassSave(classes_.drafts, classes_.deleted.map((d) => d.draft.id!), project?.kind ?? null, kind);

    const saveProject = async (): Promise<boolean> => {
      try {
        project = project ? await updateProject(project.id, data) : await createProject(data);
        return true;
      } catch (error) {
        showProjectError(error);
        return false;
      }
    };

    // Deletions first (they free class names), then project and class updates in the order the kind change
    // needs, then new classes. Failures are shown on their rows; the rest still saves.
    if (project) {
      for (const removed of [...classes_.deleted]) {
        try {
          await deleteClass(removed.draft.id!);
          classes_.deleted.splice(classes_.deleted.indexOf(removed), 1);
        } catch (error) {
          const message = errorMessage(error);
          if (message === null) return;
          removed.draft.error = `Not deleted: ${message}`;
          classes_.deleted.splice(classes_.deleted.indexOf(removed), 1);
          classes_.drafts.splice(Math.min(removed.index, classes_.drafts.length), 0, removed.draft);
        }
      }
    }
    if (!plan.classesFirst && !(await saveProject())) return finish();
    let failures = 0;
    for (const { draft, payload } of plan.updates) {
      try {
        await updateClass(draft.id!, payload);
        draft.saved = JSON.stringify(payload);
        draft.error = null;
      } catch (error) {
        failures++;
        draft.error = errorMessage(error);
      }
    }
    if (plan.classesFirst && !(await saveProject())) return finish();
    for (const { draft, payload } of plan.creates) {
      try {
        const label = await createClass(project!.id, payload);
        draft.id = label.id;
        draft.saved = JSON.stringify(payload);
        draft.error = null;
      } catch (error) {
        failures++;
        draft.error = errorMessage(error);
      }
    }
    if (ctx.signal.aborted) return;
    if (created) ctx.setUrl(`/app/projects/${project!.id}/settings`); // a second Save must not create another project
    if (failures === 0 && classes_.drafts.every((d) => !d.error)) {
      if (created) {
        toast(`Project "${project!.name}" created`, "success");
        ctx.navigate(projectUrl(project!.id), { replace: true });
        return;
      }
      toast("Saved", "success");
    } else {
      formError.show(created ? "The project was created, but some classes were not saved (see the messages under them)." : "Some classes were not saved (see the messages under them).");
    }
    finish();
  }

  function finish(): void {
    if (ctx.signal.aborted) return;
    classes_.render();
    if (project) {
      save.textContent = "Save changes";
      cancel.setAttribute("href", projectUrl(project.id));
    }
  }

  function showProjectError(error: unknown): void {
    const message = errorMessage(error);
    if (message === null) return;
    const fields = error instanceof ApiError ? fieldErrors(error) : {};
    if (fields.name) nameField.setError(fields.name);
    if (fields.kind) kindError.textContent = fields.kind;
    formError.show(message);
  }
}

function dangerZone(ctx: PageContext, project: Project): HTMLElement {
  const status = errorBox("delete-error");
  const actions = h("div", { class: "danger-actions" });
  const ask = () =>
    replaceChildren(actions, h("button", { type: "button", class: "btn btn-danger-ghost", testid: "delete-project", onclick: confirm }, "Delete project…"));
  const confirm = () => {
    const yes = h("button", { type: "button", class: "btn btn-danger", testid: "delete-project-confirm", onclick: remove }, "Delete for good");
    replaceChildren(
      actions,
      h("span", null, `Delete "${project.name}", its ${project.image_count} images and all their labels?`),
      yes,
      h("button", { type: "button", class: "btn btn-ghost", onclick: ask }, "Cancel"),
    );
    yes.focus();
  };
  const remove = async () => {
    try {
      await deleteProject(project.id);
      toast(`Project "${project.name}" deleted`, "success");
      ctx.navigate("/app/projects", { replace: true });
    } catch (error) {
      status.show(errorMessage(error));
    }
  };
  ask();
  return h(
    "section",
    { class: "card card-pad danger-zone", "aria-labelledby": "danger-title" },
    h("h2", { id: "danger-title" }, "Delete project"),
    h("p", { class: "muted" }, "Removes the project with its images, label maps and history. This cannot be undone."),
    status.el,
    actions,
  );
}

function readOnlyView(el: HTMLElement, project: Project, classes: LabelClass[]): void {
  el.append(
    h(
      "section",
      { class: "card card-pad", "aria-labelledby": "guidelines-title" },
      h("h2", { id: "guidelines-title" }, "Guidelines"),
      project.guidelines.trim()
        ? h("div", { class: "markdown", testid: "guidelines" }, markdownToDom(project.guidelines))
        : h("p", { class: "muted" }, "This project has no guidelines yet."),
    ),
    h(
      "section",
      { class: "card", "aria-labelledby": "classes-title" },
      h("h2", { id: "classes-title", class: "card-title" }, "Classes"),
      classes.length
        ? h(
            "table",
            { class: "table", testid: "class-table" },
            h("thead", null, h("tr", null, h("th", null, "Class"), h("th", null, "Kind"), h("th", null, "Attributes"))),
            h(
              "tbody",
              null,
              classes.map((label) =>
                h(
                  "tr",
                  { testid: "class-row" },
                  h("td", null, h("span", { class: "swatch", style: `background:${/^#[0-9a-f]{6}$/i.test(label.color) ? label.color : "#ccc"}` }), label.name),
                  h("td", null, label.kind),
                  h("td", { class: "muted" }, attributeSummary(label) || "—"),
                ),
              ),
            ),
          )
        : h("p", { class: "muted card-pad" }, "No classes yet."),
    ),
  );
}

function attributeSummary(label: LabelClass): string {
  return schemaToAttributes(label.attribute_schema)
    .map((a) => `${a.name} (${a.type}${a.type === "select" ? `: ${a.options}` : ""}${a.required ? ", required" : ""})`)
    .join("; ");
}
