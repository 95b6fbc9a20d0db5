"""Who may do what on the providers API.

Staff endpoints need a staff user (session or DRF token) holding the Django model permission:
view for reads, add/change/delete for writes. Consumer keys may only read the endpoints that
opt in with ConsumerMayRead; anything else they try is a 403. Anonymous requests get a 401.
"""

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from providers.consumers import ConsumerIdentity


def consumer_identity(request: Request) -> ConsumerIdentity | None:
    """The consumer behind the request, or None for staff and anonymous requests."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ConsumerIdentity) else None


class StaffModelPermissions(permissions.DjangoModelPermissions):
    """DjangoModelPermissions for staff only, with the view permission required for reads."""

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: Any) -> bool:
        if consumer_identity(request) is not None:
            return False
        user = request.user
        if not (user and user.is_authenticated and user.is_staff and user.is_active):
            # Unauthenticated: False makes DRF answer 401 via the authenticate header.
            return False
        return super().has_permission(request, view)


class StaffChangePermission(StaffModelPermissions):
    """For actions that act on an object without editing it (testing a connection)."""

    perms_map = {
        method: ["%(app_label)s.change_%(model_name)s"]
        for method in StaffModelPermissions.perms_map
    }


class StaffOrConsumerRead(StaffModelPermissions):
    """Staff with model permissions, or a consumer key reading (it never writes)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if consumer_identity(request) is not None:
            return request.method in permissions.SAFE_METHODS
        return super().has_permission(request, view)
