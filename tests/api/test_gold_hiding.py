"""Gold images stay unseen: an annotator handed one cannot tell it from any task in progress on any endpoint (image
detail and list, state and gold filters, next task, transitions, assignments, dashboard), while managers and
reviewers (scope task:oversee) see everything. The rule is `labeling.selectors.TaskVisibility`."""

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labeling.masks.tiles import encode_tile
from labeling.models import Annotation, Image, Membership, Role, TaskState
from labeling.services.images import images_upload
from labeling.services.labelmaps import SegmentInput, TileUpdate, annotation_get_or_create, labelmap_save
from labeling.services.tasks import annotation_submit, image_approve, image_set_gold, tasks_assign
from tests.api.conftest import client_for, make_user
from tests.conftest import png_bytes


def _paint(annotation, user, box=(5, 5, 9, 9)):
    annotation.refresh_from_db()
    tile = np.zeros((480, 512), dtype=np.uint32)
    x0, y0, x1, y1 = box
    tile[y0:y1, x0:x1] = 1
    labelmap_save(annotation=annotation, user=user, base_version=annotation.version,
                  tiles=[TileUpdate(tx=0, ty=0, data=encode_tile(tile))],
                  segments=[SegmentInput(segment_id=1, class_id=annotation.image.project.classes.get(kind="thing").pk)],
                  deleted_segment_ids=[])


@pytest.fixture
def gold(world):
    """world.image is gold (the annotator's approved work is the reference) and `newcomer`, another annotator, was
    handed it and submitted their labels. Two ordinary images are assigned, one to each annotator."""
    annotator, reviewer, manager = world.users[Role.ANNOTATOR], world.users[Role.REVIEWER], world.users["manager"]
    reference, _ = annotation_get_or_create(image=world.image, user=annotator)
    _paint(reference, annotator)
    annotation_submit(annotation=reference, user=annotator)
    image_approve(image=world.image, user=reviewer)
    image_set_gold(image=world.image, gold=True)
    newcomer = make_user("newcomer")
    Membership.objects.create(project=world.project, user=newcomer, role=Role.ANNOTATOR)
    batch = images_upload(project=world.project, user=manager,
                          files=[SimpleUploadedFile(f"o{i}.png", png_bytes(640, 480, seed=40 + i)) for i in range(2)])
    mine, theirs = (Image.objects.get(pk=r.image_id) for r in batch.results)
    tasks_assign(project=world.project, image_ids=[mine.pk], user_ids=[newcomer.pk], by=manager)
    tasks_assign(project=world.project, image_ids=[theirs.pk], user_ids=[annotator.pk], by=manager)
    handed, _ = annotation_get_or_create(image=world.image, user=newcomer)
    _paint(handed, newcomer, box=(5, 5, 9, 8))
    annotation_submit(annotation=handed, user=newcomer)
    return {"image": world.image, "newcomer": newcomer, "handed": handed, "reference": reference, "mine": mine,
            "theirs": theirs}


def _images(client, world, **params):
    return client.get(reverse("project-images", kwargs={"project_pk": world.project.pk}), params).json()["results"]


def test_an_annotator_sees_no_gold_flag_or_approval(world, gold):
    client = client_for(gold["newcomer"])
    seen = client.get(reverse("image-detail", kwargs={"pk": gold["image"].pk})).json()
    assert (seen["state"], seen["approved_annotation"]) == ("in_progress", None) and "is_gold" not in seen
    for row in _images(client, world):
        assert "is_gold" not in row
        if row["id"] == gold["image"].pk:
            assert (row["state"], row["approved_annotation"]) == ("in_progress", None)


@pytest.mark.parametrize("role", [Role.MANAGER, Role.REVIEWER])
def test_managers_and_reviewers_see_gold_images_as_they_are(world, gold, role):
    client = client_for(world.users[role])
    seen = client.get(reverse("image-detail", kwargs={"pk": gold["image"].pk})).json()
    assert (seen["state"], seen["approved_annotation"], seen["is_gold"]) == (
        "approved", gold["reference"].pk, True)
    assert [i["id"] for i in _images(client, world, gold="1")] == [gold["image"].pk]
    assert gold["image"].pk in [i["id"] for i in _images(client, world, state="approved")]
    assert gold["image"].pk not in [i["id"] for i in _images(client, world, state="in_progress")]


