"""Role x scope matrix over every API endpoint: non-members get 404, members without the scope 403, members
with it get through. The table below must name every route in labeling/api/urls.py (checked by a test)."""

import base64
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labeling import permissions as scopes
from labeling.api.urls import urlpatterns
from labeling.masks.tiles import encode_tile
from labeling.models import Annotation, Job, Role
from tests.api.conftest import client_for
from tests.conftest import png_bytes


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    scope: str | None
    kwargs: Callable  # (world, annotation, job) -> url kwargs
    body: Callable | None = None
    fmt: str = "json"
    # Roles allowed although their role has the scope (an object rule narrows it), when not all of them are.
    only_roles: tuple[str, ...] | None = None


def _project(w, a, j):
    return {"pk": w.project.pk}


def _nested(w, a, j):
    return {"project_pk": w.project.pk}


def _annotation(w, a, j):
    return {"pk": a.pk}


def _save_body(w, a, j):
    tile = np.zeros((480, 512), dtype=np.uint32)
    tile[10:20, 10:20] = 1
    return {
        "base_version": 0,
        "tiles": [{"tx": 0, "ty": 0, "data": base64.b64encode(encode_tile(tile)).decode()}],
        "segments": [{"segment_id": 1, "class_id": w.thing.pk}],
    }


def _without_superpixels(w, a, j):
    w.image.superpixels.all().delete()
    return {"pk": w.image.pk}


def _with_superpixels(w, a, j):
    from labeling.services.superpixels import image_superpixels_compute

    image_superpixels_compute(image=w.image)
    return {"pk": w.image.pk, "granularity": w.image.superpixels.first().granularity}


def _with_tiny_sam(w, a, j):
    from tests.sam_support import use_tiny_sam

    use_tiny_sam()
    return {"pk": w.image.pk}


def _with_embedding(w, a, j):
    from tests.sam_support import compute_embedding

    kwargs = _with_tiny_sam(w, a, j)
    compute_embedding(w.image)
    return kwargs


def _model(w, a, j):
    from labeling.models import TrainedModel
    from tests.own_model_fixtures import create_model, manifest, onnx_semantic_bytes

    trained_model = TrainedModel.objects.filter(project=w.project).first() or create_model(
        w.project, data=onnx_semantic_bytes(), manifest_json=manifest("semantic_logits"), name="matrix")
    return {"pk": trained_model.pk}


def _nested_ready_to_train(w, a, j):
    """An approved image: something to learn from (the job stays queued: its on-commit send never fires here)."""
    _approved(w, a, j)
    return _nested(w, a, j)


def _nested_ready_to_check(w, a, j):
    """An approved image and a trained pixel classifier (a row only: the job stays queued, as above)."""
    from labeling.models import ModelFormat, ModelOrigin, TrainedModel

    _approved(w, a, j)
    TrainedModel.objects.create(project=w.project, name="Pixel classifier 1", format=ModelFormat.PIXEL_FOREST,
                                file="models/x.skops", sha256="0" * 64, size_bytes=1, origin=ModelOrigin.TRAINED,
                                manifest={"class_map": {}, "max_side": 64}, training={})
    return _nested(w, a, j)


def _with_uncertainty(w, a, j):
    from labeling.services.trained_models import image_uncertainty_save
    from workers.runners.pixel_forest import uncertainty_png

    image_uncertainty_save(image=w.image, score=0.25, png=uncertainty_png(np.full((6, 8), 0.25, np.float32)))
    return {"pk": w.image.pk}


def _import_body(w, a, j):
    coco = b'{"images": [], "annotations": [], "categories": []}'
    return {"format": "coco_instances", "file": SimpleUploadedFile("labels.json", coco, "application/json")}


def _model_upload_body(w, a, j):
    import json

    from tests.own_model_fixtures import manifest, onnx_semantic_bytes

    return {"file": SimpleUploadedFile("seg.onnx", onnx_semantic_bytes()), "name": "uploaded",
            "manifest": json.dumps(manifest("semantic_logits"))}


def _finished_export(w, a, j):
    from labeling.services.exports import export_enqueue
    from workers.tasks import run_export

    _approved(w, a, j)
    job = export_enqueue(project=w.project, user=w.users[Role.MANAGER], format="semantic_png")
    run_export(job.pk)  # its on-commit enqueue never fires inside the test's transaction
    return {"pk": job.pk}


def _latest_export_body(w, a, j):
    """After `_finished_export`: freeze the export job it ran."""
    return {"job_id": Job.objects.filter(project=w.project, kind="export").latest("id").pk}


