"""Provider serializers: secrets go in, only hints come out.

`api_key`, `extra_headers` and `credentials` (the kind's own fields, declared in
providers.credentials) are write-only; responses carry `api_key_set`, `api_key_hint` ("set,
ends in …abcd"), the header names and `credentials_info` (plain fields as they are, secrets
as hints), never a secret. Validation reuses the model's
field validators and its clean(), so admin and API refuse the same things with the same words.
"""

import json
import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.error_codes import ErrorCode
from providers.adapters.types import CheckResult
from providers.credentials import credential_spec, credentials_merge, credentials_problems
from providers.models import ProviderConfig
from providers.models.provider import ProviderKind
from providers.presets import preset_choices, preset_defaults
from providers.services.connection import SettingsTestResult
from providers.services.provider import provider_changes_check

PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]*")
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
HEADER_VALUE = re.compile(r"[\x20-\x7e]*")


KIND_ERRORS: dict[str, Any] = {
    "invalid_choice": f"Unknown kind {{input!r}}; choose one of {', '.join(ProviderKind.values)}."
}
PRESET_HELP = (
    "The service: mistral, groq, ollama... (GET the schema's enum). It fills `kind` and, when "
    "`base_url` is blank, the base URL, and brings its catalog models and prices. Blank for an "
    "OpenAI-compatible server of your own; the official kinds are their own preset."
)
PRESET_ERRORS: dict[str, Any] = {
    "invalid_choice": "Unknown preset {input!r}; choose one of "
    + ", ".join(slug for slug, _ in preset_choices())
    + "."
}
KIND_NEEDED = "Choose a kind, or a preset (which gives the kind)."


def preset_fill(attrs: dict[str, Any], instance: ProviderConfig | None) -> None:
    """Fill `kind` and a blank `base_url` from the preset, as the provider services will, so
    that validation judges what will be saved. Only values that differ are put in `attrs`."""
    names = ("preset", "kind", "base_url")
    before = {n: attrs.get(n, getattr(instance, n) if instance else "") or "" for n in names}
    filled = dict(zip(names, preset_defaults(**before), strict=True))
    for name in names:
        if filled[name] != before[name]:
            attrs[name] = filled[name]


class ProviderSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(
        choices=ProviderKind.choices,
        required=False,
        error_messages=KIND_ERRORS,
        help_text="The wire protocol; may be left out when `preset` is given.",
    )
    preset = serializers.ChoiceField(
        choices=preset_choices(),
        required=False,
        allow_blank=True,
        error_messages=PRESET_ERRORS,
        help_text=PRESET_HELP,
    )
    api_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=1000,
        style={"input_type": "password"},
        help_text="The provider's API key. Write-only; send an empty string to remove it, "
        "omit it to keep the stored key.",
    )
    extra_headers = serializers.DictField(
        child=serializers.CharField(max_length=2000, allow_blank=True),
        write_only=True,
        required=False,
        help_text="Extra HTTP headers sent to the provider (stored encrypted). Write-only; "
        "send {} to remove them, omit to keep them.",
    )
    credentials = serializers.DictField(
        child=serializers.CharField(max_length=20000, allow_blank=True, trim_whitespace=False),
        write_only=True,
        required=False,
        help_text="The kind's own fields (azure_openai: api_version, entra_token, deployments; "
        "bedrock: region, aws_access_key_id, aws_secret_access_key, aws_session_token; vertex: "
        "project_id, location, service_account_json). Write-only; fields left out keep their "
        'stored value, "" removes one.',
    )
    api_key_set = serializers.BooleanField(read_only=True)
    api_key_hint = serializers.CharField(read_only=True)
    extra_header_names = serializers.SerializerMethodField()
    credentials_info = serializers.SerializerMethodField()
    created_by: "serializers.SlugRelatedField[Any]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    updated_by: "serializers.SlugRelatedField[Any]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = ProviderConfig
        fields = [
            "slug",
            "preset",
            "kind",
            "name",
            "api_key",
            "api_key_set",
            "api_key_hint",
            "base_url",
            "organization",
            "project",
            "extra_headers",
            "extra_header_names",
            "credentials",
            "credentials_info",
            "timeout_seconds",
            "max_retries",
            "is_active",
            "created_at",
            "updated_at",
            "created_by",
            "updated_by",
            "last_check_at",
            "last_check_ok",
            "last_check_latency_ms",
            "last_check_message",
        ]
        read_only_fields = [
            "created_at",
            "updated_at",
            "last_check_at",
            "last_check_ok",
            "last_check_latency_ms",
            "last_check_message",
        ]

    @extend_schema_field({"type": "array", "items": {"type": "string"}})
    def get_extra_header_names(self, obj: ProviderConfig) -> list[str]:
        try:
            return sorted(obj.extra_headers_dict())
        except ValueError:
            return []

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_credentials_info(self, obj: ProviderConfig) -> dict[str, str]:
        """The kind's fields: plain values as stored, secrets as "set, ends in …abcd"."""
        return obj.credentials_public()

    def validate_slug(self, value: str) -> str:
        if self.instance is not None and value != self.instance.slug:
            raise serializers.ValidationError(
                "A provider's slug cannot change: it is the prefix of every model string "
                "programs use. Create a new provider instead."
            )
        return value

    def validate_api_key(self, value: str) -> str:
        if not PRINTABLE_ASCII.fullmatch(value):
            raise serializers.ValidationError(
                "An API key is printable ASCII without spaces or line breaks."
            )
        return value

    def validate_extra_headers(self, value: dict[str, str]) -> str:
        for name, header_value in value.items():
            if not HEADER_NAME.fullmatch(name):
                raise serializers.ValidationError(f"{name[:60]!r} is not a valid HTTP header name.")
            if not HEADER_VALUE.fullmatch(header_value):
                raise serializers.ValidationError(
                    f"The value of {name!r} must be printable text on one line."
                )
        return json.dumps(value) if value else ""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Run the model's clean() on the provider as it would be saved."""
        preset_fill(attrs, self.instance)
        if not attrs.get("kind", self.instance.kind if self.instance else ""):
            raise serializers.ValidationError({"kind": [KIND_NEEDED]})
        candidate = ProviderConfig()
        if self.instance is not None:
            for model_field in ProviderConfig._meta.concrete_fields:
                setattr(candidate, model_field.attname, getattr(self.instance, model_field.attname))
        for name, value in attrs.items():
            if name != "credentials":
                setattr(candidate, name, value)
        errors: dict[str, Any] = {}
        kind_errors = self._credentials_errors(candidate, attrs.get("credentials"))
        if kind_errors:
            errors["credentials"] = kind_errors
        for check in (
            lambda: candidate.clean_fields(exclude=["created_by", "updated_by", "credentials"]),
            candidate.clean,
        ):
            try:
                check()
            except DjangoValidationError as exc:
                for field, messages in _field_errors(exc).items():
                    if field == "credentials" and kind_errors:
                        continue  # already told field by field
                    errors.setdefault(field, []).extend(messages)
        if self.instance is not None and not errors:
            # The rules on changes (key entered again for a new base URL or kind, no kind change
            # under dependents) answer 400 on the field, before the service is called.
            try:
                provider_changes_check(provider=self.instance, changes=attrs)
            except DjangoValidationError as exc:
                errors.update(_field_errors(exc))
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _credentials_errors(
        self, candidate: ProviderConfig, entered: dict[str, str] | None
    ) -> dict[str, list[str]]:
        """Merge the entered fields into the candidate; {field: [problem]} by the kind's spec."""
        entered = entered or {}
        spec = credential_spec(candidate.kind)
        unknown = sorted(set(entered) - {f.name for f in spec.fields})
        if unknown:
            names = ", ".join(f.name for f in spec.fields) or "none"
            return {
                name[:60]: [f"Not a field of kind {candidate.kind} ({names})."] for name in unknown
            }
        try:
            stored = candidate.credentials_dict()
        except ValueError:
            stored = {}
        merged = credentials_merge(candidate.kind, stored, entered)
        candidate.credentials = json.dumps(merged, sort_keys=True) if merged else ""
        problems = credentials_problems(candidate.kind, merged, api_key=candidate.api_key)
        problems.pop("api_key", None)  # the model's clean() reports it on api_key
        return {name: [problem] for name, problem in problems.items()}


def _field_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {field: list(messages) for field, messages in exc.message_dict.items()}
    return {"non_field_errors": list(exc.messages)}


