"""Errors in Anthropic's shape for /anthropic: {"type": "error", "error": {"type", "message"},
"request_id"}.

As for /v1 (chat.v1.errors), the project's one exception handler decides status and message;
this only reshapes the body, so every API agrees on which error is which. The error type is
read from the HTTP status, as Anthropic's own types are one per status; the project's code
stays available in the message-free `x-error-code` header for whoever needs the finer reason
(budget_exceeded vs rate_limited, both 429 rate_limit_error).
"""

from typing import Any

from rest_framework.response import Response

from chat.v1.errors import public_message
from config.api import exception_handler as project_exception_handler
from config.errors import ApplicationError
from providers.adapters.errors import ProviderError

# Anthropic's error types by HTTP status (docs: "Errors" / HTTP errors).
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def anthropic_error_type(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def anthropic_error_body(*, status: int, message: str, request_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": anthropic_error_type(status), "message": message},
    }
    if request_id:
        body["request_id"] = request_id
    return body


def anthropic_error_from(error: ApplicationError, *, request_id: str | None) -> dict[str, Any]:
    """An error raised after a stream's headers went out, as the data of an `error` event."""
    return anthropic_error_body(
        status=error.http_status,
        message=public_message(error, request_id),
        request_id=request_id,
    )


def anthropic_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request_id = getattr(context.get("view"), "request_id", None) or None
    if isinstance(exc, ProviderError) and request_id:
        exc.call_request_id = exc.call_request_id or request_id
    response = project_exception_handler(exc, context)
    if response is None or not isinstance(response.data, dict) or "error" not in response.data:
        return response
    error = response.data["error"]
    message = error.get("message", "")
    if isinstance(exc, ProviderError) and exc.call_request_id:
        message = f"{message} (request id {exc.call_request_id})"
    if error.get("code"):
        response["x-error-code"] = str(error["code"])
    response.data = anthropic_error_body(
        status=response.status_code, message=message, request_id=request_id
    )
    return response
