// A tiny element builder. Text children always become text nodes, so user data can never turn into markup;
// nothing in the app sets innerHTML.

export type Child = Node | string | number | null | undefined | false | Child[];

/** Attribute values; `on<event>` keys take listeners, `testid` sets data-testid, `class` sets className. */
export type Props = Record<string, unknown>;

// Live DOM properties: setting the attribute would only change the default, not the current value.
const PROPERTIES = new Set(["value", "checked", "selected", "indeterminate"]);

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) setProps(el, props);
  append(el, children);
  return el;
}

export function setProps(el: HTMLElement, props: Props): void {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
    } else if (key === "class") {
      el.className = String(value);
    } else if (key === "testid") {
      el.setAttribute("data-testid", String(value));
    } else if (PROPERTIES.has(key)) {
      (el as unknown as Record<string, unknown>)[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** Replace all children of `el`. */
export function replaceChildren(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

let uid = 0;
/** A unique id for label/input pairs. */
export function nextId(prefix = "f"): string {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field: <label> + control + hint + error slot (aria-describedby points at both). */
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  opts: { hint?: string; class?: string } = {},
): { wrap: HTMLElement; error: HTMLElement; setError: (message: string | null) => void } {
  if (!control.id) control.id = nextId("field");
  const error = h("div", { class: "field-error", id: `${control.id}-error`, role: "alert" });
  const hint = opts.hint ? h("div", { class: "field-hint", id: `${control.id}-hint` }, opts.hint) : null;
  control.setAttribute("aria-describedby", [hint?.id, error.id].filter(Boolean).join(" "));
  const wrap = h("div", { class: `field ${opts.class ?? ""}` }, h("label", { for: control.id }, label), control, hint, error);
  const setError = (message: string | null) => {
    error.textContent = message ?? "";
    if (message) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  };
  return { wrap, error, setError };
}

/** A visually hidden label text (screen readers still read it). */
export const srOnly = (text: string) => h("span", { class: "sr-only" }, text);
