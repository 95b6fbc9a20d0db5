"""Read-only admin for the ledger (UsageRecord) and its rollups (DailyUsage).

Both are written only by code (the call runtime and the rollup); staff may look, never edit, so
the totals that budgets and reports show always come from what really happened.
"""

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from usage.admin.format import usd
from usage.models import DailyUsage, UsageRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    """No add, change or delete, whatever the user's permissions; the view permission reads."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "model_string",
        "service",
        "outcome",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "latency_ms",
        "streamed",
        "request_id",
    ]
    list_filter = [
        "provider",
        "outcome",
        "service",
        "streamed",
        "usage_estimated",  # interrupted streams and replies without usage
        "is_fallback",
        "operation",
    ]
    date_hierarchy = "created_at"
    search_fields = ["=request_id", "=provider_request_id"]
    list_select_related = False
    show_full_result_count = False  # a COUNT(*) over the whole ledger on every page is slow
    # Raw usage and price snapshot are shown; the consumer key is shown by its string (its name).
    exclude = ["api_key"]
    readonly_fields = ["consumer_key", "request_log"]

    @admin.display(description="cost (USD)", ordering="cost")
    def cost_usd(self, obj: UsageRecord) -> str:
        return usd(obj.cost)

    @admin.display(description="consumer key")
    def consumer_key(self, obj: UsageRecord) -> str:
        key = obj.api_key
        return f"{key.name} ({key.prefix})" if key else "-"

    @admin.display(description="request log")
    def request_log(self, obj: UsageRecord) -> str:
        """A link to the call's request log, searched by request id (kept only for services
        that keep request logs, and readable by administrators). By URL: usage does not
        import chat."""
        if not obj.service:
            return "-"
        url = reverse("admin:chat_requestlog_changelist") + "?" + urlencode({"q": obj.request_id})
        return format_html('<a href="{}">request and response of {}</a>', url, obj.request_id)


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    list_display = [
        "day",
        "provider",
        "model_string",
        "service",
        "consumer_key",
        "requests",
        "errors",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "unpriced_calls",
    ]
    list_filter = ["provider", "service", "day"]
    date_hierarchy = "day"
    search_fields = ["model_string", "service"]
    list_select_related = ["api_key"]
    exclude = ["api_key"]
    readonly_fields = ["consumer_key"]
    change_list_template = "admin/usage/dailyusage/change_list.html"

    @admin.display(description="cost (USD)", ordering="cost")
    def cost_usd(self, obj: DailyUsage) -> str:
        return usd(obj.cost)

    @admin.display(description="consumer key")
    def consumer_key(self, obj: DailyUsage) -> str:
        key = obj.api_key
        return f"{key.name} ({key.prefix})" if key else "-"

    def get_urls(self) -> list:
        """The dashboard lives under this model's admin URLs, guarded like its changelist."""
        from usage.admin.dashboard import dashboard_urls

        return dashboard_urls(self) + super().get_urls()
