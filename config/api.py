"""The one DRF exception handler: every API error leaves as {"error": {code, message, details}}."""

import logging
from typing import Any

from django.core import exceptions as django_exceptions
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from config.error_codes import ErrorCode
from config.errors import ApplicationError, PayloadTooLarge
from config.outages import unavailable, unavailable_errors

logger = logging.getLogger(__name__)

_DRF_CODES = {
    drf_exceptions.ParseError: ErrorCode.MALFORMED_REQUEST,
    drf_exceptions.NotAuthenticated: ErrorCode.NOT_AUTHENTICATED,
    drf_exceptions.AuthenticationFailed: ErrorCode.AUTHENTICATION_FAILED,
    drf_exceptions.PermissionDenied: ErrorCode.PERMISSION_DENIED,
    drf_exceptions.NotFound: ErrorCode.NOT_FOUND,
    drf_exceptions.MethodNotAllowed: ErrorCode.METHOD_NOT_ALLOWED,
    drf_exceptions.NotAcceptable: ErrorCode.NOT_ACCEPTABLE,
    drf_exceptions.UnsupportedMediaType: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    drf_exceptions.Throttled: ErrorCode.TOO_MANY_REQUESTS,
    drf_exceptions.ValidationError: ErrorCode.INVALID,
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _from_drf(exc: drf_exceptions.APIException) -> Response:
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), ErrorCode.ERROR)
    if isinstance(exc, drf_exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict | list):
            details = (
                {"fields": detail} if isinstance(detail, dict) else {"non_field_errors": detail}
            )
        else:
            details = {"non_field_errors": [detail]}
        message = _first_message(detail) or "The request is invalid."
        body = error_body(code, message, details)
    else:
        body = error_body(code, str(exc.detail))
    headers: dict[str, str] = {}
    auth_header = getattr(exc, "auth_header", None)  # set by DRF on 401s
    if auth_header:
        headers["WWW-Authenticate"] = str(auth_header)
    wait = getattr(exc, "wait", None)  # set by DRF on throttling
    if isinstance(wait, int | float) and wait:
        headers["Retry-After"] = str(int(wait))
    return Response(body, status=exc.status_code, headers=headers)


def _first_message(detail: Any) -> str | None:
    """The first human message in a nested DRF error structure, prefixed by its field."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            inner = _first_message(value)
            if inner:
                return inner if field == "non_field_errors" else f"{field}: {inner}"
    elif isinstance(detail, list):
        for value in detail:
            inner = _first_message(value)
            if inner:
                return inner
    elif detail:
        return str(detail)
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, unavailable_errors()):
        # Redis or the database unreachable is an outage to retry (503), not a bug (500); the
        # error's text names hosts and users, so only its type is logged and nothing is sent.
        exc = unavailable(exc)
    if isinstance(exc, ApplicationError):
        return Response(exc.as_dict(), status=exc.http_status, headers=exc.headers())
    if isinstance(exc, django_exceptions.RequestDataTooBig):
        too_large = PayloadTooLarge()
        return Response(too_large.as_dict(), status=too_large.http_status)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, django_exceptions.PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    elif isinstance(exc, django_exceptions.ValidationError):
        exc = drf_exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    if isinstance(exc, drf_exceptions.APIException):
        return _from_drf(exc)
    logger.exception("Unhandled error in API view")
    return Response(
        error_body(ErrorCode.INTERNAL_ERROR, "An internal error occurred; it has been logged."),
        status=500,
    )
