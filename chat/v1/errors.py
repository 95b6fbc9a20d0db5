"""Errors in OpenAI's shape for the /v1 API: {"error": {"message", "type", "param", "code"}}.

The project's one exception handler (config.api) decides status and code; this only reshapes
its body, so both APIs agree on which error is which. A provider failure tells the mapped code,
the class's short generic message and this request's id (also in x-request-id), never the
provider's own text: staff find that on the UsageRecords of the request id.
"""

from typing import Any

from rest_framework.response import Response

from config.api import exception_handler as project_exception_handler
from config.errors import ApplicationError
from providers.adapters.errors import ProviderError

_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
}


def openai_error_type(status: int) -> str:
    if status >= 500:
        return "server_error"
    return _TYPES.get(status, "invalid_request_error")


def openai_error_body(
    *, status: int, message: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": openai_error_type(status),
            "param": param,
            "code": code,
        }
    }


def _param(details: Any) -> str | None:
    if not isinstance(details, dict):
        return None
    if isinstance(details.get("param"), str):
        return details["param"]
    fields = details.get("fields")
    if isinstance(fields, dict) and fields:
        return str(next(iter(fields)))
    return None


def public_message(error: ApplicationError, request_id: str | None) -> str:
    """The message a client sees: a provider error's generic message names the request id."""
    if isinstance(error, ProviderError) and request_id:
        error.call_request_id = error.call_request_id or request_id
        return f"{error.public_message} (request id {error.call_request_id})"
    return error.public_message


def openai_error_from(error: ApplicationError, *, request_id: str | None) -> dict[str, Any]:
    """An error raised after a stream's headers went out, as an OpenAI error event body."""
    return openai_error_body(
        status=error.http_status,
        message=public_message(error, request_id),
        code=error.code,
        param=_param(error.public_details),
    )


def openai_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    request_id = getattr(context.get("view"), "request_id", None) or None
    if isinstance(exc, ProviderError) and request_id:
        exc.call_request_id = exc.call_request_id or request_id
    response = project_exception_handler(exc, context)
    if response is None or not isinstance(response.data, dict) or "error" not in response.data:
        return response
    error = response.data["error"]
    code = error.get("code")
    if response.status_code == 401:
        code = "invalid_api_key"
    message = error.get("message", "")
    if isinstance(exc, ProviderError) and exc.call_request_id:
        message = f"{message} (request id {exc.call_request_id})"
    response.data = openai_error_body(
        status=response.status_code,
        message=message,
        code=code,
        param=_param(error.get("details")),
    )
    return response
