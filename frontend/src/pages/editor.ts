// The editor page: canvas (image pyramid + label map on the GPU), tools, segment panel, guidelines, autosave.
import * as api from "../api/client";
import { Overlay } from "../canvas/overlay";
import { Renderer, type RGBA } from "../canvas/renderer";
import { fitImage, panBy, screenToImage, zoomAt, type Viewport } from "../canvas/viewport";
import { Autosaver, type SaveStatus } from "../editor/autosave";
import { PendingStore } from "../editor/pendingStore";
import { WorkerPendingStore } from "../editor/pendingStoreClient";
import { SegmentPanel } from "../editor/segmentPanel";
import { EditorSession } from "../editor/session";
import { SHORTCUTS, helpOverlay } from "../editor/shortcuts";
import { flushView, recallView, rememberView, viewStamp } from "../editor/viewMemory";
import { workflowPermissions, type AnnotationState, type EditorMode, type TaskRefusal } from "../editor/workflow";
import { WorkflowPanel } from "../editor/workflowPanel";
import { TaskStarter, adoptPreviewEdits, previewAnnotationId } from "../editor/workflowStart";
import { BrushTool } from "../tools/brush";
import { PolygonTool } from "../tools/polygon";
import { SelectTool } from "../tools/select";
import { SamTool } from "../tools/sam";
import { SuperpixelTool } from "../tools/superpixel";
import { SuperpixelPanel } from "../editor/superpixelPanel";
import { SamPanel } from "../editor/samPanel";
import { ScribbleTool } from "../tools/scribble";
import { ScribblePanel } from "../editor/scribblePanel";
import { UncertaintyOverlay } from "../editor/uncertaintyOverlay";
import { SamEngine, samOptionsFromUrl } from "../sam/engine";
import type { Tool, ToolContext } from "../tools/tool";
import type { RoleEnum } from "../api/client";
import { h, replaceChildren } from "../ui/dom";
import { markdownToDom } from "../ui/markdown";
import { loginUrl } from "../ui/router";
import { toast } from "../ui/toast";
import { closedPage, openFailedPage } from "./editorClosed";
import { nameSegments, type SegmentNames } from "./editorMessages";

const SCALE_LIMITS = { min: 1 / 256, max: 64 };

function hexToRgba(hex: string, alpha: number): RGBA {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255, alpha];
}

export interface EditorOptions {
  /** "review": a reviewer's read-only view with the review decisions; "edit" (default): labelling. */
  mode?: EditorMode;
  /** The annotation to open; default: the user's own (or, in review mode, the first submitted one). */
  annotationId?: number;
  /** Go to another app URL (the router's navigate). */
  navigate?: (url: string) => void;
}

export function mountEditor(el: HTMLElement, imageId: number, options: EditorOptions = {}): () => void {
  let disposed = false;
  let cleanup: (() => void) | null = null;
  const mode = options.mode ?? "edit";
  const navigate = options.navigate ?? ((url: string) => window.location.assign(url));
  const open = async () => {
    replaceChildren(el, h("p", { class: "muted", testid: "editor-loading" }, "Loading the label map…"));
    try {
      const opened = await openImage(imageId, mode, options.annotationId);
      if (disposed) return;
      if ("refusal" in opened) {
        closedPage(el, opened.image, opened.refusal, { navigate });
        return;
      }
      cleanup = buildEditor(el, opened.session, { ...options, mode, preview: opened.preview }, reload, closed);
    } catch (err) {
      if (disposed) return;
      openFailedPage(el, err, imageId);
    }
  };
  const reload = () => {
    cleanup?.();
    cleanup = null;
    if (!disposed) void open();
  };
  /** The first edit could not start the task (someone took the image's last place meanwhile). */
  const closed = (image: api.Image, refusal: TaskRefusal) => {
    cleanup?.();
    cleanup = null;
    if (!disposed) closedPage(el, image, refusal, { navigate });
  };
  void open();
  return () => {
    disposed = true;
    cleanup?.();
  };
}

type Opened = { session: EditorSession; preview: boolean } | { image: api.Image; refusal: TaskRefusal };

/**
 * What the editor shows for an image. Opening claims nothing: the user's own annotation if they have one; else, when
 * they may start one, a preview of what it would start from (the pre-label, or an empty map) that the first edit
 * turns into their annotation; else approved labels read-only (for those who may see them), or why there is nothing
 * to label.
 */
