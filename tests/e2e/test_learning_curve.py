"""Issue 17 items 4 and 6: the dashboard's Models card lists two trainings and draws val mIoU against the approved
images each was trained on; the editor shows a pre-labelled image's uncertainty map as an overlay, and says why it
cannot for an image no trained model scored."""

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from labeling.models import Image, JobStatus, Membership, Role, TrainedModel
from labeling.services.images import images_upload
from labeling.services.labelmaps import SegmentInput, annotation_get_or_create, labelmap_replace
from labeling.services.learning import training_start
from labeling.services.projects import label_class_create, project_create
from labeling.services.tasks import annotation_submit, image_approve
from labeling.services.trained_models import prelabel_start
from tests.api.test_training import street
from tests.e2e.conftest import shot
from tests.e2e.test_editor_flow import PASSWORD, login
from tests.own_model_fixtures import png_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_models_card_learning_curve_and_uncertainty_overlay(live_server, new_page):
    users = get_user_model().objects
    manager = users.create_user("trainer", password=PASSWORD)
    annotator = users.create_user("labeller", password=PASSWORD)
    reviewer = users.create_user("checker", password=PASSWORD)
    project = project_create(user=manager, name="Streets", kind="semantic")
    Membership.objects.create(project=project, user=annotator, role=Role.ANNOTATOR)
    Membership.objects.create(project=project, user=reviewer, role=Role.REVIEWER)
    car = label_class_create(project=project, name="car", kind="stuff", color="#e6194b")
    road = label_class_create(project=project, name="road", kind="stuff", color="#3cb44b")
    seeds = [*range(6), 10]
    batch = images_upload(project=project, user=manager, files=[
        SimpleUploadedFile(f"street{seed}.png", png_of(street(seed)[0])) for seed in seeds])
    images = [Image.objects.get(pk=r.image_id) for r in batch.results]

    def approve(seed, image):
        annotation, _ = annotation_get_or_create(image=image, user=annotator)
        label_map = np.minimum(street(seed)[1], 2)  # road 1, every car 2
        labelmap_replace(annotation=annotation, label_map=label_map, user=annotator, segments=[
            SegmentInput(segment_id=1, class_id=road.pk), SegmentInput(segment_id=2, class_id=car.pk)])
        annotation_submit(annotation=annotation, user=annotator)
        image_approve(image=image, user=reviewer)

    def train():
        job = training_start(project=project, user=manager)
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED, job.error

    # Two trainings (jobs run eagerly here): on 4 approved images, then on 6.
    for seed, image in zip(seeds[:4], images[:4], strict=True):
        approve(seed, image)
    train()
    for seed, image in zip(seeds[4:6], images[4:6], strict=True):
        approve(seed, image)
    train()
    first, second = TrainedModel.objects.filter(project=project).order_by("id")
    assert [len(m.training["train_image_ids"]) for m in (first, second)] == [3, 5]
    new_image = images[6]
    prelabel_start(trained_model=second, image_ids=[new_image.pk], user=manager)
    new_image.refresh_from_db()
    assert new_image.uncertainty is not None
    base = live_server.url

    page = new_page()
    login(page, base, "trainer")
    page.goto(f"{base}/app/projects/{project.pk}/dashboard")
    card = page.get_by_test_id("models-card")
    rows = card.get_by_test_id("learning-curve-model")
    expect(rows).to_have_count(2)
    expect(card.locator("circle.chart-point")).to_have_count(2)
    assert [int(rows.nth(i).get_attribute("data-model-id")) for i in range(2)] == [second.pk, first.pk]
    assert rows.nth(0).locator("td").nth(2).inner_text() == "5"
    assert rows.nth(0).locator("td").nth(3).inner_text() == f"{second.training['val']['miou']:.3f}"
    assert "that training's own validation split" in card.inner_text()
    card.scroll_into_view_if_needed()
    shot(page, "dashboard-models-learning-curve")

    def open_image(image):
        page.goto(f"{base}/app/images/{image.pk}")
        page.wait_for_function(f"window.__editor?.session.data.image.id === {image.pk}"
                               " && window.__editor.renderer.viewport.scale > 0")

    # An approved image no trained model scored: the toggle is off and says why.
    open_image(images[0])
    toggle = page.get_by_test_id("toggle-uncertainty")
    expect(toggle).to_be_disabled()
    assert "no trained model has pre-labelled" in page.get_by_test_id("uncertainty-option").get_attribute("title")

    # The pre-labelled image: its map is drawn over it.
    open_image(new_image)
    expect(toggle).to_be_enabled()
    toggle.check()
    page.wait_for_function("window.__editor.uncertainty.state === 'shown'")
    page.get_by_test_id("overlay-opacity").fill("0")  # the labels out of the way: the map alone over the image
    shot(page, "editor-uncertainty-overlay")
    # The model is unsure along the car's edges only: some of the overlay is coloured, most of it is clear.
    painted = """() => { const c = document.querySelector('[data-testid=editor-overlay]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n / (c.width * c.height); }"""
    assert 0 < page.evaluate(painted) < 0.5
    toggle.uncheck()
    page.wait_for_function("window.__editor.uncertainty.state === 'off'")
