"""Error pages that speak JSON on the APIs, so a program never has to parse an HTML page."""

import sys
from typing import Any

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import error_body
from config.errors import ApplicationError, InvalidHost, InvalidInput, ServiceUnavailable
from config.outages import unavailable_errors


def _openai_body(message: str, code: str, status: int) -> dict:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


# Anthropic's error type per status (chat.anthropic_api.errors has the full table; config
# imports no app, and these are the statuses raised before a view runs).
_ANTHROPIC_TYPES = {401: "authentication_error", 404: "not_found_error", 413: "request_too_large"}


def _anthropic_body(message: str, status: int) -> dict:
    kind = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def _json_error(
    request: HttpRequest, status: int, code: str, message: str, details: Any = None
) -> HttpResponse | None:
    if request.path_info.startswith("/anthropic/"):
        response = JsonResponse(_anthropic_body(message, status), status=status)
        response["x-error-code"] = code
        return response
    if request.path_info.startswith("/v1/"):
        body = _openai_body(message, code, status)
        if isinstance(details, dict) and isinstance(details.get("param"), str):
            body["error"]["param"] = details["param"]
        return JsonResponse(body, status=status)
    if request.path_info.startswith("/api/"):
        return JsonResponse(error_body(code, message, details), status=status)
    return None


def api_error_response(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    """An ApplicationError raised outside DRF (the hardening middleware) in the shape of the
    API the path belongs to: the project's error shape, OpenAI's under /v1/, Anthropic's
    under /anthropic/."""
    response = _json_error(
        request, error.http_status, error.code, error.public_message, error.public_details
    )
    if response is None:
        response = JsonResponse(error.as_dict(), status=error.http_status)
    for name, value in error.headers().items():
        response[name] = value
    return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 (a bad Host, too many fields, a suspicious request) in JSON on the APIs."""
    error = InvalidHost() if isinstance(exception, DisallowedHost) else InvalidInput()
    response = _json_error(request, 400, error.code, error.message)
    return response or defaults.bad_request(request, exception)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    response = _json_error(request, 404, "not_found", f"No endpoint at {request.path}.")
    return response or defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception (and has logged it with its traceback):
    # an outage of Redis or the database that escaped a view is a 503 to retry, not a bug.
    if isinstance(sys.exc_info()[1], unavailable_errors()):
        outage = ServiceUnavailable()
        response = _json_error(request, outage.http_status, outage.code, outage.message)
        if response is not None:
            for name, value in outage.headers().items():
                response[name] = value
            return response
    message = "An internal error occurred; it has been logged."
    response = _json_error(request, 500, "internal_error", message)
    return response or defaults.server_error(request)


class JsonOptionsMixin(APIView):
    """OPTIONS on an HTML docs page describes it in JSON (its HTML renderer has no template
    for that and answered 500)."""

    # DRF's views take its Request here; the stubs ignore the same override in APIView.
    def options(  # type: ignore[override]
        self, request: Request, *args: Any, **kwargs: Any
    ) -> Response:
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
        return super().options(request, *args, **kwargs)


class SwaggerUIView(JsonOptionsMixin, SpectacularSwaggerView):
    """Swagger UI, served from drf-spectacular-sidecar (no CDN)."""


class RedocUIView(JsonOptionsMixin, SpectacularRedocView):
    """ReDoc, served from drf-spectacular-sidecar (no CDN)."""
