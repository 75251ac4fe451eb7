"""The task flow's edges in the browser (issue 16 items 17-19): opening an image claims nothing, approved images open
read-only with Reopen, refusals are pages that say why, Submit goes on to the next task, a resubmitted image opens
fitted for its reviewer, messages name segments as the panel does, relabelling into a stuff class asks before it
merges, and the dashboard's charts use the page's width."""

import re

import pytest
from django.contrib.auth import get_user_model

from labeling.models import Annotation, AnnotationState, Image, Membership, Revision, Role, Segment, TaskState
from tests.e2e.conftest import shot
from tests.e2e.test_editor_flow import PASSWORD, drag, login, photo, wait_saved
from tests.e2e.test_review_flow import editor_state, open_from_project, review_project

pytestmark = pytest.mark.django_db(transaction=True)

READY = "window.__editor && window.__editor.renderer.viewport.scale > 0"


def editor_on(page, image):
    """Wait for the editor of this image (window.__editor outlives the editor it was, until the next one opens)."""
    page.wait_for_function(f"window.__editor && window.__editor.session.data.image.id === {image.pk}"
                           " && window.__editor.renderer.viewport.scale > 0")


def user(name):
    return get_user_model().objects.get(username=name)


def add_images(project, tmp_path, *names):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from labeling.services.images import images_upload

    files = []
    for i, name in enumerate(names):
        with open(photo(tmp_path / name, 20 + i), "rb") as fh:
            files.append(SimpleUploadedFile(name, fh.read()))
    images_upload(project=project, user=project.created_by, files=files)
    return list(Image.objects.filter(project=project).order_by("id"))


def labelled(image, name, *, submit=True, box=(100, 100, 200, 180)):
    """`name`'s annotation of the image with one car, submitted unless told."""
    from labeling.services.labelmaps import annotation_get_or_create
    from labeling.services.tasks import annotation_submit
    from tests.api.test_workflow import paint

    annotation, _ = annotation_get_or_create(image=image, user=user(name))
    paint(annotation, annotation.annotator, box=box)
    if submit:
        annotation_submit(annotation=annotation, user=annotation.annotator)
    annotation.refresh_from_db()
    return annotation


def open_card(page, base, project, image):
    """Open an image the way a user does: its card in the project's grid."""
    page.goto(f"{base}/app/projects/{project.pk}")
    page.locator(f"[data-image-id='{image.pk}'] a.image-link").click()
    page.wait_for_url(re.compile(rf".*/app/images/{image.pk}.*"))


def test_a_manager_who_only_looks_leaves_the_image_to_the_annotators(live_server, new_page, tmp_path):
    project = review_project(tmp_path)
    first, second = add_images(project, tmp_path, "second.jpg")
    base = live_server.url

    boss = new_page()
    login(boss, base, "boss")
    open_card(boss, base, project, first)
    boss.wait_for_function(READY)
    boss.get_by_test_id("annotation-state").filter(has_text="Not started").wait_for()
    boss.get_by_test_id("workflow-banner").filter(has_text="stays free for others").wait_for()
    assert editor_state(boss)["canEdit"]  # looking is not locking anyone out, the manager included
    shot(boss, "workflow-01-manager-only-looks")
    first.refresh_from_db()
    assert first.state == TaskState.NEW and not Annotation.objects.filter(image=first).exists()

    # With one annotator per image, the annotator's Next task is the image the manager looked at.
    ann = new_page()
    login(ann, base, "ann")
    open_from_project(ann, base, project, "next-task")
    assert ann.url.endswith(f"/app/images/{first.pk}")

    # Labelling is what claims: the manager's first stroke on the other image starts their annotation.
    open_card(boss, base, project, second)
    editor_on(boss, second)
    boss.get_by_test_id("annotation-state").filter(has_text="Not started").wait_for()
    boss.keyboard.press("b")
    drag(boss, [(100, 100), (180, 140)])
    wait_saved(boss)
    boss.get_by_test_id("annotation-state").filter(has_text="draft").wait_for()
    second.refresh_from_db()
    mine = Annotation.objects.get(image=second, annotator__username="boss")
    assert second.state == TaskState.IN_PROGRESS and Segment.objects.filter(annotation=mine).count() == 1
    shot(boss, "workflow-02-first-stroke-started-the-task")


