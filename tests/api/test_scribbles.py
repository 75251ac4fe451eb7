"""Scribble proposals through the API: POST /api/images/{id}/scribble-proposal/ on an uploaded two-region image."""

import base64
import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage

from labeling import permissions as scopes
from labeling.api.scribbles import ImageScribbleProposalView
from labeling.models import Image, Membership, Role
from labeling.services import scribbles
from labeling.services.images import images_upload
from labeling.services.projects import label_class_create, project_create
from tests.api.conftest import client_for, make_user
from tests.unit.test_pixel_classifier import two_region_image

WIDTH, HEIGHT = 640, 480  # 0.31 MP: "coarse" works at scale 0.9, "full" at 1


@pytest.fixture(autouse=True)
def _empty_feature_cache():
    scribbles.feature_cache_clear()
    yield
    scribbles.feature_cache_clear()


@pytest.fixture
def picture(world):
    """The world's project gets a 640x480 PNG: a striped blue disk (centre (320, 240), radius 160) on orange."""
    rgb, truth = two_region_image(HEIGHT, WIDTH)
    buffer = io.BytesIO()
    PILImage.fromarray(rgb).save(buffer, format="PNG")
    batch = images_upload(project=world.project, files=[SimpleUploadedFile("two.png", buffer.getvalue())],
                          user=world.users["manager"])
    return Image.objects.get(pk=batch.results[0].image_id), truth


def url(image):
    return reverse("image-scribble-proposal", kwargs={"pk": image.pk})


def strokes(outside, inside):
    """Two strokes on the orange part and two on the disk, in image pixels."""
    return [
        {"class_id": outside, "radius": 6, "points": [[20, 20], [620, 25], [610, 460]]},
        {"class_id": outside, "radius": 6, "points": [[15, 460], [90, 380]]},
        {"class_id": inside, "radius": 6, "points": [[250, 240], [390, 240]]},
        {"class_id": inside, "radius": 4.5, "points": [[320, 180], [321, 300]]},
    ]


def decode(text):
    return np.asarray(PILImage.open(io.BytesIO(base64.b64decode(text))))


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"message", "code", "extra", "request_id"}
    assert body["code"] == code, body
    assert body["message"]
    return body


@pytest.mark.parametrize("resolution, scale", [("coarse", 0.902), ("full", 1.0)])
def test_a_proposal_labels_both_regions(world, picture, resolution, scale):
    image, truth = picture
    road, car = world.stuff.pk, world.thing.pk
    response = client_for(world.users[Role.ANNOTATOR]).post(
        url(image), {"strokes": strokes(road, car), "resolution": resolution}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"region", "scale", "resolution", "classes", "labels", "confidence", "seconds", "cached"}
    assert body["region"] == [0, 0, WIDTH, HEIGHT] and body["resolution"] == resolution
    assert body["scale"] == pytest.approx(scale, abs=1e-3)
    assert body["classes"] == sorted([road, car]) and body["cached"] is False
    assert set(body["seconds"]) == {"features", "fit", "predict", "total"}
    labels, confidence = decode(body["labels"]), decode(body["confidence"])
    assert labels.shape == confidence.shape == (HEIGHT, WIDTH)
    assert labels.dtype == confidence.dtype == np.uint8
    value = {class_id: i + 1 for i, class_id in enumerate(body["classes"])}
    assert iou(labels == value[car], truth == 2) >= 0.9
    assert iou(labels == value[road], truth == 1) >= 0.9
    assert np.median(confidence) >= 0.9 * 255


