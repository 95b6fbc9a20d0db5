"""Errors in OpenAI's shape for the /v1 API: {"error": {"message", "type", "param", "code"}}.

The project's one exception handler (config.api) decides status and code; this only reshapes
its body, so both APIs agree on which error is which.
"""

from typing import Any

from rest_framework.response import Response

from config.api import exception_handler as project_exception_handler

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


def openai_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = project_exception_handler(exc, context)
    if response is None or not isinstance(response.data, dict) or "error" not in response.data:
        return response
    error = response.data["error"]
    code = error.get("code")
    if response.status_code == 401:
        code = "invalid_api_key"
    response.data = openai_error_body(
        status=response.status_code,
        message=error.get("message", ""),
        code=code,
        param=_param(error.get("details")),
    )
    return response
