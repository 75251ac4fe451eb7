"""The label-error finder through the API (eager Celery): a pixel classifier trained on approved streets checks
the approved labels, and the image approved later with its road labelled as a car comes first, naming that
segment."""

import numpy as np
import pytest
from django.urls import reverse

from labeling.models import Image, Job, JobStatus, Role, TrainedModel
from labeling.services.labelmaps import SegmentInput, annotation_get_or_create, labelmap_replace
from labeling.services.learning import label_check_start
from labeling.services.tasks import annotation_submit, image_approve
from tests.api.conftest import client_for
from tests.api.test_training import street, upload

pytestmark = pytest.mark.django_db

WRONG_SEED = 7  # the street approved after the training, its road labelled as a car (instance 9)


def approve(world, image: Image, seed: int, *, road_as_car: bool = False) -> None:
    annotator = world.users[Role.ANNOTATOR]
    annotation, _ = annotation_get_or_create(image=image, user=annotator)
    label_map = street(seed)[1]
    road = (SegmentInput(segment_id=1, class_id=world.thing.pk, instance=9) if road_as_car
            else SegmentInput(segment_id=1, class_id=world.stuff.pk))
    rows = [road] + [SegmentInput(segment_id=int(s), class_id=world.thing.pk, instance=int(s) - 1)
                     for s in np.unique(label_map) if s > 1]
    labelmap_replace(annotation=annotation, label_map=label_map, segments=rows, user=annotator)
    annotation_submit(annotation=annotation, user=annotator)
    image_approve(image=image, user=world.users[Role.REVIEWER])


@pytest.fixture
def checked_streets(world, django_capture_on_commit_callbacks):
    """Seven approved streets, a model trained on them, an eighth street approved with its road labelled as a
    car, and a finished check."""
    capture = django_capture_on_commit_callbacks
    images = upload(world, capture, range(8))
    with capture(execute=True):
        for seed, image in enumerate(images[:WRONG_SEED]):
            approve(world, image, seed)
    manager = client_for(world.users["manager"])
    with capture(execute=True):
        trained = manager.post(reverse("project-models-train", kwargs={"project_pk": world.project.pk}), {},
                               format="json")
    assert Job.objects.get(pk=trained.json()["job"]["id"]).status == JobStatus.SUCCEEDED
    with capture(execute=True):
        approve(world, images[WRONG_SEED], WRONG_SEED, road_as_car=True)
    with capture(execute=True):
        response = client_for(world.users[Role.REVIEWER]).post(
            reverse("project-label-check", kwargs={"project_pk": world.project.pk}), {}, format="json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.kind == "label_check" and job.status == JobStatus.SUCCEEDED, job.error
    return images, job


def test_the_mislabelled_image_comes_first_with_its_wrong_segment(world, checked_streets):
    images, job = checked_streets
    model = TrainedModel.objects.get(project=world.project)
    assert job.result["trained_model"] == model.pk and job.result["checked"] == 8 and job.result["failed"] == 0
    listed = client_for(world.users[Role.REVIEWER]).get(
        reverse("project-label-errors", kwargs={"project_pk": world.project.pk}), {"limit": 3}).json()
    assert len(listed) == 3
    first = listed[0]
    assert first["image_id"] == images[WRONG_SEED].pk and first["model"] == model.pk
    worst = first["segments"][0]
    assert (worst["segment_id"], worst["class_name"], worst["instance"]) == (1, world.thing.name, 9)
    assert worst["iou"] < 0.3
    assert [s["disagreement"] < 0.3 for s in first["segments"][1:]] == [True] * (len(first["segments"]) - 1)
    assert first["score"] == pytest.approx(worst["disagreement"]) and first["score"] > 0.7
    assert all(row["score"] < 0.3 for row in listed[1:])  # correctly labelled streets agree with the model
    assert [row["score"] for row in listed] == sorted((row["score"] for row in listed), reverse=True)
    flagged = client_for(world.users["manager"]).get(
        reverse("project-label-errors", kwargs={"project_pk": world.project.pk}), {"min_score": 0.5}).json()
    assert [row["image_id"] for row in flagged] == [images[WRONG_SEED].pk]
    # No pre-label was written: every image has only its annotator's annotation.
    assert all(image.annotations.filter(annotator__isnull=True).count() == 0 for image in images)


def test_a_reapproved_image_leaves_the_list_until_checked_again(world, checked_streets,
                                                              django_capture_on_commit_callbacks):
    images, _job = checked_streets
    wrong = Image.objects.get(pk=images[WRONG_SEED].pk)
    Image.objects.filter(pk=wrong.pk).update(label_check={**wrong.label_check, "annotation": -1})
    listed = client_for(world.users["manager"]).get(
        reverse("project-label-errors", kwargs={"project_pk": world.project.pk})).json()
    assert wrong.pk not in [row["image_id"] for row in listed] and len(listed) == 7


def test_label_check_requests(world, django_capture_on_commit_callbacks):
    url = reverse("project-label-check", kwargs={"project_pk": world.project.pk})
    manager = client_for(world.users["manager"])
    response = manager.post(url, {}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "no_trained_model"
    assert manager.post(url, {"trained_model": 999999}, format="json").status_code == 400
    assert manager.post(url, {"confidence": 0.2}, format="json").status_code == 400
    assert client_for(world.users[Role.ANNOTATOR]).post(url, {}, format="json").status_code == 403
    errors = reverse("project-label-errors", kwargs={"project_pk": world.project.pk})
    assert client_for(world.users[Role.ANNOTATOR]).get(errors).status_code == 403
    assert manager.get(errors).json() == []
    assert manager.get(errors, {"limit": 0}).status_code == 400


def test_one_check_at_a_time_and_cancel_stops_it(world, checked_streets, monkeypatch):
    from labeling.services import label_check
    from workers.tasks import check_labels

    images, _done = checked_streets
    Image.objects.filter(project=world.project).update(label_error_score=None, label_check=None)
    job = label_check_start(project=world.project, user=world.users["manager"])  # queued: on-commit never fires
    assert label_check_start(project=world.project).pk == job.pk
    checked = []
    real = label_check.segment_checks

    def check_then_cancel(*args, **kwargs):
        checked.append(1)
        if len(checked) == 2:  # the manager cancels while the second image is checked (job:cancel)
            assert client_for(world.users["manager"]).post(reverse("job-cancel", kwargs={"pk": job.pk})
                                                           ).status_code == 200
        return real(*args, **kwargs)

    monkeypatch.setattr(label_check, "segment_checks", check_then_cancel)
    check_labels(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and len(checked) == 2
    assert Image.objects.filter(project=world.project, label_check__isnull=False).count() == 2
    check_labels(job.pk)  # a late copy of the message does nothing
    assert len(checked) == 2
