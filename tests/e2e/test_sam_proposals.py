""""Segment everything" in the editor: the button runs the proposals job; stored proposals are outlined under
the cursor and one click accepts the hovered one as a segment of the current class.

The tiny random SAM yields no proposal after SAM's IoU and stability filters, so the test runs the real job
from the button (and checks it stored none), then stores two known masks through the same service the job
uses (`proposals_store`) and accepts one of them."""

import numpy as np
import pytest
from django.contrib.auth import get_user_model

from labeling.models import Annotation, Image, Job, JobStatus, LabelClass, Proposal, Segment
from labeling.services.projects import label_class_create, project_create
from labeling.services.sam import proposals_store, sam_config
from tests.e2e.conftest import shot
from tests.e2e.sam_helpers import overlay_rgba, upload_image
from tests.e2e.test_editor_flow import PASSWORD, canvas_point, open_editor, server_map, wait_saved
from tests.sam_support import use_tiny_sam
from workers.runners.sam import mask_prediction

pytestmark = pytest.mark.django_db(transaction=True)

WIDTH, HEIGHT = 320, 240
PROPOSAL_EDGE = [255, 214, 0, 255]  # tools/sam.ts: the hovered proposal's outline


def known_masks():
    """A rectangle and an ellipse that do not touch, as full-size boolean masks."""
    rect = np.zeros((HEIGHT, WIDTH), dtype=bool)
    rect[30:110, 20:100] = True
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    ellipse = ((xx - 230) / 50.0) ** 2 + ((yy - 150) / 35.0) ** 2 <= 1.0
    return rect, ellipse


def proposals_text(page):
    return page.get_by_test_id("sam-proposals-status").inner_text()


def test_segment_everything_then_hover_and_click_accepts_a_proposal(live_server, new_page, settings):
    use_tiny_sam(settings)
    user = get_user_model().objects.create_user("proposer", password=PASSWORD)
    project = project_create(user=user, name="Proposals", kind="instance")
    label_class_create(project=project, name="cell", kind="thing", color="#00aaff")
    nucleus = label_class_create(project=project, name="nucleus", kind="thing", color="#ff00aa")
    image_id = upload_image(project, user, WIDTH, HEIGHT, seed=5)
    image = Image.objects.get(pk=image_id)

    page = new_page()
    open_editor(page, live_server.url, "proposer", image_id)
    page.keyboard.press("s")
    page.wait_for_function("window.__editor.sam.engine.state === 'ready'", timeout=60_000)

    # The button runs the real job with the tiny model: it succeeds and finds nothing that passes SAM's filters.
    page.get_by_test_id("sam-everything").click()
    page.wait_for_function("document.querySelector('[data-testid=sam-proposals-status]').textContent.includes("
                           "'proposals')", timeout=60_000)
    job = Job.objects.get(kind="proposals", params__image_id=image_id)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["proposals"] == 0 and proposals_text(page).startswith("0 proposals")

    # Two known proposals stored the way the job stores its masks; the button now loads them without a job.
    rect, ellipse = known_masks()
    model_key = sam_config().model_key
    stored = proposals_store(image=image, model_key=model_key,
                             masks=[mask_prediction(rect, 0.97), mask_prediction(ellipse, 0.93)])
    ellipse_row = next(p for p in stored if p.area == int(ellipse.sum()))
    page.get_by_test_id("sam-everything").click()
    page.wait_for_function("window.__editor.sam.tool.proposals.length === 2")
    assert proposals_text(page).startswith("2 proposals")
    assert Job.objects.filter(kind="proposals").count() == 1
    assert page.evaluate("window.__editor.sam.tool.pickProposals") is True

    page.locator(f"[data-testid=class-choice][data-class-id='{nucleus.pk}']").click()
    assert page.evaluate("window.__editor.session.currentClassId") == nucleus.pk

    # Hovering the ellipse outlines it (and only it) on the overlay.
    top_y = int(np.flatnonzero(ellipse[:, 230])[0])  # the ellipse's top edge pixel in its centre column
    rect_edge = (60, 30)
    page.mouse.move(*canvas_point(page, 230, 150))
    page.wait_for_function(f"window.__editor.sam.tool.hoverProposal?.id === {ellipse_row.pk}")
    assert overlay_rgba(page, 230, top_y) == PROPOSAL_EDGE
    assert overlay_rgba(page, 230, 150)[3] == 60  # the light fill inside
    assert overlay_rgba(page, *rect_edge)[3] == 0
    shot(page, "sam-proposals-hover")

    # Off every proposal: no hover, nothing outlined.
    page.mouse.move(*canvas_point(page, 300, 10))
    page.wait_for_function("window.__editor.sam.tool.hoverProposal === null")
    assert overlay_rgba(page, 230, top_y)[3] == 0

    # One click accepts the hovered proposal with the current class.
    page.mouse.move(*canvas_point(page, 230, 150))
    page.wait_for_function(f"window.__editor.sam.tool.hoverProposal?.id === {ellipse_row.pk}")
    page.mouse.click(*canvas_point(page, 230, 150))
    page.wait_for_function("window.__editor.sam.tool.proposals.length === 1")
    assert page.evaluate("window.__editor.sam.tool.points.length") == 0  # a click on a proposal is no prompt
    assert proposals_text(page).startswith("1 proposal:")  # the accepted one left the list
    wait_saved(page)
    assert overlay_rgba(page, 230, top_y)[3] == 0  # accepted: no longer outlined as a proposal
    shot(page, "sam-proposals-accepted")

    annotation = Annotation.objects.get(image_id=image_id)
    (segment,) = Segment.objects.filter(annotation=annotation)
    assert segment.label_class_id == nucleus.pk
    assert LabelClass.objects.get(pk=segment.label_class_id).name == "nucleus"
    assert segment.source == "sam"
    assert segment.area == ellipse_row.area == int(ellipse.sum())
    assert abs(segment.score - 0.93) < 1e-6
    # Exactly the proposal's pixels, no more, no fewer.
    assert np.array_equal(server_map(annotation) == segment.segment_id, ellipse)
    assert page.evaluate("window.__editor.session.history.undoLabel") == "SAM proposal"
    # The proposals stay stored for the image (another annotator can still use them).
    assert Proposal.objects.filter(image=image, model_key=model_key).count() == 2