async function openImage(imageId: number, mode: EditorMode, annotationId?: number): Promise<Opened> {
  if (annotationId !== undefined || mode === "review") {
    const id = annotationId ?? await annotationToReview(imageId);
    return { session: await EditorSession.load(imageId, { annotationId: id }), preview: false };
  }
  const [task, image] = await Promise.all([api.getImageTask(imageId), api.getImage(imageId)]);
  if (task.annotation) return { session: await EditorSession.load(imageId, { annotationId: task.annotation.id }), preview: false };
  if (task.can_start) return { session: await previewSession(image, task), preview: true };
  if (image.state === "approved" && image.approved_annotation !== null) {
    try {
      return { session: await EditorSession.load(imageId, { annotationId: image.approved_annotation }), preview: false };
    } catch (err) {
      if (!(err instanceof api.ApiError && err.status === 404)) throw err; // not someone this user may see
    }
  }
  return { image, refusal: task.refusal ?? { code: "task_closed", message: "There is nothing to label in this image." } };
}

/** The map a new annotation would start from, shown as the user's own draft under a placeholder id (nothing exists
 * on the server until the first edit starts it). */
async function previewSession(image: api.Image, task: api.ImageTask): Promise<EditorSession> {
  const [project, classes, me, prelabel] = await Promise.all([
    api.getProject(image.project), api.listClasses(image.project), api.me(),
    task.prelabel !== null ? api.getAnnotation(task.prelabel) : Promise.resolve(null),
  ]);
  const shown: api.AnnotationDetail = prelabel ?? {
    id: 0, image: image.id, annotator: null, annotator_name: "", state: "draft", submitted_at: null, version: 0,
    tile_size: task.tile_size, width: image.width, height: image.height, created_at: image.created_at,
    updated_at: image.created_at, tiles: [], segments: [],
    trained_model: null, trained_model_name: null, trained_model_origin: null, imported: false,
  };
  const session = new EditorSession({ image, project, classes, annotation: shown, me });
  await session.loadServerState(shown); // the pre-label's tiles are read under its own id
  session.version = prelabel ? 1 : 0; // what a new annotation starts at: a copy of the pre-label is its revision 1
  session.data.annotation = {
    ...shown, id: previewAnnotationId(image.id), annotator: me.id, annotator_name: me.username, state: "draft", submitted_at: null,
  };
  return session;
}

/** Review mode without an annotation named: the submitted one waiting longest, else the approved one. */
async function annotationToReview(imageId: number): Promise<number> {
  const annotations = await api.listImageAnnotations(imageId);
  const submitted = annotations.filter((a) => a.state === "submitted" && a.annotator !== null)
    .sort((a, b) => (a.submitted_at ?? "").localeCompare(b.submitted_at ?? "") || a.id - b.id);
  const chosen = submitted[0] ?? annotations.find((a) => a.state === "approved") ?? annotations.find((a) => a.annotator !== null);
  if (!chosen) throw new Error("Nobody has labelled this image yet: there is nothing to review.");
  return chosen.id;
}

