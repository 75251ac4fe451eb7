// /app/projects/:id, the project home: the image grid with filters, search and pagination kept in the URL.
// Thumbnails still being built show a placeholder, and the page refreshes until they are ready.
import {
  assignImages,
  listImages,
  listMembers,
  nextReview,
  nextTask,
  setImageGold,
  thumbnailUrl,
  type Image,
  type Page,
  type Project,
} from "../api/client";
import { toast } from "../ui/toast";
import type { PageContext } from "../ui/app";
import { h, nextId, replaceChildren } from "../ui/dom";
import { SPLIT_LABELS, STATE_LABELS, formatBytes, lastPage, plural } from "../ui/format";
import { buildUrl } from "../ui/router";
import { errorMessage } from "../ui/session";
import { badge, emptyState, errorBox, pagination, spinner } from "../ui/widgets";
import {
  PAGE_SIZES,
  SPLITS,
  STATES,
  imageFilters,
  imageQueryParams,
  parseImageQuery,
  type ImageQuery,
} from "./imageQuery";
import { isManager, projectPage, projectUrl } from "./projectShell";

const REFRESH_MS = 2000; // while thumbnails are pending
const SEARCH_DEBOUNCE_MS = 300;

export async function imagesPage(ctx: PageContext): Promise<void> {
  const project = await projectPage(ctx, "images");
  if (!project) return;
  let query = parseImageQuery(ctx.query);
  let refreshTimer = 0;
  let searchTimer = 0;
  let loadSeq = 0;
  ctx.onLeave(() => {
    window.clearTimeout(refreshTimer);
    window.clearTimeout(searchTimer);
  });

  const urlFor = (q: ImageQuery) => buildUrl(projectUrl(project.id), imageQueryParams(q));
  const change = (patch: Partial<ImageQuery>, replace = false) => {
    const next = { ...query, page: 1, ...patch };
    ctx.navigate(urlFor(next), { replace }); // the router calls onQuery below
  };

  // --- filter bar
  const labelled = (text: string, control: HTMLElement) => {
    control.id = nextId("filter");
    return h("div", { class: "filter" }, h("label", { for: control.id }, text), control);
  };
  const stateSelect = h(
    "select",
    { testid: "filter-state" },
    h("option", { value: "" }, "All states"),
    STATES.map((s) => h("option", { value: s }, STATE_LABELS[s])),
  );
  const splitSelect = h(
    "select",
    { testid: "filter-split" },
    h("option", { value: "" }, "Any split"),
    SPLITS.map((s) => h("option", { value: s }, SPLIT_LABELS[s])),
  );
  const orderingSelect = h(
    "select",
    { testid: "image-ordering" },
    h("option", { value: "" }, "Oldest first"),
    h("option", { value: "-uncertainty" }, "Most uncertain first"),
  );
  const search = h("input", { type: "search", placeholder: "File name contains…", testid: "filter-search", autocomplete: "off" });
  const pageSize = h("select", { testid: "page-size" }, PAGE_SIZES.map((n) => h("option", { value: n }, `${n} per page`)));
  const clearFilters = h("button", { type: "button", class: "btn btn-ghost btn-sm", testid: "filter-clear" }, "Clear filters");

  stateSelect.addEventListener("change", () => change({ state: stateSelect.value as ImageQuery["state"] }));
  splitSelect.addEventListener("change", () => change({ split: splitSelect.value as ImageQuery["split"] }));
  orderingSelect.addEventListener("change", () => change({ ordering: orderingSelect.value as ImageQuery["ordering"] }));
  pageSize.addEventListener("change", () => change({ pageSize: Number(pageSize.value) }));
  search.addEventListener("input", () => {
    window.clearTimeout(searchTimer);
    // Typing replaces the history entry so Back does not step through every keystroke.
    searchTimer = window.setTimeout(() => change({ search: search.value.trim() }, true), SEARCH_DEBOUNCE_MS);
  });
  search.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    window.clearTimeout(searchTimer);
    change({ search: search.value.trim() }, true);
  });
  clearFilters.addEventListener("click", () => change({ state: "", split: "", search: "" }));

  const summary = h("span", { class: "muted", testid: "image-count", "aria-live": "polite" });
  const filters = h(
    "div",
    { class: "toolbar", role: "search", testid: "image-filters" },
    labelled("Search", search),
    labelled("State", stateSelect),
    labelled("Split", splitSelect),
    labelled("Order", orderingSelect),
    clearFilters,
    h("div", { class: "toolbar-spacer" }),
    summary,
    labelled("Page size", pageSize),
  );
  const error = errorBox("images-error");
  const grid = h("div", { class: "grid-wrap" }, spinner());
  const pager = h("div", { class: "pager-wrap" });
  const selected = new Set<number>();
  const manage = isManager(project) ? managerBar(project, selected, error.show, () => void load()) : null;
  ctx.el.append(workBar(ctx, project, error.show), filters, ...(manage ? [manage.el] : []), error.el, grid, pager);

  const syncControls = () => {
    stateSelect.value = query.state;
    splitSelect.value = query.split;
    orderingSelect.value = query.ordering;
    pageSize.value = String(query.pageSize);
    if (document.activeElement !== search) search.value = query.search;
    clearFilters.hidden = !query.state && !query.split && !query.search;
  };

  async function load(quiet = false): Promise<void> {
    const seq = ++loadSeq;
    window.clearTimeout(refreshTimer);
    if (!quiet) grid.setAttribute("aria-busy", "true");
    let data: Page<Image>;
    try {
      data = await listImages(project!.id, imageFilters(query));
    } catch (err) {
      if (ctx.signal.aborted || seq !== loadSeq) return;
      grid.removeAttribute("aria-busy");
      // A page past the end (e.g. after images were deleted) answers 404: go to the first page.
      if ((err as { status?: number }).status === 404 && query.page > 1) return change({}, true);
      const message = errorMessage(err);
      if (message) error.show(message);
      return;
    }
    if (ctx.signal.aborted || seq !== loadSeq) return;
    grid.removeAttribute("aria-busy");
    error.show(null);
    render(data, quiet);
    if (data.results.some((image) => image.pyramid_status === "pending")) {
      refreshTimer = window.setTimeout(() => void load(true), REFRESH_MS);
    }
  }

  const cards = new Map<number, { image: Image; el: HTMLElement }>();
  function render(data: Page<Image>, quiet: boolean): void {
    const filtered = Boolean(query.state || query.split || query.search);
    summary.textContent = plural(data.count, "image");
    if (!data.results.length) {
      cards.clear();
      replaceChildren(
        grid,
        filtered
          ? emptyState("No images match these filters.", h("button", { type: "button", class: "btn", onclick: () => change({ state: "", split: "", search: "" }) }, "Clear filters"))
          : emptyState(
              "No images yet.",
              isManager(project!)
                ? h("a", { class: "btn btn-primary", href: projectUrl(project!.id, "upload"), testid: "empty-upload" }, "Upload images")
                : h("p", null, "A manager uploads the images of this project."),
            ),
      );
      replaceChildren(pager);
      return;
    }
    // A quiet refresh only swaps cards whose image changed, so thumbnails that are shown do not flicker.
    const next = new Map<number, { image: Image; el: HTMLElement }>();
    for (const image of data.results) {
      const old = cards.get(image.id);
      next.set(image.id, quiet && old && sameCard(old.image, image) ? old : { image, el: card(image) });
    }
    cards.clear();
    next.forEach((value, key) => cards.set(key, value));
    replaceChildren(grid, h("ul", { class: "image-grid", testid: "image-grid" }, [...next.values()].map((c) => c.el)));
    const last = lastPage(data.count, query.pageSize);
    replaceChildren(pager, last > 1 ? pagination(query.page, last, (page) => urlFor({ ...query, page })) : null);
  }

  function card(image: Image): HTMLElement {
    const thumb =
      image.pyramid_status === "ready"
        ? h("img", { src: thumbnailUrl(image.id), alt: "", loading: "lazy", decoding: "async" })
        : image.pyramid_status === "failed"
          ? h("span", { class: "thumb-placeholder is-failed" }, "Preview failed")
          : h("span", { class: "thumb-placeholder", testid: "thumb-pending" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Building preview…");
    const pick = manage
      ? h("input", {
        type: "checkbox", class: "image-pick", testid: "image-pick", "aria-label": `Select ${image.original_name}`,
        checked: selected.has(image.id),
        onchange: (e: Event) => {
          if ((e.target as HTMLInputElement).checked) selected.add(image.id);
          else selected.delete(image.id);
          manage.update();
        },
      })
      : null;
    return h(
      "li",
      { class: "image-card", testid: "image-card", "data-image-id": image.id, "data-state": image.state },
      pick,
      image.is_gold ? h("span", { class: "badge badge-gold image-gold", testid: "image-gold", title: "Gold image: annotators are scored against it" }, "gold") : null,
      h(
        "a",
        { href: imageHref(project!, image), class: "image-link", "aria-label": `Open ${image.original_name} in the editor` },
        h("span", { class: "thumb" }, thumb),
        h(
          "span",
          { class: "image-meta" },
          h("span", { class: "image-name", title: image.original_name }, image.original_name),
          h(
            "span",
            { class: "image-sub" },
            h("span", { class: "muted" }, `${image.width}×${image.height} · ${formatBytes(image.size_bytes)}`),
            badge(STATE_LABELS[image.state] ?? image.state, image.state, "image-state"),
          ),
          image.split ? h("span", { class: "image-split muted" }, SPLIT_LABELS[image.split] ?? image.split) : null,
          image.uncertainty == null ? null : h("span", {
            class: "image-split muted", testid: "image-uncertainty",
            title: "Mean of 1 − the top class probability under the latest trained model that pre-labelled it",
          }, `Uncertainty ${image.uncertainty.toFixed(3)}`),
        ),
      ),
    );
  }

  ctx.onQuery((params) => {
    query = parseImageQuery(params);
    syncControls();
    void load();
  });
  syncControls();
  await load();
}

const LABELLERS = new Set(["manager", "annotator"]);
const REVIEWERS = new Set(["manager", "reviewer"]);

/** Reviewers open images in review mode (they do not label); managers too, for work waiting for review. */
function imageHref(project: Project, image: Image): string {
  const review = project.role === "reviewer" || (project.role === "manager" && image.state === "submitted");
  return `/app/images/${image.id}${review ? "?review=1" : ""}`;
}

/** "Next task" for those who label and "Review next" for those who review: the way into the queue. */
function workBar(ctx: PageContext, project: Project, showError: (message: string | null) => void): HTMLElement {
  const go = async (button: HTMLButtonElement, find: () => Promise<string | null>, nothing: string) => {
    button.disabled = true;
    try {
      const url = await find();
      if (url) ctx.navigate(url);
      else showError(nothing);
    } catch (err) {
      const message = errorMessage(err);
      if (message) showError(message);
    } finally {
      button.disabled = false;
    }
  };
  const buttons: HTMLElement[] = [];
  if (project.role && LABELLERS.has(project.role)) {
    const next: HTMLButtonElement = h("button", {
      class: "btn btn-primary", testid: "next-task", title: "Your rejected work first, then unfinished, assigned, pre-labelled and new images",
      onclick: () => void go(next, async () => {
        const task = await nextTask(project.id);
        return task.image ? `/app/images/${task.image.id}` : null;
      }, "No task left for you in this project."),
    }, "Next task");
    buttons.push(next);
  }
  if (project.role && REVIEWERS.has(project.role)) {
    const review: HTMLButtonElement = h("button", {
      class: "btn", testid: "next-review", title: "The submitted image waiting longest",
      onclick: () => void go(review, async () => {
        const found = await nextReview(project.id);
        return found.image ? `/app/images/${found.image.id}?review=1` : null;
      }, "Nothing is waiting for review."),
    }, "Review next");
    buttons.push(review);
  }
  return h("div", { class: "work-bar", testid: "work-bar", hidden: !buttons.length }, buttons,
    project.annotators_per_image > 1 ? h("span", { class: "muted" }, `${project.annotators_per_image} annotators per image`) : null);
}

/** Managers: assign the selected images to annotators (or unassign them), and mark approved ones as gold. */
function managerBar(project: Project, selected: Set<number>, showError: (message: string | null) => void,
  refresh: () => void): { el: HTMLElement; update(): void } {
  const count = h("span", { class: "muted", testid: "selected-count" });
  const who = h("select", { testid: "assign-user", "aria-label": "Annotator" }, h("option", { value: "" }, "Choose an annotator…"));
  void listMembers(project.id).then((members) => {
    for (const m of members.filter((m) => m.role === "annotator" || m.role === "manager")) {
      who.append(h("option", { value: m.user }, `${m.username} (${m.role})`));
    }
  }).catch(() => { /* the select stays empty; assigning then says why */ });
  const act = async (what: () => Promise<string>) => {
    showError(null);
    try {
      toast(await what());
      selected.clear();
      update();
      refresh();
    } catch (err) {
      const message = errorMessage(err);
      if (message) showError(message);
    }
  };
  const assign = (unassign: boolean) => act(async () => {
    if (!who.value) throw new Error("Choose an annotator first.");
    const result = await assignImages(project.id, { image_ids: [...selected], user_ids: [Number(who.value)], unassign });
    return unassign ? `${plural(result.unassigned, "assignment")} removed` : `${plural(result.assigned, "image")} assigned`;
  });
  const gold = (on: boolean) => act(async () => {
    for (const id of selected) await setImageGold(id, on);
    return on ? `${plural(selected.size, "image")} marked as gold` : `${plural(selected.size, "image")} no longer gold`;
  });
  const buttons = [
    h("button", { type: "button", class: "btn btn-sm", testid: "assign", onclick: () => void assign(false) }, "Assign"),
    h("button", { type: "button", class: "btn btn-ghost btn-sm", testid: "unassign", onclick: () => void assign(true) }, "Unassign"),
    h("button", { type: "button", class: "btn btn-ghost btn-sm", testid: "mark-gold", title: "Approved images only: their approved labels become the reference", onclick: () => void gold(true) }, "Mark as gold"),
    h("button", { type: "button", class: "btn btn-ghost btn-sm", testid: "unmark-gold", onclick: () => void gold(false) }, "Not gold"),
  ];
  const el = h("div", { class: "toolbar manage-bar", testid: "manage-bar" }, count, who, buttons);
  const update = () => {
    count.textContent = selected.size ? `${plural(selected.size, "image")} selected` : "Select images to assign them or mark them as gold";
    for (const b of buttons) b.disabled = !selected.size;
  };
  update();
  return { el, update };
}

function sameCard(a: Image, b: Image): boolean {
  return a.pyramid_status === b.pyramid_status && a.state === b.state && a.split === b.split && a.original_name === b.original_name
    && a.is_gold === b.is_gold && a.uncertainty === b.uncertainty;
}
