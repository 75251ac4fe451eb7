"""Saving a label map: diffs of tiles and segment rows against a base version."""

import base64

import numpy as np
import pytest
from django.urls import reverse

from labeling.masks.labelmap import segment_stats
from labeling.masks.tiles import assemble_map, decode_tile, encode_tile, split_map
from labeling.models import Annotation, LabelMapTile, Revision, RevisionTile, Role, Segment
from tests.api.conftest import client_for


def b64(arr: np.ndarray) -> str:
    return base64.b64encode(encode_tile(np.ascontiguousarray(arr, dtype=np.uint32))).decode()


def tiles_payload(label_map: np.ndarray, keys=None) -> list[dict]:
    tiles = split_map(label_map, tile_size=512)
    return [{"tx": tx, "ty": ty, "data": b64(t)} for (tx, ty), t in sorted(tiles.items()) if keys is None or
            (tx, ty) in keys]


def save(client, annotation, body):
    return client.post(reverse("annotation-save", kwargs={"pk": annotation.pk}), body, format="json")


def read_map(client, annotation) -> np.ndarray:
    detail = client.get(reverse("annotation-detail", kwargs={"pk": annotation.pk})).json()
    tiles = {}
    for tx, ty in detail["tiles"]:
        raw = client.get(reverse("annotation-tile", kwargs={"pk": annotation.pk, "tx": tx, "ty": ty})).content
        h = min(512, detail["height"] - ty * 512)
        w = min(512, detail["width"] - tx * 512)
        tiles[(tx, ty)] = decode_tile(raw, shape=(h, w))
    return assemble_map(width=detail["width"], height=detail["height"], tiles=tiles, tile_size=512)


@pytest.fixture
def annotator_client(world):
    return client_for(world.users[Role.ANNOTATOR])


def test_first_save_stores_pixels_segments_and_a_revision(world, annotation, annotator_client):
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[100:200, 500:600] = 1  # crosses the tile border at x=512
    label_map[300:480, :] = 2
    body = {
        "base_version": 0,
        "tiles": tiles_payload(label_map),
        "segments": [
            {"segment_id": 1, "class_id": world.thing.pk, "attributes": {"occluded": True}},
            {"segment_id": 2, "class_id": world.stuff.pk},
        ],
    }
    response = save(annotator_client, annotation, body)
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["version"] == 1
    by_id = {s["segment_id"]: s for s in data["segments"]}
    assert by_id[1]["area"] == 100 * 100 and by_id[1]["bbox"] == [500, 100, 100, 100]
    assert by_id[1]["instance"] == 1  # assigned automatically for a thing
    assert by_id[2]["area"] == 180 * 640 and by_id[2]["bbox"] == [0, 300, 640, 180]
    assert by_id[2]["instance"] is None
    assert np.array_equal(read_map(annotator_client, annotation), label_map)
    revision = Revision.objects.get(annotation=annotation)
    assert revision.version == 1 and revision.author == world.users[Role.ANNOTATOR]
    assert RevisionTile.objects.filter(revision=revision).count() == 2


def test_area_and_bbox_follow_pixels_across_partial_saves(world, annotation, annotator_client):
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[0:10, 0:600] = 1
    first = save(annotator_client, annotation, {
        "base_version": 0, "tiles": tiles_payload(label_map),
        "segments": [{"segment_id": 1, "class_id": world.thing.pk}],
    })
    assert first.status_code == 200
    # Erase the part in the right tile only; send just that tile and no segment rows.
    label_map[:, 512:] = 0
    second = save(annotator_client, annotation, {"base_version": 1, "tiles": tiles_payload(label_map, {(1, 0)})})
    assert second.status_code == 200, second.json()
    segment = Segment.objects.get(annotation=annotation, segment_id=1)
    expected = segment_stats(label_map)[1]
    assert segment.area == expected[0] == 10 * 512
    assert segment.bbox == [0, 0, 512, 10]
    # The right tile became empty and is no longer stored.
    assert list(LabelMapTile.objects.filter(annotation=annotation).values_list("tx", "ty")) == [(0, 0)]
    assert np.array_equal(read_map(annotator_client, annotation), label_map)