function buildEditor(root: HTMLElement, session: EditorSession, options: EditorOptions & { mode: EditorMode; preview: boolean },
  reload: () => void, closed: (image: api.Image, refusal: TaskRefusal) => void): () => void {
  const { image, project, annotation } = session.data;
  const permissions = workflowPermissions({
    mode: options.mode,
    role: project.role as RoleEnum | null,
    state: annotation.state as AnnotationState,
    isAuthor: annotation.annotator !== null && annotation.annotator === session.data.me?.id,
  });
  const canEdit = permissions.canEdit;
  // Messages name segments as the panel shows them ("person #1", "sky"), not by ids.
  const segmentNames: SegmentNames = {
    segment: (id) => {
      const row = session.table.get(id);
      if (!row) return null;
      return `${session.classes.get(row.classId)?.name ?? "segment"}${row.instance !== null ? ` #${row.instance}` : ""}`;
    },
    className: (id) => session.classes.get(id)?.name ?? null,
  };
  const glCanvas = h("canvas", { class: "editor-gl", testid: "editor-canvas" });
  const overlayCanvas = h("canvas", { class: "editor-overlay", testid: "editor-overlay", tabindex: 0 });
  const stage = h("div", { class: "editor-stage" }, glCanvas, overlayCanvas);
  const stageArea = h("div", { class: "editor-stage-area", testid: "editor-stage-area" }, stage);
  const renderer = new Renderer(glCanvas, { fetchTile: api.fetchImageTile });
  const overlay = new Overlay(overlayCanvas);
  let viewport: Viewport = { scale: 1, x: 0, y: 0 };
  let brushRadius = 12;
  let fitted = false;

  // The copy of unsaved edits is written in a Web Worker where there is one (IndexedDB serialises on the
  // calling thread: a long task per stroke on the main thread).
  const store = typeof indexedDB === "undefined" ? null
    : typeof Worker !== "undefined" ? new WorkerPendingStore() : new PendingStore();
  const autosave = new Autosaver(session, store);

  // Opening claimed nothing: in a preview, the first edit starts the user's annotation (editor/workflowStart.ts).
  const starter = new TaskStarter({
    session, autosave, store, startVersion: session.version,
    status: (s) => renderStatus(s),
    started: () => workflow.started(),
    refused: (refusal) => closed(image, refusal),
    reopen: () => {
      toast("The pre-labels of this image changed while you looked; it is opened again", "info", 6000);
      reload();
    },
  }, options.preview);

  // --- view ---------------------------------------------------------------------------------------------
  const setViewport = (v: Viewport, interactive = true) => {
    if (interactive) renderer.interacting();
    viewport = v;
    renderer.setViewport(v);
    overlay.setViewport(v);
    twin?.renderer.setViewport(v);
    rememberView(image.id, v, stamp());
  };
  // What the view is of: a view of an older version of the map is not restored (the changes may be off screen).
  const stamp = () => viewStamp(session.annotationId, session.version);
  /** Centre an image point, or a box with room around it, without zooming out past the current view. */
  const jumpTo = (t: { x: number; y: number; width?: number; height?: number }) => {
    const { width, height } = renderer.size;
    if (!width || !height) return;
    let scale = Math.max(viewport.scale, 1);
    let cx = t.x;
    let cy = t.y;
    if (t.width !== undefined && t.height !== undefined) {
      scale = Math.min(width / Math.max(1, t.width * 3), height / Math.max(1, t.height * 3), 8);
      scale = Math.max(scale, Math.min(viewport.scale, 8));
      cx = t.x + t.width / 2;
      cy = t.y + t.height / 2;
    }
    scale = Math.min(Math.max(scale, SCALE_LIMITS.min), SCALE_LIMITS.max);
    setViewport({ scale, x: width / 2 - cx * scale, y: height / 2 - cy * scale }, false);
  };
  const fit = () => {
    const { width, height } = renderer.size;
    if (!width || !height) return;
    setViewport(fitImage(image.width, image.height, width, height, 16), false);
    fitted = true;
  };
  const levels = (image.pyramid_levels ?? []) as [number, number, number, number][];
  const showImage = (r: Renderer) => {
    if (image.pyramid_status !== "ready" || !levels.length) return;
    r.setImage({
      width: image.width,
      height: image.height,
      tileSize: image.pyramid_tile_size,
      levels,
      tileUrl: (level, x, y) => api.pyramidTileUrl(image.id, level, x, y),
      hasAlpha: image.pyramid_format === "WEBP",
    });
  };
  showImage(renderer);
  renderer.setLabels(session.map);

  let opacity = 0.55;
  let mode: "fill" | "outline" = "fill";
  const paletteOf = (s: EditorSession) => {
    const colors = new Map<number, RGBA>();
    for (const row of s.table.all()) {
      const cls = s.classes.get(row.classId);
      colors.set(row.segmentId, hexToRgba(cls?.color ?? "#999999", s.isVisible(row) ? 255 : 0));
    }
    return colors;
  };
  const updatePalette = () => {
    renderer.setPalette(paletteOf(session));
    updateStyle();
  };
  // Hover and selection only move highlights: no palette rebuild.
  const updateStyle = () => {
    renderer.setStyle({ opacity, mode, highlight: session.hoverSegment, selected: session.activeSegment });
    twin?.renderer.setStyle({ opacity, mode });
  };

  // Side by side (consensus review): another annotator's map in a second view that follows this one.
  let twin: { renderer: Renderer; pane: HTMLElement } | null = null;
  let twinRequest = 0;
  const showTwin = async (annotationId: number | null) => {
    const request = ++twinRequest;
    twin?.renderer.destroy();
    twin?.pane.remove();
    twin = null;
    stageArea.classList.remove("split");
    stageLabel.remove();
    if (annotationId === null) return;
    const other = await EditorSession.load(image.id, { annotationId });
    if (request !== twinRequest || disposedTwin) return;
    const canvas = h("canvas", { class: "editor-gl", testid: "editor-twin-canvas" });
    const pane = h("div", { class: "editor-stage editor-twin", testid: "editor-twin" }, canvas,
      h("span", { class: "twin-label", testid: "editor-twin-label" }, other.data.annotation.annotator_name ?? "pre-label"));
    stageArea.append(pane);
    stageArea.classList.add("split");
    stage.append(stageLabel);
    const r = new Renderer(canvas, { fetchTile: api.fetchImageTile });
    showImage(r);
    r.setLabels(other.map);
    r.setPalette(paletteOf(other));
    twin = { renderer: r, pane };
    updateStyle();
    r.resize();
    r.setViewport(viewport);
  };
  let disposedTwin = false;
  const stageLabel = h("span", { class: "twin-label" }, `${annotation.annotator_name ?? "pre-label"} (shown)`);


  // --- tools --------------------------------------------------------------------------------------------
  const ctx: ToolContext = {
    session,
    overlay,
    viewport: () => viewport,
    brushRadius: () => brushRadius,
    redraw: () => overlay.requestDraw(),
    notify: (message, kind = "info") => toast(nameSegments(message, segmentNames), kind),
    panBy: (dx, dy) => setViewport(panBy(viewport, dx, dy)),
  };
  const polygon = new PolygonTool(ctx);
  const tools: Record<string, Tool> = {
    select: new SelectTool(ctx),
    polygon,
    brush: new BrushTool(ctx, false),
    eraser: new BrushTool(ctx, true),
  };
  // SAM: the tool loads the decoder and the embedding when first chosen; without a checkpoint it stays disabled.
  const samEngine = new SamEngine(image.id, [image.height, image.width], {
    ...samOptionsFromUrl(window.location.search, import.meta.env.BASE_URL),
    nextImages: () => nextImageIds(project.id, image.id, 2),
  });
  const samTool = new SamTool(ctx, samEngine);
  tools.sam = samTool;
  const samPanel = new SamPanel(samTool, samEngine, ctx.notify);
  // Superpixels: computed on the server after upload; the tool loads them when first chosen.
  const superpixelTool = new SuperpixelTool(ctx, image.id, { width: image.width, height: image.height });
  tools.superpixel = superpixelTool;
  const superpixelPanel = new SuperpixelPanel(superpixelTool);
  // Scribble: strokes train a pixel classifier on the server; its proposal is accepted into the map.
  const scribbleTool = new ScribbleTool(ctx, image.id, { width: image.width, height: image.height });
  tools.scribble = scribbleTool;
  const scribblePanel = new ScribblePanel(scribbleTool, session);
  // Drawn under the tools' graphics: its painter is added first.
  const uncertainty = new UncertaintyOverlay(image, overlay, ctx.notify);
  let tool: Tool = tools.select;
  overlay.addPainter((o) => {
    tool.drawOverlay?.(o);
    // The hint follows the tool's state (the polygon tool: drawing, editing vertices, idle).
    const hint = tool.hint?.() ?? "";
    if (hintLine.textContent !== hint) hintLine.textContent = hint;
  });
  const toolButtons = new Map<string, HTMLButtonElement>();
  const hintLine = h("div", { class: "tool-hint muted", testid: "tool-hint" });
  const setTool = (name: string) => {
    if (!canEdit && name !== "select") return;
    tool.deactivate?.();
    tool = tools[name];
    tool.activate?.();
    overlayCanvas.style.cursor = tool.cursor;
    for (const [key, button] of toolButtons) button.classList.toggle("active", key === name);
    // Options show only for the tools that use them (view controls stay for all).
    brushOption.hidden = !(tool instanceof BrushTool);
    samPanel.el.hidden = name !== "sam";
    superpixelPanel.el.hidden = name !== "superpixel";
    scribblePanel.el.hidden = name !== "scribble";
    hintLine.textContent = tool.hint?.() ?? "";
    overlay.requestDraw();
  };

  const toolbar = h("div", { class: "editor-toolbar", role: "toolbar", "aria-label": "Tools" });
  for (const [name, label, key] of [["select", "Select / pan", "V"], ["polygon", "Polygon", "P"], ["brush", "Brush", "B"], ["eraser", "Eraser", "E"], ["sam", "SAM", "S"], ["superpixel", "Superpixel", "X"], ["scribble", "Scribble", "K"]] as const) {
    const button = h("button", { class: "tool", testid: `tool-${name}`, title: `${label} (${key})`, onclick: () => setTool(name), disabled: !canEdit && name !== "select" }, `${label} · ${key}`);
    toolButtons.set(name, button);
    toolbar.append(button);
  }
  const sizeLabel = h("span", { testid: "brush-size-value" }, String(brushRadius));
  const sizeInput = h("input", {
    type: "range", min: 1, max: 200, value: brushRadius, testid: "brush-size",
    oninput: (e: Event) => {
      brushRadius = Number((e.target as HTMLInputElement).value);
      sizeLabel.textContent = String(brushRadius);
      overlay.requestDraw();
    },
  });
  const setBrush = (r: number) => {
    brushRadius = Math.max(1, Math.min(200, Math.round(r)));
    sizeInput.value = String(brushRadius);
    sizeLabel.textContent = String(brushRadius);
    overlay.requestDraw();
  };
  const protect = h("input", {
    type: "checkbox", testid: "protect-existing",
    onchange: (e: Event) => {
      session.protectExisting = (e.target as HTMLInputElement).checked;
      hintLine.textContent = tool.hint?.() ?? "";
    },
  });
  const opacityInput = h("input", {
    type: "range", min: 0, max: 100, value: opacity * 100, testid: "overlay-opacity",
    oninput: (e: Event) => {
      opacity = Number((e.target as HTMLInputElement).value) / 100;
      updateStyle();
    },
  });
  const modeButton = h("button", {
    testid: "overlay-mode",
    onclick: () => {
      mode = mode === "fill" ? "outline" : "fill";
      modeButton.textContent = mode === "fill" ? "Outline" : "Fill";
      updateStyle();
    },
  }, "Outline");
  const brushOption = h("label", { class: "tool-option", testid: "brush-size-option" }, "Brush size ", sizeInput, sizeLabel);
  toolbar.append(
    brushOption,
    h("label", { class: "tool-option", testid: "protect-existing-option",
      title: "Brush, polygon, SAM, superpixels: never paint over other segments. Eraser: erase only the selected segment." },
    protect, " Protect existing"),
    h("label", { class: "tool-option" }, "Opacity ", opacityInput),
    modeButton,
    uncertainty.el,
    h("button", { testid: "fit", onclick: fit, title: "Fit the image (F)" }, "Fit"),
    samPanel.el,
    superpixelPanel.el,
    scribblePanel.el,
  );
  // The hint follows the tool's state (loading, not computed yet, computing, ready).
  superpixelTool.onChange(() => {
    if (tool === superpixelTool) hintLine.textContent = superpixelTool.hint();
  });
  let disposedSam = false;
  void samEngine.checkStatus().then((available) => {
    const button = toolButtons.get("sam")!;
    if (!available && !disposedSam) {
      button.disabled = true;
      button.title = `SAM is unavailable: ${samEngine.message}`;
      button.dataset.reason = samEngine.message;
      button.after(h("small", { class: "muted sam-unavailable", testid: "sam-unavailable", title: samEngine.message },
        /checkpoint/i.test(samEngine.message) ? "SAM unavailable: no checkpoint configured" : "SAM unavailable"));
    }
  });

  // --- header: status, undo/redo, help -----------------------------------------------------------------
  const status = h("span", { class: "save-status", testid: "save-status", "data-state": "saved", role: "status" });
  const undoButton = h("button", { testid: "undo", title: "Undo (Ctrl+Z)", onclick: () => session.undo() }, "Undo");
  const redoButton = h("button", { testid: "redo", title: "Redo (Ctrl+Shift+Z)", onclick: () => session.redo() }, "Redo");
  const help = helpOverlay();
  const workflow = new WorkflowPanel({
    session, mode: options.mode, permissions, overlay, jumpTo, reload, preview: options.preview,
    sideBySide: (annotationId) => showTwin(annotationId),
    notify: ctx.notify,
    flush: async () => {
      if (!(await starter.start())) return false;
      await autosave.saveNow();
      return !autosave.hasUnsaved();
    },
    open: (url) => (options.navigate ? options.navigate(url) : window.location.assign(url)),
  });
  const header = h("div", { class: "editor-header" },
    h("strong", { testid: "editor-image-name" }, image.original_name),
    h("span", { class: "muted" }, `${image.width}×${image.height} · ${project.name}`),
    workflow.headerEl,
    h("span", { class: "spacer" }),
    undoButton, redoButton, status,
    h("button", { testid: "help", title: "Keyboard shortcuts (?)", onclick: () => help.toggle() }, "?"),
  );
  const relogin = h("button", {
    class: "relogin", testid: "relogin", hidden: true,
    // Unsaved edits are already in IndexedDB; the editor replays them when the login page sends the user back.
    onclick: async () => {
      await autosave.persist();
      window.location.assign(loginUrl(window.location.pathname));
    },
  }, "Log in again");
  status.after(relogin);
  const renderStatus = (s: SaveStatus) => {
    status.textContent = nameSegments(s.message, segmentNames);
    status.dataset.state = s.state;
    relogin.hidden = s.state !== "expired";
    if (s.merged) toast(s.merged, "info", 8000);
  };
  const unsubscribeStatus = autosave.onStatus(renderStatus);
  const updateUndo = () => {
    undoButton.disabled = !session.history.canUndo;
    redoButton.disabled = !session.history.canRedo;
    undoButton.title = session.history.undoLabel ? `Undo ${session.history.undoLabel} (Ctrl+Z)` : "Undo (Ctrl+Z)";
  };
  session.history.onChange(updateUndo);

  // --- side panel: classes, segments, guidelines --------------------------------------------------------
  const classList = h("div", { class: "class-picker", testid: "class-picker" });
  const renderClasses = () => {
    replaceChildren(classList, [...session.classes.values()].map((c, i) => {
      const hidden = session.hiddenClasses.has(c.id);
      return h("span", { class: `class-chip${hidden ? " hidden" : ""}` },
        h("button", {
          class: `class-choice${session.currentClassId === c.id ? " active" : ""}`,
          testid: "class-choice", "data-class-id": c.id, "data-class-name": c.name,
          title: `${c.name} (${c.kind})${i < 9 ? ` — key ${i + 1}` : ""}`,
          onclick: () => session.setCurrentClass(c.id),
        }, h("span", { class: "swatch", style: `background:${c.color}` }), ` ${c.name}`, h("small", { class: "muted" }, ` ${c.kind}`)),
        h("button", {
          class: "class-visibility", testid: "class-visibility", "aria-pressed": hidden,
          title: hidden ? `Show all ${c.name} segments` : `Hide all ${c.name} segments`,
          onclick: () => session.toggleClassHidden(c.id),
        }, hidden ? "show" : "hide"));
    }));
  };
  const panel = new SegmentPanel(session, { notify: ctx.notify, canEdit });
  const guidelines = h("details", { class: "panel guidelines", testid: "guidelines" },
    h("summary", null, "Guidelines"),
    h("div", { class: "markdown" }, ...markdownToDom(project.guidelines || "_No guidelines yet._")));
  const side = h("aside", { class: "editor-side" },
    workflow.el, h("section", { class: "panel" }, h("h3", null, "Class"), classList), panel.el, guidelines);

  replaceChildren(root, h("div", { class: "editor", testid: "editor" }, header,
    h("div", { class: "editor-body" }, h("div", { class: "editor-left" }, toolbar, hintLine), stageArea, side)), help.el);

  // --- events -------------------------------------------------------------------------------------------
  /** A brush dab re-uploads only the touched rect of each tile (a whole 512² tile costs ~15 ms of CPU). */
  const invalidatePixels = () => {
    const painted = session.lastPaintBox;
    if (!painted || !painted.width || !painted.height) {
      renderer.requestRender();
      return;
    }
    renderer.interacting();
    // One pixel more on every side: the outline flags of the neighbours of changed pixels change too.
    const box = { x: painted.x - 1, y: painted.y - 1, width: painted.width + 2, height: painted.height + 2 };
    const ts = session.map.tileSize;
    for (let ty = Math.floor(box.y / ts); ty <= Math.floor((box.y + box.height - 1) / ts); ty++) {
      for (let tx = Math.floor(box.x / ts); tx <= Math.floor((box.x + box.width - 1) / ts); tx++) {
        if (tx < 0 || ty < 0 || tx >= session.map.cols || ty >= session.map.rows) continue;
        const x0 = Math.max(box.x, tx * ts) - tx * ts;
        const y0 = Math.max(box.y, ty * ts) - ty * ts;
        const [rows, cols] = session.map.tileShape(tx, ty);
        const x1 = Math.min(box.x + box.width - tx * ts, cols);
        const y1 = Math.min(box.y + box.height - ty * ts, rows);
        if (x1 <= x0 || y1 <= y0) continue;
        renderer.invalidate(tx, ty, { x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
      }
    }
  };


  const unsubscribe = session.onChange((kind) => {
    if (kind === "pixels") invalidatePixels();
    if (kind === "segments" || kind === "view") updatePalette();
    else if (kind === "selection" || kind === "hover") updateStyle();
    if (kind === "selection" || kind === "view") renderClasses();
    if (kind === "pixels" || kind === "segments") starter.edited();
    if (kind === "saved") rememberView(image.id, viewport, stamp()); // the view is of the saved version now
    updateUndo();
  });
  const imagePoint = (e: MouseEvent) => {
    const rect = overlayCanvas.getBoundingClientRect();
    return screenToImage(viewport, { x: e.clientX - rect.left, y: e.clientY - rect.top });
  };
  let spacePan: { x: number; y: number } | null = null;
  let spaceDown = false;
  overlayCanvas.addEventListener("pointerdown", (e) => {
    overlayCanvas.focus();
    overlayCanvas.setPointerCapture(e.pointerId);
    if (spaceDown || e.button === 1) {
      spacePan = { x: e.clientX, y: e.clientY };
      return;
    }
    if (workflow.pinning && e.button === 0) {
      workflow.placePin(imagePoint(e));
      return;
    }
    tool.pointerDown?.(imagePoint(e), e);
  });
  overlayCanvas.addEventListener("pointermove", (e) => {
    if (spacePan) {
      setViewport(panBy(viewport, e.clientX - spacePan.x, e.clientY - spacePan.y));
      spacePan = { x: e.clientX, y: e.clientY };
      return;
    }
    // Coalesced events keep fast strokes smooth without drawing every sample separately.
    const events = e.getCoalescedEvents?.() ?? [];
    if (tool instanceof BrushTool && events.length > 1) for (const ce of events) tool.pointerMove(imagePoint(ce));
    else tool.pointerMove?.(imagePoint(e), e);
  });
  const pointerEnd = (e: PointerEvent) => {
    if (spacePan) {
      spacePan = null;
      return;
    }
    tool.pointerUp?.(imagePoint(e), e);
  };
  overlayCanvas.addEventListener("pointerup", pointerEnd);
  overlayCanvas.addEventListener("pointercancel", pointerEnd);
  overlayCanvas.addEventListener("dblclick", (e) => tool.doubleClick?.(imagePoint(e), e));
  overlayCanvas.addEventListener("contextmenu", (e) => e.preventDefault());
  overlayCanvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const rect = overlayCanvas.getBoundingClientRect();
    const factor = Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015));
    setViewport(zoomAt(viewport, { x: e.clientX - rect.left, y: e.clientY - rect.top }, factor, SCALE_LIMITS));
  }, { passive: false });

  const zoomCenter = (factor: number) => {
    const { width, height } = renderer.size;
    setViewport(zoomAt(viewport, { x: width / 2, y: height / 2 }, factor, SCALE_LIMITS));
  };
  const onKey = (e: KeyboardEvent) => {
    const target = e.target as HTMLElement;
    if (target.closest("input, select, textarea")) return;
    if (e.key === " ") {
      spaceDown = e.type === "keydown";
      e.preventDefault();
      return;
    }
    if (e.type !== "keydown") return;
    const mod = e.ctrlKey || e.metaKey;
    if (mod && e.key.toLowerCase() === "z") {
      e.preventDefault();
      if (e.shiftKey) session.redo();
      else session.undo();
      return;
    }
    if (mod && e.key.toLowerCase() === "y") {
      e.preventDefault();
      session.redo();
      return;
    }
    if (mod && e.key.toLowerCase() === "s") {
      e.preventDefault();
      if (starter.started) void autosave.saveNow();
      else if (autosave.hasUnsaved()) {
        void starter.start().then((ok) => {
          if (ok) void autosave.saveNow();
        });
      }
      return;
    }
    if (mod || e.altKey) return;
    if (tool.key?.(e) || workflow.key(e)) {
      e.preventDefault();
      return;
    }
    const classes = [...session.classes.values()];
    switch (e.key) {
      case "v": case "V": setTool("select"); break;
      case "p": case "P": setTool("polygon"); break;
      case "b": case "B": setTool("brush"); break;
      case "e": case "E": setTool("eraser"); break;
      case "s": case "S": if (!toolButtons.get("sam")!.disabled) setTool("sam"); break;
      case "x": case "X": setTool("superpixel"); break;
      case "k": case "K": setTool("scribble"); break;
      case "[": setBrush(brushRadius / 1.25); break;
      case "]": setBrush(brushRadius * 1.25); break;
      case "n": case "N": session.select(null); toast("Next stroke or polygon starts a new segment", "info", 1500); break;
      case "f": case "F": case "0": fit(); break;
      case "+": case "=": zoomCenter(1.25); break;
      case "-": case "_": zoomCenter(0.8); break;
      case "ArrowLeft": setViewport(panBy(viewport, 60, 0)); break;
      case "ArrowRight": setViewport(panBy(viewport, -60, 0)); break;
      case "ArrowUp": setViewport(panBy(viewport, 0, 60)); break;
      case "ArrowDown": setViewport(panBy(viewport, 0, -60)); break;
      case "o": case "O": modeButton.click(); break;
      case "h": case "H":
        if (session.activeSegment !== null) session.toggleHidden(session.activeSegment);
        break;
      case "Delete": case "Backspace":
        if (session.activeSegment !== null && canEdit) session.deleteSegment(session.activeSegment);
        break;
      case "Escape": session.select(null); help.hide(); break;
      case "?": help.toggle(); break;
      default:
        if (/^[1-9]$/.test(e.key) && classes[Number(e.key) - 1]) session.setCurrentClass(classes[Number(e.key) - 1].id);
        else return;
    }
    e.preventDefault();
  };
  window.addEventListener("keydown", onKey);
  window.addEventListener("keyup", onKey);
  const beforeUnload = (e: BeforeUnloadEvent) => {
    if (autosave.hasUnsaved()) {
      void autosave.persist();
      e.preventDefault();
    }
  };
  window.addEventListener("beforeunload", beforeUnload);
  // The view the user had on this image (e.g. before switching between review and edit) comes back.
  const remembered = recallView(image.id, stamp());
  const onResize = new ResizeObserver(() => {
    renderer.resize();
    overlay.resize();
    twin?.renderer.resize();
    if (!fitted && remembered) {
      setViewport(remembered, false);
      fitted = true;
    } else if (!fitted) fit();
    else setViewport(viewport, false);
  });
  onResize.observe(stage);

  renderClasses();
  updatePalette();
  updateUndo();
  setTool(canEdit ? "brush" : "select");
  void (async () => {
    // Edits of a preview whose start's answer the page never saw are this annotation's now.
    if (store && starter.started && annotation.annotator !== null && annotation.annotator === session.data.me?.id) {
      await adoptPreviewEdits(store, image.id, session.annotationId).catch(() => undefined);
    }
    const message = await autosave.restorePending();
    if (message) toast(message, "info", 6000);
  })();
  // For tests and benchmarks: the live session and renderer (read-only use).
  (window as unknown as { __editor?: unknown }).__editor = { session, renderer, autosave, store, shortcuts: SHORTCUTS, sam: { engine: samEngine, tool: samTool }, superpixel: superpixelTool, scribble: scribbleTool, uncertainty, workflow, mode: options.mode, permissions };

  return () => {
    // The last copy and save outlive the page; the store's worker stops once they are done. Edits made while the
    // task was starting are saved once it has.
    starter.dispose();
    const destroyStore = () => {
      if (store instanceof WorkerPendingStore) store.destroy();
    };
    if (starter.started) {
      void Promise.allSettled([autosave.persist(), autosave.saveNow()]).then(destroyStore);
      autosave.dispose();
    } else {
      void starter.settled()
        .then((ok) => Promise.allSettled([autosave.persist(), ok ? autosave.saveNow() : Promise.resolve()]))
        .finally(() => {
          autosave.dispose();
          destroyStore();
        });
    }
    unsubscribe();
    unsubscribeStatus();
    window.removeEventListener("keydown", onKey);
    window.removeEventListener("keyup", onKey);
    window.removeEventListener("beforeunload", beforeUnload);
    onResize.disconnect();
    renderer.destroy();
    overlay.destroy();
    disposedSam = true;
    samPanel.dispose();
    superpixelPanel.dispose();
    superpixelTool.dispose();
    scribblePanel.dispose();
    scribbleTool.dispose();
    uncertainty.dispose();
    samEngine.dispose();
    workflow.dispose();
    disposedTwin = true;
    twin?.renderer.destroy();
    flushView();
    help.el.remove();
  };
}

/** The next `count` images after `imageId` in the project's image list (the grid's order): SAM prefetches
 * their embeddings. */
async function nextImageIds(projectId: number, imageId: number, count: number): Promise<number[]> {
  for (let page = 1, found = -1, ids: number[] = []; page <= 20; page++) {
    const batch = await api.listImages(projectId, { page, page_size: 96 });
    ids = ids.concat(batch.results.map((i) => i.id));
    if (found < 0) found = ids.indexOf(imageId);
    if (found >= 0 && (ids.length > found + count || !batch.next)) return ids.slice(found + 1, found + 1 + count);
    if (!batch.next) return [];
  }
  return [];
}
