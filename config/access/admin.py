"""Users in admin, with the administrators' actions: unlock a locked-out sign-in and reset a
lost second factor. Both are audited; both need the change-user permission."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.access.lockout import signin_unlock
from config.access.mfa import mfa_enrolled, mfa_reset

User = get_user_model()


class AccessUserAdmin(UserAdmin):
    actions = ["unlock_sign_in", "reset_second_factor"]
    # The stubs declare list_display per instance; Django's class attribute is what is extended.
    list_display = [*UserAdmin.list_display, "second_factor"]  # type: ignore[misc]

    @admin.display(description="second factor", boolean=True)
    def second_factor(self, obj: AbstractBaseUser) -> bool:
        return mfa_enrolled(obj)

    @admin.action(description="Unlock sign-in (clear failed attempts)", permissions=["change"])
    def unlock_sign_in(self, request: HttpRequest, queryset: QuerySet) -> None:
        cleared = sum(signin_unlock(username=user.get_username()) for user in queryset)
        self.message_user(request, f"Unlocked; {cleared} failed-attempt record(s) cleared.")

    @admin.action(description="Reset second factor (they enrol again)", permissions=["change"])
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet) -> None:
        for user in queryset:
            mfa_reset(user=user)
        self.message_user(
            request, f"Second factor reset for {queryset.count()} user(s).", messages.WARNING
        )


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AccessUserAdmin)

# django-otp's own device admin shows and edits TOTP secrets and lets anyone with the model
# permission add a device to another user (and so pass their second factor). Devices are
# managed only by their owner on the second-factor page, and reset with the action above.
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
