"""End-to-end tests: the built app in Debian's Chromium, driven by Playwright, against Django's live server."""

import os
import re
from pathlib import Path

import pytest

from bench.common import CHROMIUM, CHROMIUM_ARGS  # one owner for how Debian's Chromium is launched here
from tests.django_fixtures import _eager_celery, _isolated_media  # noqa: F401 - autouse fixtures

# Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed at /usr/bin/chromium (scripts/test.sh installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, request):
    """Open pages in fresh browser contexts; each test's pages are screenshotted into test-artifacts/e2e/."""
    contexts = []

    def open_page(viewport=(1400, 900)):
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    for index, context in enumerate(contexts):
        for page_index, page in enumerate(context.pages):
            try:
                page.screenshot(path=str(ARTIFACTS / f"{name}-final-{index}-{page_index}.png"))
            except Exception:  # noqa: BLE001 - a closed page has nothing to show
                pass
        context.close()


@pytest.fixture(autouse=True)
def isolated_static(monkeypatch):
    """The live server serves /static/ with Django's StaticFilesHandler, which skips middleware; in production
    WhiteNoise serves them inside annotator.isolation's middleware. Give the live server the same headers: a
    page that is cross-origin isolated may only start Web Workers (the label packer, SAM's decoder) whose script
    responses say so too."""
    from django.contrib.staticfiles.handlers import StaticFilesHandlerMixin

    from annotator.isolation import add_isolation_headers

    original = StaticFilesHandlerMixin.serve
    monkeypatch.setattr(StaticFilesHandlerMixin, "serve",
                        lambda self, request: add_isolation_headers(original(self, request)))


def shot(page, name: str) -> None:
    """Save a screenshot of a key step (test-artifacts/e2e/<name>.png)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
