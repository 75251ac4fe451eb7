// The page the editor shows instead of a label map when there is nothing for the user to label in the image (the
// server refused to start an annotation: approved, waiting for review, already has its annotators, or the user
// reviews rather than labels), or when the image could not be opened at all. It says why, in words, and offers the
// ways on: the next task, reviewing the image, the project's images. Which of them the user may take, the server's
// scopes decide (OPTIONS on the routes), not role names.
import * as api from "../api/client";
import { editorUrl } from "../editor/workflowPanel";
import { refusalTitle, type TaskRefusal } from "../editor/workflow";
import { h, replaceChildren } from "../ui/dom";
import { STATE_LABELS } from "../ui/format";
import { badge } from "../ui/widgets";

export interface ClosedPageOptions {
  navigate(url: string): void;
}

/** Fill `el` with the page for a refusal to start labelling `image`. */
export function closedPage(el: HTMLElement, image: api.Image, refusal: TaskRefusal, options: ClosedPageOptions): void {
  const actions = h("div", { class: "editor-closed-actions", testid: "editor-closed-actions" });
  const note = h("p", { class: "muted", testid: "editor-closed-note", hidden: true });
  replaceChildren(el, h("div", { class: "card card-pad editor-closed", testid: "editor-closed", "data-code": refusal.code },
    h("div", { class: "editor-closed-head" },
      h("h2", null, refusalTitle(refusal)),
      badge(STATE_LABELS[image.state] ?? image.state, image.state, "image-state")),
    h("p", { testid: "editor-closed-message" }, refusal.message),
    h("p", { class: "muted" }, image.original_name),
    actions, note));
  void offerWaysOn(actions, note, image, options);
}

/** Fill `el` with the page for an image the editor could not open (not found, no access, the network…). */
export function openFailedPage(el: HTMLElement, err: unknown, imageId: number): void {
  const message = err instanceof Error ? err.message : String(err);
  const missing = err instanceof api.ApiError && err.status === 404;
  replaceChildren(el, h("div", { class: "card card-pad editor-closed", testid: "editor-error" },
    h("h2", null, missing ? "This image is not there" : "The editor could not open this image"),
    h("p", null, missing ? "It was deleted, or you are not a member of its project." : message),
    h("div", { class: "editor-closed-actions" },
      h("a", { class: "btn btn-primary", href: `/app/images/${imageId}` }, "Try again"),
      h("a", { class: "btn", href: "/app/projects" }, "Go to projects"))));
}

async function offerWaysOn(actions: HTMLElement, note: HTMLElement, image: api.Image, options: ClosedPageOptions): Promise<void> {
  const may = async (url: string) => {
    try {
      return (await api.allowedMethods(url)).includes("POST");
    } catch {
      return false;
    }
  };
  const [labels, reviews] = await Promise.all([
    may(`/api/projects/${image.project}/next-task/`),
    may(`/api/images/${image.id}/approve/`), // review:decide, on this image
  ]);
  if (labels) {
    const next: HTMLButtonElement = h("button", {
      class: "btn btn-primary", testid: "closed-next-task",
      onclick: async () => {
        next.disabled = true;
        try {
          const task = await api.nextTask(image.project);
          if (task.image) options.navigate(editorUrl(task.image.id, "edit"));
          else {
            note.hidden = false;
            note.textContent = "No task is left for you in this project.";
          }
        } catch (err) {
          note.hidden = false;
          note.textContent = `Could not find the next task: ${(err as Error).message}`;
        } finally {
          next.disabled = false;
        }
      },
    }, "Next task");
    actions.append(next);
  }
  if (reviews && image.state !== "new" && image.state !== "in_progress") {
    actions.append(h("a", { class: labels ? "btn" : "btn btn-primary", testid: "closed-review", href: editorUrl(image.id, "review") },
      image.state === "submitted" ? "Review it" : "See its labels"));
  }
  actions.append(h("a", { class: "btn btn-ghost", testid: "closed-images", href: `/app/projects/${image.project}` }, "Back to the images"));
}
