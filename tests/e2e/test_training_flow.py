"""A manager trains a pixel classifier from the approved labels in the browser, watches the job finish, sees the
trained model's origin, images seen and validation mIoU, pre-labels the new images with it, sorts the image grid
by uncertainty and turns on the learning settings."""

import re

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import Image, Membership, Project, Role, TrainedModel
from labeling.services.images import images_upload
from labeling.services.labelmaps import SegmentInput, annotation_get_or_create, labelmap_replace
from labeling.services.projects import label_class_create, project_create
from labeling.services.tasks import annotation_submit, image_approve
from tests.api.test_training import street
from tests.e2e.conftest import shot
from tests.e2e.test_editor_flow import PASSWORD, login
from tests.own_model_fixtures import png_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_manager_trains_from_approved_labels_and_sorts_by_uncertainty(live_server, new_page):
    users = get_user_model().objects
    manager = users.create_user("trainer", password=PASSWORD)
    annotator = users.create_user("labeller", password=PASSWORD)
    reviewer = users.create_user("checker", password=PASSWORD)
    project = project_create(user=manager, name="Streets", kind="panoptic")
    Membership.objects.create(project=project, user=annotator, role=Role.ANNOTATOR)
    Membership.objects.create(project=project, user=reviewer, role=Role.REVIEWER)
    car = label_class_create(project=project, name="car", kind="thing", color="#e6194b")
    road = label_class_create(project=project, name="road", kind="stuff", color="#3cb44b")
    batch = images_upload(project=project, user=manager, files=[
        SimpleUploadedFile(f"street{seed}.png", png_of(street(seed)[0])) for seed in [*range(6), 10, 11, 12]])
    images = [Image.objects.get(pk=r.image_id) for r in batch.results]
    for seed, image in enumerate(images[:6]):
        annotation, _ = annotation_get_or_create(image=image, user=annotator)
        label_map = street(seed)[1]
        rows = [SegmentInput(segment_id=1, class_id=road.pk)] + [
            SegmentInput(segment_id=int(s), class_id=car.pk, instance=int(s) - 1)
            for s in np.unique(label_map) if s > 1]
        labelmap_replace(annotation=annotation, label_map=label_map, segments=rows, user=annotator)
        annotation_submit(annotation=annotation, user=annotator)
        image_approve(image=image, user=reviewer)
    base = live_server.url

    page = new_page()
    login(page, base, "trainer")
    page.goto(f"{base}/app/projects/{project.pk}/models")
    page.get_by_test_id("train-card").wait_for()
    page.get_by_test_id("train-start").click()
    page.locator("[data-testid=train-job][data-status=succeeded]").wait_for(timeout=60_000)
    assert page.get_by_test_id("train-progress").get_attribute("aria-valuenow") == "100"
    assert "learned from 5 image(s), validation mIoU" in page.get_by_test_id("train-status").inner_text()
    row = page.locator("[data-testid=model-row][data-name='Pixel classifier 1']")
    row.wait_for()
    assert row.get_by_test_id("model-origin").inner_text() == "Trained"
    assert row.get_by_test_id("model-images-seen").inner_text() == "5"
    model = TrainedModel.objects.get(project=project)
    assert row.get_by_test_id("model-val-miou").inner_text() == f"{model.training['val']['miou']:.3f}"
    assert "Pixel classifier" in row.inner_text() and "car, road" in row.inner_text()
    shot(page, "models-trained")

    # Its pre-labels score the new images' uncertainty; the grid sorts by it.
    row.get_by_test_id("model-run").click()
    page.get_by_test_id("prelabel-scope").select_option("new")
    page.get_by_test_id("prelabel-start").click()
    page.locator("[data-testid=prelabel-job][data-status=succeeded]").wait_for(timeout=30_000)
    scored = sorted(Image.objects.filter(project=project, uncertainty__isnull=False), key=lambda i: -i.uncertainty)
    assert len(scored) == 3
    page.goto(f"{base}/app/projects/{project.pk}")
    page.get_by_test_id("image-ordering").select_option("-uncertainty")
    page.wait_for_url(re.compile(r".*ordering=-uncertainty"))
    page.wait_for_function(f"document.querySelector('[data-testid=image-card]')?.dataset.imageId === '{scored[0].pk}'")
    cards = page.get_by_test_id("image-card")
    assert [int(cards.nth(i).get_attribute("data-image-id")) for i in range(3)] == [i.pk for i in scored]
    shot(page, "images-most-uncertain-first")

    # The learning settings.
    page.goto(f"{base}/app/projects/{project.pk}/settings")
    page.get_by_test_id("project-retrain-every").fill("10")
    page.get_by_test_id("project-prelabel-new").check()
    page.get_by_test_id("project-next-task-order").select_option("uncertainty")
    page.get_by_test_id("save-project").click()
    page.get_by_text("Saved").wait_for()
    project = Project.objects.get(pk=project.pk)
    assert (project.retrain_every, project.prelabel_new, project.next_task_order) == (10, True, "uncertainty")
