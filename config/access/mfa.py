"""The second factor (django-otp): who needs one, enrolment, recovery codes, reset.

A TOTP device is created unconfirmed when someone opens the set-up page and becomes usable
only once they type a code it generated; recovery codes are a django-otp static device whose
codes each work once.
"""

import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django_otp import user_has_device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from config.access.roles import MFA_ROLES
from config.audit.models import Action
from config.audit.services import audit_event_record

RECOVERY_DEVICE_NAME = "recovery codes"
TOTP_DEVICE_NAME = "authenticator app"


def mfa_required(user: Any) -> bool:
    """Superusers and members of the key-holding roles must use a second factor."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_mfa_required", None)
    if cached is None:
        cached = user.groups.filter(name__in=MFA_ROLES).exists()
        user._mfa_required = cached
    return cached


def mfa_verified(user: Any) -> bool:
    """Whether this session passed the second factor: django-otp's OTPMiddleware gives
    request.user an `is_verified()` that the user model does not declare."""
    return bool(user.is_verified())


def mfa_enrolled(user: Any) -> bool:
    return user_has_device(user, confirmed=True)


def totp_device_pending(*, user: Any) -> TOTPDevice:
    """The unconfirmed device being set up (one per user), created on first need."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def totp_device_confirm(*, user: Any, token: str) -> TOTPDevice | None:
    """Confirm the pending device with a code it generated; None when the code is wrong."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None or not device.verify_token(token.strip()):
        return None
    with transaction.atomic():
        device.confirmed = True
        device.save()
        audit_event_record(
            action=Action.MFA_ENROLLED,
            object_type="auth.user",
            object_id=user.pk,
            object_repr=user.get_username(),
        )
    return device


def recovery_codes_generate(*, user: Any) -> list[str]:
    """Replace the user's recovery codes with fresh ones; shown once, each usable once."""
    with transaction.atomic():
        device, _ = StaticDevice.objects.get_or_create(
            user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
        )
        device.token_set.all().delete()
        codes = [
            secrets.token_hex(settings.MFA_RECOVERY_CODE_BYTES)
            for _ in range(settings.MFA_RECOVERY_CODE_COUNT)
        ]
        for code in codes:
            device.token_set.create(token=code)
        audit_event_record(
            action=Action.RECOVERY_CODES,
            object_type="auth.user",
            object_id=user.pk,
            object_repr=user.get_username(),
        )
    return codes


def mfa_token_match(*, user: Any, token: str) -> Any:
    """The confirmed device that accepts `token`, or None: digits go to the authenticator
    app, anything else to the recovery codes, so a recovery code never counts as a failed
    app code (django-otp throttles a device after each failure)."""
    token = (token or "").strip().replace(" ", "")
    if not token:
        return None
    model = TOTPDevice if token.isdigit() and len(token) <= 8 else StaticDevice
    with transaction.atomic():
        for device in model.objects.select_for_update().filter(user=user, confirmed=True):
            if device.verify_token(token):
                return device
    return None


def mfa_reset(*, user: Any) -> int:
    """Remove every device of a user (a lost phone); they enrol again at next sign-in."""
    with transaction.atomic():
        removed = 0
        for model in (TOTPDevice, StaticDevice):
            for device in model.objects.filter(user=user):
                device.delete()
                removed += 1
        audit_event_record(
            action=Action.MFA_RESET,
            object_type="auth.user",
            object_id=user.pk,
            object_repr=user.get_username(),
        )
    return removed