class ProviderCheckSerializer(serializers.Serializer):
    """The outcome of "test connection"."""

    ok = serializers.BooleanField()
    latency_ms = serializers.IntegerField()
    model_count = serializers.IntegerField()
    error = serializers.DictField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="On failure, the mapped error: {code, message}; null on success.",
    )
    checked_at = serializers.DateTimeField(allow_null=True)

    @staticmethod
    def from_result(result: CheckResult, provider: ProviderConfig) -> dict[str, Any]:
        error = None
        if not result.ok:
            # The check stores "<code>: <message>", both produced by our error taxonomy.
            code, sep, message = result.message.partition(": ")
            error = (
                {"code": code, "message": message}
                if sep
                else {
                    "code": ErrorCode.CHECK_FAILED,
                    "message": result.message,
                }
            )
        return {
            "ok": result.ok,
            "latency_ms": result.latency_ms,
            "model_count": result.model_count,
            "error": error,
            "checked_at": provider.last_check_at,
        }


class RemoteModelSerializer(serializers.Serializer):
    """A model as the provider lists it right now."""

    id = serializers.CharField()
    display_name = serializers.CharField(allow_blank=True)
    kind = serializers.ChoiceField(choices=["chat", "embedding", "unknown"])
    context_window = serializers.IntegerField(allow_null=True)
    max_output_tokens = serializers.IntegerField(allow_null=True)


class RemoteModelPageSerializer(serializers.Serializer):
    """A page of the live model list (the same envelope as every list)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = RemoteModelSerializer(many=True)


class ProviderSettingsTestInputSerializer(serializers.Serializer):
    """Settings to test before saving. The key is used for this one call only."""

    slug = serializers.CharField(
        required=False,
        max_length=64,
        help_text="An existing provider whose stored key may be used when `api_key` is omitted, "
        "only if `kind` and `base_url` are where that key was entered for.",
    )
    preset = serializers.ChoiceField(
        choices=preset_choices(),
        required=False,
        allow_blank=True,
        error_messages=PRESET_ERRORS,
        help_text="Fills `kind` and a blank `base_url`, as on saving.",
    )
    kind = serializers.ChoiceField(
        choices=ProviderKind.choices, required=False, error_messages=KIND_ERRORS
    )
    base_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    api_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=1000,
        style={"input_type": "password"},
        help_text="The key to test; never stored, logged or returned.",
    )
    extra_headers = serializers.DictField(
        child=serializers.CharField(max_length=2000, allow_blank=True),
        write_only=True,
        required=False,
    )
    organization = serializers.CharField(required=False, allow_blank=True, max_length=128)
    project = serializers.CharField(required=False, allow_blank=True, max_length=128)
    timeout_seconds = serializers.FloatField(required=False, min_value=0.1, max_value=3600)
    credentials = serializers.DictField(
        child=serializers.CharField(max_length=20000, allow_blank=True, trim_whitespace=False),
        write_only=True,
        required=False,
        help_text="The kind's own fields to test; secrets left out come from the stored "
        "provider only where they were entered for. Never stored, logged or returned.",
    )

    def validate_api_key(self, value: str) -> str:
        return ProviderSerializer().validate_api_key(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        preset_fill(attrs, None)
        if not attrs.get("kind"):
            raise serializers.ValidationError({"kind": [KIND_NEEDED]})
        return attrs

    def validate_extra_headers(self, value: dict[str, str]) -> dict[str, str]:
        ProviderSerializer().validate_extra_headers(value)
        return value


class ProviderSettingsTestSerializer(serializers.Serializer):
    """The outcome of a settings test: no secret, no provider text."""

    ok = serializers.BooleanField()
    latency_ms = serializers.IntegerField()
    model_count = serializers.IntegerField()
    models = serializers.ListField(child=serializers.CharField())
    error = serializers.DictField(child=serializers.CharField(), allow_null=True)

    @staticmethod
    def from_result(result: SettingsTestResult) -> dict[str, Any]:
        return {
            "ok": result.ok,
            "latency_ms": result.latency_ms,
            "model_count": result.model_count,
            "models": list(result.models),
            "error": None if result.ok else {"code": result.error_code, "message": result.message},
        }
