"""Error pages that speak JSON on the APIs, so a program never has to parse an HTML page."""

import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from config.api import error_body
from config.errors import ServiceUnavailable
from config.outages import UNAVAILABLE_ERRORS


def _openai_body(message: str, code: str, status: int) -> dict:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _json_error(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse | None:
    if request.path.startswith("/v1/"):
        return JsonResponse(_openai_body(message, code, status), status=status)
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(code, message), status=status)
    return None


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    response = _json_error(request, 404, "not_found", f"No endpoint at {request.path}.")
    return response or defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception (and has logged it with its traceback):
    # an outage of Redis or the database that escaped a view is a 503 to retry, not a bug.
    if isinstance(sys.exc_info()[1], UNAVAILABLE_ERRORS):
        outage = ServiceUnavailable()
        response = _json_error(request, outage.http_status, outage.code, outage.message)
        if response is not None:
            for name, value in outage.headers().items():
                response[name] = value
            return response
    message = "An internal error occurred; it has been logged."
    response = _json_error(request, 500, "internal_error", message)
    return response or defaults.server_error(request)