def test_stale_base_version_gets_409_with_current_version_and_writes_nothing(world, annotation, annotator_client):
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[:5, :5] = 1
    body = {"base_version": 0, "tiles": tiles_payload(label_map),
            "segments": [{"segment_id": 1, "class_id": world.thing.pk}]}
    assert save(annotator_client, annotation, body).status_code == 200
    label_map[:5, :5] = 7
    stale = save(annotator_client, annotation, {
        "base_version": 0, "tiles": tiles_payload(label_map),
        "segments": [{"segment_id": 7, "class_id": world.thing.pk}],
    })
    assert stale.status_code == 409
    assert stale.json() == {
        "message": stale.json()["message"], "code": "stale_version",
        "extra": {"current_version": 1, "base_version": 0}, "request_id": stale["X-Request-ID"],
    }
    assert not Segment.objects.filter(annotation=annotation, segment_id=7).exists()
    assert Revision.objects.filter(annotation=annotation).count() == 1


@pytest.mark.parametrize(
    "mutate, code",
    [
        (lambda body, w: body["segments"].pop(), "unknown_segment"),  # pixels with id 2 but no row
        (lambda body, w: body["segments"][1].update(class_id=w.other_class.pk), "unknown_class"),
        (lambda body, w: body["tiles"][0].update(data=base64.b64encode(b"garbage").decode()), "bad_tile"),
        (lambda body, w: body["tiles"][0].update(tx=9), "bad_tile"),
        (lambda body, w: body["segments"][1].update(class_id=w.stuff.pk, instance=3), "instance_on_stuff"),
        (lambda body, w: [body["segments"][1].update(class_id=w.stuff.pk),
                          body["segments"].append({"segment_id": 3, "class_id": w.stuff.pk})],
         "duplicate_stuff_segment"),
        (lambda body, w: body["segments"][1].update(rings=[[[0, 0], [1, "x"], [2, 2]]]), "bad_rings"),
        (lambda body, w: body["segments"][1].update(rings=[[[0, 0], [1, 1]]]), "bad_rings"),
        (lambda body, w: body.update(deleted_segment_ids=[1]), "update_and_delete"),
        (lambda body, w: body["tiles"].append(dict(body["tiles"][0])), "duplicate_tile"),
    ],
)
def test_bad_saves_are_400_and_nothing_partial_is_written(world, annotation, annotator_client, mutate, code):
    from labeling.models import Project
    from labeling.services.projects import label_class_create, project_create

    other = project_create(user=world.users["manager"], name="Other", kind="instance")
    world.other_class = label_class_create(project=other, name="cat", kind="thing", color="#00ff00")
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[10:20, 10:20] = 1
    label_map[30:40, 600:610] = 2
    body = {
        "base_version": 0,
        "tiles": tiles_payload(label_map),
        "segments": [{"segment_id": 1, "class_id": world.thing.pk}, {"segment_id": 2, "class_id": world.thing.pk}],
    }
    mutate(body, world)
    response = save(annotator_client, annotation, body)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == code
    assert set(response.json()) == {"message", "code", "extra", "request_id"}
    annotation.refresh_from_db()
    assert annotation.version == 0
    assert not LabelMapTile.objects.filter(annotation=annotation).exists()
    assert not Segment.objects.filter(annotation=annotation).exists()
    assert not Revision.objects.filter(annotation=annotation).exists()
    assert Project.objects.filter(pk=world.project.pk).exists()


def test_deleting_a_segment_requires_its_pixels_gone(world, annotation, annotator_client):
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[:10, :10] = 1
    label_map[:10, 20:30] = 2
    assert save(annotator_client, annotation, {
        "base_version": 0, "tiles": tiles_payload(label_map),
        "segments": [{"segment_id": 1, "class_id": world.thing.pk}, {"segment_id": 2, "class_id": world.thing.pk}],
    }).status_code == 200
    refused = save(annotator_client, annotation, {"base_version": 1, "deleted_segment_ids": [2]})
    assert refused.status_code == 400 and refused.json()["code"] == "segment_still_painted"
    label_map[label_map == 2] = 0
    accepted = save(annotator_client, annotation, {"base_version": 1, "tiles": tiles_payload(label_map),
                                                   "deleted_segment_ids": [2]})
    assert accepted.status_code == 200, accepted.json()
    assert list(Segment.objects.filter(annotation=annotation).values_list("segment_id", flat=True)) == [1]


