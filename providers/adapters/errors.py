"""The provider error taxonomy. Adapters translate SDK exceptions into these by type.

Each class says whether a retry may succeed (`retryable`). `message` is built by the adapter
from the status and the provider's scrubbed message, for staff (UsageRecord.error_message,
logs). What API clients are told (`public_message`, `public_details`) is the class's short
generic message, the mapped code, the upstream status and the request id: never the provider's
text, which may reflect anything the upstream chose to send. Errors raised by this service's
own checks, before any network call (`from_provider = False`), tell their own message.
HTTP statuses are what this service answers its own clients: an upstream credential problem
is the gateway's fault (502), not the caller's.
"""

from typing import Any, ClassVar

from config.error_codes import ErrorCode
from config.errors import ApplicationError

PUBLIC_DETAIL_KEYS = ("provider", "upstream_status", "skipped", "param")


class ProviderError(ApplicationError):
    code: ClassVar[str] = ErrorCode.PROVIDER_ERROR
    http_status = 502
    retryable = False
    default_message = "The provider failed to answer."
    # `message` may carry the provider's own text: staff see only the generic message.
    from_provider: ClassVar[bool] = True
    # `message` is written for the API client (request validation): clients see it.
    tells_client: ClassVar[bool] = False

    def __init__(
        self,
        message: str | None = None,
        *,
        provider: str = "",
        status_code: int | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
        details: Any = None,
    ) -> None:
        self.provider = provider
        self.status_code = status_code
        self.retry_after = retry_after
        self.request_id = request_id
        if details is None:
            details = {"provider": provider, "upstream_status": status_code}
        # This service's request id (x-request-id), set by whoever answers the client.
        self.call_request_id: str | None = None
        super().__init__(message, details=details)

    @property
    def public_message(self) -> str:
        return self.message if self.tells_client else self.default_message

    @property
    def public_details(self) -> dict[str, Any]:
        details = self.details if isinstance(self.details, dict) else {}
        public = {key: details[key] for key in PUBLIC_DETAIL_KEYS if key in details}
        if self.call_request_id:
            public["request_id"] = self.call_request_id
        return public

    def staff_summary(self) -> str:
        """ "<code>: <generic message> (HTTP n)": what "test connection" shows. Bounded and
        built from the taxonomy alone, so an internal service's answer is never reflected."""
        status = f" (HTTP {self.status_code})" if self.status_code else ""
        text = self.default_message if self.from_provider else self.message
        return f"{self.code}: {text}{status}"[:500]

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, int(self.retry_after + 0.999)))}


class ProviderAuthenticationError(ProviderError):
    code: ClassVar[str] = ErrorCode.PROVIDER_AUTHENTICATION_FAILED
    default_message = "The provider rejected the configured API key."


class ProviderPermissionError(ProviderError):
    code: ClassVar[str] = ErrorCode.PROVIDER_PERMISSION_DENIED
    default_message = "The provider's key is not allowed to do this."


class ModelNotFoundError(ProviderError):
    """The provider says the model does not exist: a 502 of the gateway's configuration, with a
    code of its own, apart from `model_not_found` (404, the caller asked for a model this
    service does not serve)."""

    code: ClassVar[str] = ErrorCode.UPSTREAM_MODEL_NOT_FOUND
    default_message = "The provider does not know this model."


class ProviderBadRequestError(ProviderError):
    code: ClassVar[str] = ErrorCode.PROVIDER_BAD_REQUEST
    http_status = 400
    default_message = "The provider refused the request as invalid."


class ContextLengthExceededError(ProviderBadRequestError):
    code: ClassVar[str] = ErrorCode.CONTEXT_LENGTH_EXCEEDED
    default_message = "The request does not fit the model's context window."


class RateLimitedError(ProviderError):
    code: ClassVar[str] = ErrorCode.PROVIDER_RATE_LIMITED
    http_status = 429
    retryable = True
    default_message = "The provider is rate limiting requests."


class ProviderTimeoutError(ProviderError):
    code: ClassVar[str] = ErrorCode.PROVIDER_TIMEOUT
    http_status = 504
    retryable = True
    default_message = "The provider did not answer in time."


class ProviderUnavailableError(ProviderError):
    code: ClassVar[str] = ErrorCode.PROVIDER_UNAVAILABLE
    http_status = 503
    retryable = True
    default_message = "The provider is unavailable."


class MalformedResponseError(ProviderUnavailableError):
    code: ClassVar[str] = ErrorCode.PROVIDER_MALFORMED_RESPONSE
    default_message = "The provider answered with something that is not valid."


class StreamInterruptedError(ProviderUnavailableError):
    code: ClassVar[str] = ErrorCode.PROVIDER_STREAM_INTERRUPTED
    default_message = "The provider's stream ended before the response was complete."


class ProviderDestinationRefusedError(ProviderError):
    """The provider's address is refused by the egress policy (see adapters.egress)."""

    code: ClassVar[str] = ErrorCode.PROVIDER_DESTINATION_REFUSED
    default_message = "The provider's address is not allowed."
    from_provider = False


class ProviderKeyUnboundError(ProviderError):
    """The stored key was entered for another kind or base URL: it is never sent elsewhere."""

    code: ClassVar[str] = ErrorCode.PROVIDER_KEY_UNBOUND
    default_message = (
        "The provider's key was entered for another address; enter the key again to use it "
        "with the current base URL and kind."
    )
    from_provider = False


class UnsupportedOperationError(ProviderError):
    code: ClassVar[str] = ErrorCode.UNSUPPORTED_OPERATION
    http_status = 400
    from_provider = False
    tells_client = True
    default_message = "This provider does not support the operation."


class InvalidRequestError(ProviderError):
    """Refused by the adapter's own validation, before any network call."""

    code: ClassVar[str] = ErrorCode.INVALID_REQUEST
    http_status = 400
    default_message = "The request is invalid."
    from_provider = False
    tells_client = True


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds from a Retry-After (or retry-after-ms) header; None if absent or unparsable."""
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        return max(0.0, float(value))
    except (TypeError, ValueError):
        from datetime import UTC, datetime
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(headers.get("retry-after"))
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