def test_state_filters_do_not_give_a_gold_image_away(world, gold):
    client = client_for(gold["newcomer"])
    everything = {i["id"]: i["state"] for i in _images(client, world)}
    for state in TaskState.values:
        listed = _images(client, world, state=state)
        # Each image is listed under the state it is shown in, and only there.
        assert {i["id"] for i in listed} == {pk for pk, s in everything.items() if s == state}, state
    assert gold["image"].pk in [i["id"] for i in _images(client, world, state="in_progress")]
    # The gold filter is ignored: it lists everything, with no flag.
    assert sorted(i["id"] for i in _images(client, world, gold="1")) == sorted(everything)


def test_next_task_hands_a_gold_image_out_as_a_task_in_progress(world, gold):
    world.project.gold_share = 0.5
    world.project.save()
    images_upload(project=world.project, user=world.users["manager"],
                  files=[SimpleUploadedFile("free.png", png_bytes(640, 480, seed=50))])
    other = make_user("third")
    Membership.objects.create(project=world.project, user=other, role=Role.ANNOTATOR)
    url = reverse("project-next-task", kwargs={"project_pk": world.project.pk})
    handed = []
    for _ in range(2):  # an ordinary task first, then (floor(0.5 x 2) = 1 due) the gold one
        task = client_for(other).post(url).json()
        handed.append(task["image"])
        annotation_submit(annotation=Annotation.objects.get(pk=task["annotation"]["id"]), user=other)
    assert handed[1]["id"] == gold["image"].pk
    assert (handed[1]["state"], handed[1]["approved_annotation"]) == ("in_progress", None)
    assert "is_gold" not in handed[1]


def test_an_annotator_sees_only_their_own_annotations_history_of_a_gold_image(world, gold):
    url = reverse("image-transitions", kwargs={"pk": gold["image"].pk})
    history = client_for(gold["newcomer"]).get(url).json()
    assert [(t["subject"], t["annotation"], t["from_state"], t["to_state"], t["actor_name"]) for t in history] == [
        ("annotation", gold["handed"].pk, "draft", "submitted", "newcomer")]
    # The reference's author sees their own work's history, still none of the image's.
    history = client_for(world.users[Role.ANNOTATOR]).get(url).json()
    assert {t["annotation"] for t in history} == {gold["reference"].pk}
    assert all(t["subject"] == "annotation" for t in history)


def test_an_annotator_sees_no_image_history_of_an_ordinary_image_either(world, gold):
    # Were an ordinary image's task history shown, its absence on a gold image would give the gold image away.
    mine = gold["mine"]
    annotation, _ = annotation_get_or_create(image=mine, user=gold["newcomer"])
    _paint(annotation, gold["newcomer"])
    annotation_submit(annotation=annotation, user=gold["newcomer"])
    history = client_for(gold["newcomer"]).get(reverse("image-transitions", kwargs={"pk": mine.pk})).json()
    assert [(t["subject"], t["to_state"]) for t in history] == [("annotation", "submitted")]


@pytest.mark.parametrize("role", [Role.MANAGER, Role.REVIEWER])
def test_managers_and_reviewers_see_the_whole_history(world, gold, role):
    history = client_for(world.users[role]).get(reverse("image-transitions", kwargs={"pk": gold["image"].pk})).json()
    rows = [(t["subject"], t["to_state"], t["actor_name"]) for t in history]
    assert ("image", "approved", "reviewer") in rows and ("annotation", "submitted", "newcomer") in rows
    assert ("annotation", "approved", "reviewer") in rows


def test_an_annotator_lists_only_their_own_assignments(world, gold):
    url = reverse("project-assignments", kwargs={"project_pk": world.project.pk})
    listed = client_for(gold["newcomer"]).get(url).json()["results"]
    assert [(a["image"], a["username"]) for a in listed] == [(gold["mine"].pk, "newcomer")]
    assert client_for(gold["newcomer"]).get(url, {"image": gold["theirs"].pk}).json()["results"] == []
    for role in (Role.MANAGER, Role.REVIEWER):
        listed = client_for(world.users[role]).get(url).json()["results"]
        assert sorted(a["username"] for a in listed) == ["annotator", "newcomer"]


def test_the_dashboard_is_closed_to_annotators(world, gold):
    url = reverse("project-dashboard", kwargs={"project_pk": world.project.pk})
    assert client_for(gold["newcomer"]).get(url).status_code == 403
    data = client_for(world.users[Role.REVIEWER]).get(url).json()
    assert data["gold"]["count"] == 1
