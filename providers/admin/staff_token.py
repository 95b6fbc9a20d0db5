"""Staff API tokens (knox AuthToken) in admin: list, inspect and delete (revoke) only.

Knox's own admin is replaced because its change form edits the digest (the primary key) and the
user, so whoever may change tokens could re-point a token at another (super)user or plant a
digest of a token they chose; and its add form creates tokens for non-staff users, with no
expiry by default, and puts the token in a flash message (a cookie, or the session table).
Tokens are created with `manage.py create_staff_token`, which enforces staff-only and a TTL.
"""

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from knox.models import AuthToken

if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class StaffTokenAdmin(admin.ModelAdmin):
    list_display = ["token_key", "user", "created", "expiry", "status"]
    list_select_related = ["user"]
    search_fields = ["token_key", "user__username"]
    ordering = ["-created"]
    fields = readonly_fields = ("token_key", "user", "created", "expiry", "status")

    @admin.display(description="status")
    def status(self, obj: AuthToken) -> str:
        if obj.expiry is not None and obj.expiry <= timezone.now():
            return "expired"
        return "active"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuthToken | None = None) -> bool:
        return False