def test_duplicate_instance_numbers_are_refused_and_explicit_ones_kept(world, annotation, annotator_client):
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[:10, :10] = 1
    label_map[:10, 20:30] = 2
    clash = save(annotator_client, annotation, {
        "base_version": 0, "tiles": tiles_payload(label_map),
        "segments": [{"segment_id": 1, "class_id": world.thing.pk, "instance": 4},
                     {"segment_id": 2, "class_id": world.thing.pk, "instance": 4}],
    })
    assert clash.status_code == 400 and clash.json()["code"] == "duplicate_instance"
    ok = save(annotator_client, annotation, {
        "base_version": 0, "tiles": tiles_payload(label_map),
        "segments": [{"segment_id": 1, "class_id": world.thing.pk, "instance": 4},
                     {"segment_id": 2, "class_id": world.thing.pk}],
    })
    assert ok.status_code == 200
    assert {s["segment_id"]: s["instance"] for s in ok.json()["segments"]} == {1: 4, 2: 5}


def test_decompression_bomb_tile_is_refused(world, annotation, annotator_client):
    import zlib

    bomb = zlib.compress(b"\0" * (64 * 1024 * 1024), 9)
    response = save(annotator_client, annotation, {
        "base_version": 0, "tiles": [{"tx": 0, "ty": 0, "data": base64.b64encode(bomb).decode()}],
    })
    assert response.status_code == 400 and response.json()["code"] == "bad_tile"


def test_reviewer_edit_is_its_own_revision(world, annotation):
    reviewer = client_for(world.users[Role.REVIEWER])
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[:3, :3] = 1
    response = save(reviewer, annotation, {"base_version": 0, "tiles": tiles_payload(label_map),
                                           "segments": [{"segment_id": 1, "class_id": world.thing.pk}]})
    assert response.status_code == 200
    history = client_for(world.users[Role.ANNOTATOR]).get(
        reverse("annotation-revisions", kwargs={"pk": annotation.pk})).json()["results"]
    assert [(r["version"], r["author_name"]) for r in history] == [(1, "reviewer")]
    assert Annotation.objects.get(pk=annotation.pk).annotator == world.users[Role.ANNOTATOR]


def test_opening_an_annotation_creates_it_once_and_moves_the_task(world):
    client = client_for(world.users[Role.ANNOTATOR])
    url = reverse("image-annotations", kwargs={"pk": world.image.pk})
    first = client.post(url)
    second = client.post(url)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["version"] == 0 and first.json()["tiles"] == [] and first.json()["segments"] == []
    world.image.refresh_from_db()
    assert world.image.state == "in_progress"