def test_an_approved_image_opens_read_only_and_a_manager_reopens_it(live_server, new_page, tmp_path):
    from labeling.services.tasks import image_approve

    project = review_project(tmp_path)
    image = Image.objects.get(project=project)
    annotation = labelled(image, "ann")
    image_approve(image=image, user=user("rita"))
    base = live_server.url

    boss = new_page()
    login(boss, base, "boss")
    open_card(boss, base, project, image)
    boss.wait_for_function(READY)
    assert not editor_state(boss)["canEdit"]
    boss.get_by_test_id("workflow-banner").filter(has_text="Reopen it below").wait_for()
    assert boss.locator("[data-testid=segment-item]").count() == 1  # the approved labels are shown
    shot(boss, "workflow-03-approved-read-only-with-reopen")
    boss.get_by_test_id("image-reopen").click()
    boss.get_by_test_id("toast").filter(has_text="Say why").wait_for()
    image.refresh_from_db()
    assert image.state == TaskState.APPROVED
    boss.get_by_test_id("reopen-reason").fill("The van behind the car is missing")
    boss.get_by_test_id("image-reopen").click()
    boss.wait_for_url(re.compile(rf".*/app/images/{image.pk}\?annotation={annotation.pk}$"))
    boss.wait_for_function("window.__editor && window.__editor.permissions.canEdit")
    image.refresh_from_db()
    annotation.refresh_from_db()
    assert (image.state, annotation.state) == (TaskState.IN_PROGRESS, AnnotationState.DRAFT)
    boss.keyboard.press("b")
    drag(boss, [(300, 300), (360, 330)])
    wait_saved(boss)
    assert Revision.objects.filter(annotation=annotation, author__username="boss").exists()
    shot(boss, "workflow-04-reopened-and-labelled")


def test_a_refused_opening_is_a_page_that_says_why_and_where_to_go(live_server, new_page, tmp_path):
    project = review_project(tmp_path)
    bob = get_user_model().objects.create_user("bob", password=PASSWORD)
    Membership.objects.create(project=project, user=bob, role=Role.ANNOTATOR)
    submitted, taken, free = add_images(project, tmp_path, "taken.jpg", "free.jpg")
    labelled(submitted, "ann")
    labelled(taken, "ann", submit=False)
    base = live_server.url

    page = new_page()
    login(page, base, "bob")
    page.goto(f"{base}/app/images/{submitted.pk}")
    closed = page.get_by_test_id("editor-closed")
    closed.wait_for()
    assert closed.get_attribute("data-code") == "task_closed"
    assert page.locator(".editor-closed h2").text_content() == "This image waits for review"
    assert "opens for labelling again if it is rejected" in page.get_by_test_id("editor-closed-message").text_content()
    page.get_by_test_id("closed-next-task").wait_for()
    page.get_by_test_id("closed-images").wait_for()
    assert page.get_by_test_id("closed-review").count() == 0  # annotators do not review
    shot(page, "workflow-05-closed-waits-for-review")

    page.goto(f"{base}/app/images/{taken.pk}")
    page.locator("[data-testid=editor-closed][data-code=task_full]").wait_for()
    assert "already has its 1 annotator" in page.get_by_test_id("editor-closed-message").text_content()
    shot(page, "workflow-06-closed-someone-else-labels-it")
    page.get_by_test_id("closed-next-task").click()
    page.wait_for_url(re.compile(rf".*/app/images/{free.pk}$"))
    editor_on(page, free)

    # A reviewer who opens an image to label it is shown the way to review it instead.
    rita = new_page()
    login(rita, base, "rita")
    rita.goto(f"{base}/app/images/{submitted.pk}")
    rita.locator("[data-testid=editor-closed][data-code=not_a_labeller]").wait_for()
    assert rita.get_by_test_id("closed-next-task").count() == 0
    rita.get_by_test_id("closed-review").click()
    rita.wait_for_function("window.__editor && window.__editor.mode === 'review'")
    shot(rita, "workflow-07-reviewer-sent-to-review")


