"""Conversations in the admin: read-only transcripts with each reply's model, tokens and cost;
request logs of the services that keep them."""

import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from chat.models import Conversation, Message, RequestLog
from chat.request_logs import request_log_content


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "role",
        "content",
        "tool_calls",
        "model_string",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "usage_record",
        "created_at",
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "service", "owner", "api_key", "updated_at"]
    list_filter = ["service"]
    search_fields = ["title", "service", "owner__username", "api_key__name"]
    readonly_fields = ["owner", "api_key", "service", "created_at", "updated_at"]
    list_select_related = ["owner", "api_key"]
    inlines = [MessageInline]
    date_hierarchy = "updated_at"

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(RequestLog)
class RequestLogAdmin(admin.ModelAdmin):
    """Read-only: what a service that keeps request logs sent and received, found by request
    id (the usage record links here). Reading needs `chat.view_requestlog` (Administrator)."""

    list_display = [
        "created_at",
        "request_id",
        "service",
        "model_string",
        "outcome",
        "streamed",
        "request_bytes",
        "response_bytes",
        "expires_at",
    ]
    list_filter = ["service", "outcome", "streamed"]
    search_fields = ["=request_id"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = readonly_fields = (
        "request_id",
        "service",
        "model_string",
        "outcome",
        "streamed",
        "created_at",
        "expires_at",
        "request_bytes",
        "response_bytes",
        "request_json",
        "response_json",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The list never needs the compressed bodies.
        queryset = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and (match.url_name or "").endswith("_changelist"):
            queryset = queryset.defer("request_body", "response_body")
        return queryset

    @admin.display(description="request")
    def request_json(self, obj: RequestLog) -> str:
        return _pretty(request_log_content(log=obj)[0])

    @admin.display(description="response")
    def response_json(self, obj: RequestLog) -> str:
        return _pretty(request_log_content(log=obj)[1])


def _pretty(value: Any) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html('<pre style="white-space:pre-wrap;margin:0">{}</pre>', text)
