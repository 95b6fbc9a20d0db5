"""Selection serializers: flat fields, the same picture the audit trail keeps.

Input is only shaped and range-checked here; the rules about models (enabled, provider usable,
kind, capabilities, context window) live in `providers.services.selection`, so the admin and the
API refuse the same selection with the same message.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.errors import InvalidInput
from providers.models import Capability, ModelConfig, ModelGroup, ModelSelection
from providers.selectors import model_group_resolve, model_unusable_reason

MODEL_STRING_HELP = "A model string, `provider-slug:model-name` (e.g. `openai:gpt-4.1`)."
OVERRIDE_FIELDS = ("temperature", "max_tokens", "top_p", "system_prompt")
GROUP_HELP = (
    "A model group (its name) that serves in place of the primary, routing among its members; "
    "the primary must be one of them. Null: the primary model alone."
)

FALLBACKS_HELP = (
    "Tried in order when the primary fails: model strings, or model groups as `group:<name>` "
    "(the group's members, ordered by its strategy, are tried at its position)."
)


class ChainEntrySerializer(serializers.Serializer):
    model_string = serializers.CharField(help_text="A model string, or `group:<name>`.")
    role = serializers.ChoiceField(choices=["primary", "fallback"])
    usable = serializers.BooleanField(
        help_text="Whether a call could use this model (a group: one of its members) right now."
    )
    reason = serializers.CharField(allow_blank=True, help_text="Why it is not usable, if not.")


class SelectionSerializer(serializers.ModelSerializer):
    """A service's model selection as stored."""

    primary = serializers.SerializerMethodField(help_text=MODEL_STRING_HELP)
    fallbacks = serializers.SerializerMethodField(help_text=FALLBACKS_HELP)
    primary_group = serializers.SerializerMethodField(help_text=GROUP_HELP)
    required_capabilities = serializers.ListField(
        child=serializers.ChoiceField(choices=Capability.choices), read_only=True
    )
    chain = serializers.SerializerMethodField(
        help_text="The primary then each fallback, with whether it is usable now."
    )
    updated_by: "serializers.SlugRelatedField[Any]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = ModelSelection
        fields = [
            "service",
            "primary",
            "primary_group",
            "fallbacks",
            "temperature",
            "max_tokens",
            "top_p",
            "system_prompt",
            "cache_prompt",
            "required_capabilities",
            "min_context_window",
            "description",
            "cache_ttl_seconds",
            "cache_shared",
            "request_log_days",
            "chain",
            "created_at",
            "updated_at",
            "updated_by",
        ]
        read_only_fields = fields

    def get_primary(self, obj: ModelSelection) -> str:
        return obj.primary.model_string

    def get_primary_group(self, obj: ModelSelection) -> str | None:
        return obj.primary_group.name if obj.primary_group is not None else None

    def get_fallbacks(self, obj: ModelSelection) -> list[str]:
        return [entry.model_string for entry in obj.fallback_list()]

    @extend_schema_field(ChainEntrySerializer(many=True))
    def get_chain(self, obj: ModelSelection) -> list[dict[str, Any]]:
        chain: list[tuple[str, ModelConfig | ModelGroup]] = [("primary", obj.primary)]
        chain += [("fallback", entry) for entry in obj.fallback_list()]
        entries = []
        for role, entry in chain:
            reason = _unusable_reason(entry)
            entries.append(
                {
                    "model_string": entry.model_string,
                    "role": role,
                    "usable": reason is None,
                    "reason": reason or "",
                }
            )
        return entries


def _unusable_reason(entry: ModelConfig | ModelGroup) -> str | None:
    """Why a chain entry cannot serve now; a group can while one of its members can."""
    if isinstance(entry, ModelConfig):
        return model_unusable_reason(model=entry)
    try:
        model_group_resolve(name=entry.name)
    except InvalidInput as exc:
        return exc.message
    return None


class SelectionWriteSerializer(serializers.Serializer):
    """What PUT (everything; omitted optional fields become empty) and PATCH (some) accept."""

    primary = serializers.CharField(max_length=300, help_text=MODEL_STRING_HELP)
    fallbacks = serializers.ListField(
        child=serializers.CharField(max_length=300),
        required=False,
        max_length=20,
        help_text=FALLBACKS_HELP,
    )
    primary_group = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=100, help_text=GROUP_HELP
    )
    temperature = serializers.FloatField(
        required=False, allow_null=True, min_value=0.0, max_value=2.0
    )
    max_tokens = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=10_000_000
    )
    top_p = serializers.FloatField(required=False, allow_null=True, min_value=0.0, max_value=1.0)
    system_prompt = serializers.CharField(
        required=False, allow_blank=True, max_length=50_000, trim_whitespace=False
    )
    required_capabilities = serializers.ListField(
        child=serializers.ChoiceField(choices=Capability.choices),
        required=False,
        max_length=len(Capability.values),
    )
    min_context_window = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=100_000_000
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    cache_prompt = serializers.BooleanField(
        required=False,
        help_text="Cache the system prompt and tools on Anthropic models (prompt caching).",
    )
    cache_ttl_seconds = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=30 * 24 * 3600,
        help_text="Answer identical requests from the response cache for this long (0: off).",
    )
    cache_shared = serializers.BooleanField(
        required=False, help_text="Share cached answers across consumer keys and users."
    )
    request_log_days = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=3650,
        help_text="Keep each call's request and response this many days (0: keep none).",
    )

    def service_arguments(self) -> dict[str, Any]:
        """The validated data as keyword arguments of the selection services: parameter
        overrides are gathered into `overrides`, as the services take them."""
        data = dict(self.validated_data)
        overrides = {key: data.pop(key) for key in OVERRIDE_FIELDS if key in data}
        if overrides or not self.partial:
            data["overrides"] = overrides
        return data
