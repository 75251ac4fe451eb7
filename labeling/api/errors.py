"""One error shape for the whole API: {"message": str, "code": str, "extra": object, "request_id": str}, for every
status, 500, 503 and 507 included. The request id is the one on the server's log lines for that request."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404
from kombu.exceptions import OperationalError as BrokerOperationalError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from labeling.api.middleware import current_request_id, release_upload_spool
from labeling.errors import ApplicationError, is_disk_full

logger = logging.getLogger(__name__)


def classify_server_error(exc: BaseException | None) -> tuple[int, str, str]:
    """(status, code, message) for an exception no view turned into an answer: the infrastructure faults an
    operator can act on get their own status and code; anything else is a 500 whose traceback is in the log."""
    if is_disk_full(exc):
        return 507, "insufficient_storage", "the server's disk is full; this request was not completed"
    if isinstance(exc, (DatabaseOperationalError, DatabaseInterfaceError)):
        return 503, "database_unavailable", "the database is unavailable; try again in a moment"
    if isinstance(exc, (BrokerOperationalError, ConnectionError)):
        return 503, "broker_unavailable", "the task queue is unavailable; try again in a moment"
    return 500, "server_error", "the server failed to answer this request; its log has the details under this " \
                                "request id"


def _flatten_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            inner = _flatten_message(value)
            return inner if key == "non_field_errors" else f"{key}: {inner}"
        return "invalid input"
    if isinstance(detail, list):
        return _flatten_message(detail[0]) if detail else "invalid input"
    return str(detail)


def error_response(*, message: str, code: str, status_code: int, extra: dict | None = None, headers=None):
    return Response({"message": message, "code": code, "extra": extra or {}, "request_id": current_request_id()},
                    status=status_code, headers=headers)


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        set_rollback()
        return error_response(message=exc.message, code=exc.code, status_code=exc.status_code, extra=exc.extra)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        set_rollback()
        return error_response(message="the request body is too large", code="request_too_large",
                              status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    elif isinstance(exc, (TooManyFieldsSent, SuspiciousOperation)):
        set_rollback()
        return error_response(message=str(exc) or "bad request", code="bad_request",
                              status_code=status.HTTP_400_BAD_REQUEST)
    if not isinstance(exc, exceptions.APIException):
        # A bug or an infrastructure fault: logged with its traceback under the request id, answered in the shape.
        set_rollback()
        request = context.get("request")
        if request is not None:
            release_upload_spool(request._request)
        status_code, code, message = classify_server_error(exc)
        logger.error("%s %s failed: %s", getattr(request, "method", "?"), getattr(request, "path", "?"), code,
                     exc_info=exc)
        return error_response(message=message, code=code, status_code=status_code)
    set_rollback()
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        return error_response(message=_flatten_message(exc.detail), code="invalid",
                              status_code=exc.status_code, extra={"fields": exc.detail}, headers=headers)
    detail = exc.detail
    code = detail.code if hasattr(detail, "code") else exc.default_code
    return error_response(message=_flatten_message(detail), code=str(code), status_code=exc.status_code,
                          headers=headers)
