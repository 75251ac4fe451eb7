// The editor's workflow rules, without DOM: what the user may do with the open annotation (the server checks the
// same rules; this only decides what the UI offers), the order in which a reviewer steps through segments, and
// what the transition history says about the latest rejection.
import type { RoleEnum, Transition } from "../api/client";

export type EditorMode = "edit" | "review";
export type AnnotationState = "draft" | "submitted" | "approved" | "rejected";

export interface WorkflowFacts {
  mode: EditorMode;
  role: RoleEnum | null;
  state: AnnotationState;
  /** The open annotation is the user's own work. */
  isAuthor: boolean;
}

export interface WorkflowPermissions {
  canEdit: boolean;
  canSubmit: boolean;
  /** Accept / reject segments, approve / reject the image. */
  canDecide: boolean;
  canComment: boolean;
  canResolve: boolean;
  /** Why the map is read-only, when it is (shown in the editor's banner). */
  readOnlyReason: string | null;
}

const DECIDERS: ReadonlyArray<RoleEnum> = ["manager", "reviewer"];

export function workflowPermissions(f: WorkflowFacts): WorkflowPermissions {
  const decider = f.role !== null && DECIDERS.includes(f.role);
  let readOnlyReason: string | null = null;
  if (f.role === null) readOnlyReason = "You are not a member of this project.";
  else if (f.mode === "review") readOnlyReason = "Review mode: the annotation is read-only. Switch to edit to correct it.";
  else if (f.state === "approved") readOnlyReason = "Approved: read-only until a reviewer reopens it.";
  else if (f.state === "submitted" && f.isAuthor) readOnlyReason = "Submitted for review: read-only unless it is rejected.";
  else if (!f.isAuthor && !decider) readOnlyReason = "This is someone else's annotation.";
  return {
    canEdit: readOnlyReason === null,
    canSubmit: f.isAuthor && f.mode === "edit" && (f.state === "draft" || f.state === "rejected"),
    canDecide: decider && f.mode === "review" && !f.isAuthor && f.state === "submitted",
    canComment: decider,
    canResolve: f.role !== null && (f.isAuthor || decider),
    readOnlyReason,
  };
}

export interface ReviewableSegment {
  segmentId: number;
  reviewState: string;
}

/**
 * The segment J (dir 1) or K (dir -1) moves to from `current`, in `rows` order, wrapping around. With
 * `pendingFirst`, the next segment still pending is preferred, so A / R step through what is left to decide.
 */
export function stepSegment(rows: ReadonlyArray<ReviewableSegment>, current: number | null, dir: 1 | -1,
  pendingFirst = false): number | null {
  if (!rows.length) return null;
  const at = current === null ? -1 : rows.findIndex((r) => r.segmentId === current);
  const start = at < 0 ? (dir === 1 ? -1 : 0) : at;
  const n = rows.length;
  if (pendingFirst) {
    for (let k = 1; k <= n; k++) {
      const row = rows[(((start + dir * k) % n) + n) % n];
      if (row.reviewState === "pending" && row.segmentId !== current) return row.segmentId;
    }
    return null;
  }
  return rows[(((start + dir) % n) + n) % n].segmentId;
}

/** The newest rejection of this annotation (its reason and reviewer), if its latest decision was a rejection. */
export function latestRejection(transitions: ReadonlyArray<Transition>, annotationId: number): Transition | null {
  for (let i = transitions.length - 1; i >= 0; i--) {
    const t = transitions[i];
    if (t.annotation !== annotationId) continue;
    if (t.to_state === "rejected") return t;
    if (t.to_state === "approved" || t.to_state === "submitted") return null;
  }
  return null;
}

/** "annotator submitted", "reviewer rejected: reason" — one history line per transition. */
export function describeTransition(t: Transition): string {
  const who = t.actor_name ?? "someone";
  const what = t.subject === "image" ? `image ${t.from_state.replace("_", " ")} → ${t.to_state.replace("_", " ")}`
    : `annotation ${t.from_state} → ${t.to_state}`;
  return `${who}: ${what}${t.reason ? ` — ${t.reason}` : ""}`;
}

/** Why an image opened without anything to label (the server's refusal to start one), as the editor's page says it. */
export interface TaskRefusal {
  code: string;
  message: string;
  extra?: Record<string, unknown>;
}

/** The title of the page shown instead of the editor when the user may not start labelling the image. */
export function refusalTitle(refusal: TaskRefusal): string {
  const state = typeof refusal.extra?.state === "string" ? refusal.extra.state : null;
  if (refusal.code === "task_full") return "Someone else is labelling this image";
  if (refusal.code === "not_a_labeller") return "Reviewers do not label images";
  if (refusal.code === "task_closed" && state === "approved") return "This image is approved";
  if (refusal.code === "task_closed" && state === "submitted") return "This image waits for review";
  if (refusal.code === "task_closed" && state === "rejected") return "This image went back to its annotators";
  return "There is nothing to label here";
}

export interface SegmentKey {
  segment_id: number;
  class_id: number;
  instance: number | null;
}

/**
 * Whether the annotation the first edit started holds the segments the user was looking at (the pre-label they
 * saw, or nothing): then the edits made meanwhile apply to it as they are. False when the pre-label changed between
 * opening and starting.
 */
export function sameSegments(started: ReadonlyArray<SegmentKey>, seen: ReadonlyArray<SegmentKey>): boolean {
  if (started.length !== seen.length) return false;
  const key = (s: SegmentKey) => `${s.segment_id}:${s.class_id}:${s.instance ?? ""}`;
  const keys = new Set(seen.map(key));
  return started.every((s) => keys.has(key(s)));
}
