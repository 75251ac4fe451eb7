// The class list editor: rows of colour, name, thing/stuff, order and an attribute schema, edited locally.
// Typing updates the drafts in place (no re-render, so focus stays); structural changes re-render the list.
import { h, nextId, replaceChildren, srOnly } from "../ui/dom";
import {
  ATTRIBUTE_TYPES,
  CLASS_KINDS,
  allowedClassKinds,
  nextColor,
  validateClass,
  type AttributeDraft,
  type AttributeType,
  type ClassKind,
  type ProjectKind,
} from "../ui/validation";
import { nextKey, type ClassDraft } from "./classPlan";

export interface ClassEditor {
  el: HTMLElement;
  drafts: ClassDraft[];
  deleted: { draft: ClassDraft; index: number }[];
  setProjectKind(kind: ProjectKind): void;
  /** Check every row; returns whether all are valid (and shows the problems). */
  validate(): boolean;
  render(): void;
}

export function classEditor(initial: ClassDraft[], projectKind: ProjectKind): ClassEditor {
  let kind = projectKind;
  const list = h("ol", { class: "class-list", testid: "class-list", "aria-label": "Classes" });
  const empty = h("p", { class: "muted class-empty" }, "No classes yet. Add the labels annotators will paint.");
  const addButton = h("button", { type: "button", class: "btn", testid: "add-class" }, "+ Add class");
  const header = h(
    "div",
    { class: "class-row class-head", "aria-hidden": "true" },
    h("span", null, "Order"),
    h("span", null, "Colour"),
    h("span", null, "Name"),
    h("span", null, "Kind"),
    h("span", null, "Attributes"),
    h("span", null, ""),
  );
  const el = h("div", { class: "class-editor" }, header, list, empty, h("div", { class: "class-actions" }, addButton));
  const showErrors = new Set<number>(); // rows the user has touched or tried to save

  const editor: ClassEditor = {
    el,
    drafts: initial,
    deleted: [],
    setProjectKind(next) {
      kind = next;
      const allowed = allowedClassKinds(kind);
      // Unsaved classes simply follow the project kind; saved ones keep theirs and show an error instead.
      for (const draft of editor.drafts) {
        if (allowed.includes(draft.kind)) continue;
        if (draft.id === null) draft.kind = allowed[0];
        else showErrors.add(draft.key);
      }
      editor.render();
    },
    validate() {
      let ok = true;
      editor.drafts.forEach((draft) => {
        showErrors.add(draft.key);
        if (Object.keys(errorsOf(draft)).length) ok = false;
      });
      editor.render();
      return ok;
    },
    render,
  };

  const errorsOf = (draft: ClassDraft) =>
    validateClass(draft, kind, editor.drafts.filter((other) => other !== draft).map((other) => other.name));

  addButton.addEventListener("click", () => {
    const draft: ClassDraft = {
      key: nextKey(),
      id: null,
      name: "",
      color: nextColor(editor.drafts.map((d) => d.color)),
      kind: allowedClassKinds(kind)[0],
      attributes: [],
      saved: null,
      error: null,
      open: false,
    };
    editor.drafts.push(draft);
    render();
    list.querySelector<HTMLInputElement>(`[data-key="${draft.key}"] [data-testid="class-name"]`)?.focus();
  });

  function move(index: number, delta: number, focusTestid: string): void {
    const target = index + delta;
    if (target < 0 || target >= editor.drafts.length) return;
    const [draft] = editor.drafts.splice(index, 1);
    editor.drafts.splice(target, 0, draft);
    render();
    const button = list.querySelector<HTMLButtonElement>(`[data-key="${draft.key}"] [data-testid="${focusTestid}"]`);
    (button && !button.disabled ? button : list.querySelector<HTMLElement>(`[data-key="${draft.key}"] [data-testid="class-name"]`))?.focus();
  }

  function remove(index: number): void {
    const [draft] = editor.drafts.splice(index, 1);
    if (draft.id !== null) editor.deleted.push({ draft, index });
    render();
    addButton.focus();
  }

  function render(): void {
    empty.hidden = editor.drafts.length > 0;
    header.hidden = editor.drafts.length === 0;
    replaceChildren(list, editor.drafts.map((draft, index) => row(draft, index)));
  }

  function row(draft: ClassDraft, index: number): HTMLElement {
    const label = () => draft.name.trim() || `class ${index + 1}`;
    const errorLine = h("div", { class: "class-error", role: "alert", testid: "class-error" });
    const updateErrors = () => {
      const errors = showErrors.has(draft.key) ? errorsOf(draft) : {};
      const messages = [errors.name, errors.color, errors.kind, errors.attributes, draft.error].filter(Boolean);
      errorLine.textContent = messages.join(" ");
      errorLine.hidden = messages.length === 0;
      name.toggleAttribute("aria-invalid", Boolean(errors.name));
      kindSelect.toggleAttribute("aria-invalid", Boolean(errors.kind));
      attributesButton.classList.toggle("has-error", Boolean(errors.attributes));
    };
    const touched = () => {
      showErrors.add(draft.key);
      draft.error = null;
      updateErrors();
    };

    const name = h("input", { type: "text", value: draft.name, maxlength: 100, placeholder: "e.g. person", testid: "class-name", id: nextId("class-name") });
    name.addEventListener("input", () => {
      draft.name = name.value;
      touched();
    });
    const color = h("input", { type: "color", value: draft.color, testid: "class-color", id: nextId("class-color") });
    color.addEventListener("input", () => {
      draft.color = color.value;
      swatchName();
    });
    const swatchName = () => color.setAttribute("title", draft.color);
    swatchName();

    const allowed = allowedClassKinds(kind);
    const kindSelect = h(
      "select",
      { testid: "class-kind", id: nextId("class-kind") },
      CLASS_KINDS.filter((k) => allowed.includes(k.value) || k.value === draft.kind).map((k) =>
        h("option", { value: k.value, selected: k.value === draft.kind }, allowed.includes(k.value) ? k.label : `${k.label} (invalid)`),
      ),
    );
    kindSelect.addEventListener("change", () => {
      draft.kind = kindSelect.value as ClassKind;
      touched();
    });

    const attributesButton = h(
      "button",
      { type: "button", class: "btn btn-sm btn-ghost", "aria-expanded": String(draft.open), testid: "class-attributes-toggle" },
      `Attributes (${draft.attributes.length})`,
    );
    const panel = attributePanel(draft, () => {
      attributesButton.textContent = `Attributes (${draft.attributes.length})`;
      touched();
    });
    panel.hidden = !draft.open;
    attributesButton.addEventListener("click", () => {
      draft.open = !draft.open;
      panel.hidden = !draft.open;
      attributesButton.setAttribute("aria-expanded", String(draft.open));
    });

    const up = h("button", { type: "button", class: "btn btn-icon", "aria-label": `Move ${label()} up`, disabled: index === 0, testid: "class-up" }, "↑");
    const down = h(
      "button",
      { type: "button", class: "btn btn-icon", "aria-label": `Move ${label()} down`, disabled: index === editor.drafts.length - 1, testid: "class-down" },
      "↓",
    );
    up.addEventListener("click", () => move(index, -1, "class-up"));
    down.addEventListener("click", () => move(index, 1, "class-down"));
    const del = h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", "aria-label": `Delete ${label()}`, testid: "class-delete" }, "Delete");
    del.addEventListener("click", () => remove(index));

    const li = h(
      "li",
      { class: "class-item", "data-key": draft.key, "data-class-id": draft.id ?? undefined, testid: "class-row" },
      h(
        "div",
        { class: "class-row" },
        h("div", { class: "class-order" }, h("span", { class: "class-index", "aria-hidden": "true" }, String(index + 1)), up, down),
        h("div", null, h("label", { for: color.id }, srOnly("Colour")), color),
        h("div", null, h("label", { for: name.id }, srOnly(`Name of class ${index + 1}`)), name),
        h("div", null, h("label", { for: kindSelect.id }, srOnly("Thing or stuff")), kindSelect),
        h("div", null, attributesButton),
        h("div", { class: "class-row-end" }, del),
      ),
      errorLine,
      panel,
    );
    updateErrors();
    return li;
  }

  render();
  return editor;
}

