"""Input and output serializers of the native chat API."""

from typing import Any

from django.conf import settings
from rest_framework import serializers

from chat.models import Conversation, Message
from chat.v1.parsing import count_check, max_tokens_check


class MessageOutput(serializers.ModelSerializer):
    cost = serializers.DecimalField(max_digits=20, decimal_places=10, allow_null=True)
    usage_record_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "role",
            "content",
            "tool_calls",
            "tool_call_id",
            "model_string",
            "prompt_tokens",
            "completion_tokens",
            "cost",
            "usage_record_id",
            "created_at",
        ]
        read_only_fields = fields


class ConversationOutput(serializers.ModelSerializer):
    class Meta:
        model = Conversation
        fields = ["id", "service", "title", "created_at", "updated_at"]
        read_only_fields = fields


class ConversationDetailOutput(ConversationOutput):
    messages = MessageOutput(many=True, read_only=True)

    class Meta(ConversationOutput.Meta):
        fields = [*ConversationOutput.Meta.fields, "messages"]
        read_only_fields = fields


class ConversationCreateInput(serializers.Serializer):
    service = serializers.CharField(
        max_length=200, help_text="A service name or a model string (slug:model)."
    )
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    system_prompt = serializers.CharField(required=False, allow_blank=True, default="")


class MessageCreateInput(serializers.Serializer):
    content = serializers.JSONField(
        help_text="The user's message: text, or a list of content parts (OpenAI shape)."
    )
    max_tokens = serializers.IntegerField(required=False, min_value=1, allow_null=True)
    user = serializers.JSONField(
        required=False, help_text="Your end user, for attribution (a string, as OpenAI's `user`)"
    )
    metadata = serializers.JSONField(
        required=False,
        help_text="Up to 16 string pairs; each becomes the tag key:value (see also x-tags)",
    )

    def validate_content(self, value: Any) -> Any:
        if isinstance(value, list):
            count_check(value, settings.API_MAX_CONTENT_PARTS, "content", "parts")
        return value

    def validate_max_tokens(self, value: int | None) -> int | None:
        return max_tokens_check(value)
