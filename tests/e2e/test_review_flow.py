"""The review loop in the browser: an annotator submits, a reviewer rejects one segment with a pinned comment
(keyboard only), the annotator finds the comment, fixes the segment and resubmits, the reviewer approves, and
the image is in the approved set exporters read."""

import re

import pytest
from django.contrib.auth import get_user_model

from labeling.models import (
    Annotation,
    AnnotationState,
    Image,
    Membership,
    ReviewComment,
    Revision,
    Role,
    Segment,
    TaskState,
)
from labeling.selectors import approved_label_maps
from tests.e2e.conftest import shot
from tests.e2e.test_editor_flow import PASSWORD, canvas_point, drag, login, photo, wait_saved

pytestmark = pytest.mark.django_db(transaction=True)


def review_project(tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from labeling.services.images import images_upload
    from labeling.services.projects import label_class_create, project_create

    users = {name: get_user_model().objects.create_user(name, password=PASSWORD)
             for name in ("boss", "ann", "rita")}
    project = project_create(user=users["boss"], name="Review loop", kind="instance", guidelines="Cars only.")
    Membership.objects.create(project=project, user=users["ann"], role=Role.ANNOTATOR)
    Membership.objects.create(project=project, user=users["rita"], role=Role.REVIEWER)
    label_class_create(project=project, name="car", kind="thing", color="#ff0000")
    with open(photo(tmp_path / "street.jpg", 5), "rb") as fh:
        images_upload(project=project, files=[SimpleUploadedFile("street.jpg", fh.read())], user=users["boss"])
    return project


def open_from_project(page, base, project, button):
    page.goto(f"{base}/app/projects/{project.pk}")
    page.get_by_test_id(button).click()
    page.wait_for_url(re.compile(r".*/app/images/\d+.*"))
    page.wait_for_function("window.__editor && window.__editor.renderer.viewport.scale > 0")


def editor_state(page):
    return page.evaluate("""() => ({mode: window.__editor.mode, canEdit: window.__editor.permissions.canEdit,
        active: window.__editor.session.activeSegment, scale: window.__editor.renderer.viewport.scale,
        segments: window.__editor.session.table.all().map(r => [r.segmentId, r.reviewState, r.area])})""")


def test_reject_one_segment_with_a_pinned_comment_fix_and_approve(live_server, new_page, tmp_path):
    project = review_project(tmp_path)
    base = live_server.url
    image = Image.objects.get(project=project)

    # --- the annotator pulls the task, paints two cars and submits
    ann = new_page()
    login(ann, base, "ann")
    open_from_project(ann, base, project, "next-task")
    assert editor_state(ann)["canEdit"]
    drag(ann, [(100, 100), (160, 120), (100, 140)])
    ann.keyboard.press("n")
    drag(ann, [(400, 300), (460, 320), (400, 340)])
    wait_saved(ann)
    ann.get_by_test_id("submit-annotation").click()
    ann.get_by_test_id("annotation-state").filter(has_text="Submitted").wait_for()
    assert not editor_state(ann)["canEdit"]
    ann.get_by_test_id("workflow-banner").filter(has_text="read-only").wait_for()
    shot(ann, "review-01-submitted")
    annotation = Annotation.objects.get(image=image, annotator__username="ann")
    assert annotation.state == AnnotationState.SUBMITTED
    image.refresh_from_db()
    assert image.state == TaskState.SUBMITTED
    left, right = sorted(Segment.objects.filter(annotation=annotation), key=lambda s: s.bbox[0])

    # --- the reviewer clears the queue from the keyboard: accept one car, reject the other with a comment
    # (a comment can also be pinned to a point with a click: C, then click; tested in the consensus test)
    rita = new_page()
    login(rita, base, "rita")
    open_from_project(rita, base, project, "next-review")
    state = editor_state(rita)
    assert state["mode"] == "review" and not state["canEdit"]
    # Zoom and position survive switching to edit (to correct the map) and back.
    rita.get_by_test_id("editor-overlay").focus()
    rita.keyboard.press("+")
    rita.keyboard.press("ArrowLeft")
    view = rita.evaluate("() => ({...window.__editor.renderer.viewport})")
    rita.wait_for_timeout(300)  # the view is remembered a moment after it changes
    for switch, mode in (("switch-to-edit", "edit"), ("switch-to-review", "review")):
        rita.get_by_test_id(switch).click()
        rita.wait_for_function(f"window.__editor && window.__editor.mode === '{mode}'")
        # The view is restored when the new editor's stage is first laid out: wait for it, then compare.
        rita.wait_for_function("([s, x, y]) => { const v = window.__editor.renderer.viewport;"
                               " return Math.abs(v.scale - s) < 1e-9 && Math.abs(v.x - x) < 1e-6"
                               " && Math.abs(v.y - y) < 1e-6; }", arg=[view["scale"], view["x"], view["y"]],
                               timeout=5000)
    rita.get_by_test_id("editor-overlay").focus()
    rita.keyboard.press("j")  # the first segment, top to bottom
    rita.wait_for_function(f"window.__editor.session.activeSegment === {left.segment_id}")
    rita.keyboard.press("a")  # accept, then on to the next pending one
    rita.wait_for_function(f"window.__editor.session.activeSegment === {right.segment_id}")
    rita.keyboard.press("r")
    rita.wait_for_function(
        f"window.__editor.session.table.get({right.segment_id}).reviewState === 'rejected'")
    rita.keyboard.press("c")
    rita.keyboard.press("Enter")  # pinned to the selected segment, without the mouse
    rita.get_by_test_id("comment-text").fill("The rear bumper is missing")
    rita.keyboard.press("Enter")
    rita.get_by_test_id("comment").first.wait_for()
    shot(rita, "review-02-segment-rejected-with-comment")
    rita.get_by_test_id("editor-overlay").focus()
    rita.keyboard.press("Shift+R")
    rita.keyboard.type("One car is cut off, see the comment")
    rita.keyboard.press("Control+Enter")
    rita.wait_for_url(re.compile(r".*/app/projects/\d+.*"))  # nothing else to review
    image.refresh_from_db()
    annotation.refresh_from_db()
    assert (image.state, annotation.state) == (TaskState.REJECTED, AnnotationState.REJECTED)
    assert {s.segment_id: s.review_state for s in Segment.objects.filter(annotation=annotation)} == {
        left.segment_id: "accepted", right.segment_id: "rejected"}
    comment = ReviewComment.objects.get(annotation=annotation)
    assert comment.segment_id == right.segment_id and 420 <= comment.x <= 440 and 310 <= comment.y <= 330
    assert not Revision.objects.filter(annotation=annotation, author__username="rita").exists()  # decided, not edited

    # --- the annotator sees the rejection, jumps to the comment, fixes that car and resubmits
    open_from_project(ann, base, project, "next-task")
    ann.get_by_test_id("workflow-banner").filter(has_text="One car is cut off").wait_for()
    before = editor_state(ann)
    ann.get_by_test_id("comment-jump").first.click()
    ann.wait_for_function(f"window.__editor.session.activeSegment === {right.segment_id}")
    assert editor_state(ann)["scale"] > before["scale"]  # zoomed in on the segment
    shot(ann, "review-03-annotator-jumped-to-comment")
    ann.get_by_test_id("tool-brush").click()
    drag(ann, [(440, 320), (480, 330)])  # extends the selected segment
    wait_saved(ann)
    ann.get_by_test_id("comment-resolve").click()
    ann.get_by_test_id("comment-reopen").wait_for()
    assert ReviewComment.objects.get(pk=comment.pk).resolved_at is not None
    ann.get_by_test_id("submit-annotation").click()
    ann.get_by_test_id("annotation-state").filter(has_text="Submitted").wait_for()
    fixed = Segment.objects.get(annotation=annotation, segment_id=right.segment_id)
    assert fixed.area > right.area and fixed.review_state == "pending"
    assert Segment.objects.get(annotation=annotation, segment_id=left.segment_id).review_state == "accepted"

    # --- the reviewer approves: the image is in the approved set
    open_from_project(rita, base, project, "next-review")
    rita.get_by_test_id("history-item").first.wait_for(state="attached")
    history = rita.get_by_test_id("history-item").all_text_contents()
    assert any("rejected" in line and "cut off" in line for line in history)
    rita.get_by_test_id("editor-overlay").focus()
    rita.keyboard.press("Shift+A")
    rita.wait_for_url(re.compile(r".*/app/projects/\d+.*"))
    image.refresh_from_db()
    assert image.state == TaskState.APPROVED
    assert [(i.pk, i.approved_annotation_id) for i in approved_label_maps(project=project)] == [
        (image.pk, annotation.pk)]
    rita.goto(f"{base}/app/projects/{project.pk}?state=approved")
    rita.get_by_test_id("image-card").first.wait_for()
    shot(rita, "review-04-approved")


def test_manager_assigns_marks_gold_and_reads_the_dashboard(live_server, new_page, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from labeling.models import TaskAssignment
    from labeling.services.images import images_upload
    from labeling.services.labelmaps import annotation_get_or_create
    from labeling.services.tasks import annotation_submit, image_approve
    from tests.api.test_workflow import paint

    project = review_project(tmp_path)
    bob = get_user_model().objects.create_user("bob", password=PASSWORD)
    Membership.objects.create(project=project, user=bob, role=Role.ANNOTATOR)
    with open(photo(tmp_path / "more.jpg", 6), "rb") as a, open(photo(tmp_path / "other.jpg", 7), "rb") as b:
        images_upload(project=project, user=project.created_by, files=[
            SimpleUploadedFile("more.jpg", a.read()), SimpleUploadedFile("other.jpg", b.read())])
    first, second, third = Image.objects.filter(project=project).order_by("id")
    done, _ = annotation_get_or_create(image=first, user=get_user_model().objects.get(username="ann"))
    paint(done, done.annotator)
    annotation_submit(annotation=done, user=done.annotator)
    image_approve(image=first, user=get_user_model().objects.get(username="rita"))

    page = new_page()
    login(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/app/projects/{project.pk}")
    cards = page.get_by_test_id("image-card")
    cards.first.wait_for()
    page.locator(f"[data-image-id='{third.pk}'] [data-testid=image-pick]").check()
    page.locator(f"[data-image-id='{second.pk}'] [data-testid=image-pick]").check()
    assert page.get_by_test_id("selected-count").text_content() == "2 images selected"
    page.get_by_test_id("assign-user").select_option(label="bob (annotator)")
    page.get_by_test_id("assign").click()
    page.get_by_text("2 images assigned").wait_for()
    assert sorted(TaskAssignment.objects.filter(user=bob).values_list("image_id", flat=True)) == [second.pk, third.pk]
    page.locator(f"[data-image-id='{first.pk}'] [data-testid=image-pick]").check()
    page.get_by_test_id("mark-gold").click()
    page.locator(f"[data-image-id='{first.pk}'] [data-testid=image-gold]").wait_for()
    first.refresh_from_db()
    assert first.is_gold
    shot(page, "review-05-manager-assigned-and-gold")

    # The workflow settings: consensus and the gold share.
    page.goto(f"{live_server.url}/app/projects/{project.pk}/settings")
    page.get_by_test_id("project-gold-share").fill("20")
    page.get_by_test_id("project-annotators-per-image").fill("2")
    shot(page, "review-05b-workflow-settings")
    page.get_by_test_id("save-project").click()
    page.wait_for_function(f"""async () => (await (await fetch('/api/projects/{project.pk}/')).json())
                              .gold_share === 0.2""")
    project.refresh_from_db()
    assert (project.gold_share, project.annotators_per_image) == (0.2, 2)
    project.annotators_per_image = 1
    project.save()

    page.get_by_test_id("tab-dashboard").click()
    page.get_by_test_id("dashboard-summary").wait_for()
    assert page.locator(".chart-figure").count() >= 7
    assert page.locator("[data-testid=dashboard-summary] [data-state=approved] strong").text_content() == "1"
    shot(page, "review-06-dashboard")

    # Bob's next task is one assigned to him, the oldest first.
    bob_page = new_page()
    login(bob_page, live_server.url, "bob")
    open_from_project(bob_page, live_server.url, project, "next-task")
    assert bob_page.url.endswith(f"/app/images/{second.pk}")


def test_consensus_review_shows_agreement_and_disagreement_and_approves_the_majority(live_server, new_page, tmp_path):
    from labeling.services.labelmaps import annotation_get_or_create
    from labeling.services.tasks import annotation_submit
    from tests.api.test_workflow import paint

    project = review_project(tmp_path)
    project.annotators_per_image = 2
    project.save()
    bob = get_user_model().objects.create_user("bob", password=PASSWORD)
    Membership.objects.create(project=project, user=bob, role=Role.ANNOTATOR)
    image = Image.objects.get(project=project)
    for name, box in (("ann", (100, 100, 200, 180)), ("bob", (100, 100, 200, 160))):
        annotation, _ = annotation_get_or_create(image=image, user=get_user_model().objects.get(username=name))
        paint(annotation, annotation.annotator, box=box)
        annotation_submit(annotation=annotation, user=annotation.annotator)
    image.refresh_from_db()
    assert image.state == TaskState.SUBMITTED and image.agreement == pytest.approx(0.75)

    page = new_page()
    login(page, live_server.url, "rita")
    open_from_project(page, live_server.url, project, "next-review")
    page.get_by_test_id("agreement-mean").filter(has_text="0.75").wait_for()
    assert page.get_by_test_id("consensus-annotation").count() == 2
    page.get_by_test_id("toggle-disagreement").check()
    page.get_by_test_id("editor-overlay").focus()
    page.keyboard.press("c")
    page.mouse.click(*canvas_point(page, 150, 170))
    page.get_by_test_id("comment-text").fill("Who is right about the bottom edge?")
    page.keyboard.press("Enter")
    page.get_by_test_id("comment").first.wait_for()
    pin = ReviewComment.objects.get()
    assert (round(pin.x), round(pin.y)) == (150, 170) and pin.segment_id is not None
    # Rows 160..179 of the car are ann's alone: the heat map is drawn there, not over the agreed part.
    page.wait_for_function("""() => { const o = document.querySelector('[data-testid=editor-overlay]');
        const v = window.__editor.renderer.viewport, d = window.devicePixelRatio || 1;
        const px = (x, y) => o.getContext('2d').getImageData(Math.round((x * v.scale + v.x) * d),
                                                               Math.round((y * v.scale + v.y) * d), 1, 1).data[3];
        return px(150, 170) > 0 && px(150, 130) === 0; }""")
    shot(page, "review-07-consensus-heat-map")
    page.get_by_test_id("side-by-side").select_option(label="bob")
    page.get_by_test_id("editor-twin-label").filter(has_text="bob").wait_for()
    sizes = page.evaluate("""() => ['editor-canvas', 'editor-twin-canvas'].map((id) => {
        const r = document.querySelector(`[data-testid=${id}]`).getBoundingClientRect();
        return [Math.round(r.width), Math.round(r.height)]; })""")
    assert sizes[0] == sizes[1] and sizes[0][0] > 300  # two equal views of the same place
    page.wait_for_timeout(500)
    shot(page, "review-08-side-by-side")
    page.get_by_test_id("approve-merge").click()
    page.wait_for_url(re.compile(r".*/app/projects/\d+.*"))
    image.refresh_from_db()
    merged = image.approved_annotation
    assert image.state == TaskState.APPROVED and merged.annotator.username == "rita"
    (segment,) = Segment.objects.filter(annotation=merged)
    assert segment.bbox == [100, 100, 100, 60]  # what both painted


def test_a_reviewers_correction_is_shown_as_theirs(live_server, new_page, tmp_path):
    from labeling.services.labelmaps import annotation_get_or_create
    from labeling.services.tasks import annotation_submit
    from tests.api.test_workflow import paint

    project = review_project(tmp_path)
    image = Image.objects.get(project=project)
    ann_user, rita = (get_user_model().objects.get(username=n) for n in ("ann", "rita"))
    annotation, _ = annotation_get_or_create(image=image, user=ann_user)
    paint(annotation, ann_user)
    annotation_submit(annotation=annotation, user=ann_user)
    paint(annotation, rita, box=(5, 5, 30, 30))  # the reviewer's fix, saved as rita's revision

    page = new_page()
    login(page, live_server.url, "ann")
    page.goto(f"{live_server.url}/app/images/{image.pk}")
    page.get_by_test_id("edited-by-others").filter(has_text="Edited by rita").wait_for()
    page.get_by_test_id("history").locator("summary").click()
    edits = page.locator("[data-testid=history-item][data-kind=edit]").all_text_contents()
    assert len(edits) == 1 and "rita: edited the map (revision 2)" in edits[0]
    shot(page, "review-09-reviewer-edit-visible")
