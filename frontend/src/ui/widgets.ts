// Small reusable pieces: progress bars, badges, pagination, notices.
import { h, type Child } from "./dom";
import { pageNumbers, percent } from "./format";

export interface ProgressBar {
  el: HTMLElement;
  set(fraction: number, text?: string): void;
}

/** A labelled progress bar (role=progressbar with aria-valuenow 0..100). */
export function progressBar(label: string, testid: string): ProgressBar {
  const fill = h("div", { class: "progress-fill" });
  const value = h("span", { class: "progress-value" }, "0%");
  const track = h(
    "div",
    { class: "progress-track", role: "progressbar", "aria-label": label, "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": 0, testid },
    fill,
  );
  const el = h("div", { class: "progress" }, h("div", { class: "progress-head" }, h("span", null, label), value), track);
  return {
    el,
    set(fraction: number, text?: string) {
      const clamped = Math.min(1, Math.max(0, fraction));
      fill.style.width = `${clamped * 100}%`;
      track.setAttribute("aria-valuenow", String(Math.round(clamped * 100)));
      value.textContent = text ?? percent(clamped);
    },
  };
}

export function badge(text: string, variant: string, testid?: string): HTMLElement {
  return h("span", { class: `badge badge-${variant}`, testid }, text);
}

const JOB_STATUS_VARIANT: Record<string, string> = {
  queued: "new", running: "in_progress", succeeded: "approved", failed: "rejected", cancelled: "muted",
};

/** A job's status as a badge, coloured the same on every page that lists jobs. */
export function jobStatusBadge(status: string, testid?: string): HTMLElement {
  return badge(status, JOB_STATUS_VARIANT[status] ?? "muted", testid);
}

/** Page links (plain hrefs, so the router and the back button handle them). */
export function pagination(
  current: number,
  last: number,
  hrefFor: (page: number) => string,
): HTMLElement {
  const link = (page: number, text: string, testid: string, label?: string) =>
    h("a", { class: "page-link", href: hrefFor(page), testid, "aria-label": label }, text);
  const disabled = (text: string, testid: string) =>
    h("span", { class: "page-link is-disabled", "aria-disabled": "true", testid }, text);
  const items: Child[] = [
    current > 1 ? link(current - 1, "‹ Prev", "page-prev", "Previous page") : disabled("‹ Prev", "page-prev"),
    pageNumbers(current, last).map((page) =>
      page === "…"
        ? h("span", { class: "page-gap" }, "…")
        : page === current
          ? h("span", { class: "page-link is-current", "aria-current": "page", testid: `page-${page}` }, String(page))
          : link(page, String(page), `page-${page}`, `Page ${page}`),
    ),
    current < last ? link(current + 1, "Next ›", "page-next", "Next page") : disabled("Next ›", "page-next"),
  ];
  return h("nav", { class: "pagination", "aria-label": "Pages", testid: "pagination" }, items);
}

/** A box for an error the user should read (role=alert announces it). */
export function errorBox(testid = "form-error"): { el: HTMLElement; show(message: string | null): void } {
  const el = h("div", { class: "alert alert-error", role: "alert", testid, hidden: true });
  return {
    el,
    show(message) {
      el.textContent = message ?? "";
      el.hidden = !message;
    },
  };
}

export function emptyState(title: string, ...body: Child[]): HTMLElement {
  return h("div", { class: "empty", testid: "empty-state" }, h("p", { class: "empty-title" }, title), body);
}

export function spinner(label = "Loading…"): HTMLElement {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), label);
}

export function pageHeader(title: Child, ...actions: Child[]): HTMLElement {
  return h("div", { class: "page-header" }, h("h1", null, title), h("div", { class: "page-actions" }, actions));
}
