"""The one error hierarchy of the project.

Every error that reaches an API client is an ApplicationError (or is translated into one), so
the exception handler can answer `{"error": {"code", "message", "details"}}` with the right
status. Subclasses set `code` (a member of config.error_codes.ErrorCode, the one registry of
codes) and `http_status`; messages must never contain secrets.
"""

from typing import Any, ClassVar

from config.error_codes import ErrorCode


class ApplicationError(Exception):
    # Typed `str` so that a class may still name its code as the plain string: a test checks
    # every subclass's code is in the registry, whichever way it is written.
    code: ClassVar[str] = ErrorCode.ERROR
    http_status: int = 400
    default_message: str = "The request could not be completed."

    def __init__(self, message: str | None = None, *, details: Any = None) -> None:
        self.message = message or self.default_message
        self.details = details if details is not None else {}
        super().__init__(self.message)

    def headers(self) -> dict[str, str]:
        """Extra response headers (Retry-After, for example)."""
        return {}

    @property
    def public_message(self) -> str:
        """What an API client is told. Subclasses carrying text from elsewhere (a provider's
        answer) tell a short generic message instead and keep `message` for staff."""
        return self.message

    @property
    def public_details(self) -> Any:
        return self.details

    def as_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.public_message,
                "details": self.public_details,
            }
        }


class InvalidInput(ApplicationError):
    code: ClassVar[str] = ErrorCode.INVALID
    http_status = 400
    default_message = "The request is invalid."


class NotAuthenticated(ApplicationError):
    code: ClassVar[str] = ErrorCode.NOT_AUTHENTICATED
    http_status = 401
    default_message = "Authentication credentials were not provided or are invalid."


class PermissionDenied(ApplicationError):
    code: ClassVar[str] = ErrorCode.PERMISSION_DENIED
    http_status = 403
    default_message = "You do not have permission to perform this action."


class NotFound(ApplicationError):
    code: ClassVar[str] = ErrorCode.NOT_FOUND
    http_status = 404
    default_message = "Not found."


class Conflict(ApplicationError):
    code: ClassVar[str] = ErrorCode.CONFLICT
    http_status = 409
    default_message = "The request conflicts with the current state."


class TooManyRequests(ApplicationError):
    """Refused before any spend: a rate limit or a budget. `retry_after` is in seconds."""

    code: ClassVar[str] = ErrorCode.TOO_MANY_REQUESTS
    http_status = 429
    default_message = "Too many requests."

    def __init__(
        self, message: str | None = None, *, retry_after: float | None = None, details: Any = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, details=details)

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, int(self.retry_after + 0.999)))}


class ConfigurationError(ApplicationError):
    """The deployment is misconfigured (a missing key, an undecryptable value)."""

    code: ClassVar[str] = ErrorCode.CONFIGURATION_ERROR
    http_status = 500
    default_message = "The service is misconfigured."


class ServiceUnavailable(ApplicationError):
    """A backing service (the shared cache/Redis) cannot be reached: retry later, not a bug."""

    code: ClassVar[str] = ErrorCode.SERVICE_UNAVAILABLE
    http_status = 503
    default_message = "A backing service is unavailable; retry shortly."

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


# -- refusals at the edge of the APIs (config.hardening) ---------------------------------------
class MalformedRequest(ApplicationError):
    """The body could not be read as the declared format (broken JSON, invalid UTF-8)."""

    code: ClassVar[str] = ErrorCode.MALFORMED_REQUEST
    http_status = 400
    default_message = "The request body could not be parsed."


class RequestTooComplex(ApplicationError):
    """Within the size limit but over a work limit: nesting, values, messages, parts, tools."""

    code: ClassVar[str] = ErrorCode.REQUEST_TOO_COMPLEX
    http_status = 400
    default_message = "The request is too complex."


class InvalidHost(ApplicationError):
    code: ClassVar[str] = ErrorCode.INVALID_HOST
    http_status = 400
    default_message = "The Host header names no host this service answers for."


class LengthRequired(ApplicationError):
    code: ClassVar[str] = ErrorCode.LENGTH_REQUIRED
    http_status = 411
    default_message = "Send a Content-Length header or a chunked body this server can read."


class PayloadTooLarge(ApplicationError):
    code: ClassVar[str] = ErrorCode.PAYLOAD_TOO_LARGE
    http_status = 413
    default_message = "The request body is too large."
