"""A reviewer checks the approved labels with the trained model from the dashboard, sees the street whose road was
approved as a car at the top of "Possible label errors" with that segment named, and opens it for review."""

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from labeling.models import Image, Job, JobStatus, Membership, Role
from labeling.services.images import images_upload
from labeling.services.labelmaps import SegmentInput, annotation_get_or_create, labelmap_replace
from labeling.services.learning import training_start
from labeling.services.projects import label_class_create, project_create
from labeling.services.tasks import annotation_submit, image_approve
from tests.api.test_training import street
from tests.e2e.conftest import shot
from tests.e2e.test_editor_flow import PASSWORD, login
from tests.own_model_fixtures import png_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_reviewer_finds_a_label_error_and_opens_it_for_review(live_server, new_page):
    users = get_user_model().objects
    manager = users.create_user("owner", password=PASSWORD)
    annotator = users.create_user("labeller", password=PASSWORD)
    reviewer = users.create_user("checker", password=PASSWORD)
    project = project_create(user=manager, name="Streets", kind="panoptic")
    Membership.objects.create(project=project, user=annotator, role=Role.ANNOTATOR)
    Membership.objects.create(project=project, user=reviewer, role=Role.REVIEWER)
    car = label_class_create(project=project, name="car", kind="thing", color="#e6194b")
    road = label_class_create(project=project, name="road", kind="stuff", color="#3cb44b")
    batch = images_upload(project=project, user=manager, files=[
        SimpleUploadedFile(f"street{seed}.png", png_of(street(seed)[0])) for seed in range(8)])
    images = [Image.objects.get(pk=r.image_id) for r in batch.results]

    def approve(seed: int, image: Image, *, road_as_car: bool = False) -> None:
        annotation, _ = annotation_get_or_create(image=image, user=annotator)
        label_map = street(seed)[1]
        rows = [SegmentInput(segment_id=1, class_id=car.pk, instance=9) if road_as_car
                else SegmentInput(segment_id=1, class_id=road.pk)] + [
            SegmentInput(segment_id=int(s), class_id=car.pk, instance=int(s) - 1)
            for s in np.unique(label_map) if s > 1]
        labelmap_replace(annotation=annotation, label_map=label_map, segments=rows, user=annotator)
        annotation_submit(annotation=annotation, user=annotator)
        image_approve(image=image, user=reviewer)

    for seed, image in enumerate(images[:7]):
        approve(seed, image)
    training = training_start(project=project, user=manager)  # eager: trained when this returns
    assert Job.objects.get(pk=training.pk).status == JobStatus.SUCCEEDED
    approve(7, images[7], road_as_car=True)  # approved after the training: the model never saw the mistake
    base = live_server.url

    page = new_page()
    login(page, base, "checker")
    page.goto(f"{base}/app/projects/{project.pk}/dashboard")
    card = page.get_by_test_id("label-errors-card")
    card.wait_for()
    start = page.get_by_test_id("label-check-start")
    start.wait_for()
    start.click()
    page.locator("[data-testid=label-check-job][data-status=succeeded]").wait_for(timeout=60_000)
    status = page.get_by_test_id("label-check-status").inner_text()
    assert "Checked 8 approved image(s) with Pixel classifier 1" in status
    first = page.get_by_test_id("label-error").first
    first.wait_for()
    assert first.get_attribute("data-image-id") == str(images[7].pk)
    assert first.get_by_test_id("label-error-segment").inner_text() == "car #9 — IoU 0.00"
    assert page.get_by_test_id("label-error").count() == 1  # the correct streets agree with the model
    card.scroll_into_view_if_needed()
    shot(page, "label-errors-card")
    first.get_by_test_id("label-error-link").click()
    page.wait_for_url(f"{base}/app/images/{images[7].pk}?review=1")
