"""Autouse fixtures for tests that use Django (imported by the conftest of each Django test folder)."""

import pytest

from annotator.celery import app as celery_app


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Real hashing costs ~0.3 s per user; tests make many users and test no password strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Superpixels after every upload cost ~1 s of SLIC per test image; tests that want them turn this on.
    settings.ANNOTATOR = {**settings.ANNOTATOR, "SUPERPIXELS_AFTER_UPLOAD": False}
    yield


@pytest.fixture(autouse=True)
def _eager_celery(request):
    """Service and API tests run tasks in-process; integration tests use a real worker instead."""
    if request.node.get_closest_marker("integration"):
        yield
        return
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous
