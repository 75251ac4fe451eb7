// Short-lived notices in one polite live region (screen readers announce them without moving focus).
import { h } from "./dom";

let region: HTMLElement | null = null;

function ensureRegion(): HTMLElement {
  if (!region || !region.isConnected) {
    region = h("div", { class: "toasts", role: "status", "aria-live": "polite", testid: "toasts" });
    document.body.appendChild(region);
  }
  return region;
}

export function toast(message: string, kind: "info" | "success" | "error" = "info", ms = 4000): void {
  const close = h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
  const item = h("div", { class: `toast toast-${kind}`, testid: "toast", "data-kind": kind }, h("span", null, message), close);
  const remove = () => item.remove();
  close.addEventListener("click", remove);
  ensureRegion().appendChild(item);
  window.setTimeout(remove, kind === "error" ? ms * 2 : ms);
}