def _nested_with_export(w, a, j):
    _finished_export(w, a, j)
    return _nested(w, a, j)


def _nested_with_approved(w, a, j):
    """An approved image with imported pre-labels: a set to evaluate."""
    _approved(w, a, j)
    Annotation.objects.create(image=w.image, annotator=None, imported=True)
    return _nested(w, a, j)


def _version(w, a, j):
    from labeling.services.versions import version_create

    export = Job.objects.get(pk=_finished_export(w, a, j)["pk"])
    return {"pk": version_create(project=w.project, job=export, user=w.users[Role.MANAGER]).pk}


def _room_for_more(w, a, j):
    """The image with a place left for another annotator (the annotator's annotation takes the only one of k=1)."""
    w.project.annotators_per_image = 3
    w.project.save()
    return {"pk": w.image.pk}


def _submitted(w, a, j):
    """The annotator's annotation with one segment, submitted for review."""
    from labeling.services.labelmaps import SegmentInput, TileUpdate, labelmap_save
    from labeling.services.tasks import annotation_submit

    tile = np.zeros((480, 512), dtype=np.uint32)
    tile[5:9, 5:9] = 1
    labelmap_save(annotation=a, user=a.annotator, base_version=a.version,
                  tiles=[TileUpdate(tx=0, ty=0, data=encode_tile(tile))],
                  segments=[SegmentInput(segment_id=1, class_id=w.thing.pk)], deleted_segment_ids=[])
    annotation_submit(annotation=a, user=a.annotator)
    return {"pk": w.image.pk}


def _submitted_annotation(w, a, j):
    _submitted(w, a, j)
    return {"pk": a.pk}


def _two_submitted(w, a, j):
    """Consensus: the annotator's and the manager's annotations, both submitted."""
    from labeling.services.labelmaps import annotation_get_or_create
    from labeling.services.tasks import annotation_submit

    w.project.annotators_per_image = 2
    w.project.save()
    _submitted(w, a, j)
    own, _ = annotation_get_or_create(image=w.image, user=w.users[Role.MANAGER])
    annotation_submit(annotation=own, user=w.users[Role.MANAGER])
    return {"pk": w.image.pk}


def _approved(w, a, j):
    from labeling.services.tasks import image_approve

    _submitted(w, a, j)
    image_approve(image=w.image, user=w.users[Role.REVIEWER])
    return {"pk": w.image.pk}


def _comment(w, a, j):
    from labeling.services.reviews import comment_create

    return {"pk": comment_create(annotation=a, user=w.users[Role.REVIEWER], body="fix", x=3, y=4).pk}


