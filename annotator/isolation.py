"""Cross-origin isolation for every response, so the editor may use SharedArrayBuffer: onnxruntime-web runs
SAM's prompt decoder on several WASM threads only when `crossOriginIsolated` is true.

Listed before WhiteNoise so static files (the app's scripts, its Web Workers and onnxruntime's .wasm/.mjs)
carry the headers too: a dedicated worker is isolated only when its own script response says so. Everything
the app loads is same-origin (images and tiles come through /api/), so `require-corp` blocks nothing of ours.
"""

from django.conf import settings


def add_isolation_headers(response):
    """COOP same-origin + COEP (``CROSS_ORIGIN_EMBEDDER_POLICY``, default require-corp; empty turns both off)."""
    embedder = getattr(settings, "CROSS_ORIGIN_EMBEDDER_POLICY", "require-corp")
    if embedder:
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Embedder-Policy", embedder)
    return response


class CrossOriginIsolationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return add_isolation_headers(self.get_response(request))