def test_background_is_learnt_and_proposed_as_unlabelled(world, picture):
    image, truth = picture
    car = world.thing.pk
    response = client_for(world.users[Role.ANNOTATOR]).post(
        url(image), {"strokes": strokes(None, car), "resolution": "coarse"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["classes"] == [car, None]
    labels = decode(body["labels"])
    assert set(np.unique(labels)) == {0, 1}  # background pixels are 0, not 2
    assert iou(labels == 1, truth == 2) >= 0.9 and iou(labels == 0, truth == 1) >= 0.9
    assert np.median(decode(body["confidence"])) >= 0.9 * 255


def test_a_region_is_answered_at_its_own_size_and_its_features_are_cached(world, picture):
    image, truth = picture
    client = client_for(world.users[Role.REVIEWER])
    corners = [{"class_id": world.stuff.pk, "radius": 5, "points": [[110, 70], [200, 70]]},
               {"class_id": world.stuff.pk, "radius": 5, "points": [[490, 350], [470, 355]]}]
    body = {"strokes": strokes(world.stuff.pk, world.thing.pk) + corners, "resolution": "full",
            "region": [100, 60, 400, 300]}
    first = client.post(url(image), body, format="json").json()
    assert first["region"] == [100, 60, 400, 300] and first["scale"] == 1.0 and first["cached"] is False
    labels = decode(first["labels"])
    assert labels.shape == (300, 400)
    car = first["classes"].index(world.thing.pk) + 1
    assert iou(labels == car, truth[60:360, 100:500] == 2) >= 0.9
    again = client.post(url(image), body, format="json").json()
    assert again["cached"] is True and again["labels"] == first["labels"]
    other_region = client.post(url(image), {**body, "region": [0, 0, 400, 300]}, format="json").json()
    assert other_region["cached"] is False


def test_a_large_region_is_classified_scaled_down_and_upsampled(world, picture, monkeypatch):
    image, truth = picture
    monkeypatch.setitem(scribbles.RESOLUTIONS, "coarse", 40_000)  # a 0.04 MP budget: scale 0.36 here
    response = client_for(world.users["manager"]).post(
        url(image), {"strokes": strokes(world.stuff.pk, world.thing.pk), "resolution": "coarse"}, format="json")
    body = response.json()
    assert body["scale"] == pytest.approx((40_000 / (WIDTH * HEIGHT)) ** 0.5, abs=1e-4)
    labels = decode(body["labels"])
    assert labels.shape == (HEIGHT, WIDTH)
    car = body["classes"].index(world.thing.pk) + 1
    assert iou(labels == car, truth == 2) >= 0.9


def test_an_answer_never_holds_more_than_its_pixel_budget(world, picture, monkeypatch):
    image, truth = picture
    monkeypatch.setattr(scribbles, "MAX_ANSWER_PIXELS", WIDTH * HEIGHT // 4)  # answered at half the size
    body = client_for(world.users["manager"]).post(
        url(image), {"strokes": strokes(world.stuff.pk, world.thing.pk), "resolution": "coarse"}, format="json").json()
    labels, confidence = decode(body["labels"]), decode(body["confidence"])
    assert labels.shape == confidence.shape == (HEIGHT // 2, WIDTH // 2) and body["region"] == [0, 0, WIDTH, HEIGHT]
    car = body["classes"].index(world.thing.pk) + 1
    assert iou(labels == car, truth[::2, ::2] == 2) >= 0.9


def test_too_many_points_are_refused_before_each_stroke_is_read(world, picture):
    image, _ = picture
    from labeling.api.scribbles import MAX_POINTS

    body = {"strokes": [{"class_id": None, "radius": 2, "points": [[1, 1]] * (MAX_POINTS // 2 + 1)}] * 2}
    response = client_for(world.users[Role.ANNOTATOR]).post(url(image), body, format="json")
    assert assert_error(response, 400, "too_many_points")["extra"]["points"] == 2 * (MAX_POINTS // 2 + 1)


def test_a_jpeg_read_at_a_reduced_size_gives_the_same_regions(world, monkeypatch):
    rgb, truth = two_region_image(HEIGHT, WIDTH)
    buffer = io.BytesIO()
    PILImage.fromarray(rgb).save(buffer, format="JPEG", quality=92)
    batch = images_upload(project=world.project, files=[SimpleUploadedFile("two.jpg", buffer.getvalue())],
                          user=world.users["manager"])
    image = Image.objects.get(pk=batch.results[0].image_id)
    monkeypatch.setitem(scribbles.RESOLUTIONS, "coarse", 60_000)  # scale 0.44: Pillow decodes at 1/2
    body = client_for(world.users["manager"]).post(
        url(image), {"strokes": strokes(world.stuff.pk, world.thing.pk), "resolution": "coarse",
                     "region": [40, 20, 560, 440]}, format="json").json()
    labels = decode(body["labels"])
    assert labels.shape == (440, 560)
    car = body["classes"].index(world.thing.pk) + 1
    assert iou(labels == car, truth[20:460, 40:600] == 2) >= 0.9


def _other_project_class(world):
    other = project_create(user=world.users["manager"], name="Elsewhere", kind="semantic")
    return label_class_create(project=other, name="sky", kind="stuff", color="#0000ff").pk


def _body(world, **change):
    body = {"strokes": strokes(world.stuff.pk, world.thing.pk), "resolution": "coarse"}
    body.update(change)
    return body


def _one_stroke_changed(world, **change):
    body = _body(world)
    body["strokes"][0] = {**body["strokes"][0], **change}
    return body


INVALID = [
    ("no strokes field", lambda w: {"resolution": "coarse"}, "invalid", "strokes"),
    ("unknown resolution", lambda w: _body(w, resolution="medium"), "invalid", "resolution"),
    ("region of three numbers", lambda w: _body(w, region=[0, 0, 10]), "invalid", "region"),
    ("class id not a number", lambda w: _one_stroke_changed(w, class_id="car"), "invalid", "strokes"),
    ("points not pairs", lambda w: _one_stroke_changed(w, points=[[1, 2, 3]]), "invalid", "strokes"),
    ("no points", lambda w: _one_stroke_changed(w, points=[]), "invalid", "strokes"),
    ("points not numbers", lambda w: _one_stroke_changed(w, points=[["a", 2]]), "invalid", "strokes"),
    ("a coordinate past float64", lambda w: _one_stroke_changed(w, points=[[10**400, 2]]), "invalid", "strokes"),
    ("radius missing", lambda w: {**_body(w), "strokes": [{"class_id": None, "points": [[1, 1]]}]}, "invalid",
     "strokes"),
    ("empty strokes", lambda w: _body(w, strokes=[]), "no_strokes", None),
    ("one class only", lambda w: _body(w, strokes=strokes(w.stuff.pk, w.stuff.pk)), "need_two_labels", None),
    ("background only", lambda w: _body(w, strokes=strokes(None, None)), "need_two_labels", None),
    ("a class of another project", lambda w: _one_stroke_changed(w, class_id=_other_project_class(w)),
     "unknown_class", None),
    ("a class that does not exist", lambda w: _one_stroke_changed(w, class_id=987654), "unknown_class", None),
    ("radius too small", lambda w: _one_stroke_changed(w, radius=0.1), "invalid_radius", None),
    ("radius too large", lambda w: _one_stroke_changed(w, radius=1000), "invalid_radius", None),
    ("a point far outside", lambda w: _one_stroke_changed(w, points=[[10, 10], [5000, 10]]), "invalid_points",
     None),
    ("region outside the image", lambda w: _body(w, region=[600, 0, 100, 100]), "invalid_region", None),
    ("region of no size", lambda w: _body(w, region=[10, 10, 0, 5]), "invalid_region", None),
    ("region at a negative place", lambda w: _body(w, region=[-1, 0, 10, 10]), "invalid_region", None),
    ("the disk's strokes outside the region", lambda w: _body(w, region=[0, 0, 200, 100]), "need_two_labels", None),
]


@pytest.mark.parametrize("make, code, field", [row[1:] for row in INVALID], ids=[row[0] for row in INVALID])
def test_invalid_requests_get_a_400_in_the_error_shape(world, picture, make, code, field):
    image, _ = picture
    response = client_for(world.users[Role.ANNOTATOR]).post(url(image), make(world), format="json")
    body = assert_error(response, 400, code)
    if field:
        assert field in body["extra"]["fields"], body
    if code == "unknown_class":
        assert len(body["extra"]["class_ids"]) == 1


def test_too_many_points_and_too_much_painting_are_refused(world, picture, monkeypatch):
    image, _ = picture
    client = client_for(world.users[Role.ANNOTATOR])
    monkeypatch.setattr(scribbles, "MAX_POINTS", 6)  # the strokes hold 9 points
    body = assert_error(client.post(url(image), _body(world), format="json"), 400, "too_many_points")
    assert body["extra"] == {"points": 9, "max_points": 6}
    monkeypatch.undo()
    from workers.runners import pixel_classifier

    monkeypatch.setattr(pixel_classifier, "MAX_STAMPED_PIXELS", 1000)
    assert_error(client.post(url(image), _body(world), format="json"), 400, "strokes_too_large")


@pytest.mark.parametrize("role", ["manager", Role.ANNOTATOR, Role.REVIEWER])
def test_every_role_that_edits_annotations_may_ask(world, picture, role, monkeypatch):
    image, _ = picture
    monkeypatch.setitem(scribbles.RESOLUTIONS, "coarse", 40_000)
    response = client_for(world.users[role]).post(url(image), _body(world), format="json")
    assert response.status_code == 200, response.content


def test_the_scope_is_held_by_exactly_the_roles_that_edit_annotations():
    """The endpoint's scope is assist:run (as every other assistance request); a proposal is only of use to
    someone who may paint it into an annotation, and today the two scopes go to the same roles."""
    holders = {role for role, held in scopes.ROLE_SCOPES.items() if scopes.ASSIST_RUN in held}
    editors = {role for role, held in scopes.ROLE_SCOPES.items() if scopes.ANNOTATION_EDIT in held}
    assert ImageScribbleProposalView.scopes == {"POST": scopes.ASSIST_RUN}
    assert holders == editors == {Role.MANAGER, Role.ANNOTATOR, Role.REVIEWER}


def test_outsiders_get_404_and_anonymous_401(world, picture):
    image, _ = picture
    assert_error(client_for(world.users["outsider"]).post(url(image), _body(world), format="json"), 404,
                 "not_found")
    assert_error(client_for(None).post(url(image), _body(world), format="json"), 401, "not_authenticated")
    # A member of another project only is an outsider here too.
    stranger = make_user("stranger")
    other = project_create(user=world.users["manager"], name="Other", kind="semantic")
    Membership.objects.create(project=other, user=stranger, role=Role.ANNOTATOR)
    assert_error(client_for(stranger).post(url(image), _body(world), format="json"), 404, "not_found")
