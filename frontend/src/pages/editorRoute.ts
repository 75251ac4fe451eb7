// /app/images/:id: the editor lives in its own chunk (./editor, loaded on demand). This page only loads it,
// mounts it and unmounts it when the user navigates away.
import { getImage, getProject } from "../api/client";
import type { PageContext } from "../ui/app";
import { h, replaceChildren } from "../ui/dom";
import { spinner } from "../ui/widgets";
import { projectUrl } from "./projectShell";

export async function mountEditorRoute(el: HTMLElement, imageId: number,
  options: import("./editor").EditorOptions = {}): Promise<() => void> {
  const mod = await import("./editor");
  return mod.mountEditor(el, imageId, options);
}

export async function editorPage(ctx: PageContext): Promise<void> {
  const imageId = Number(ctx.params.id);
  ctx.setCrumbs([{ label: "Projects", href: "/app/projects" }, { label: `Image ${imageId}` }]);
  void crumbs(ctx, imageId);

  const container = h("div", { class: "editor-host", testid: "editor-host" });
  ctx.el.append(container);
  replaceChildren(container, spinner("Loading the editor…"));
  const holder = h("div", { class: "editor-mount" });
  // ?review=1 opens the review mode; ?annotation=ID a given annotation (a reviewer's view of someone's work).
  const annotation = Number(ctx.query.get("annotation"));
  const unmount = await mountEditorRoute(holder, imageId, {
    mode: ctx.query.has("review") ? "review" : "edit",
    annotationId: Number.isInteger(annotation) && annotation > 0 ? annotation : undefined,
    navigate: (url) => ctx.navigate(url),
  });
  if (ctx.signal.aborted) {
    unmount(); // the user left while the chunk was loading
    return;
  }
  replaceChildren(container, holder);
  ctx.onLeave(unmount);
}

/** Breadcrumbs need the image's project; they fill in when known and never block the editor. */
async function crumbs(ctx: PageContext, imageId: number): Promise<void> {
  try {
    const image = await getImage(imageId);
    const project = await getProject(image.project);
    ctx.setCrumbs([
      { label: "Projects", href: "/app/projects" },
      { label: project.name, href: projectUrl(project.id) },
      { label: image.original_name },
    ]);
  } catch {
    /* the editor reports its own errors */
  }
}
