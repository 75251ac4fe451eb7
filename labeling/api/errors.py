"""One error shape for the whole API: {"message": str, "code": str, "extra": object}."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from labeling.errors import ApplicationError


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
    return Response({"message": message, "code": code, "extra": extra or {}}, status=status_code, headers=headers)


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
        return None  # a real bug: let Django log it and answer 500
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