def test_nan_in_json_is_a_parse_error_not_a_500(world, annotation, annotator_client):
    raw = '{"base_version": 0, "segments": [{"segment_id": 1, "class_id": ' + str(world.thing.pk) + ', "score": NaN}]}'
    response = annotator_client.post(reverse("annotation-save", kwargs={"pk": annotation.pk}), raw,
                                     content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_updating_rows_keeps_every_field(world, annotation, annotator_client):
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[5:15, 5:15] = 1
    assert save(annotator_client, annotation, {
        "base_version": 0, "tiles": tiles_payload(label_map),
        "segments": [{"segment_id": 1, "class_id": world.thing.pk}],
    }).status_code == 200
    rings = [[[5, 5], [15, 5], [15, 15], [5, 15]]]
    updated = save(annotator_client, annotation, {
        "base_version": 1,
        "segments": [{"segment_id": 1, "class_id": world.thing.pk, "instance": 9, "attributes": {"color": "red"},
                      "source": "sam", "score": 0.5, "rings": rings}],
    })
    assert updated.status_code == 200, updated.json()
    detail = annotator_client.get(reverse("annotation-detail", kwargs={"pk": annotation.pk})).json()
    (row,) = detail["segments"]
    assert row == {"segment_id": 1, "class_id": world.thing.pk, "instance": 9, "attributes": {"color": "red"},
                   "source": "sam", "score": 0.5, "review_state": "pending", "rings": rings, "area": 100,
                   "bbox": [5, 5, 10, 10]}


def test_resending_a_thing_without_instance_keeps_its_number(world, annotation, annotator_client):
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[5:15, 5:15] = 1
    body = {"base_version": 0, "tiles": tiles_payload(label_map),
            "segments": [{"segment_id": 1, "class_id": world.thing.pk}]}
    assert save(annotator_client, annotation, body).json()["segments"][0]["instance"] == 1
    for version in (1, 2, 3):
        label_map[20 + version, 5:15] = 1
        body = {"base_version": version, "tiles": tiles_payload(label_map),
                "segments": [{"segment_id": 1, "class_id": world.thing.pk}]}
        assert save(annotator_client, annotation, body).status_code == 200
    row = Segment.objects.get(annotation=annotation, segment_id=1)
    assert row.instance == 1
    assert row.area == 100 + 3 * 10


def test_a_listed_segment_without_pixels_is_not_stored(world, annotation, annotator_client):
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[5:15, 5:15] = 1
    response = save(annotator_client, annotation, {
        "base_version": 0, "tiles": tiles_payload(label_map),
        "segments": [{"segment_id": 1, "class_id": world.thing.pk}, {"segment_id": 3, "class_id": world.thing.pk}],
    })
    assert response.status_code == 200, response.json()
    data = response.json()
    # Never stored with area 0: the answer says it is not in the table, so the client can drop it too.
    assert [s["segment_id"] for s in data["segments"]] == [1]
    assert data["deleted_segment_ids"] == [3]
    assert list(Segment.objects.filter(annotation=annotation).values_list("segment_id", "area")) == [(1, 100)]
    # It never existed, so the revision deletes nothing.
    assert Revision.objects.get(annotation=annotation, version=1).segments_deleted == []
    # Sending it again, with no pixels still, drops it again; nothing fails.
    again = save(annotator_client, annotation, {
        "base_version": 1, "segments": [{"segment_id": 3, "class_id": world.thing.pk, "attributes": {"a": 1}}],
    })
    assert again.status_code == 200, again.json()
    assert again.json()["segments"] == [] and again.json()["deleted_segment_ids"] == [3]
    assert list(Segment.objects.filter(annotation=annotation).values_list("segment_id", flat=True)) == [1]


def test_a_segment_painted_over_entirely_leaves_the_table(world, annotation, annotator_client):
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[0:100, 0:100] = 1
    label_map[20:40, 20:40] = 2  # inside segment 1's square
    label_map[200:210, 600:610] = 3  # in the other tile: untouched by the second save
    assert save(annotator_client, annotation, {
        "base_version": 0, "tiles": tiles_payload(label_map),
        "segments": [{"segment_id": sid, "class_id": world.thing.pk} for sid in (1, 2, 3)],
    }).status_code == 200
    # Segment 1 is painted back over segment 2; the client sends only the changed tile and no rows.
    label_map[20:40, 20:40] = 1
    response = save(annotator_client, annotation, {"base_version": 1, "tiles": tiles_payload(label_map, {(0, 0)})})
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["deleted_segment_ids"] == [2]
    assert {s["segment_id"]: s["area"] for s in data["segments"]} == {1: 100 * 100}
    assert dict(Segment.objects.filter(annotation=annotation).values_list("segment_id", "area")) == {
        1: 100 * 100, 3: 100}
    assert Revision.objects.get(annotation=annotation, version=2).segments_deleted == [2]
    # The table and the map agree: every stored row has exactly its pixels.
    stored = read_map(annotator_client, annotation)
    for row in Segment.objects.filter(annotation=annotation):
        assert int((stored == row.segment_id).sum()) == row.area > 0


def test_an_empty_row_stored_earlier_is_dropped_by_the_next_save(world, annotation, annotator_client):
    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[5:15, 5:15] = 1
    assert save(annotator_client, annotation, {
        "base_version": 0, "tiles": tiles_payload(label_map),
        "segments": [{"segment_id": 1, "class_id": world.thing.pk}],
    }).status_code == 200
    # A row with area 0, as saves before this rule could leave.
    Segment.objects.create(annotation=annotation, segment_id=9, label_class=world.thing, instance=2, area=0, bbox=[])
    label_map[20, 5:15] = 1
    response = save(annotator_client, annotation, {"base_version": 1, "tiles": tiles_payload(label_map, {(0, 0)})})
    assert response.status_code == 200, response.json()
    assert response.json()["deleted_segment_ids"] == [9]
    assert list(Segment.objects.filter(annotation=annotation).values_list("segment_id", "area")) == [(1, 110)]


def test_a_replace_with_an_empty_segment_row_stores_only_painted_ones(world, annotation):
    from labeling.services.labelmaps import SegmentInput, labelmap_replace

    label_map = np.zeros((480, 640), dtype=np.uint32)
    label_map[5:15, 5:15] = 4
    labelmap_replace(annotation=annotation, label_map=label_map, segments=[
        SegmentInput(segment_id=4, class_id=world.thing.pk), SegmentInput(segment_id=5, class_id=world.thing.pk)])
    assert list(Segment.objects.filter(annotation=annotation).values_list("segment_id", "area")) == [(4, 100)]
