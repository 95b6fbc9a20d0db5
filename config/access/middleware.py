"""Users who must use a second factor reach only the set-up page until their session is
verified with one; every other page (admin, playground, session-authenticated API) is refused.

Requests authenticated by a staff token or a consumer key carry no session user here, so they
pass: staff tokens are created only for users who have a second factor.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from config.access.mfa import mfa_required
from config.errors import PermissionDenied


class MFARequiredMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not user.is_verified()
            and mfa_required(user)
            and not self._open(request.path)
        ):
            if any(request.path.startswith(p) for p in settings.AUDIT_API_PATH_PREFIXES):
                error = PermissionDenied(
                    "Set up your second factor in admin before using the API with a session.",
                    details={"reason": "mfa_required"},
                )
                return JsonResponse(error.as_dict(), status=error.http_status)
            return redirect(f"{reverse('mfa-setup')}?{urlencode({'next': request.path})}")
        return self.get_response(request)

    @staticmethod
    def _open(path: str) -> bool:
        allowed = (reverse("mfa-setup"), reverse("admin:logout"), settings.STATIC_URL)
        return path == reverse("healthz") or any(path.startswith(p) for p in allowed)
