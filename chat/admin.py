"""Conversations in the admin: read-only transcripts with each reply's model, tokens and cost."""

from django.contrib import admin

from chat.models import Conversation, Message


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = [
        "role",
        "content",
        "tool_calls",
        "model_string",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "usage_record",
        "created_at",
    ]
    readonly_fields = fields

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
