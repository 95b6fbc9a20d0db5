"""The audit trail in admin: read-only for everyone, superusers included."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from config.audit import beat_admin  # noqa: F401  (the periodic task admin, audited)
from config.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor", "source", "ip", "action", "object_type", "object_id"]
    list_filter = ["action", "source", "actor_type", "object_type", "actor", "at"]
    search_fields = ["actor", "object_id", "object_repr"]
    date_hierarchy = "at"
    fields = readonly_fields = tuple(f.name for f in AuditEvent._meta.fields)
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