ENDPOINTS = [
    Endpoint("project-list", "get", scopes.PROJECT_VIEW, lambda w, a, j: {}),
    Endpoint("project-list", "post", None, lambda w, a, j: {}, lambda w, a, j: {"name": "P", "kind": "semantic"}),
    Endpoint("project-detail", "get", scopes.PROJECT_VIEW, _project),
    Endpoint("project-detail", "patch", scopes.PROJECT_EDIT, _project, lambda w, a, j: {"name": "Renamed"}),
    Endpoint("project-detail", "put", scopes.PROJECT_EDIT, _project,
             lambda w, a, j: {"name": "Renamed", "kind": "panoptic", "guidelines": ""}),
    Endpoint("project-detail", "delete", scopes.PROJECT_DELETE, _project),
    Endpoint("project-classes", "get", scopes.CLASS_VIEW, _nested),
    Endpoint("project-classes", "post", scopes.CLASS_EDIT, _nested,
             lambda w, a, j: {"name": "bike", "kind": "thing", "color": "#00ff00"}),
    Endpoint("class-detail", "get", scopes.CLASS_VIEW, lambda w, a, j: {"pk": w.stuff.pk}),
    Endpoint("class-detail", "patch", scopes.CLASS_EDIT, lambda w, a, j: {"pk": w.stuff.pk},
             lambda w, a, j: {"color": "#010203"}),
    Endpoint("class-detail", "delete", scopes.CLASS_EDIT, lambda w, a, j: {"pk": w.stuff.pk}),
    Endpoint("project-members", "get", scopes.MEMBER_VIEW, _nested),
    Endpoint("project-members", "post", scopes.MEMBER_MANAGE, _nested,
             lambda w, a, j: {"username": "outsider", "role": "annotator"}),
    Endpoint("member-detail", "get", scopes.MEMBER_VIEW,
             lambda w, a, j: {"pk": w.project.memberships.get(role=Role.REVIEWER).pk}),
    Endpoint("member-detail", "patch", scopes.MEMBER_MANAGE,
             lambda w, a, j: {"pk": w.project.memberships.get(role=Role.REVIEWER).pk},
             lambda w, a, j: {"role": "annotator"}),
    Endpoint("member-detail", "delete", scopes.MEMBER_MANAGE,
             lambda w, a, j: {"pk": w.project.memberships.get(role=Role.REVIEWER).pk}),
    Endpoint("project-images", "get", scopes.IMAGE_VIEW, _nested),
    Endpoint("project-images", "post", scopes.IMAGE_UPLOAD, _nested,
             lambda w, a, j: {"files": [SimpleUploadedFile("new.png", png_bytes(20, 10, seed=7))]}, "multipart"),
    Endpoint("image-detail", "get", scopes.IMAGE_VIEW, lambda w, a, j: {"pk": w.image.pk}),
    Endpoint("image-detail", "patch", scopes.IMAGE_EDIT, lambda w, a, j: {"pk": w.image.pk},
             lambda w, a, j: {"split": "train"}),
    Endpoint("image-detail", "delete", scopes.IMAGE_DELETE, lambda w, a, j: {"pk": w.image.pk}),
    Endpoint("image-reprocess", "post", scopes.IMAGE_UPLOAD, lambda w, a, j: {"pk": w.image.pk}),
    Endpoint("project-reprocess", "post", scopes.IMAGE_UPLOAD, _nested, lambda w, a, j: {"all": False}),
    Endpoint("image-file", "get", scopes.IMAGE_VIEW, lambda w, a, j: {"pk": w.image.pk}),
    Endpoint("image-thumbnail", "get", scopes.IMAGE_VIEW, lambda w, a, j: {"pk": w.image.pk}),
    Endpoint("image-tile", "get", scopes.IMAGE_VIEW, lambda w, a, j: {"pk": w.image.pk, "level": 0, "x": 0, "y": 0}),
    Endpoint("image-superpixels", "get", scopes.IMAGE_VIEW, lambda w, a, j: {"pk": w.image.pk}),
    Endpoint("image-superpixels", "post", scopes.ASSIST_RUN, _without_superpixels),
    Endpoint("image-superpixels-data", "get", scopes.IMAGE_VIEW, _with_superpixels),
    Endpoint("image-embedding", "get", scopes.IMAGE_VIEW, _with_embedding),
    Endpoint("image-embedding", "post", scopes.ASSIST_RUN, _with_tiny_sam),
    Endpoint("image-sam-decode", "post", scopes.ASSIST_RUN, _with_embedding,
             lambda w, a, j: {"points": [[10.5, 20.5]], "labels": [1]}),
    Endpoint("image-proposals", "get", scopes.IMAGE_VIEW, _with_tiny_sam),
    Endpoint("image-proposals", "post", scopes.ASSIST_RUN, _with_tiny_sam),
    Endpoint("image-scribble-proposal", "post", scopes.ASSIST_RUN, lambda w, a, j: {"pk": w.image.pk},
             lambda w, a, j: {"resolution": "coarse", "region": [0, 0, 64, 48], "strokes": [
                 {"class_id": w.thing.pk, "radius": 3, "points": [[5, 5], [30, 5]]},
                 {"class_id": None, "radius": 3, "points": [[5, 40], [60, 40]]}]}),
    Endpoint("image-annotations", "get", scopes.ANNOTATION_VIEW, lambda w, a, j: {"pk": w.image.pk}),
    Endpoint("image-annotations", "post", scopes.ANNOTATION_CREATE, _room_for_more),
    Endpoint("annotation-detail", "get", scopes.ANNOTATION_VIEW, _annotation),
    Endpoint("annotation-tile", "get", scopes.ANNOTATION_VIEW, lambda w, a, j: {"pk": a.pk, "tx": 0, "ty": 0}),
    Endpoint("annotation-save", "post", scopes.ANNOTATION_EDIT, _annotation, _save_body),
    Endpoint("annotation-revisions", "get", scopes.ANNOTATION_VIEW, _annotation),
    Endpoint("project-jobs", "get", scopes.JOB_VIEW, _nested),
    Endpoint("job-detail", "get", scopes.JOB_VIEW, lambda w, a, j: {"pk": j.pk}),
    Endpoint("job-cancel", "post", scopes.JOB_CANCEL, lambda w, a, j: {"pk": j.pk}),
    Endpoint("project-models", "get", scopes.MODEL_VIEW, _nested),
    Endpoint("project-models", "post", scopes.MODEL_MANAGE, _nested, _model_upload_body, "multipart"),
    Endpoint("model-detail", "get", scopes.MODEL_VIEW, _model),
    Endpoint("model-detail", "delete", scopes.MODEL_MANAGE, _model),
    Endpoint("model-prelabel", "post", scopes.MODEL_MANAGE, _model, lambda w, a, j: {"all": True}),
    Endpoint("project-models-train", "post", scopes.MODEL_TRAIN, _nested_ready_to_train,
             lambda w, a, j: {"learner": "pixel_classifier", "params": {"n_estimators": 4}}),
    Endpoint("image-uncertainty", "get", scopes.IMAGE_VIEW, _with_uncertainty),
    Endpoint("project-label-check", "post", scopes.LABEL_CHECK, _nested_ready_to_check, lambda w, a, j: {}),
    Endpoint("project-label-errors", "get", scopes.DASHBOARD_VIEW, _nested),
    Endpoint("project-assignments", "get", scopes.IMAGE_VIEW, _nested),
    Endpoint("project-assignments", "post", scopes.TASK_ASSIGN, _nested,
             lambda w, a, j: {"image_ids": [w.image.pk], "user_ids": [w.users[Role.ANNOTATOR].pk]}),
    Endpoint("project-next-task", "post", scopes.ANNOTATION_CREATE, _nested),
    Endpoint("project-next-review", "post", scopes.REVIEW_DECIDE, _nested),
    Endpoint("project-dashboard", "get", scopes.DASHBOARD_VIEW, _nested),
    Endpoint("project-exports", "get", scopes.EXPORT_RUN, _nested),
    Endpoint("project-exports", "post", scopes.EXPORT_RUN, _nested, lambda w, a, j: {"format": "coco_instances"}),
    Endpoint("job-download", "get", scopes.EXPORT_RUN, _finished_export),
    Endpoint("project-evaluations", "get", scopes.DASHBOARD_VIEW, _nested),
    Endpoint("project-evaluations", "post", scopes.DASHBOARD_VIEW, _nested_with_approved,
             lambda w, a, j: {"source": "import"}),
    Endpoint("project-imports", "get", scopes.IMPORT_RUN, _nested),
    Endpoint("project-imports", "post", scopes.IMPORT_RUN, _nested, _import_body, "multipart"),
    Endpoint("project-versions", "get", scopes.EXPORT_RUN, _nested),
    Endpoint("project-versions", "post", scopes.VERSION_MANAGE, _nested_with_export, _latest_export_body),
    Endpoint("version-detail", "get", scopes.EXPORT_RUN, _version),
    Endpoint("version-detail", "delete", scopes.VERSION_MANAGE, _version),
    Endpoint("version-download", "get", scopes.EXPORT_RUN, _version),
    Endpoint("version-manifest", "get", scopes.EXPORT_RUN, _version),
    Endpoint("image-approve", "post", scopes.REVIEW_DECIDE, _submitted),
    Endpoint("image-reject", "post", scopes.REVIEW_DECIDE, _submitted, lambda w, a, j: {"reason": "sloppy edges"}),
    Endpoint("image-reopen", "post", scopes.REVIEW_DECIDE, _approved, lambda w, a, j: {"reason": "missed a car"}),
    Endpoint("image-task", "get", scopes.IMAGE_VIEW, lambda w, a, j: {"pk": w.image.pk}),
    Endpoint("image-transitions", "get", scopes.IMAGE_VIEW, lambda w, a, j: {"pk": w.image.pk}),
    Endpoint("image-agreement", "get", scopes.REVIEW_DECIDE, _submitted),
    Endpoint("image-disagreement", "get", scopes.REVIEW_DECIDE, _two_submitted),
    Endpoint("image-gold", "post", scopes.TASK_ASSIGN, _approved, lambda w, a, j: {"gold": True}),
    # Only an annotation's author submits it: the manager has the scope, but not for someone else's annotation.
    Endpoint("annotation-submit", "post", scopes.TASK_SUBMIT, _annotation, only_roles=(Role.ANNOTATOR,)),
    Endpoint("annotation-segment-reviews", "post", scopes.REVIEW_DECIDE, _submitted_annotation,
             lambda w, a, j: {"segment_ids": [1], "review_state": "rejected"}),
    Endpoint("annotation-comments", "get", scopes.ANNOTATION_VIEW, _annotation),
    Endpoint("annotation-comments", "post", scopes.REVIEW_COMMENT, _annotation,
             lambda w, a, j: {"body": "the wheel is missing", "x": 10.5, "y": 20}),
    Endpoint("comment-detail", "patch", scopes.COMMENT_RESOLVE, _comment, lambda w, a, j: {"resolved": True}),
]

