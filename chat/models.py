"""Conversations and their messages, kept for the native chat API and the playground.

A conversation belongs to a user or to a consumer API key (exactly one), and names the
service or model string that answers it. Each assistant message links to the UsageRecord of
the attempt that produced it, so its tokens and cost are the ledger's, not a copy to drift.
"""

from django.conf import settings
from django.db import models


class Conversation(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="conversations",
    )
    api_key = models.ForeignKey(
        "providers.ConsumerAPIKey",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="conversations",
    )
    service = models.CharField(
        max_length=200, help_text="A service name or a model string (slug:model)"
    )
    title = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        # Spending (playground, conversations as a signed-in user) needs this explicitly:
        # being staff, or being able to read a conversation, is not permission to pay for calls.
        permissions = [("use_models", "Can call models (playground and conversations)")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(owner__isnull=False, api_key__isnull=True)
                    | models.Q(owner__isnull=True, api_key__isnull=False)
                ),
                name="conversation_has_one_owner",
            )
        ]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"


class MessageRole(models.TextChoices):
    SYSTEM = "system", "System"
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"
    TOOL = "tool", "Tool"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=16, choices=MessageRole.choices)
    content = models.JSONField(
        default=str, blank=True, help_text="Text, or a list of content parts (OpenAI shape)"
    )
    tool_calls = models.JSONField(default=list, blank=True)
    tool_call_id = models.CharField(max_length=200, blank=True, default="")
    model_string = models.CharField(max_length=200, blank=True, default="")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    usage_record = models.ForeignKey(
        "usage.UsageRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.role}: {str(self.content)[:40]}"


class StoredResponse(models.Model):
    """A response of the /v1/responses API, kept so `previous_response_id` can continue it.

    `conversation` holds every turn needed to continue (earlier turns, this request's input
    and this response's output) as plain messages, so a continuation is one read and does
    not depend on earlier responses still existing. Instructions are not part of it: OpenAI
    does not carry them over to the next response either. `response` is the Response object
    as it was returned, for GET /v1/responses/{id}. Rows past `expires_at`
    (RESPONSES_RETENTION_DAYS) are invisible and deleted daily.
    """

    id = models.CharField(primary_key=True, max_length=64)
    api_key = models.ForeignKey(
        "providers.ConsumerAPIKey", on_delete=models.CASCADE, related_name="stored_responses"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The owner of the key when the response was made",
    )
    model = models.CharField(max_length=256, help_text="The service or model string asked for")
    previous_response_id = models.CharField(max_length=64, blank=True, default="")
    conversation = models.JSONField(default=list)
    response = models.JSONField(default=dict)
    usage_record = models.ForeignKey(
        "usage.UsageRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.id


class RequestLog(models.Model):
    """The request and response (or error) of one call of a service that opted in
    (ModelSelection.request_log_days), redacted, compressed and kept until `expires_at`.

    Written by chat.request_logs after the call ends; deleted by the "chat: delete expired
    request logs" schedule. Request content is sensitive: only holders of
    `chat.view_requestlog` (the Administrator role) may read it in admin.
    """

    request_id = models.CharField(max_length=64, db_index=True)
    service = models.CharField(max_length=64)
    model_string = models.CharField(max_length=200, blank=True, default="")
    outcome = models.CharField(max_length=64, default="ok")
    streamed = models.BooleanField(default=False)
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField(db_index=True)
    request_body = models.BinaryField(help_text="zlib-compressed JSON")
    response_body = models.BinaryField(help_text="zlib-compressed JSON")
    request_bytes = models.PositiveIntegerField(default=0, help_text="Uncompressed size")
    response_bytes = models.PositiveIntegerField(default=0, help_text="Uncompressed size")

    class Meta:
        ordering = ["-created_at", "-id"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.request_id} ({self.service})"