def test_submit_goes_on_to_the_next_task(live_server, new_page, tmp_path):
    project = review_project(tmp_path)
    first, second, third = add_images(project, tmp_path, "second.jpg", "third.jpg")
    base = live_server.url

    ann = new_page()
    login(ann, base, "ann")
    open_from_project(ann, base, project, "next-task")
    assert ann.url.endswith(f"/app/images/{first.pk}")
    assert ann.get_by_test_id("next-after-submit").is_checked()  # the default
    drag(ann, [(100, 100), (160, 140)])
    wait_saved(ann)
    ann.get_by_test_id("submit-annotation").click()
    ann.wait_for_url(re.compile(rf".*/app/images/{second.pk}$"))
    ann.get_by_test_id("toast").filter(has_text="Submitted for review. Next task: second.jpg").wait_for()
    editor_on(ann, second)
    shot(ann, "workflow-08-submitted-then-next-task")
    first.refresh_from_db()
    assert first.state == TaskState.SUBMITTED

    # Turned off (and remembered), Submit stays on the image and offers Next task.
    ann.get_by_test_id("next-after-submit").uncheck()
    drag(ann, [(200, 200), (260, 240)])
    wait_saved(ann)
    ann.get_by_test_id("submit-annotation").click()
    ann.get_by_test_id("annotation-state").filter(has_text="Submitted").wait_for()
    assert ann.url.endswith(f"/app/images/{second.pk}")
    shot(ann, "workflow-09-submitted-staying-with-next-task-button")
    ann.get_by_test_id("editor-next-task").click()
    ann.wait_for_url(re.compile(rf".*/app/images/{third.pk}$"))
    editor_on(ann, third)


def test_a_resubmitted_image_opens_fitted_for_its_reviewer(live_server, new_page, tmp_path):
    from labeling.services.tasks import annotation_submit, image_reject
    from tests.api.test_workflow import paint

    project = review_project(tmp_path)
    image = Image.objects.get(project=project)
    annotation = labelled(image, "ann")
    base = live_server.url

    rita = new_page()
    login(rita, base, "rita")
    rita.goto(f"{base}/app/images/{image.pk}?review=1")
    rita.wait_for_function(READY)
    fitted = rita.evaluate("() => ({...window.__editor.renderer.viewport})")
    rita.get_by_test_id("editor-overlay").focus()
    for key in ("+", "+", "+", "ArrowLeft", "ArrowLeft", "ArrowUp"):
        rita.keyboard.press(key)
    zoomed = rita.evaluate("() => ({...window.__editor.renderer.viewport})")
    assert zoomed["scale"] > fitted["scale"] * 1.9
    # The view is remembered for this tab a moment after it changes: wait until it is, then leave.
    rita.wait_for_function("([id, s]) => (sessionStorage.getItem(`annotator.view.${id}`) || '').startsWith(`[${s},`)",
                           arg=[image.pk, zoomed["scale"]])
    rita.goto(f"{base}/app/projects/{project.pk}")

    # Unchanged, the image opens where the reviewer left it.
    rita.goto(f"{base}/app/images/{image.pk}?review=1")
    rita.wait_for_function("(s) => window.__editor && Math.abs(window.__editor.renderer.viewport.scale - s) < 1e-9",
                           arg=zoomed["scale"])

    # Rejected, fixed and submitted again: the old zoom may point away from the fix, so it opens fitted.
    image_reject(image=image, user=user("rita"), reason="The car's roof is cut off")
    paint(annotation, annotation.annotator, box=(100, 90, 200, 180))
    annotation_submit(annotation=annotation, user=annotation.annotator)
    rita.goto(f"{base}/app/projects/{project.pk}")
    rita.goto(f"{base}/app/images/{image.pk}?review=1")
    rita.wait_for_function(READY)
    rita.wait_for_function("(s) => Math.abs(window.__editor.renderer.viewport.scale - s) < 1e-9", arg=fitted["scale"])
    view = rita.evaluate("() => ({...window.__editor.renderer.viewport})")
    assert view == pytest.approx(fitted)
    shot(rita, "workflow-10-resubmitted-opens-fitted")