# Routes that are not project objects: open to any logged-in user (or, for the token route, to anyone).
UNSCOPED_ROUTES = {"auth-token", "auth-me", "auth-login", "auth-logout", "sam-status", "sam-decoder"}

ROLES = ["outsider", Role.MANAGER, Role.ANNOTATOR, Role.REVIEWER]


def test_matrix_covers_every_route():
    covered = {e.name for e in ENDPOINTS} | UNSCOPED_ROUTES
    routes = {p.name for p in urlpatterns}
    assert routes == covered, f"routes missing from the matrix: {routes - covered}"


def _expected(endpoint: Endpoint, role: str) -> str:
    if endpoint.scope is None:
        return "allowed"
    if role == "outsider":
        return "empty" if endpoint.name == "project-list" else "hidden"
    if endpoint.scope in scopes.ROLE_SCOPES[role]:
        return "allowed" if endpoint.only_roles is None or role in endpoint.only_roles else "forbidden"
    return "forbidden"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method.upper()} {e.name}")
def test_role_scope_matrix(world, annotation, endpoint, role):
    job = Job.objects.create(kind="process_uploads", project=world.project, created_by=world.users["manager"])
    user = world.users[role]
    url = reverse(endpoint.name, kwargs=endpoint.kwargs(world, annotation, job))
    body = endpoint.body(world, annotation, job) if endpoint.body else None
    response = getattr(client_for(user), endpoint.method)(url, body, format=endpoint.fmt)
    expected = _expected(endpoint, role)
    if expected == "hidden":
        assert response.status_code == 404, response.content
        assert response.json()["code"] == "not_found"
    elif expected == "forbidden":
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "permission_denied"
    elif expected == "empty":
        assert response.status_code == 200
        assert response.json()["results"] == []
    else:
        assert 200 <= response.status_code < 300, (response.status_code, response.content[:500])


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method.upper()} {e.name}")
def test_anonymous_gets_401(world, annotation, endpoint):
    job = Job.objects.create(kind="process_uploads", project=world.project)
    url = reverse(endpoint.name, kwargs=endpoint.kwargs(world, annotation, job))
    response = getattr(client_for(None), endpoint.method)(url, {}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_annotator_cannot_see_another_annotators_annotation(world, annotation):
    from labeling.models import Membership
    from tests.api.conftest import make_user

    other = make_user("other-annotator")
    Membership.objects.create(project=world.project, user=other, role=Role.ANNOTATOR)
    client = client_for(other)
    assert client.get(reverse("annotation-detail", kwargs={"pk": annotation.pk})).status_code == 404
    assert client.post(reverse("annotation-save", kwargs={"pk": annotation.pk}), {"base_version": 0},
                       format="json").status_code == 404
    listed = client.get(reverse("image-annotations", kwargs={"pk": world.image.pk})).json()
    assert listed == []
    # The reviewer sees it.
    reviewer = client_for(world.users[Role.REVIEWER])
    assert reviewer.get(reverse("annotation-detail", kwargs={"pk": annotation.pk})).status_code == 200


def test_annotator_cannot_cancel_someone_elses_job_but_can_cancel_their_own(world):
    annotator = world.users[Role.ANNOTATOR]
    own = Job.objects.create(kind="x", project=world.project, created_by=annotator)
    theirs = Job.objects.create(kind="x", project=world.project, created_by=world.users["manager"])
    client = client_for(annotator)
    assert client.post(reverse("job-cancel", kwargs={"pk": theirs.pk})).status_code == 403
    assert client.post(reverse("job-cancel", kwargs={"pk": own.pk})).status_code == 200


# ---- task:oversee: which images are gold, every task's history, everyone's assignments ----


def test_task_oversee_is_for_managers_and_reviewers():
    holders = {role for role, held in scopes.ROLE_SCOPES.items() if scopes.TASK_OVERSEE in held}
    assert holders == {Role.MANAGER, Role.REVIEWER}


# Scopes whose endpoints show gold images for what they are (decisions, the dashboard's gold scores, exports of the
# approved set, marking gold, ...): whoever holds one must oversee the task flow, or gold would leak through it.
SHOWS_GOLD = [scopes.TASK_ASSIGN, scopes.REVIEW_DECIDE, scopes.REVIEW_COMMENT, scopes.DASHBOARD_VIEW,
              scopes.EXPORT_RUN, scopes.VERSION_MANAGE, scopes.IMPORT_RUN]


@pytest.mark.parametrize("scope", SHOWS_GOLD)
def test_scopes_that_show_gold_images_come_with_task_oversee(scope):
    for role, held in scopes.ROLE_SCOPES.items():
        assert scope not in held or scopes.TASK_OVERSEE in held, (role, scope)


def _gold_world(w, a):
    """w.image gold (the annotator's approved work is the reference), and an image assigned to another annotator."""
    from labeling.models import Membership
    from labeling.services.images import images_upload
    from labeling.services.tasks import image_set_gold, tasks_assign
    from tests.api.conftest import make_user

    _approved(w, a, None)
    image_set_gold(image=w.image, gold=True)
    other = make_user("other-annotator")
    Membership.objects.create(project=w.project, user=other, role=Role.ANNOTATOR)
    batch = images_upload(project=w.project, user=w.users[Role.MANAGER],
                          files=[SimpleUploadedFile("extra.png", png_bytes(20, 10, seed=3))])
    tasks_assign(project=w.project, image_ids=[batch.results[0].image_id], user_ids=[other.pk],
                 by=w.users[Role.MANAGER])


# (route, url kwargs, query, does the answer show the gold image / others' work for what it is?)
GOLD_ROWS = [
    ("image-detail", lambda w: {"pk": w.image.pk}, {}, lambda body, w: "is_gold" in body),
    ("image-detail", lambda w: {"pk": w.image.pk}, {}, lambda body, w: body["state"] == "approved"),
    ("project-images", lambda w: {"project_pk": w.project.pk}, {"state": "approved"},
     lambda body, w: w.image.pk in [i["id"] for i in body["results"]]),
    ("project-images", lambda w: {"project_pk": w.project.pk}, {"gold": "1"},
     lambda body, w: any("is_gold" in i for i in body["results"])),
    ("image-transitions", lambda w: {"pk": w.image.pk}, {},
     lambda body, w: any(t["subject"] == "image" for t in body)),
    ("project-assignments", lambda w: {"project_pk": w.project.pk}, {},
     lambda body, w: any(a["username"] == "other-annotator" for a in body["results"])),
]


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ANNOTATOR, Role.REVIEWER])
@pytest.mark.parametrize("row", GOLD_ROWS, ids=lambda r: f"{r[0]} {r[2]}")
def test_gold_images_and_others_work_show_only_with_task_oversee(world, annotation, row, role):
    name, kwargs, query, shows = row
    _gold_world(world, annotation)
    response = client_for(world.users[role]).get(reverse(name, kwargs=kwargs(world)), query)
    assert response.status_code == 200
    assert shows(response.json(), world) == (scopes.TASK_OVERSEE in scopes.ROLE_SCOPES[role])