/** The attribute schema editor of one class: {name, type, options (select), required} rows. */
function attributePanel(draft: ClassDraft, changed: () => void): HTMLElement {
  const rows = h("div", { class: "attr-rows" });
  const add = h("button", { type: "button", class: "btn btn-sm", testid: "attribute-add" }, "+ Add attribute");
  const panel = h(
    "div",
    { class: "attr-panel", testid: "attribute-panel" },
    h("p", { class: "field-hint" }, "Attributes annotators fill in for each segment of this class."),
    rows,
    add,
  );

  const render = () => {
    replaceChildren(
      rows,
      draft.attributes.length
        ? draft.attributes.map((attribute, index) => attributeRow(attribute, () => {
            draft.attributes.splice(index, 1);
            render();
            changed();
            add.focus();
          }, changed))
        : h("p", { class: "muted" }, "No attributes."),
    );
  };
  add.addEventListener("click", () => {
    draft.attributes.push({ name: "", type: "text", options: "", required: false });
    render();
    changed();
    rows.querySelector<HTMLInputElement>(".attr-row:last-child [data-testid='attribute-name']")?.focus();
  });
  render();
  return panel;
}

function attributeRow(attribute: AttributeDraft, onRemove: () => void, changed: () => void): HTMLElement {
  const name = h("input", { type: "text", value: attribute.name, placeholder: "e.g. occluded", testid: "attribute-name", id: nextId("attr-name") });
  const type = h(
    "select",
    { testid: "attribute-type", id: nextId("attr-type") },
    ATTRIBUTE_TYPES.map((t) => h("option", { value: t, selected: t === attribute.type }, t)),
  );
  const options = h("input", { type: "text", value: attribute.options, placeholder: "small, medium, large", testid: "attribute-options", id: nextId("attr-options") });
  const optionsWrap = h("div", { class: "attr-options" }, h("label", { for: options.id }, "Options"), options);
  optionsWrap.hidden = attribute.type !== "select";
  const required = h("input", { type: "checkbox", checked: attribute.required, testid: "attribute-required", id: nextId("attr-required") });
  const remove = h("button", { type: "button", class: "btn btn-sm btn-danger-ghost", testid: "attribute-remove" }, "Remove");

  name.addEventListener("input", () => {
    attribute.name = name.value;
    changed();
  });
  type.addEventListener("change", () => {
    attribute.type = type.value as AttributeType;
    optionsWrap.hidden = attribute.type !== "select";
    changed();
  });
  options.addEventListener("input", () => {
    attribute.options = options.value;
    changed();
  });
  required.addEventListener("change", () => {
    attribute.required = required.checked;
    changed();
  });
  remove.addEventListener("click", onRemove);
  remove.setAttribute("aria-label", `Remove attribute ${attribute.name || ""}`.trim());

  return h(
    "div",
    { class: "attr-row", testid: "attribute-row" },
    h("div", null, h("label", { for: name.id }, "Name"), name),
    h("div", null, h("label", { for: type.id }, "Type"), type),
    optionsWrap,
    h("div", { class: "attr-required" }, required, h("label", { for: required.id }, "Required")),
    remove,
  );
}
