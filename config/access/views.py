"""The second-factor page: enrol an authenticator app, verify this session, new recovery codes.

It is the one page a user who must use a second factor reaches before having one. The TOTP
secret is shown only here, only while the device is unconfirmed, and the page is never cached.
"""

from typing import Any

import segno
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login

from config.access.mfa import (
    mfa_enrolled,
    mfa_required,
    mfa_token_match,
    mfa_verified,
    recovery_codes_generate,
    totp_device_confirm,
    totp_device_pending,
)


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("admin:index")


def _enrol_context(request: HttpRequest) -> dict[str, Any]:
    device = totp_device_pending(user=request.user)
    url = device.config_url  # otpauth://totp/<OTP_TOTP_ISSUER>:<username>?secret=...
    return {
        "qr_svg": segno.make(url, error="m").svg_inline(scale=4),
        "secret": _base32(device.bin_key),
    }


def _base32(key: bytes) -> str:
    from base64 import b32encode

    return b32encode(key).decode().rstrip("=")


@never_cache
@login_required(login_url="admin:login")
@require_http_methods(["GET", "POST"])
def mfa_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    enrolled = mfa_enrolled(user)
    context: dict[str, Any] = {
        "title": "Second factor",
        "enrolled": enrolled,
        "verified": mfa_verified(user),
        "required": mfa_required(user),
        "next": _next(request),
        "site_header": "Control plane",
        "has_permission": False,
    }
    action = request.POST.get("action")
    if request.method == "POST" and action == "confirm" and not enrolled:
        device = totp_device_confirm(user=user, token=request.POST.get("otp_token", ""))
        if device is not None:
            otp_login(request, device)
            context.update(enrolled=True, verified=True, codes=recovery_codes_generate(user=user))
            return render(request, "access/mfa_setup.html", context)
        context["error"] = "That code is not valid; type the current one from the app."
    elif request.method == "POST" and action == "verify" and enrolled:
        device = mfa_token_match(user=user, token=request.POST.get("otp_token", ""))
        if device is not None:
            otp_login(request, device)
            return HttpResponseRedirect(context["next"])
        context["error"] = "That code is not valid."
    elif request.method == "POST" and action == "recovery" and enrolled and mfa_verified(user):
        context["codes"] = recovery_codes_generate(user=user)
        return render(request, "access/mfa_setup.html", context)
    if not enrolled:
        context.update(_enrol_context(request))
    return render(request, "access/mfa_setup.html", context)
