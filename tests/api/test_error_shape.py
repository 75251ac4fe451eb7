"""Every API error has the one JSON shape with a request id, whatever failed: a database or broker that is down
(503), a full disk (507), a bug (500), an address no endpoint serves (404), a body over the limit (413, judged
before it is read). The faults themselves are injected for real in tests/faults/; here the dependency a view
calls raises what those faults raise, so each status is pinned down without starting servers."""

import errno

import pytest
from django.db import OperationalError as DatabaseOperationalError
from django.urls import reverse
from kombu.exceptions import OperationalError as BrokerOperationalError

from tests.api.conftest import client_for


@pytest.fixture
def manager_client(world):
    return client_for(world.users["manager"])


def _shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"message", "code", "extra", "request_id"} and body["message"]
    assert body["code"] == code and body["request_id"] == response["X-Request-ID"]
    return body


@pytest.mark.parametrize("raised, status, code", [
    (DatabaseOperationalError("server closed the connection unexpectedly"), 503, "database_unavailable"),
    (BrokerOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused."), 503,
     "broker_unavailable"),
    (OSError(errno.ENOSPC, "No space left on device"), 507, "insufficient_storage"),
    (ValueError("a bug"), 500, "server_error"),
])
def test_infrastructure_faults_and_bugs_answer_json(world, manager_client, monkeypatch, settings, raised, status,
                                                    code, caplog):
    settings.DEBUG = True  # as in development: still no debug page

    def fail(**kwargs):
        raise raised

    monkeypatch.setattr("labeling.api.images.images_upload", fail)
    response = manager_client.post(reverse("project-images", kwargs={"project_pk": world.project.pk}),
                                   {"files": []}, format="multipart", HTTP_X_REQUEST_ID="req-123")
    body = _shape(response, status, code)
    assert body["request_id"] == "req-123"
    # The log line with the traceback carries the same id.
    assert any(getattr(r, "request_id", None) == "req-123" and r.exc_info for r in caplog.records)


def test_an_unknown_api_address_answers_json_404(manager_client, settings, db):
    settings.DEBUG = True
    _shape(manager_client.get("/api/no-such-thing/"), 404, "not_found")


def test_a_body_over_the_limit_is_refused_before_it_is_read(world, manager_client, settings):
    settings.ANNOTATOR = {**settings.ANNOTATOR, "MAX_REQUEST_BYTES": 1000}
    response = manager_client.post(reverse("project-images", kwargs={"project_pk": world.project.pk}),
                                   data=b"x" * 10, content_type="application/octet-stream", CONTENT_LENGTH="5000")
    body = _shape(response, 413, "request_too_large")
    assert body["extra"] == {"limit": 1000, "content_length": 5000}


def test_a_request_id_is_made_when_the_client_sends_none_or_a_bad_one(manager_client, db):
    first = manager_client.get("/api/projects/")
    weird = manager_client.get("/api/projects/", HTTP_X_REQUEST_ID="no spaces\nor newlines")
    assert len(first["X-Request-ID"]) == 32 and len(weird["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != weird["X-Request-ID"]
