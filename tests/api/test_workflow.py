"""The task flow: every transition and guard of submit / approve / reject / reopen, assignments, next task,
next review, per-segment decisions and pinned comments, through the services and the API."""

from datetime import date

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labeling.errors import Conflict, Forbidden, ValidationFailed
from labeling.masks.tiles import encode_tile
from labeling.models import (
    Annotation,
    AnnotationState,
    Image,
    Membership,
    Revision,
    Role,
    Segment,
    TaskState,
    TaskTransition,
)
from labeling.services.images import images_upload
from labeling.services.labelmaps import SegmentInput, TileUpdate, annotation_get_or_create, labelmap_save
from labeling.services.projects import project_create
from labeling.services.reviews import comment_create, comment_set_resolved, segments_review
from labeling.services.tasks import (
    annotation_submit,
    image_approve,
    image_approve_merge,
    image_reject,
    image_reopen,
    image_set_gold,
    next_review,
    next_task,
    tasks_assign,
)
from tests.api.conftest import client_for, make_user
from tests.conftest import png_bytes


def paint(annotation, user, *, segment_id=1, box=(5, 5, 9, 9), class_id=None):
    """Save one square segment into the annotation as `user`."""
    annotation.refresh_from_db()
    tile = np.zeros((480, 512), dtype=np.uint32)
    x0, y0, x1, y1 = box
    tile[y0:y1, x0:x1] = segment_id
    class_id = class_id or annotation.image.project.classes.get(kind="thing").pk
    return labelmap_save(annotation=annotation, user=user, base_version=annotation.version,
                         tiles=[TileUpdate(tx=0, ty=0, data=encode_tile(tile))],
                         segments=[SegmentInput(segment_id=segment_id, class_id=class_id)], deleted_segment_ids=[])


def states(image):
    image.refresh_from_db()
    return image.state


def history(image):
    return [(t.annotation_id is not None, t.from_state, t.to_state, t.actor.username if t.actor else None, t.reason)
            for t in TaskTransition.objects.filter(image=image).select_related("actor").order_by("id")]


def more_images(world, n):
    batch = images_upload(project=world.project, user=world.users["manager"],
                          files=[SimpleUploadedFile(f"extra{i}.png", png_bytes(640, 480, seed=100 + i))
                                 for i in range(n)])
    return [Image.objects.get(pk=r.image_id) for r in batch.results]


@pytest.fixture
def annotator(world):
    return world.users[Role.ANNOTATOR]


@pytest.fixture
def reviewer(world):
    return world.users[Role.REVIEWER]


@pytest.fixture
def started(world, annotator):
    annotation, _ = annotation_get_or_create(image=world.image, user=annotator)
    paint(annotation, annotator)
    annotation.refresh_from_db()
    return annotation


def test_starting_submitting_and_approving_are_recorded_in_order(world, started, annotator, reviewer):
    assert states(world.image) == TaskState.IN_PROGRESS
    annotation_submit(annotation=started, user=annotator)
    started.refresh_from_db()
    assert started.state == AnnotationState.SUBMITTED and started.submitted_at is not None
    assert states(world.image) == TaskState.SUBMITTED
    image_approve(image=world.image, user=reviewer, reason="clean")
    world.image.refresh_from_db()
    assert world.image.state == TaskState.APPROVED
    assert world.image.approved_annotation_id == started.pk
    assert history(world.image) == [
        (False, "new", "in_progress", "annotator", ""),
        (True, "draft", "submitted", "annotator", ""),
        (False, "in_progress", "submitted", "annotator", ""),
        (True, "submitted", "approved", "reviewer", "clean"),
        (False, "submitted", "approved", "reviewer", "clean"),
    ]


def test_only_the_author_submits(world, started):
    with pytest.raises(Forbidden):
        annotation_submit(annotation=started, user=world.users["manager"])
    response = client_for(world.users["manager"]).post(reverse("annotation-submit", kwargs={"pk": started.pk}))
    assert response.status_code == 403
    assert states(world.image) == TaskState.IN_PROGRESS


def test_submitted_work_is_frozen_for_its_author_and_a_reviewer_fix_is_the_reviewers_revision(
        world, started, annotator, reviewer):
    annotation_submit(annotation=started, user=annotator)
    with pytest.raises(Conflict) as raised:
        paint(started, annotator, box=(20, 20, 30, 30))
    assert raised.value.code == "annotation_locked"
    version_before = Annotation.objects.get(pk=started.pk).version
    result = paint(started, reviewer, box=(20, 20, 30, 30))
    assert result.revision.author == reviewer
    assert Annotation.objects.get(pk=started.pk).version == version_before + 1
    assert Revision.objects.filter(annotation=started, author=annotator).count() == 1


