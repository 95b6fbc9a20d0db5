"""Every error code the project answers, in both APIs (the native `{"error": {"code"}}` shape
and the OpenAI-compatible `/v1` one), with its HTTP status and meaning.

One registry so that a code means one thing: an error class takes its `code` from here, a test
checks that every ApplicationError subclass does, and the OpenAPI schema documents the enum
(config.schema). A code's status is the one its error class answers; the usage ledger records
the code of the error that ended an attempt as its outcome.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    # Each member is (code, HTTP status, meaning); `ErrorCode.X == "x"` holds, so code that
    # still compares or declares plain strings keeps working.
    http_status: int
    meaning: str

    def __new__(cls, value: str, http_status: int = 400, meaning: str = "") -> "ErrorCode":
        member = str.__new__(cls, value)
        member._value_ = value
        member.http_status = http_status
        member.meaning = meaning
        return member

    # -- requests refused at the edge ------------------------------------------------------
    ERROR = "error", 400, "An error without a more specific code."
    INVALID = "invalid", 400, "The request is invalid; `details.fields` names the fields."
    MALFORMED_REQUEST = "malformed_request", 400, "The body could not be parsed as declared."
    REQUEST_TOO_COMPLEX = "request_too_complex", 400, "Over a nesting, size or count limit."
    INVALID_HOST = "invalid_host", 400, "The Host header names no host this service answers."
    LENGTH_REQUIRED = "length_required", 411, "No Content-Length and no readable chunked body."
    PAYLOAD_TOO_LARGE = "payload_too_large", 413, "The request body is too large."
    METHOD_NOT_ALLOWED = "method_not_allowed", 405, "The endpoint does not take this method."
    NOT_ACCEPTABLE = "not_acceptable", 406, "No representation matches the Accept header."
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", 415, "The body's content type is refused."
    # -- who is calling --------------------------------------------------------------------
    NOT_AUTHENTICATED = "not_authenticated", 401, "No credentials, or credentials not valid."
    AUTHENTICATION_FAILED = "authentication_failed", 401, "The credentials sent are not valid."
    INVALID_API_KEY = "invalid_api_key", 401, "/v1: the consumer API key is missing or invalid."
    PERMISSION_DENIED = "permission_denied", 403, "The caller may not do this."
    # -- what is asked for -----------------------------------------------------------------
    NOT_FOUND = "not_found", 404, "No such object or endpoint."
    MODEL_NOT_FOUND = (
        "model_not_found",
        404,
        "The model or service is unknown, disabled, or not allowed for this API key.",
    )
    RESPONSE_NOT_FOUND = "response_not_found", 404, "No stored response with this id."
    CONFLICT = "conflict", 409, "The request conflicts with the current state."
    NO_USABLE_MODEL = "no_usable_model", 503, "No model of the service is usable right now."
    # -- limits before any spend -----------------------------------------------------------
    TOO_MANY_REQUESTS = "too_many_requests", 429, "Refused by a limit; see Retry-After."
    RATE_LIMITED = "rate_limited", 429, "A rate limit of the key or service; see Retry-After."
    BUDGET_EXCEEDED = "budget_exceeded", 429, "A budget would be exceeded by this call."
    RATE_LIMITER_UNAVAILABLE = (
        "rate_limiter_unavailable",
        503,
        "The rate limiter cannot be reached; the call was not attempted.",
    )
    # -- this service ----------------------------------------------------------------------
    CONFIGURATION_ERROR = "configuration_error", 500, "The deployment is misconfigured."
    ENCRYPTION_KEY_ERROR = (
        "encryption_key_error",
        500,
        "A stored secret cannot be decrypted with the configured keys.",
    )
    INVALID_CONFIGURATION = (
        "invalid_configuration",
        400,
        "Provider settings under test are not valid (connection test result only).",
    )
    CHECK_FAILED = "check_failed", 502, "A provider check failed without a mapped error."
    INTERNAL_ERROR = "internal_error", 500, "An internal error; it has been logged."
    SERVICE_UNAVAILABLE = "service_unavailable", 503, "A backing service is down; retry shortly."
    # -- the provider (upstream) -----------------------------------------------------------
    PROVIDER_ERROR = "provider_error", 502, "The provider failed to answer."
    PROVIDER_AUTHENTICATION_FAILED = (
        "provider_authentication_failed",
        502,
        "The provider rejected the configured credentials (the gateway's fault).",
    )
    PROVIDER_PERMISSION_DENIED = (
        "provider_permission_denied",
        502,
        "The provider's key may not do this (or has no credit left).",
    )
    UPSTREAM_MODEL_NOT_FOUND = (
        "upstream_model_not_found",
        502,
        "The provider says the configured model (or deployment) does not exist.",
    )
    PROVIDER_BAD_REQUEST = "provider_bad_request", 400, "The provider refused the request."
    CONTEXT_LENGTH_EXCEEDED = (
        "context_length_exceeded",
        400,
        "The request does not fit the model's context window.",
    )
    PROVIDER_RATE_LIMITED = "provider_rate_limited", 429, "The provider is rate limiting."
    PROVIDER_TIMEOUT = "provider_timeout", 504, "The provider did not answer in time."
    PROVIDER_UNAVAILABLE = "provider_unavailable", 503, "The provider is unavailable."
    PROVIDER_MALFORMED_RESPONSE = (
        "provider_malformed_response",
        503,
        "The provider answered with something that is not valid.",
    )
    PROVIDER_STREAM_INTERRUPTED = (
        "provider_stream_interrupted",
        503,
        "The provider's stream ended before the response was complete.",
    )
    PROVIDER_DESTINATION_REFUSED = (
        "provider_destination_refused",
        502,
        "The provider's address is refused by the egress policy.",
    )
    PROVIDER_KEY_UNBOUND = (
        "provider_key_unbound",
        502,
        "The stored key was entered for another address or kind; enter it again.",
    )
    UNSUPPORTED_OPERATION = "unsupported_operation", 400, "The provider lacks this operation."
    INVALID_REQUEST = "invalid_request", 400, "Refused by validation before any provider call."


# (code, "HTTP <status>: <meaning>"): the API schema's ErrorCodeEnum, which lists each code
# with its status and meaning (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] names it).
ERROR_CODE_CHOICES = [
    (code.value, f"HTTP {code.http_status}: {code.meaning}") for code in ErrorCode
]
