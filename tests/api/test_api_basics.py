"""Auth, CSRF, the error shape and the OpenAPI schema."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.api.conftest import client_for


def test_session_writes_need_csrf(world):
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="manager", password="pw-manager-123")
    url = reverse("project-list")
    refused = client.post(url, {"name": "No token", "kind": "semantic"}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["message"]
    client.get(reverse("project-list"))  # any page sets the csrftoken cookie once asked for
    token = client.get("/admin/login/").cookies.get("csrftoken") or client.cookies.get("csrftoken")
    assert token is not None
    accepted = client.post(url, {"name": "With token", "kind": "semantic"}, format="json",
                           HTTP_X_CSRFTOKEN=token.value)
    assert accepted.status_code == 201


def test_token_login_and_use(world):
    anonymous = APIClient()
    bad = anonymous.post(reverse("auth-token"), {"username": "manager", "password": "wrong"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "bad_credentials"
    token = anonymous.post(reverse("auth-token"), {"username": "manager", "password": "pw-manager-123"},
                           format="json").json()["token"]
    # Token requests are not subject to CSRF.
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(reverse("auth-me")).json()["username"] == "manager"
    assert client.post(reverse("project-list"), {"name": "T", "kind": "instance"}, format="json").status_code == 201


@pytest.mark.parametrize(
    "method, name, kwargs, body, status, code",
    [
        ("post", "project-list", {}, {"name": "x", "kind": "cubist"}, 400, "invalid"),
        ("post", "project-list", {}, "not json", 400, "parse_error"),
        ("get", "project-detail", {"pk": 999999}, None, 404, "not_found"),
        ("put", "project-list", {}, {}, 405, "method_not_allowed"),
    ],
)
def test_errors_have_one_shape(world, method, name, kwargs, body, status, code):
    client = client_for(world.users["manager"])
    url = reverse(name, kwargs=kwargs)
    if body == "not json":
        response = client.generic(method.upper(), url, "{oops", content_type="application/json")
    else:
        response = getattr(client, method)(url, body, format="json")
    assert response.status_code == status
    data = response.json()
    assert set(data) == {"message", "code", "extra", "request_id"}
    assert data["code"] == code and data["message"]


def test_class_kind_must_fit_project_kind(world):
    from labeling.services.projects import project_create

    client = client_for(world.users["manager"])
    semantic = project_create(user=world.users["manager"], name="Sem", kind="semantic")
    response = client.post(reverse("project-classes", kwargs={"project_pk": semantic.pk}),
                           {"name": "car", "kind": "thing", "color": "#ff0000"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "class_kind_mismatch"
    bad_color = client.post(reverse("project-classes", kwargs={"project_pk": semantic.pk}),
                            {"name": "sky", "kind": "stuff", "color": "blue"}, format="json")
    assert bad_color.json()["code"] == "bad_color"
    # Changing a panoptic project with thing classes into a semantic one would orphan them.
    change = client.patch(reverse("project-detail", kwargs={"pk": world.project.pk}), {"kind": "semantic"},
                          format="json")
    assert change.status_code == 400 and change.json()["code"] == "class_kind_mismatch"


def test_last_manager_cannot_leave(world):
    client = client_for(world.users["manager"])
    membership = world.project.memberships.get(user=world.users["manager"])
    response = client.delete(reverse("member-detail", kwargs={"pk": membership.pk}))
    assert response.status_code == 409 and response.json()["code"] == "last_manager"


def test_openapi_schema_and_docs_are_served(db):
    client = Client()
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/annotations/{id}/save/", "/api/projects/{project_pk}/images/", "/api/jobs/{id}/"):
        assert path in text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()  # Swagger UI comes from our own static files


def test_admin_lists_every_model(db):
    from django.apps import apps
    from django.contrib import admin

    models = set(apps.get_app_config("labeling").get_models())
    assert models <= set(admin.site._registry)


def test_schema_generates_without_warnings(db, tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").read_text().startswith("openapi:")


def test_browser_login_needs_csrf_and_sets_a_session(world):
    client = APIClient(enforce_csrf_checks=True)
    url = reverse("auth-login")
    body = {"username": "manager", "password": "pw-manager-123"}
    assert client.post(url, body, format="json").status_code == 403
    token = client.get("/").cookies["csrftoken"].value  # the app shell sets the cookie
    wrong = client.post(url, {**body, "password": "nope"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert wrong.status_code == 400 and wrong.json()["code"] == "bad_credentials"
    ok = client.post(url, body, format="json", HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 200 and ok.json()["username"] == "manager"
    assert client.get(reverse("auth-me")).json()["username"] == "manager"
    token = client.cookies["csrftoken"].value  # rotated at login
    assert client.post(reverse("auth-logout"), HTTP_X_CSRFTOKEN=token).status_code == 204
    assert client.get(reverse("auth-me")).status_code == 401


def test_frontend_openapi_copy_is_current(db, tmp_path):
    """frontend/openapi.yml types the browser's API client; regenerate it with
    `python manage.py spectacular --file frontend/openapi.yml` when the API changes."""
    from pathlib import Path

    from django.core.management import call_command

    fresh = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(fresh))
    committed = Path(__file__).resolve().parents[2] / "frontend" / "openapi.yml"
    assert committed.read_text() == fresh.read_text(), "frontend/openapi.yml is stale: regenerate it"


def test_out_of_range_numbers_are_client_errors_not_500(world):
    client = client_for(world.users["manager"])
    assert client.get("/api/projects/99999999999999999999999/").status_code == 404
    assert client.get("/api/images/123456789012345678/").status_code == 404
    huge = client.patch(reverse("class-detail", kwargs={"pk": world.stuff.pk}), {"order": 10**30}, format="json")
    assert huge.status_code == 400 and huge.json()["code"] == "invalid"
