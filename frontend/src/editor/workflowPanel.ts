// The editor's workflow panel: the annotation's state, "Submit for review" for its author (then on to the next task),
// for reviewers the review decisions (accept / reject segments, approve / reject the image, next in the queue),
// reopening approved work for those the server lets, review comments pinned to a point or a segment (drawn on the
// overlay; click one to jump there; resolve / reopen), and the task's history. Everything a reviewer needs is on
// the keyboard (the review rows of editor/shortcuts.ts).
import * as api from "../api/client";
import type { Overlay } from "../canvas/overlay";
import type { Point } from "../canvas/viewport";
import { h, replaceChildren } from "../ui/dom";
import { STATE_LABELS } from "../ui/format";
import { badge } from "../ui/widgets";
import type { EditorSession } from "./session";
import {
  describeTransition,
  latestRejection,
  stepSegment,
  type AnnotationState,
  type EditorMode,
  type WorkflowPermissions,
} from "./workflow";

export interface WorkflowContext {
  session: EditorSession;
  mode: EditorMode;
  permissions: WorkflowPermissions;
  overlay: Overlay;
  notify(message: string, kind?: "info" | "error"): void;
  /** Bring an image point (or box) into view. */
  jumpTo(target: { x: number; y: number; width?: number; height?: number }): void;
  /** Save every pending edit now; false if something could not be saved. */
  flush(): Promise<boolean>;
  /** Open an editor URL (another image, or this one in another mode). */
  open(url: string): void;
  /** Build the editor again for the same URL (after a state change). */
  reload(): void;
  /** Show another annotation of the image next to this one, following the same view (null: stop). */
  sideBySide(annotationId: number | null): Promise<void>;
  /** The user has no annotation of the image yet: they look at what one would start from (the first edit, or
   * Submit through `flush`, starts it). */
  preview: boolean;
}

const NEXT_AFTER_SUBMIT = "annotator.nextAfterSubmit";

/** Whether Submit goes on to the next task (the default; the user may turn it off, remembered in this browser). */
function nextAfterSubmit(): boolean {
  try {
    return localStorage.getItem(NEXT_AFTER_SUBMIT) !== "0";
  } catch {
    return true;
  }
}

function setNextAfterSubmit(on: boolean): void {
  try {
    localStorage.setItem(NEXT_AFTER_SUBMIT, on ? "1" : "0");
  } catch {
    /* not remembered */
  }
}

export const editorUrl = (imageId: number, mode: EditorMode, annotationId?: number) => {
  const params = new URLSearchParams();
  if (mode === "review") params.set("review", "1");
  if (annotationId !== undefined) params.set("annotation", String(annotationId));
  const query = params.toString();
  return `/app/images/${imageId}${query ? `?${query}` : ""}`;
};

export class WorkflowPanel {
  /** The side-panel section. */
  readonly el: HTMLElement;
  /** State badge and main actions, for the editor header. */
  readonly headerEl: HTMLElement;
  /** Waiting for the click that places a new comment. */
  pinning = false;
  private comments: api.Comment[] = [];
  private transitions: api.Transition[] = [];
  /** Saves by someone other than the annotation's author (a reviewer's corrections), newest first. */
  private othersEdits: api.Revision[] = [];
  private activeComment: number | null = null;
  private pendingPin: { x: number; y: number; segmentId: number | null } | null = null;
  private readonly commentList: HTMLElement;
  private readonly composer: HTMLElement;
  private readonly composerText: HTMLTextAreaElement;
  private readonly rejectText: HTMLTextAreaElement;
  private readonly history: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly decisions: HTMLElement;
  private readonly removePainter: () => void;
  private readonly consensus: HTMLElement;
  private heat: ImageBitmap | null = null;
  private showHeat = false;
  private disposed = false;
  private readonly stateBadge: HTMLElement;
  private readonly reopen: HTMLElement;
  private mayReopen = false;
  private preview: boolean;

