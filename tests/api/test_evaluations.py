"""Evaluation jobs through the API: an annotation set compared with the approved labels."""

import numpy as np
import pytest
from django.urls import reverse

from labeling.masks.agreement import Labelling
from labeling.masks.evaluation import Evaluator
from labeling.models import Annotation, Job, JobStatus, Role
from labeling.services.labelmaps import SegmentInput, labelmap_replace
from tests.api.conftest import client_for
from tests.api.test_exports import approved  # noqa: F401 - fixture
from tests.api.test_workflow import _second_annotator


def _imported(world, label_map, rows):
    annotation = Annotation.objects.create(image=world.image, annotator=None, imported=True)
    labelmap_replace(annotation=annotation, label_map=label_map, segments=rows)
    return annotation


def _approved_map():
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[5:30, 5:40] = 1
    label_map[10:20, 10:20] = 0
    label_map[100:200, 500:600] = 2
    return label_map


def run(world, django_capture_on_commit_callbacks, user=Role.REVIEWER, **body):
    client = client_for(world.users[user])
    url = reverse("project-evaluations", kwargs={"project_pk": world.project.pk})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, body, format="json")
    return client, url, response


def test_an_imported_set_is_scored_against_the_approved_labels(world, approved,  # noqa: F811
                                                              django_capture_on_commit_callbacks):
    prediction = _approved_map()
    prediction[100:200, 500:550] = 0  # half of the second car is missed
    prediction[300:320, 10:30] = 3  # a car that is not there
    rows = [SegmentInput(segment_id=1, class_id=world.thing.pk, score=0.9),
            SegmentInput(segment_id=2, class_id=world.thing.pk, score=0.8),
            SegmentInput(segment_id=3, class_id=world.thing.pk, score=0.3)]
    _imported(world, prediction, rows)
    client, url, response = run(world, django_capture_on_commit_callbacks, source="import")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == JobStatus.SUCCEEDED, job.error
    result = job.result
    expected = Evaluator({world.thing.pk: "thing", world.stuff.pk: "stuff"})
    expected.add(Labelling(_approved_map(), {1: world.thing.pk, 2: world.thing.pk}),
                 Labelling(prediction, {1: world.thing.pk, 2: world.thing.pk, 3: world.thing.pk}),
                 scores={1: 0.9, 2: 0.8, 3: 0.3})
    want = expected.result().as_dict()
    car = str(world.thing.pk)
    assert result["images"] == 1
    # The car class: 775 + the 5000 found of 10000; the extra car lies over unlabelled (void) pixels: ignored.
    assert result["semantic"]["per_class"][car]["intersection"] == 775 + 5000
    assert result["semantic"]["per_class"][car]["union"] == 775 + 10000
    assert result["panoptic"]["per_class"][car] == {**want["panoptic"]["per_class"][world.thing.pk]}
    assert result["panoptic"]["per_class"][car]["tp"] == 1  # the half car is IoU 0.5: not a match
    assert result["instance"]["ap50"] == pytest.approx(want["instance"]["ap50"])
    assert result["classes"][car]["name"] == "car"
    listing = client.get(url).json()
    # The annotator whose work was approved is no set of their own: it would be the approved labels themselves.
    assert listing["sets"] == [{"source": "import", "label": "Imported pre-labels", "images": 1}]
    assert listing["jobs"][0]["id"] == job.pk


def test_a_perfect_copy_scores_one(world, approved, django_capture_on_commit_callbacks):  # noqa: F811
    _imported(world, _approved_map(), [SegmentInput(segment_id=1, class_id=world.thing.pk),
                                       SegmentInput(segment_id=2, class_id=world.thing.pk)])
    _, _, response = run(world, django_capture_on_commit_callbacks, source="import")
    result = Job.objects.get(pk=response.json()["id"]).result
    assert result["semantic"]["miou"] == 1.0 and result["panoptic"]["pq"] == 1.0 and result["instance"]["ap"] == 1.0


def test_an_annotators_work_and_bad_requests(world, approved, django_capture_on_commit_callbacks):  # noqa: F811
    annotator = world.users[Role.ANNOTATOR]
    _, url, response = run(world, django_capture_on_commit_callbacks, source="annotator", annotator_id=annotator.pk)
    assert response.status_code == 400  # their work is the approved annotation: nothing to compare it with
    second = _second_annotator(world)
    other = Annotation.objects.create(image=world.image, annotator=second)
    labelmap_replace(annotation=other, label_map=_approved_map(), segments=[
        SegmentInput(segment_id=1, class_id=world.thing.pk), SegmentInput(segment_id=2, class_id=world.thing.pk)])
    _, url, response = run(world, django_capture_on_commit_callbacks, source="annotator", annotator_id=second.pk)
    assert response.status_code == 202
    assert Job.objects.get(pk=response.json()["id"]).result["panoptic"]["pq"] == 1.0  # the same labels
    _, _, response = run(world, django_capture_on_commit_callbacks, source="import")
    assert response.status_code == 400 and response.json()["code"] == "nothing_to_evaluate"
    _, _, response = run(world, django_capture_on_commit_callbacks, source="model", trained_model_id=999)
    assert response.status_code == 400 and response.json()["code"] == "unknown_model"
    _, _, response = run(world, django_capture_on_commit_callbacks, user=Role.ANNOTATOR, source="import")
    assert response.status_code == 403
    assert client_for(world.users["outsider"]).get(url).status_code == 404
