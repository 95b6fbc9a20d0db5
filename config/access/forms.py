"""The admin sign-in form: password, then the one-time code for users who have a device."""

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed

from config.access.mfa import mfa_enrolled, mfa_token_match


class OTPAdminLoginForm(AdminAuthenticationForm):
    otp_token = forms.CharField(
        label="One-time code",
        required=False,
        max_length=32,
        help_text="From your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        user = self.get_user()
        if user is None or not mfa_enrolled(user):
            return cleaned
        device = mfa_token_match(user=user, token=cleaned.get("otp_token", ""))
        if device is None:
            # A wrong code after a right password is a failed sign-in: it counts toward the
            # lockout like a wrong password, so the code cannot be guessed at leisure.
            user_login_failed.send(
                sender=__name__,
                credentials={"username": user.get_username()},
                request=self.request,
            )
            raise forms.ValidationError(
                "Enter the current code from your authenticator app or a recovery code.",
                code="invalid_otp",
            )
        # django-otp marks the session verified on login; the model does not declare the attribute.
        user.otp_device = device  # type: ignore[attr-defined]
        return cleaned
