"""Shared pieces of the API schema: the one error shape and its standard responses."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

from config.error_codes import ErrorCode

# The schema's ErrorCodeEnum: each code with the HTTP status it answers and what it means.
ERROR_CODE_CHOICES = [
    (code.value, f"HTTP {code.http_status}: {code.meaning}") for code in ErrorCode
]


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=ERROR_CODE_CHOICES,
        help_text="A stable, machine-readable error code; each one's status and meaning below.",
    )
    message = serializers.CharField(help_text="A human-readable explanation.")
    details = serializers.DictField(
        help_text="Structured context; field errors are under `fields`."
    )


class ErrorSerializer(serializers.Serializer):
    """Every error the API answers: {"error": {"code", "message", "details"}}."""

    error = ErrorBodySerializer()


def error_response(description: str, code: str, message: str, details: dict | None = None):
    return OpenApiResponse(
        response=ErrorSerializer,
        description=description,
        examples=[
            OpenApiExample(
                code,
                value={"error": {"code": code, "message": message, "details": details or {}}},
                response_only=True,
            )
        ],
    )


UNAUTHENTICATED = error_response(
    "No credentials, or an invalid, revoked or expired key.",
    "not_authenticated",
    "Authentication credentials were not provided.",
)
FORBIDDEN = error_response(
    "Authenticated, but not allowed: consumer keys cannot write; staff need the model permission.",
    "permission_denied",
    "You do not have permission to perform this action.",
)
NOT_FOUND = error_response("No such object.", "not_found", "Not found.")
INVALID = error_response(
    "Field-level validation errors under details.fields.",
    "invalid",
    "slug: Use lowercase letters, digits and hyphens only.",
    {"fields": {"slug": ["Use lowercase letters, digits and hyphens only."]}},
)
READ_ERRORS = {401: UNAUTHENTICATED, 403: FORBIDDEN}
WRITE_ERRORS = {400: INVALID, 401: UNAUTHENTICATED, 403: FORBIDDEN}

__all__ = [
    "FORBIDDEN",
    "INVALID",
    "NOT_FOUND",
    "READ_ERRORS",
    "UNAUTHENTICATED",
    "WRITE_ERRORS",
    "ErrorSerializer",
    "error_response",
    "inline_serializer",
]
