"""The admin site: sign-in with a one-time code, and no admin page for an unverified user
who must use a second factor (the middleware sends them to the set-up page first)."""

from django.contrib import admin
from django.http import HttpRequest

from config.access.forms import OTPAdminLoginForm
from config.access.mfa import mfa_required, mfa_verified


class ControlPlaneAdminSite(admin.AdminSite):
    login_form = OTPAdminLoginForm
    login_template = "access/login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        user = request.user
        return not mfa_required(user) or mfa_verified(user)
