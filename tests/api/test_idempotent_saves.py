"""Saves sent with an Idempotency-Key: a resend gets the first answer back and writes nothing."""

from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from labeling.models import Annotation, Revision, Role, SaveReceipt
from labeling.services import labelmaps
from labeling.services.labelmaps import save_receipts_prune
from tests.api.conftest import client_for
from tests.api.test_labelmap_save import tiles_payload


def save(client, annotation, body, key=None):
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(reverse("annotation-save", kwargs={"pk": annotation.pk}), body, format="json", **headers)


def first_body(world, base_version=0, value=1):
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[10:50, 10:50] = value
    return {"base_version": base_version, "tiles": tiles_payload(label_map, keys={(0, 0)}),
            "segments": [{"segment_id": value, "class_id": world.thing.pk}]}


@pytest.fixture
def annotator_client(world):
    return client_for(world.users[Role.ANNOTATOR])


def test_a_resend_replays_the_first_answer_and_writes_nothing(world, annotation, annotator_client):
    body = first_body(world)
    first = save(annotator_client, annotation, body, key="save-1")
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    receipt = SaveReceipt.objects.get(annotation=annotation, key="save-1")
    assert receipt.version == 1 and receipt.user == world.users[Role.ANNOTATOR]

    again = save(annotator_client, annotation, body, key="save-1")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    annotation.refresh_from_db()
    assert annotation.version == 1
    assert Revision.objects.filter(annotation=annotation).count() == 1
    assert SaveReceipt.objects.filter(annotation=annotation).count() == 1


def test_a_resend_still_replays_after_later_saves_moved_the_version_on(world, annotation, annotator_client):
    body = first_body(world)
    first = save(annotator_client, annotation, body, key="save-1")
    second = save(annotator_client, annotation, first_body(world, base_version=1, value=2), key="save-2")
    assert second.status_code == 200 and second.json()["version"] == 2

    late = save(annotator_client, annotation, body, key="save-1")
    assert late.status_code == 200 and late.headers["Idempotent-Replayed"] == "true"
    assert late.json() == first.json() and late.json()["version"] == 1
    annotation.refresh_from_db()
    assert annotation.version == 2


def test_the_same_key_with_another_body_is_refused(world, annotation, annotator_client):
    first = save(annotator_client, annotation, first_body(world), key="save-1")
    assert first.status_code == 200
    other = save(annotator_client, annotation, first_body(world, base_version=1, value=2), key="save-1")
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused" and {"message", "code", "extra"} <= set(other.json())
    annotation.refresh_from_db()
    assert annotation.version == 1


def test_another_user_with_the_same_key_does_not_get_the_first_answer(world, annotation, annotator_client):
    body = first_body(world)
    assert save(annotator_client, annotation, body, key="shared").status_code == 200
    # The reviewer may edit the annotator's map, but the key names the annotator's save, not theirs.
    reviewer = save(client_for(world.users[Role.REVIEWER]), annotation, body, key="shared")
    assert reviewer.status_code == 422 and reviewer.json()["code"] == "idempotency_key_reused"
    assert "segments" not in reviewer.json()["extra"]


def test_without_a_key_saves_behave_as_before(world, annotation, annotator_client):
    body = first_body(world)
    assert save(annotator_client, annotation, body).status_code == 200
    stale = save(annotator_client, annotation, body)
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    assert not SaveReceipt.objects.exists()


def test_a_refused_save_leaves_no_receipt_and_its_key_stays_usable(world, annotation, annotator_client):
    bad = first_body(world)
    bad["segments"] = []  # pixels of segment 1 without its row: 400 from inside the save's transaction
    refused = save(annotator_client, annotation, bad, key="save-1")
    assert refused.status_code == 400 and refused.json()["code"] == "unknown_segment"
    assert not SaveReceipt.objects.exists()
    stale = save(annotator_client, annotation, first_body(world, base_version=5), key="save-2")
    assert stale.status_code == 409 and not SaveReceipt.objects.exists()

    fixed = save(annotator_client, annotation, first_body(world), key="save-1")
    assert fixed.status_code == 200 and "Idempotent-Replayed" not in fixed.headers


@pytest.mark.parametrize("key", ["", "   ", "k" * 101])
def test_an_empty_or_too_long_key_is_a_400(world, annotation, annotator_client, key):
    response = save(annotator_client, annotation, first_body(world), key=key)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_idempotency_key" and {"message", "code", "extra"} <= set(response.json())
    assert Annotation.objects.get(pk=annotation.pk).version == 0


def test_a_key_of_100_characters_is_accepted(world, annotation, annotator_client):
    assert save(annotator_client, annotation, first_body(world), key="k" * 100).status_code == 200


def _lookup_misses_once(monkeypatch):
    """Make the first receipt lookup miss, as for a request that checked before a concurrent one committed."""
    real = labelmaps._save_receipt_answer
    calls = []

    def lookup(**kwargs):
        calls.append(kwargs["key"])
        return None if len(calls) == 1 else real(**kwargs)

    monkeypatch.setattr(labelmaps, "_save_receipt_answer", lookup)
    return calls


def test_a_concurrent_duplicate_that_loses_the_version_swap_replays(world, annotation, annotator_client,
                                                                    monkeypatch):
    body = first_body(world)
    first = save(annotator_client, annotation, body, key="save-1")
    calls = _lookup_misses_once(monkeypatch)
    duplicate = save(annotator_client, annotation, body, key="save-1")
    assert calls == ["save-1", "save-1"]  # looked again after its 409
    assert duplicate.status_code == 200 and duplicate.headers["Idempotent-Replayed"] == "true"
    assert duplicate.json() == first.json()


def test_a_concurrent_request_that_loses_the_receipt_key_is_rolled_back_not_a_500(world, annotation,
                                                                                  annotator_client, monkeypatch):
    assert save(annotator_client, annotation, first_body(world), key="save-1").status_code == 200
    _lookup_misses_once(monkeypatch)
    # Another body on the current base: its save wins the version swap, then its receipt hits the unique key.
    clash = save(annotator_client, annotation, first_body(world, base_version=1, value=2), key="save-1")
    assert clash.status_code == 422 and clash.json()["code"] == "idempotency_key_reused"
    annotation.refresh_from_db()
    assert annotation.version == 1 and Revision.objects.filter(annotation=annotation).count() == 1


def test_expired_receipts_are_ignored_and_pruned(world, annotation, annotator_client):
    body = first_body(world)
    assert save(annotator_client, annotation, body, key="old").status_code == 200
    SaveReceipt.objects.update(created_at=timezone.now() - timedelta(hours=25))
    late = save(annotator_client, annotation, body, key="old")
    assert late.status_code == 409  # past the receipt's lifetime a resend runs as a new save
    assert save_receipts_prune() == 1
    assert not SaveReceipt.objects.exists()
    assert save(annotator_client, annotation, first_body(world, base_version=1, value=2), key="new").status_code == 200
    assert save_receipts_prune(older_than=timedelta(hours=1)) == 0
    assert save_receipts_prune(older_than=timedelta(0)) == 1