def test_approved_work_is_frozen_for_everyone_until_reopened(world, started, annotator, reviewer):
    annotation_submit(annotation=started, user=annotator)
    image_approve(image=world.image, user=reviewer)
    for user in (annotator, reviewer, world.users["manager"]):
        with pytest.raises(Conflict):
            paint(started, user, box=(40, 40, 50, 50))
    with pytest.raises(ValidationFailed) as raised:
        image_reopen(image=world.image, user=reviewer, reason="  ")
    assert raised.value.code == "reason_required"
    image_reopen(image=world.image, user=world.users["manager"], reason="the bus is missing")
    world.image.refresh_from_db()
    started.refresh_from_db()
    assert world.image.state == TaskState.IN_PROGRESS and world.image.approved_annotation_id is None
    assert started.state == AnnotationState.DRAFT
    paint(started, annotator, box=(40, 40, 50, 50))  # editable again
    assert history(world.image)[-2:] == [
        (True, "approved", "draft", "manager", "the bus is missing"),
        (False, "approved", "in_progress", "manager", "the bus is missing"),
    ]


def test_nobody_decides_on_their_own_work(world):
    manager = world.users["manager"]
    own, _ = annotation_get_or_create(image=world.image, user=manager)
    paint(own, manager)
    annotation_submit(annotation=own, user=manager)
    for decide in (lambda: image_approve(image=world.image, user=manager),
                   lambda: image_reject(image=world.image, user=manager, reason="meh")):
        with pytest.raises(Forbidden) as raised:
            decide()
        assert raised.value.code == "own_work"
    with pytest.raises(Forbidden):
        segments_review(annotation=own, user=manager, segment_ids=[1], review_state="accepted")
    response = client_for(manager).post(reverse("image-approve", kwargs={"pk": world.image.pk}), {}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "own_work"
    assert states(world.image) == TaskState.SUBMITTED
    assert next_review(project=world.project, user=manager) is None
    assert next_review(project=world.project, user=world.users[Role.REVIEWER]) == world.image


def test_reject_needs_a_reason_and_the_fix_goes_back_through_review(world, started, annotator, reviewer):
    annotation_submit(annotation=started, user=annotator)
    with pytest.raises(ValidationFailed):
        image_reject(image=world.image, user=reviewer, reason="")
    response = client_for(reviewer).post(reverse("image-reject", kwargs={"pk": world.image.pk}), {}, format="json")
    assert response.status_code == 400
    image_reject(image=world.image, user=reviewer, reason="the left car is cut off")
    started.refresh_from_db()
    assert states(world.image) == TaskState.REJECTED and started.state == AnnotationState.REJECTED
    assert next_task(project=world.project, user=annotator).why == "rejected"
    paint(started, annotator, box=(5, 5, 12, 12))  # the fix
    started.refresh_from_db()
    assert started.state == AnnotationState.DRAFT and states(world.image) == TaskState.IN_PROGRESS
    annotation_submit(annotation=started, user=annotator)
    assert states(world.image) == TaskState.SUBMITTED
    image_approve(image=world.image, user=reviewer)
    assert [h[1:3] for h in history(world.image) if not h[0]] == [
        ("new", "in_progress"), ("in_progress", "submitted"), ("submitted", "rejected"),
        ("rejected", "in_progress"), ("in_progress", "submitted"), ("submitted", "approved"),
    ]


@pytest.mark.parametrize("decide", ["approve", "reject", "reopen"])
def test_decisions_on_an_image_in_the_wrong_state_are_refused(world, started, reviewer, decide):
    action = {"approve": lambda: image_approve(image=world.image, user=reviewer),
              "reject": lambda: image_reject(image=world.image, user=reviewer, reason="no"),
              "reopen": lambda: image_reopen(image=world.image, user=reviewer, reason="no")}[decide]
    before = history(world.image)
    with pytest.raises(Conflict) as raised:
        action()
    assert raised.value.code == "invalid_transition"
    assert history(world.image) == before
    response = client_for(reviewer).post(reverse(f"image-{decide}", kwargs={"pk": world.image.pk}),
                                         {"reason": "no"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "invalid_transition"


def test_submitting_twice_is_refused(world, started, annotator):
    annotation_submit(annotation=started, user=annotator)
    with pytest.raises(Conflict):
        annotation_submit(annotation=started, user=annotator)


def _second_annotator(world, name="second"):
    user = make_user(name)
    Membership.objects.create(project=world.project, user=user, role=Role.ANNOTATOR)
    return user


def test_consensus_waits_for_k_annotators_and_the_reviewer_picks_one(world, started, annotator, reviewer):
    world.project.annotators_per_image = 2
    world.project.save()
    second = _second_annotator(world)
    annotation_submit(annotation=started, user=annotator)
    assert states(world.image) == TaskState.IN_PROGRESS  # one of two
    task = next_task(project=world.project, user=second)
    assert task.image == world.image and task.why == "unlabelled"
    paint(task.annotation, second, box=(6, 6, 10, 10))
    annotation_submit(annotation=task.annotation, user=second)
    assert states(world.image) == TaskState.SUBMITTED
    with pytest.raises(ValidationFailed) as raised:
        image_approve(image=world.image, user=reviewer)
    assert raised.value.code == "annotation_required"
    assert sorted(raised.value.extra["annotation_ids"]) == sorted([started.pk, task.annotation.pk])
    # Reject one of the two: only that annotator has work to do.
    image_reject(image=world.image, user=reviewer, reason="too coarse", annotation_ids=[task.annotation.pk])
    started.refresh_from_db()
    assert started.state == AnnotationState.SUBMITTED
    assert Annotation.objects.get(pk=task.annotation.pk).state == AnnotationState.REJECTED
    annotation_submit(annotation=Annotation.objects.get(pk=task.annotation.pk), user=second)
    assert states(world.image) == TaskState.SUBMITTED
    image_approve(image=world.image, user=reviewer, annotation_id=task.annotation.pk)
    world.image.refresh_from_db()
    assert world.image.approved_annotation_id == task.annotation.pk
    # A third annotator is never handed an image that has its two.
    third = _second_annotator(world, "third")
    assert next_task(project=world.project, user=third).image is None


def test_next_task_priority_assigned_then_prelabelled_then_the_rest(world, annotator):
    extra = more_images(world, 3)
    assigned, prelabelled = extra[2], extra[1]
    tasks_assign(project=world.project, image_ids=[assigned.pk], user_ids=[annotator.pk],
                 by=world.users["manager"])
    prelabel = Annotation.objects.create(image=prelabelled, annotator=None)
    paint(prelabel, None)
    task = next_task(project=world.project, user=annotator)
    assert (task.image, task.why) == (assigned, "assigned")
    # The same task again while it is an unfinished draft (resume), then the next once it is submitted.
    assert next_task(project=world.project, user=annotator).why == "draft"
    paint(task.annotation, annotator)
    annotation_submit(annotation=task.annotation, user=annotator)
    task = next_task(project=world.project, user=annotator)
    assert (task.image, task.why) == (prelabelled, "prelabelled")
    assert Segment.objects.filter(annotation=task.annotation).count() == 1  # starts from the pre-label
    annotation_submit(annotation=task.annotation, user=annotator)
    task = next_task(project=world.project, user=annotator)
    assert (task.image, task.why) == (world.image, "unlabelled")
    annotation_submit(annotation=task.annotation, user=annotator)
    task = next_task(project=world.project, user=annotator)
    assert (task.image, task.why) == (extra[0], "unlabelled")
    annotation_submit(annotation=task.annotation, user=annotator)
    assert next_task(project=world.project, user=annotator).why == "none"


def test_an_image_assigned_to_someone_else_is_reserved(world, annotator):
    second = _second_annotator(world)
    tasks_assign(project=world.project, image_ids=[world.image.pk], user_ids=[second.pk], by=world.users["manager"])
    assert next_task(project=world.project, user=annotator).image is None
    assert next_task(project=world.project, user=second).image == world.image


def test_an_image_someone_else_labels_is_taken_when_one_annotator_is_enough(world, started):
    second = _second_annotator(world)
    assert next_task(project=world.project, user=second).image is None


def test_assignment_guards(world, annotator, reviewer):
    manager = world.users["manager"]
    with pytest.raises(ValidationFailed) as raised:
        tasks_assign(project=world.project, image_ids=[world.image.pk], user_ids=[reviewer.pk], by=manager)
    assert raised.value.code == "not_an_annotator"
    with pytest.raises(ValidationFailed) as raised:
        tasks_assign(project=world.project, image_ids=[world.image.pk], user_ids=[annotator.pk, manager.pk],
                     by=manager)
    assert raised.value.code == "too_many_assignees"
    other_project = project_create(user=manager, name="Other", kind="instance")
    other = images_upload(project=other_project, user=manager,
                          files=[SimpleUploadedFile("o.png", png_bytes(20, 20, seed=9))]).results[0].image_id
    with pytest.raises(ValidationFailed) as raised:
        tasks_assign(project=world.project, image_ids=[other], user_ids=[annotator.pk], by=manager)
    assert raised.value.code == "unknown_image"
    client = client_for(manager)
    url = reverse("project-assignments", kwargs={"project_pk": world.project.pk})
    response = client.post(url, {"image_ids": [world.image.pk], "user_ids": [annotator.pk]}, format="json")
    assert response.json() == {"assigned": 1, "unassigned": 0}
    assert client.post(url, {"image_ids": [world.image.pk], "user_ids": [annotator.pk]},
                       format="json").json() == {"assigned": 0, "unassigned": 0}  # idempotent
    assert [a["username"] for a in client.get(url).json()["results"]] == ["annotator"]
    response = client.post(url, {"image_ids": [world.image.pk], "user_ids": [annotator.pk], "unassign": True},
                           format="json")
    assert response.json() == {"assigned": 0, "unassigned": 1}


def test_segment_decisions_touch_only_the_review_state(world, started, annotator, reviewer):
    with pytest.raises(Conflict) as raised:
        segments_review(annotation=started, user=reviewer, segment_ids=[1], review_state="accepted")
    assert raised.value.code == "not_submitted"
    annotation_submit(annotation=started, user=annotator)
    before = Segment.objects.get(annotation=started, segment_id=1)
    with pytest.raises(ValidationFailed) as raised:
        segments_review(annotation=started, user=reviewer, segment_ids=[1, 99], review_state="rejected")
    assert raised.value.code == "unknown_segment"
    response = client_for(reviewer).post(reverse("annotation-segment-reviews", kwargs={"pk": started.pk}),
                                         {"segment_ids": [1], "review_state": "rejected"}, format="json")
    assert response.status_code == 200 and response.json()[0]["review_state"] == "rejected"
    after = Segment.objects.get(annotation=started, segment_id=1)
    assert (after.area, after.bbox, after.review_state) == (before.area, before.bbox, "rejected")
    assert Annotation.objects.get(pk=started.pk).version == started.version  # no save, no revision
    # The annotator's fix of a rejected segment puts it back to pending.
    image_reject(image=world.image, user=reviewer, reason="see the comments")
    paint(started, annotator, box=(5, 5, 15, 15))
    assert Segment.objects.get(annotation=started, segment_id=1).review_state == "pending"


def test_comments_are_pinned_validated_resolved_and_reopened(world, started, annotator, reviewer):
    with pytest.raises(ValidationFailed) as raised:
        comment_create(annotation=started, user=reviewer, body="here")
    assert raised.value.code == "unpinned_comment"
    for x, y in ((641, 10), (-1, 10), (float("nan"), 3), (3, None)):
        with pytest.raises(ValidationFailed) as raised:
            comment_create(annotation=started, user=reviewer, body="here", x=x, y=y)
        assert raised.value.code == "bad_point"
    with pytest.raises(ValidationFailed):
        comment_create(annotation=started, user=reviewer, body="here", segment_id=42)
    with pytest.raises(ValidationFailed):
        comment_create(annotation=started, user=reviewer, body="   ", x=1, y=1)
    pinned = comment_create(annotation=started, user=reviewer, body="wheel missing", x=120.5, y=60, segment_id=1)
    url = reverse("annotation-comments", kwargs={"pk": started.pk})
    response = client_for(annotator).get(url)
    assert [(c["body"], c["x"], c["segment_id"], c["resolved"]) for c in response.json()] == [
        ("wheel missing", 120.5, 1, False)]
    detail = reverse("comment-detail", kwargs={"pk": pinned.pk})
    response = client_for(annotator).patch(detail, {"resolved": True}, format="json")
    assert response.json()["resolved"] and response.json()["resolved_by_name"] == "annotator"
    response = client_for(reviewer).patch(detail, {"resolved": False}, format="json")
    assert not response.json()["resolved"] and response.json()["resolved_at"] is None
    # Annotators may not pin review comments, and another annotator sees neither the annotation nor its comments.
    assert client_for(annotator).post(url, {"body": "x", "x": 1, "y": 1}, format="json").status_code == 403
    second = _second_annotator(world)
    assert client_for(second).get(url).status_code == 404
    assert client_for(second).patch(detail, {"resolved": True}, format="json").status_code == 404
    comment_set_resolved(comment=pinned, user=reviewer, resolved=True)


def test_transitions_and_next_endpoints_over_http(world, started, annotator, reviewer):
    client = client_for(annotator)
    response = client.post(reverse("annotation-submit", kwargs={"pk": started.pk}))
    assert response.status_code == 200 and response.json()["state"] == "submitted"
    response = client_for(reviewer).post(reverse("project-next-review", kwargs={"project_pk": world.project.pk}))
    assert response.json()["image"]["id"] == world.image.pk
    response = client_for(reviewer).post(reverse("image-approve", kwargs={"pk": world.image.pk}), {},
                                         format="json")
    assert response.json()["state"] == "approved" and response.json()["approved_annotation"] == started.pk
    url = reverse("image-transitions", kwargs={"pk": world.image.pk})
    transitions = client_for(reviewer).get(url).json()
    assert [(t["subject"], t["to_state"], t["actor_name"]) for t in transitions] == [
        ("image", "in_progress", "annotator"), ("annotation", "submitted", "annotator"),
        ("image", "submitted", "annotator"), ("annotation", "approved", "reviewer"),
        ("image", "approved", "reviewer"),
    ]
    # The annotator sees their own annotation's history only (tests/api/test_gold_hiding.py says why).
    transitions = client.get(url).json()
    assert [(t["subject"], t["to_state"], t["actor_name"]) for t in transitions] == [
        ("annotation", "submitted", "annotator"), ("annotation", "approved", "reviewer"),
    ]
    response = client.post(reverse("project-next-task", kwargs={"project_pk": world.project.pk}))
    assert response.json() == {"image": None, "annotation": None, "why": "none"}
    response = client_for(world.users["manager"]).patch(
        reverse("project-detail", kwargs={"pk": world.project.pk}), {"annotators_per_image": 0}, format="json")
    assert response.status_code == 400
    response = client_for(world.users["manager"]).patch(
        reverse("project-detail", kwargs={"pk": world.project.pk}), {"annotators_per_image": 3}, format="json")
    assert response.json()["annotators_per_image"] == 3


def test_agreement_of_two_annotators_from_their_label_maps(world, started, annotator, reviewer):
    world.project.annotators_per_image = 2
    world.project.save()
    second = _second_annotator(world)
    annotation_submit(annotation=started, user=annotator)  # a 4x4 car at (5, 5)
    task = next_task(project=world.project, user=second)
    paint(task.annotation, second, box=(5, 5, 9, 8))  # the same car, one row shorter: IoU 12 / 16
    annotation_submit(annotation=task.annotation, user=second)
    response = client_for(reviewer).get(reverse("image-agreement", kwargs={"pk": world.image.pk}))
    assert response.status_code == 200
    data = response.json()
    assert data["metric"] == "pq"  # a panoptic project
    assert [a["annotator_name"] for a in data["annotations"]] == ["annotator", "second"]
    (pair,) = data["pairs"]
    assert pair["score"] == pytest.approx(0.75) and pair["sq"] == pytest.approx(0.75) and pair["rq"] == 1.0
    assert data["mean"] == pytest.approx(0.75)
    assert client_for(annotator).get(reverse("image-agreement", kwargs={"pk": world.image.pk})).status_code == 403


def test_gold_images_are_mixed_in_unseen_and_scored_against_the_reference(world, started, annotator, reviewer):
    manager = world.users["manager"]
    with pytest.raises(Conflict) as raised:
        image_set_gold(image=world.image, gold=True)
    assert raised.value.code == "not_approved"
    # The reference: the annotator's approved 4x4 car becomes gold; a second annotator is then scored on it.
    annotation_submit(annotation=started, user=annotator)
    image_approve(image=world.image, user=reviewer)
    response = client_for(manager).post(reverse("image-gold", kwargs={"pk": world.image.pk}), {"gold": True},
                                        format="json")
    assert response.status_code == 200 and response.json()["is_gold"] is True
    world.project.gold_share = 0.5
    world.project.save()
    (ordinary,) = more_images(world, 1)
    second = _second_annotator(world)

    task = next_task(project=world.project, user=second)
    assert task.image == ordinary  # floor(0.5 x 1) = 0 gold due yet
    annotation_submit(annotation=task.annotation, user=second)
    task = next_task(project=world.project, user=second)
    assert (task.image, task.why) == (world.image, "unlabelled")  # the gold one, reported like any task
    paint(task.annotation, second, box=(5, 5, 9, 8))  # 12 of the reference's 16 pixels
    annotation_submit(annotation=task.annotation, user=second)
    task.annotation.refresh_from_db()
    assert task.annotation.state == AnnotationState.SUBMITTED
    assert task.annotation.gold_score == pytest.approx(0.75)  # PQ of one match at IoU 0.75
    world.image.refresh_from_db()
    assert (world.image.state, world.image.approved_annotation_id) == (TaskState.APPROVED, started.pk)
    assert next_review(project=world.project, user=reviewer) != world.image

    # Unseen: to annotators a gold image is an image in progress, in the detail and in the list filters.
    seen = client_for(second).get(reverse("image-detail", kwargs={"pk": world.image.pk})).json()
    assert seen["state"] == "in_progress" and seen["approved_annotation"] is None and "is_gold" not in seen
    listed = client_for(second).get(reverse("project-images", kwargs={"project_pk": world.project.pk}),
                                    {"state": "approved"}).json()
    assert listed["count"] == 0
    listed = client_for(second).get(reverse("project-images", kwargs={"project_pk": world.project.pk}),
                                    {"state": "in_progress"}).json()
    assert world.image.pk in [i["id"] for i in listed["results"]]
    gold = client_for(manager).get(reverse("project-images", kwargs={"project_pk": world.project.pk}),
                                   {"gold": "1"}).json()
    assert [(i["id"], i["state"], i["is_gold"]) for i in gold["results"]] == [(world.image.pk, "approved", True)]
    # The reference itself stays hidden from other annotators.
    assert client_for(second).get(reverse("annotation-detail", kwargs={"pk": started.pk})).status_code == 404


def test_dashboard_counts_states_classes_annotators_and_scores(world, started, annotator, reviewer):
    annotation_submit(annotation=started, user=annotator)
    image_reject(image=world.image, user=reviewer, reason="redo")
    paint(started, annotator, box=(5, 5, 10, 10))  # 25 px
    annotation_submit(annotation=started, user=annotator)
    image_approve(image=world.image, user=reviewer)
    more_images(world, 2)
    data = client_for(reviewer).get(reverse("project-dashboard", kwargs={"project_pk": world.project.pk})).json()
    assert data["images"] == 3
    assert data["states"] == {"new": 2, "in_progress": 0, "submitted": 0, "approved": 1, "rejected": 0}
    progress = data["progress"]
    assert progress["days"][-1] == date.today().isoformat()
    assert {s: v[-1] for s, v in progress["states"].items()} == data["states"]
    car = next(c for c in data["classes"] if c["name"] == "car")
    assert (car["approved_pixels"], car["approved_segments"], car["all_segments"]) == (25, 1, 1)
    (row,) = data["annotators"]
    assert (row["username"], row["submissions"], row["approved"], row["rejected"]) == ("annotator", 2, 1, 1)
    assert row["rejection_rate"] == 0.5 and row["gold_score"] is None
    assert data["agreement"] == {"count": 0, "histogram": [0] * 10, "mean": None}
    assert client_for(annotator).get(
        reverse("project-dashboard", kwargs={"project_pk": world.project.pk})).status_code == 403


def test_reviewer_approves_the_majority_merge_of_three(world, started, annotator, reviewer):
    world.project.annotators_per_image = 3
    world.project.save()
    annotation_submit(annotation=started, user=annotator)  # car at x 5..8, y 5..8
    others = [_second_annotator(world, name) for name in ("second", "third")]
    for user, box in zip(others, [(5, 5, 9, 8), (20, 20, 24, 24)], strict=True):
        task = next_task(project=world.project, user=user)
        paint(task.annotation, user, box=box)
        annotation_submit(annotation=task.annotation, user=user)
    world.image.refresh_from_db()
    assert world.image.state == TaskState.SUBMITTED
    assert world.image.agreement is not None  # recorded for the dashboard when the third one submitted
    with pytest.raises(Forbidden):
        image_approve_merge(image=world.image, user=annotator)
    response = client_for(reviewer).post(reverse("image-approve", kwargs={"pk": world.image.pk}), {"merge": True},
                                         format="json")
    assert response.status_code == 200, response.json()
    world.image.refresh_from_db()
    merged = world.image.approved_annotation
    assert (world.image.state, merged.annotator, merged.state) == (TaskState.APPROVED, reviewer, "approved")
    # Two of three painted rows 5..7 of the car, the first also row 8; the third's car elsewhere is outvoted.
    (segment,) = Segment.objects.filter(annotation=merged)
    assert (segment.area, segment.bbox, segment.label_class_id) == (12, [5, 5, 4, 3], world.thing.pk)
    assert "majority merge" in history(world.image)[-1][4]


def test_disagreement_heat_map_shows_where_annotators_differ(world, started, annotator, reviewer):
    import io

    from PIL import Image as PILImage

    world.project.annotators_per_image = 2
    world.project.save()
    url = reverse("image-disagreement", kwargs={"pk": world.image.pk})
    annotation_submit(annotation=started, user=annotator)  # car at x 5..8, y 5..8
    assert client_for(reviewer).get(url).status_code == 404  # one annotation: nothing to compare
    second = _second_annotator(world)
    task = next_task(project=world.project, user=second)
    paint(task.annotation, second, box=(5, 5, 9, 8))  # row 8 missing
    annotation_submit(annotation=task.annotation, user=second)
    response = client_for(reviewer).get(url)
    assert response["Content-Type"] == "image/png"
    alpha = np.asarray(PILImage.open(io.BytesIO(response.content)))[..., 3]
    assert alpha.shape == (480, 640)
    assert set(np.nonzero(alpha)[0].tolist()) == {8} and set(np.nonzero(alpha)[1].tolist()) == {5, 6, 7, 8}
    assert alpha[8, 5] == 110  # one of two annotators outside the majority


def test_opening_an_image_from_the_grid_respects_the_task_flow(world, started, annotator, reviewer):
    second = _second_annotator(world)
    url = reverse("image-annotations", kwargs={"pk": world.image.pk})
    response = client_for(second).post(url)
    assert response.status_code == 409 and response.json()["code"] == "task_full"
    assert client_for(annotator).post(url).status_code == 200  # one's own annotation always opens
    annotation_submit(annotation=started, user=annotator)
    world.project.annotators_per_image = 2
    world.project.save()
    response = client_for(second).post(url)
    assert response.status_code == 409 and response.json()["code"] == "task_closed"
    (fresh,) = more_images(world, 1)
    assert client_for(second).post(reverse("image-annotations", kwargs={"pk": fresh.pk})).status_code == 201


def test_opening_an_image_claims_nothing_and_starting_does(world, annotator, reviewer):
    """Issue 16 item 17: a manager who only looks at a new image leaves it to the annotators; Next task and
    `annotators_per_image` count only people who started."""
    manager = world.users["manager"]
    task_url = reverse("image-task", kwargs={"pk": world.image.pk})
    body = client_for(manager).get(task_url).json()
    assert body == {"annotation": None, "can_start": True, "refusal": None, "prelabel": None, "tile_size": 512}
    assert states(world.image) == TaskState.NEW
    assert not Annotation.objects.filter(image=world.image).exists()
    assert not TaskTransition.objects.filter(image=world.image).exists()
    # With one annotator per image, the annotator's Next task still gets it.
    task = next_task(project=world.project, user=annotator)
    assert (task.image, task.why) == (world.image, "unlabelled")
    # Now it is taken: the manager's look says so, and starting is refused.
    body = client_for(manager).get(task_url).json()
    assert body["can_start"] is False and body["refusal"]["code"] == "task_full"
    response = client_for(manager).post(reverse("image-annotations", kwargs={"pk": world.image.pk}))
    assert response.status_code == 409 and response.json()["code"] == "task_full"
    # The annotator's own look names their annotation; a reviewer is told they do not label.
    body = client_for(annotator).get(task_url).json()
    assert body["annotation"]["id"] == task.annotation.pk and body["can_start"] is False and body["refusal"] is None
    body = client_for(reviewer).get(task_url).json()
    assert body["can_start"] is False and body["refusal"]["code"] == "not_a_labeller"


def test_starting_from_the_grid_is_the_claim_and_names_the_pre_label(world, annotator):
    manager = world.users["manager"]
    (fresh,) = more_images(world, 1)
    prelabel = Annotation.objects.create(image=fresh, annotator=None)
    paint(prelabel, None)
    task_url = reverse("image-task", kwargs={"pk": fresh.pk})
    assert client_for(manager).get(task_url).json()["prelabel"] == prelabel.pk
    assert states(fresh) == TaskState.NEW
    response = client_for(manager).post(reverse("image-annotations", kwargs={"pk": fresh.pk}))
    assert response.status_code == 201 and len(response.json()["segments"]) == 1  # a copy of the pre-label
    assert states(fresh) == TaskState.IN_PROGRESS
    # The manager started it: with k=1 the annotator's Next task passes it by.
    assert next_task(project=world.project, user=annotator).image == world.image
    assert next_task(project=world.project, user=annotator).why == "draft"


def test_a_start_rechecks_the_places_under_the_image_row_lock(world, annotator, monkeypatch):
    """Two people starting the last place of an image at once: the second is refused once it holds the lock,
    whatever it saw before (here the other start lands between the first check and the lock)."""
    from labeling.services import tasks
    from labeling.services.tasks import task_open

    second = _second_annotator(world)
    real_lock = tasks._locked_image
    raced = []

    def lock_after_a_rival_started(image_id):
        if not raced:
            raced.append(True)
            annotation_get_or_create(image=world.image, user=second)
        return real_lock(image_id)

    monkeypatch.setattr(tasks, "_locked_image", lock_after_a_rival_started)
    with pytest.raises(Conflict) as raised:
        task_open(image=world.image, user=annotator)
    assert raised.value.code == "task_full"
    assert not Annotation.objects.filter(image=world.image, annotator=annotator).exists()


def test_opening_an_approved_image_says_why_and_a_reviewer_may_reopen_it(world, started, annotator, reviewer):
    """Issue 16 item 18: the refusal is a helpful 409 the editor shows as a page; OPTIONS on reopen tells the UI who
    may reopen (the server's scopes), and a reopened image can be labelled again."""
    annotation_submit(annotation=started, user=annotator)
    image_approve(image=world.image, user=reviewer)
    manager = world.users["manager"]
    body = client_for(manager).get(reverse("image-task", kwargs={"pk": world.image.pk})).json()
    assert body["can_start"] is False and body["refusal"]["code"] == "task_closed"
    assert body["refusal"]["extra"] == {"state": "approved"} and "reopen" in body["refusal"]["message"]
    response = client_for(manager).post(reverse("image-annotations", kwargs={"pk": world.image.pk}))
    assert response.status_code == 409 and response.json()["message"] == body["refusal"]["message"]
    reopen = reverse("image-reopen", kwargs={"pk": world.image.pk})
    for user, allowed in ((manager, True), (reviewer, True), (annotator, False)):
        assert ("POST" in client_for(user).options(reopen).json()["allowed_methods"]) is allowed
    assert client_for(manager).post(reopen, {"reason": ""}, format="json").status_code == 400
    response = client_for(manager).post(reopen, {"reason": "the mirror is a car too"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "in_progress"
    started.refresh_from_db()
    assert started.state == AnnotationState.DRAFT
    paint(started, manager, box=(20, 20, 30, 30))  # the manager labels on (as their revision)
    assert Revision.objects.filter(annotation=started, author=manager).exists()


@pytest.mark.parametrize("step", [1, 2, 3, 7])
def test_sampled_label_map_equals_every_nth_pixel_of_the_whole(world, annotator, step):
    from labeling.masks.tiles import split_map
    from labeling.selectors import annotation_label_map

    rng = np.random.default_rng(step)
    full = rng.integers(0, 4, (480, 640), dtype=np.uint32)  # crosses the 512-px tile border
    annotation, _ = annotation_get_or_create(image=world.image, user=annotator)
    labelmap_save(annotation=annotation, user=annotator, base_version=annotation.version,
                  tiles=[TileUpdate(tx=tx, ty=ty, data=encode_tile(t)) for (tx, ty), t in split_map(full).items()],
                  segments=[SegmentInput(segment_id=i, class_id=world.thing.pk) for i in (1, 2, 3)],
                  deleted_segment_ids=[])
    sampled = annotation_label_map(annotation=annotation, step=step)
    assert sampled.shape == full[::step, ::step].shape
    assert np.array_equal(sampled, full[::step, ::step])
