"""Request ids, request-size limits and the one error shape for failures outside DRF's exception handler.

Every request gets an id (the client's `X-Request-ID` when it is sane, else a new one): it is sent back as a
header, written on every log line of the request (`RequestIdLogFilter`) and carried by every error body, so an
operator finds the traceback behind a user's report. A body larger than `ANNOTATOR_MAX_REQUEST_BYTES` is refused
from its Content-Length before a byte of it is read. An API request that failed outside a DRF view (a middleware,
the database gone before the view ran, an address no view serves) still answers JSON, never Django's HTML or
debug page.
"""

import contextvars
import logging
import re
import sys
import uuid
from http import HTTPStatus

from django.conf import settings
from django.core.signals import got_request_exception
from django.http import JsonResponse

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


def _remember_exception(sender, request=None, **kwargs) -> None:
    # Django converts an exception raised outside a view into a response before our middleware sees it; keep the
    # exception so the response can be classified (database, broker, disk) instead of a bare 500.
    if request is not None:
        request.annotator_exception = sys.exc_info()[1]


got_request_exception.connect(_remember_exception, dispatch_uid="annotator-remember-exception")


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def release_upload_spool(request) -> None:
    """Remove the request's spooled upload files now, not when the garbage collector gets to them: after a failed
    request (a full disk, a client that went away) they would hold disk space that every other upload needs."""
    for handler in getattr(request, "_upload_handlers", None) or []:
        if hasattr(handler, "upload_interrupted"):
            handler.upload_interrupted()


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied = request.headers.get("X-Request-ID", "")
        request_id = supplied if _SANE_ID.match(supplied) else uuid.uuid4().hex
        request.request_id = request_id
        token = _request_id.set(request_id)
        try:
            response = self._too_large(request) or self.get_response(request)
            if response.status_code >= 400:
                release_upload_spool(request)
            if _is_api(request) and response.status_code >= 400 and "json" not in response.get("Content-Type", ""):
                response = self._json_error(request, response.status_code)
            response["X-Request-ID"] = request_id
            return response
        finally:
            _request_id.reset(token)

    @staticmethod
    def _too_large(request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        limit = settings.ANNOTATOR["MAX_REQUEST_BYTES"]
        if length <= limit:
            return None
        response = JsonResponse({
            "message": f"the request body is {length} bytes; this server takes at most {limit} bytes per request "
                       "(send large sets as several requests)",
            "code": "request_too_large", "extra": {"limit": limit, "content_length": length},
            "request_id": _request_id.get(),
        }, status=413)
        # The body was not read: the connection cannot carry another request.
        response["Connection"] = "close"
        return response

    @staticmethod
    def _json_error(request, status: int):
        """The JSON twin of an HTML error page (Django's 404 for an unknown API address, its 500 page)."""
        from labeling.api.errors import classify_server_error

        if status >= 500:
            status, code, message = classify_server_error(getattr(request, "annotator_exception", None))
        elif status == 404:
            code, message = "not_found", f"there is no API endpoint at {request.path}"
        else:
            try:
                code, message = "bad_request", HTTPStatus(status).phrase
            except ValueError:  # a status the standard library does not name
                code, message = "bad_request", "bad request"
        return JsonResponse({"message": message, "code": code, "extra": {}, "request_id": _request_id.get()},
                            status=status)
