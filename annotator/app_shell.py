"""Serves the browser app: one HTML shell whose script and style come from the Vite build manifest."""

import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.csrf import ensure_csrf_cookie

MANIFEST = Path(settings.BASE_DIR) / "frontend" / "dist" / ".vite" / "manifest.json"
ENTRY = "src/main.ts"


def _read_manifest() -> dict | None:
    try:
        return json.loads(MANIFEST.read_text())
    except FileNotFoundError:
        return None


@lru_cache(maxsize=1)
def _cached_manifest() -> dict | None:
    return _read_manifest()


def _assets() -> dict | None:
    manifest = _read_manifest() if settings.DEBUG else _cached_manifest()
    if not manifest or ENTRY not in manifest:
        return None
    entry = manifest[ENTRY]
    return {
        "script": static(f"app/{entry['file']}"),
        "styles": [static(f"app/{css}") for css in entry.get("css", [])],
    }


@ensure_csrf_cookie  # the app reads the csrftoken cookie and sends it back on every write
def app_shell(request, path: str = ""):
    assets = _assets()
    status = 200 if assets else 503
    return render(request, "app.html", {"assets": assets}, status=status)