# ---- OPTIONS: through the same gate as every method, on every route ----


def _object_route(pattern) -> bool:
    return bool({"pk", "project_pk"} & set(pattern.pattern.converters))


@pytest.mark.parametrize("pattern", urlpatterns, ids=lambda p: p.name)
def test_options_on_every_route_goes_through_the_gate(world, annotation, pattern, settings):
    from labeling.api.base import ScopedAPIView

    settings.DEBUG = True  # as in development, where the missing-serializer 500 showed
    job = Job.objects.create(kind="process_uploads", project=world.project, created_by=world.users["manager"])
    rows = [e for e in ENDPOINTS if e.name == pattern.name]
    url = reverse(pattern.name, kwargs=rows[0].kwargs(world, annotation, job) if rows else {})
    scoped = issubclass(pattern.callback.view_class, ScopedAPIView)
    for role in [None, *ROLES]:
        response = client_for(world.users[role] if role else None).options(url)
        assert response.status_code < 500, (role, response.content[:500])
        if role is None:
            assert response.status_code == 401 if scoped else response.status_code in (200, 401), role
        elif role == "outsider" and _object_route(pattern):
            assert response.status_code == 404, role
            assert response.json()["code"] == "not_found"
        else:
            assert response.status_code == 200, (role, response.content[:500])
            if not scoped:
                continue
            allowed = set(response.json()["allowed_methods"])
            for endpoint in rows:
                assert (endpoint.method.upper() in allowed) == (_expected(endpoint, role) in ("allowed", "empty")), (
                    role, endpoint.method)