def test_messages_name_segments_and_a_stuff_relabel_asks_before_merging(live_server, new_page, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from labeling.services.images import images_upload
    from labeling.services.projects import label_class_create, project_create

    owner = get_user_model().objects.create_user("pam", password=PASSWORD)
    project = project_create(user=owner, name="Park", kind="panoptic")
    label_class_create(project=project, name="person", kind="thing", color="#e53935")
    label_class_create(project=project, name="sky", kind="stuff", color="#42a5f5")
    with open(photo(tmp_path / "park.jpg", 31), "rb") as fh:
        images_upload(project=project, user=owner, files=[SimpleUploadedFile("park.jpg", fh.read())])
    image = Image.objects.get(project=project)
    base = live_server.url

    page = new_page()
    login(page, base, "pam")
    page.goto(f"{base}/app/images/{image.pk}")
    page.wait_for_function(READY)
    page.keyboard.press("b")
    page.get_by_test_id("class-choice").filter(has_text="person").click()
    drag(page, [(100, 300), (140, 360)])
    page.keyboard.press("n")
    drag(page, [(300, 300), (340, 360)])
    page.keyboard.press("n")
    page.get_by_test_id("class-choice").filter(has_text="sky").click()
    drag(page, [(100, 40), (500, 60)])
    wait_saved(page)
    items = page.get_by_test_id("segment-item")
    assert items.count() == 3

    # Giving the second person the first one's number: the message says "person #1", not ids.
    page.locator("[data-testid=segment-item][data-instance='2'] [data-testid=segment-select]").click()
    page.get_by_test_id("segment-instance").fill("1")
    page.get_by_test_id("segment-instance").press("Enter")
    toast = page.get_by_test_id("toast").filter(has_text="There is already a person #1")
    toast.wait_for()
    assert not re.search(r"class \d|segment \d", toast.text_content())
    shot(page, "workflow-11-error-names-person-1")

    # Relabelling person #2 as sky would merge it into the sky segment: asked first; Cancel keeps both.
    page.get_by_test_id("segment-class").select_option(label="sky (stuff)")
    question = page.get_by_test_id("stuff-merge-confirm")
    question.filter(has_text="Merge into the existing 'sky' segment?").wait_for()
    assert items.count() == 3
    shot(page, "workflow-12-merge-into-sky-asked")
    page.get_by_test_id("stuff-merge-cancel").click()
    assert items.count() == 3 and not question.is_visible()
    page.get_by_test_id("segment-class").select_option(label="sky (stuff)")
    page.get_by_test_id("stuff-merge-accept").click()
    page.wait_for_function("document.querySelectorAll('[data-testid=segment-item]').length === 2")
    wait_saved(page)
    annotation = Annotation.objects.get(image=image, annotator=owner)
    assert sorted(s.label_class.name for s in Segment.objects.filter(annotation=annotation)) == ["person", "sky"]


def test_dashboard_charts_fill_the_width(live_server, new_page, tmp_path):
    from labeling.services.tasks import image_approve

    project = review_project(tmp_path)
    image = Image.objects.get(project=project)
    labelled(image, "ann")
    image_approve(image=image, user=user("rita"))

    page = new_page()
    login(page, live_server.url, "boss")
    page.goto(f"{live_server.url}/app/projects/{project.pk}/dashboard")
    page.get_by_test_id("dashboard-charts").locator("svg.chart").first.wait_for()
    sizes = page.evaluate("""() => {
        const row = document.querySelector('[data-testid=dashboard-charts]').getBoundingClientRect().width;
        const figures = [...document.querySelectorAll('[data-testid=dashboard-charts] .chart-figure')]
            .map((f) => [f.getBoundingClientRect().width, f.querySelector('svg').getBoundingClientRect().width]);
        return { row, figures };
    }""")
    row, figures = sizes["row"], sizes["figures"]
    assert row > 1000
    full, left, right = figures[0], figures[1], figures[2]
    assert full[0] == pytest.approx(row, abs=1) and full[1] == pytest.approx(row - 26, abs=2)
    for figure in (left, right):  # two to a line, each half of it
        assert figure[0] == pytest.approx((row - 16) / 2, abs=2) and figure[1] == pytest.approx(figure[0] - 26, abs=2)
    shot(page, "workflow-13-dashboard-full-width")