  constructor(private readonly ctx: WorkflowContext) {
    const { session, permissions } = ctx;
    const annotation = session.data.annotation;
    const state = annotation.state as AnnotationState;
    const who = annotation.annotator_name ? `by ${annotation.annotator_name}` : "pre-label";
    this.preview = ctx.preview;
    this.stateBadge = ctx.preview ? badge("Not started", "new", "annotation-state")
      : badge(STATE_LABELS[state] ?? state, `state-${state}`, "annotation-state");
    const mine = annotation.annotator !== null && annotation.annotator === session.data.me?.id;

    this.headerEl = h("span", { class: "workflow-head" },
      this.stateBadge,
      h("span", { class: "muted" }, who),
      permissions.canSubmit ? h("button", { class: "btn btn-primary btn-sm", testid: "submit-annotation", onclick: () => void this.submit() }, "Submit for review") : null,
      permissions.canSubmit ? h("label", { class: "next-after-submit", title: "After submitting, open your next task" },
        h("input", { type: "checkbox", testid: "next-after-submit", checked: nextAfterSubmit(),
          onchange: (e: Event) => setNextAfterSubmit((e.target as HTMLInputElement).checked) }), " then next task") : null,
      // One's own work waiting for review (or approved): the way on is the next task.
      mine && ctx.mode === "edit" && !permissions.canSubmit && (state === "submitted" || state === "approved")
        ? h("button", { class: "btn btn-primary btn-sm", testid: "editor-next-task", onclick: () => void this.openNextTask() }, "Next task")
        : null,
      this.modeSwitch(),
    );

    this.banner = h("div", { class: "workflow-banner", testid: "workflow-banner", hidden: true, role: "status" });
    this.commentList = h("ol", { class: "comment-list", testid: "comment-list" });
    this.composerText = h("textarea", { rows: 2, testid: "comment-text", placeholder: "What should change here?" });
    this.composerText.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        void this.postComment();
      } else if (e.key === "Escape") this.cancelPin();
    });
    this.composer = h("div", { class: "comment-composer", testid: "comment-composer", hidden: true },
      h("div", { class: "muted", testid: "comment-pin" }),
      this.composerText,
      h("div", { class: "row" },
        h("button", { class: "btn btn-primary btn-sm", testid: "comment-post", onclick: () => void this.postComment() }, "Pin comment"),
        h("button", { class: "btn btn-ghost btn-sm", onclick: () => this.cancelPin() }, "Cancel")));
    this.rejectText = h("textarea", { rows: 2, testid: "reject-reason", placeholder: "Why is it rejected? (required)" });
    this.rejectText.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        void this.rejectImage();
      }
    });
    this.decisions = permissions.canDecide ? h("div", { class: "review-decisions", testid: "review-decisions" },
      h("div", { class: "row" },
        h("button", { class: "btn btn-sm", testid: "segment-accept", title: "Accept the selected segment (A)", onclick: () => void this.decideSegment("accepted") }, "Accept segment · A"),
        h("button", { class: "btn btn-sm", testid: "segment-reject", title: "Reject the selected segment (R)", onclick: () => void this.decideSegment("rejected") }, "Reject segment · R")),
      h("button", { class: "btn btn-sm", testid: "comment-start", title: "Pin a comment (C)", onclick: () => this.startPin() }, "Pin a comment · C"),
      h("div", { class: "row" },
        h("button", { class: "btn btn-primary btn-sm", testid: "image-approve", title: "Approve the image (Shift+A)", onclick: () => void this.approveImage() }, "Approve image · ⇧A")),
      this.rejectText,
      h("button", { class: "btn btn-danger btn-sm", testid: "image-reject", title: "Reject the image (Shift+R, then Ctrl+Enter)", onclick: () => void this.rejectImage() }, "Reject image · ⇧R"),
    ) : h("div", { hidden: true });
    this.history = h("ol", { class: "history-list", testid: "history-list" });
    this.consensus = h("div", { class: "consensus", testid: "consensus", hidden: true });
    this.reopen = h("div", { class: "reopen", testid: "reopen", hidden: true });

    this.el = h("section", { class: "panel workflow-panel", testid: "workflow-panel" },
      h("h3", null, ctx.mode === "review" ? "Review" : "Task"),
      this.banner,
      this.reopen,
      this.consensus,
      this.decisions,
      // Comments are pinned to an annotation: none exists in a preview.
      permissions.canComment && !permissions.canDecide && !ctx.preview ? h("button", { class: "btn btn-sm", testid: "comment-start", onclick: () => this.startPin() }, "Pin a comment · C") : null,
      this.composer,
      h("h4", null, "Comments"),
      this.commentList,
      h("details", { class: "history", testid: "history" }, h("summary", null, "History"), this.history),
    );
    this.removePainter = ctx.overlay.addPainter((o) => this.drawPins(o));
    this.render(); // the read-only note at once; comments and history once loaded
    if (!this.preview) void this.refresh();
    if (ctx.mode === "review") void this.loadConsensus();
    if (session.data.image.state === "approved" && state === "approved") void this.offerReopen();
  }

  /** The first edit started the user's annotation: it is a draft now, with a history. */
  started(): void {
    this.preview = false;
    this.stateBadge.textContent = STATE_LABELS.draft ?? "draft";
    this.stateBadge.className = "badge badge-state-draft";
    this.render();
    void this.refresh();
  }

  /** Approved work is read-only; those the server lets reopen it (with a reason) get the way to. */
  private async offerReopen(): Promise<void> {
    const image = this.ctx.session.data.image;
    try {
      this.mayReopen = (await api.allowedMethods(api.reopenImageUrl(image.id))).includes("POST");
    } catch {
      return;
    }
    if (!this.mayReopen || this.disposed) return;
    const reason = h("textarea", { rows: 2, testid: "reopen-reason", placeholder: "What should change? (required)" });
    const button: HTMLButtonElement = h("button", {
      class: "btn btn-sm", testid: "image-reopen", title: "Make the approved annotation a draft again, to change it",
      onclick: async () => {
        const why = reason.value.trim();
        if (!why) {
          reason.focus();
          this.ctx.notify("Say why the image is reopened", "error");
          return;
        }
        button.disabled = true;
        const reopened = await this.run("Reopening", () => api.reopenImage(image.id, why));
        button.disabled = false;
        if (!reopened) return;
        this.ctx.notify("Reopened: the labels can be changed again");
        const url = editorUrl(image.id, "edit", this.ctx.session.annotationId);
        if (window.location.pathname + window.location.search === url) this.ctx.reload();
        else this.ctx.open(url);
      },
    }, "Reopen for labelling");
    this.reopen.hidden = false;
    replaceChildren(this.reopen, h("h4", null, "Reopen"), reason, button);
    this.render();
  }

  /** With several annotators on the image: who they are (switch between them), how much they agree, where they
   * disagree (a heat map over the image, D), and approving their per-pixel majority. */
  private async loadConsensus(): Promise<void> {
    const { session, permissions } = this.ctx;
    const image = session.data.image;
    let annotations: api.Annotation[];
    try {
      annotations = (await api.listImageAnnotations(image.id)).filter((a) => a.annotator !== null && a.state !== "draft");
    } catch {
      return;
    }
    if (this.disposed || annotations.length < 2) return;
    let agreement: api.Agreement | null = null;
    try {
      agreement = await api.getAgreement(image.id);
    } catch {
      /* shown without scores */
    }
    if (this.disposed) return;
    const metric = { miou: "mIoU", matched_iou: "matched IoU", pq: "PQ" }[agreement?.metric ?? "pq"] ?? "";
    const score = (a: number, b: number) => agreement?.pairs.find((p) => (p.a === a && p.b === b) || (p.a === b && p.b === a))?.score;
    const current = session.annotationId;
    this.consensus.hidden = false;
    replaceChildren(this.consensus,
      h("h4", null, `Consensus · ${annotations.length} annotators`),
      agreement?.mean != null ? h("div", { testid: "agreement-mean" }, `Mean agreement (${metric}) ${agreement.mean.toFixed(2)}`) : null,
      h("ul", { class: "consensus-list" }, annotations.map((a) => h("li", { testid: "consensus-annotation", "data-annotation-id": a.id },
        a.id === current ? h("strong", null, `${a.annotator_name} (shown)`)
          : h("a", { href: editorUrl(image.id, "review", a.id), testid: "consensus-view" }, a.annotator_name),
        " ", badge(STATE_LABELS[a.state] ?? a.state, `state-${a.state}`),
        a.id !== current && score(current, a.id) !== undefined ? h("span", { class: "muted" }, ` ${metric} ${score(current, a.id)!.toFixed(2)} with the shown one`) : null))),
      annotations.length >= 2 ? h("label", { class: "tool-option inline" }, "Side by side with ",
        h("select", {
          testid: "side-by-side",
          onchange: (e: Event) => {
            const value = (e.target as HTMLSelectElement).value;
            void this.ctx.sideBySide(value ? Number(value) : null).catch((err) =>
              this.ctx.notify(`Could not open that annotation: ${(err as Error).message}`, "error"));
          },
        }, h("option", { value: "" }, "nobody"), annotations.filter((a) => a.id !== current).map((a) => h("option", { value: a.id }, a.annotator_name)))) : null,
      h("label", { class: "tool-option inline" },
        h("input", { type: "checkbox", testid: "toggle-disagreement", onchange: (e: Event) => void this.setHeat((e.target as HTMLInputElement).checked) }),
        " Disagreement heat map · D", h("span", { class: "swatch heat-swatch", title: "magenta: where annotators disagree" })),
      permissions.canDecide ? h("button", { class: "btn btn-sm", testid: "approve-merge", title: "Approve what most annotators agree on, pixel by pixel", onclick: () => void this.approveMerge() }, "Approve majority merge") : null,
    );
  }

  private async setHeat(on: boolean): Promise<void> {
    this.showHeat = on;
    const box = this.consensus.querySelector<HTMLInputElement>("[data-testid=toggle-disagreement]");
    if (box) box.checked = on;
    if (on && !this.heat) {
      const heat = await this.run("Loading the heat map", () => api.getDisagreementMap(this.ctx.session.data.image.id));
      if (!heat || this.disposed) return;
      this.heat = heat;
    }
    this.ctx.overlay.requestDraw();
  }

  private async approveMerge(): Promise<void> {
    const image = await this.run("Approving the merge", () => api.approveMerge(this.ctx.session.data.image.id));
    if (!image) return;
    this.ctx.notify("Approved the majority merge");
    await this.openNextReview();
  }

  private modeSwitch(): HTMLElement | null {
    const { session, mode } = this.ctx;
    const role = session.data.project.role;
    if (role !== "manager" && role !== "reviewer") return null;
    const annotation = session.data.annotation;
    if (annotation.annotator === session.data.me?.id) return null; // one's own work is never reviewed by oneself
    return mode === "review"
      ? h("a", { class: "btn btn-ghost btn-sm", testid: "switch-to-edit", href: editorUrl(session.data.image.id, "edit", annotation.id), title: "Correct the map yourself (recorded as your revision)" }, "Edit")
      : h("a", { class: "btn btn-ghost btn-sm", testid: "switch-to-review", href: editorUrl(session.data.image.id, "review", annotation.id) }, "Review");
  }

  dispose(): void {
    this.disposed = true;
    this.removePainter();
    this.heat?.close();
  }

  /** Reload comments and history from the server. */
  async refresh(): Promise<void> {
    const { session } = this.ctx;
    try {
      const [comments, transitions, revisions] = await Promise.all([
        api.listComments(session.annotationId),
        api.listTransitions(session.data.image.id),
        api.listRevisions(session.annotationId),
      ]);
      if (this.disposed) return;
      this.comments = comments;
      this.transitions = transitions;
      const author = session.data.annotation.annotator;
      this.othersEdits = revisions.results.filter((r) => r.author !== null && r.author !== author);
      this.render();
    } catch (err) {
      if (!this.disposed) this.ctx.notify(`Could not load the review comments: ${(err as Error).message}`, "error");
    }
  }

  private render(): void {
    const { session, permissions } = this.ctx;
    const rejection = latestRejection(this.transitions, session.annotationId);
    const notes: string[] = [];
    if (rejection) notes.push(`Rejected by ${rejection.actor_name ?? "a reviewer"}: ${rejection.reason}`);
    if (this.preview) notes.push("Not started: the image stays free for others until your first edit starts your annotation.");
    if (this.mayReopen) notes.push("Approved: read-only. Reopen it below to change its labels.");
    else if (permissions.readOnlyReason) notes.push(permissions.readOnlyReason);
    this.banner.hidden = !notes.length;
    this.banner.dataset.kind = rejection ? "rejected" : "info";
    replaceChildren(this.banner, notes.map((n) => h("div", null, n)));

    const open = this.comments.filter((c) => !c.resolved).length;
    if (!this.comments.length) replaceChildren(this.commentList, h("li", { class: "muted empty" }, "No comments."));
    else replaceChildren(this.commentList, this.comments.map((c, i) => this.commentItem(c, i + 1)));
    this.commentList.dataset.open = String(open);
    const lines = [
      ...this.transitions.map((t) => ({ at: t.created_at, text: describeTransition(t), kind: "transition" })),
      ...this.othersEdits.map((r) => ({ at: r.created_at, text: `${r.author_name}: edited the map (revision ${r.version})`, kind: "edit" })),
    ].sort((a, b) => a.at.localeCompare(b.at));
    replaceChildren(this.history, lines.map((line) =>
      h("li", { testid: "history-item", "data-kind": line.kind }, h("time", { class: "muted", datetime: line.at }, new Date(line.at).toLocaleString()), " ", line.text)));
    if (this.othersEdits.length) {
      const names = [...new Set(this.othersEdits.map((r) => r.author_name))].join(", ");
      this.banner.append(h("div", { testid: "edited-by-others" }, `Edited by ${names} (see History)`));
      this.banner.hidden = false;
    }
    this.ctx.overlay.requestDraw();
  }

  private commentItem(c: api.Comment, n: number): HTMLElement {
    const { permissions } = this.ctx;
    const pinned = [c.x !== null && c.y !== null ? `at ${Math.round(c.x)}, ${Math.round(c.y)}` : null,
      c.segment_id !== null ? this.segmentLabel(c.segment_id) : null].filter(Boolean).join(" · ");
    return h("li", { class: `comment${c.resolved ? " resolved" : ""}${this.activeComment === c.id ? " active" : ""}`, testid: "comment", "data-comment-id": c.id, "data-resolved": c.resolved },
      h("button", { class: "link comment-jump", testid: "comment-jump", title: "Show the place", onclick: () => this.jumpToComment(c) },
        h("span", { class: "pin-number" }, String(n)), " ", c.body),
      h("div", { class: "muted" }, `${c.author_name ?? "?"} · ${pinned}${c.resolved ? ` · resolved by ${c.resolved_by_name ?? "?"}` : ""}`),
      permissions.canResolve ? h("button", { class: "btn btn-ghost btn-sm", testid: c.resolved ? "comment-reopen" : "comment-resolve", onclick: () => void this.setResolved(c, !c.resolved) }, c.resolved ? "Reopen" : "Resolve") : null);
  }

  private segmentLabel(segmentId: number): string {
    const row = this.ctx.session.table.get(segmentId);
    if (!row) return `segment ${segmentId} (deleted)`;
    const cls = this.ctx.session.classes.get(row.classId);
    return `${cls?.name ?? "segment"}${row.instance !== null ? ` #${row.instance}` : ""}`;
  }

  private drawPins(o: Overlay): void {
    const image = this.ctx.session.data.image;
    if (this.showHeat && this.heat) o.drawPicture(this.heat, image.width, image.height);
    this.comments.forEach((c, i) => {
      const at = this.commentPoint(c);
      if (at) o.drawPin(at, String(i + 1), { color: c.resolved ? "#9e9e9e" : "#ffb300", active: c.id === this.activeComment });
    });
    if (this.pendingPin) o.drawPin(this.pendingPin, "+", { color: "#4fc3f7", active: true });
  }

  private commentPoint(c: api.Comment): Point | null {
    if (c.x !== null && c.y !== null) return { x: c.x, y: c.y };
    const row = c.segment_id !== null ? this.ctx.session.table.get(c.segment_id) : undefined;
    if (!row || !row.bbox.length) return null;
    return { x: row.bbox[0] + row.bbox[2] / 2, y: row.bbox[1] + row.bbox[3] / 2 };
  }

  jumpToComment(c: api.Comment): void {
    this.activeComment = c.id;
    const { session } = this.ctx;
    const row = c.segment_id !== null ? session.table.get(c.segment_id) : undefined;
    if (row) session.select(row.segmentId);
    const at = this.commentPoint(c);
    if (row && row.bbox.length) this.ctx.jumpTo({ x: row.bbox[0], y: row.bbox[1], width: row.bbox[2], height: row.bbox[3] });
    else if (at) this.ctx.jumpTo(at);
    this.render();
  }

  // --- actions ------------------------------------------------------------------------------------------

  private async run<T>(what: string, action: () => Promise<T>): Promise<T | null> {
    try {
      return await action();
    } catch (err) {
      this.ctx.notify(`${what} failed: ${(err as Error).message}`, "error");
      return null;
    }
  }

  private async submit(): Promise<void> {
    const { session } = this.ctx;
    if (!(await this.ctx.flush())) {
      this.ctx.notify("Some changes are not saved yet; submit again once they are", "error");
      return;
    }
    const done = await this.run("Submitting", () => api.submitAnnotation(session.annotationId));
    if (!done) return;
    if (!nextAfterSubmit()) {
      this.ctx.notify("Submitted for review");
      this.ctx.reload();
      return;
    }
    if (!(await this.openNextTask("Submitted for review. "))) this.ctx.reload();
  }

  /** Open the user's next task; false (and says so) when none is left. */
  async openNextTask(before = ""): Promise<boolean> {
    const project = this.ctx.session.data.project;
    const next = await this.run("Finding the next task", () => api.nextTask(project.id));
    if (!next) return false;
    if (!next.image) {
      this.ctx.notify(`${before}No task is left for you in this project.`);
      return false;
    }
    this.ctx.notify(`${before}Next task: ${next.image.original_name}`);
    this.ctx.open(editorUrl(next.image.id, "edit"));
    return true;
  }

  startPin(): void {
    if (!this.ctx.permissions.canComment || this.preview) return;
    this.pinning = true;
    this.ctx.notify(this.ctx.session.activeSegment !== null
      ? "Click the place the comment is about, or press Enter to pin it to the selected segment"
      : "Click the place the comment is about", "info");
  }

  /** Keyboard alternative to the click: pin to the selected segment, at the middle of its box. */
  private pinToSelected(): boolean {
    const row = this.ctx.session.activeSegment !== null ? this.ctx.session.table.get(this.ctx.session.activeSegment) : undefined;
    if (!row || !row.bbox.length) return false;
    this.placePin({ x: row.bbox[0] + row.bbox[2] / 2, y: row.bbox[1] + row.bbox[3] / 2 }, row.segmentId);
    return true;
  }

  /** The click after startPin(): remember the place (and the segment under it) and ask for the text. */
  placePin(p: Point, segment?: number): void {
    const { session } = this.ctx;
    this.pinning = false;
    const x = Math.min(Math.max(p.x, 0), session.data.image.width);
    const y = Math.min(Math.max(p.y, 0), session.data.image.height);
    const id = session.map.get(Math.floor(x), Math.floor(y));
    const segmentId = segment ?? (id && session.table.has(id) ? id : null);
    this.pendingPin = { x, y, segmentId };
    this.composer.hidden = false;
    this.composer.querySelector<HTMLElement>("[data-testid=comment-pin]")!.textContent =
      `Pinned at ${Math.round(x)}, ${Math.round(y)}${segmentId !== null ? ` on ${this.segmentLabel(segmentId)}` : ""}`;
    this.composerText.focus();
    this.ctx.overlay.requestDraw();
  }

  private cancelPin(): void {
    this.pinning = false;
    this.pendingPin = null;
    this.composer.hidden = true;
    this.composerText.value = "";
    this.ctx.overlay.requestDraw();
  }

  private async postComment(): Promise<void> {
    const pin = this.pendingPin;
    const body = this.composerText.value.trim();
    if (!pin) return;
    if (!body) {
      this.ctx.notify("Type the comment first", "error");
      return;
    }
    const comment = await this.run("Pinning the comment", () =>
      api.createComment(this.ctx.session.annotationId, { body, x: pin.x, y: pin.y, segment_id: pin.segmentId }));
    if (!comment) return;
    this.comments = [...this.comments, comment];
    this.activeComment = comment.id;
    this.cancelPin();
    this.render();
  }

  private async setResolved(c: api.Comment, resolved: boolean): Promise<void> {
    const updated = await this.run(resolved ? "Resolving" : "Reopening", () => api.setCommentResolved(c.id, resolved));
    if (!updated) return;
    this.comments = this.comments.map((x) => (x.id === updated.id ? updated : x));
    this.render();
  }

  private async decideSegment(reviewState: "accepted" | "rejected"): Promise<void> {
    const { session } = this.ctx;
    const id = session.activeSegment;
    if (id === null) {
      this.ctx.notify("Select a segment first (J / K step through them)", "error");
      return;
    }
    const rows = await this.run("Reviewing the segment", () => api.reviewSegments(session.annotationId, [id], reviewState));
    if (!rows) return;
    session.table.setReviewStates(rows);
    session.emit("review");
    this.step(1, true);
  }

  /** Select the next (or previous) segment, preferring pending ones, and bring it into view. */
  step(dir: 1 | -1, pendingFirst = false): void {
    const { session } = this.ctx;
    const rows = this.reviewOrder();
    const next = stepSegment(rows, session.activeSegment, dir, pendingFirst);
    if (next === null) {
      if (pendingFirst) this.ctx.notify("Every segment has a decision", "info");
      return;
    }
    session.select(next);
    const row = session.table.get(next);
    if (row && row.bbox.length) this.ctx.jumpTo({ x: row.bbox[0], y: row.bbox[1], width: row.bbox[2], height: row.bbox[3] });
  }

  /** Segments top to bottom, left to right: the order a reviewer reads the image in. */
  private reviewOrder() {
    return this.ctx.session.table.all().filter((r) => r.bbox.length).sort((a, b) => a.bbox[1] - b.bbox[1] || a.bbox[0] - b.bbox[0] || a.segmentId - b.segmentId);
  }

  private async approveImage(): Promise<void> {
    const { session } = this.ctx;
    const image = await this.run("Approving", () => api.approveImage(session.data.image.id, { annotation: session.annotationId }));
    if (!image) return;
    this.ctx.notify("Approved");
    await this.openNextReview();
  }

  private async rejectImage(): Promise<void> {
    const { session } = this.ctx;
    const reason = this.rejectText.value.trim();
    if (!reason) {
      this.rejectText.focus();
      this.ctx.notify("Give the reason for the rejection", "error");
      return;
    }
    const image = await this.run("Rejecting", () => api.rejectImage(session.data.image.id, { reason, annotations: [session.annotationId] }));
    if (!image) return;
    this.ctx.notify("Rejected: sent back to the annotator");
    await this.openNextReview();
  }

  async openNextReview(): Promise<void> {
    const project = this.ctx.session.data.project;
    const next = await this.run("Finding the next image", () => api.nextReview(project.id));
    if (!next) return;
    if (next.image) this.ctx.open(editorUrl(next.image.id, "review"));
    else {
      this.ctx.notify("Nothing left to review in this project");
      this.ctx.open(`/app/projects/${project.id}?state=submitted`);
    }
  }

  /** Review keys (see REVIEW_SHORTCUTS); true when the key was used. */
  key(e: KeyboardEvent): boolean {
    const { permissions } = this.ctx;
    const k = e.key.toLowerCase();
    if (this.pinning && e.key === "Enter") return this.pinToSelected();
    if (this.pinning && e.key === "Escape") {
      this.cancelPin();
      return true;
    }
    if (this.ctx.mode !== "review") {
      if (k === "c" && !e.shiftKey && permissions.canComment) {
        this.startPin();
        return true;
      }
      return false;
    }
    if (!e.shiftKey && k === "j") this.step(1);
    else if (!e.shiftKey && k === "k") this.step(-1);
    else if (!e.shiftKey && k === "c" && permissions.canComment) this.startPin();
    else if (!e.shiftKey && k === "d" && !this.consensus.hidden) void this.setHeat(!this.showHeat);
    else if (e.shiftKey && k === "n") void this.openNextReview();
    else if (!permissions.canDecide) return false;
    else if (!e.shiftKey && k === "a") void this.decideSegment("accepted");
    else if (!e.shiftKey && k === "r") void this.decideSegment("rejected");
    else if (e.shiftKey && k === "a") void this.approveImage();
    else if (e.shiftKey && k === "r") this.rejectText.focus();
    else return false;
    return true;
  }
}
