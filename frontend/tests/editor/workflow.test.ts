import { describe, expect, it } from "vitest";
import type { Transition } from "../../src/api/client";
import { describeTransition, latestRejection, refusalTitle, sameSegments, stepSegment, workflowPermissions, type WorkflowFacts } from "../../src/editor/workflow";

const facts = (patch: Partial<WorkflowFacts>): WorkflowFacts => ({ mode: "edit", role: "annotator", state: "draft", isAuthor: true, ...patch });

describe("workflowPermissions", () => {
  it("lets the author edit and submit a draft or a rejected annotation", () => {
    for (const state of ["draft", "rejected"] as const) {
      const p = workflowPermissions(facts({ state }));
      expect([p.canEdit, p.canSubmit, p.canDecide, p.readOnlyReason]).toEqual([true, true, false, null]);
    }
  });

  it("freezes submitted work for its author and approved work for everyone", () => {
    expect(workflowPermissions(facts({ state: "submitted" })).canEdit).toBe(false);
    expect(workflowPermissions(facts({ state: "submitted" })).canSubmit).toBe(false);
    for (const role of ["annotator", "reviewer", "manager"] as const) {
      const p = workflowPermissions(facts({ state: "approved", role, isAuthor: role === "annotator" }));
      expect(p.canEdit).toBe(false);
      expect(p.readOnlyReason).toMatch(/Approved/);
    }
  });

  it("lets reviewers decide only in review mode, on submitted work that is not theirs", () => {
    const review = facts({ mode: "review", role: "reviewer", state: "submitted", isAuthor: false });
    expect(workflowPermissions(review)).toMatchObject({ canEdit: false, canDecide: true, canComment: true, canSubmit: false });
    expect(workflowPermissions({ ...review, isAuthor: true }).canDecide).toBe(false);
    expect(workflowPermissions({ ...review, state: "draft" }).canDecide).toBe(false);
    expect(workflowPermissions({ ...review, role: "annotator" }).canDecide).toBe(false);
    // In edit mode a reviewer corrects a submitted map (their own revision), deciding nothing there.
    expect(workflowPermissions({ ...review, mode: "edit" })).toMatchObject({ canEdit: true, canDecide: false });
  });

  it("keeps other people's annotations read-only for annotators and non-members", () => {
    expect(workflowPermissions(facts({ isAuthor: false })).canEdit).toBe(false);
    expect(workflowPermissions(facts({ role: null })).readOnlyReason).toMatch(/not a member/);
  });
});

describe("stepSegment", () => {
  const rows = [1, 2, 3, 4].map((segmentId) => ({ segmentId, reviewState: segmentId === 2 ? "accepted" : "pending" }));

  it("walks forward and back with wrap-around", () => {
    expect(stepSegment(rows, null, 1)).toBe(1);
    expect(stepSegment(rows, null, -1)).toBe(4);
    expect(stepSegment(rows, 4, 1)).toBe(1);
    expect(stepSegment(rows, 1, -1)).toBe(4);
    expect(stepSegment([], null, 1)).toBeNull();
  });

  it("prefers pending segments and says when none is left", () => {
    expect(stepSegment(rows, 1, 1, true)).toBe(3);
    const decided = rows.map((r) => ({ ...r, reviewState: "accepted" }));
    expect(stepSegment(decided, 1, 1, true)).toBeNull();
    expect(stepSegment([{ segmentId: 5, reviewState: "pending" }], 5, 1, true)).toBeNull();
  });
});

const t = (id: number, annotation: number | null, from: string, to: string, reason = ""): Transition => ({
  id, image: 1, annotation, subject: annotation === null ? "image" : "annotation", actor: 2, actor_name: "rev",
  from_state: from, to_state: to, reason, created_at: "2026-12-03T10:00:00Z",
});

describe("latestRejection", () => {
  it("finds the rejection a fix is answering, and forgets it once resubmitted", () => {
    const history = [t(1, 7, "draft", "submitted"), t(2, 7, "submitted", "rejected", "cut off"), t(3, null, "submitted", "rejected", "cut off")];
    expect(latestRejection(history, 7)?.reason).toBe("cut off");
    expect(latestRejection([...history, t(4, 7, "rejected", "draft")], 7)?.id).toBe(2);
    expect(latestRejection([...history, t(4, 7, "rejected", "submitted")], 7)).toBeNull();
    expect(latestRejection(history, 8)).toBeNull();
  });

  it("describes a transition in one line", () => {
    expect(describeTransition(t(1, null, "in_progress", "submitted"))).toBe("rev: image in progress → submitted");
    expect(describeTransition(t(2, 7, "submitted", "rejected", "blurry"))).toBe("rev: annotation submitted → rejected — blurry");
  });
});

describe("opening an image without a task (issue 16 items 17, 18)", () => {
  it("titles each refusal to start labelling in words", () => {
    expect(refusalTitle({ code: "task_closed", message: "", extra: { state: "approved" } })).toBe("This image is approved");
    expect(refusalTitle({ code: "task_closed", message: "", extra: { state: "submitted" } })).toBe("This image waits for review");
    expect(refusalTitle({ code: "task_full", message: "", extra: { annotators_per_image: 1 } })).toBe("Someone else is labelling this image");
    expect(refusalTitle({ code: "not_a_labeller", message: "" })).toBe("Reviewers do not label images");
    expect(refusalTitle({ code: "something_new", message: "" })).toBe("There is nothing to label here");
  });

  it("keeps the edits made before the start when the started annotation holds what the user saw", () => {
    const seen = [{ segment_id: 1, class_id: 9, instance: 1 }, { segment_id: 4, class_id: 2, instance: null }];
    expect(sameSegments([...seen].reverse(), seen)).toBe(true);
    expect(sameSegments([], [])).toBe(true); // nothing pre-labelled, nothing started from
    expect(sameSegments([seen[0]], seen)).toBe(false); // the pre-label changed meanwhile
    expect(sameSegments([{ ...seen[0], class_id: 3 }, seen[1]], seen)).toBe(false);
  });
});
