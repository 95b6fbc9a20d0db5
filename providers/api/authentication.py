"""DRF authentication: consumer API keys for programs, staff tokens and sessions for people.

For a consumer key the request's user is a ConsumerPrincipal, never the key owner's user, so a
key cannot inherit staff rights; `request.auth` is the ConsumerIdentity that scoping code reads.
Staff tokens and sessions are checked on every request, not only at login: a user made
inactive or no longer staff is refused from the next request on.
"""

from typing import Any

from knox.auth import TokenAuthentication
from rest_framework import exceptions
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    get_authorization_header,
)
from rest_framework.request import Request

from providers.consumers import ConsumerIdentity, consumer_identity_from_key

INVALID_KEY_MESSAGE = "The API key is invalid, revoked or expired."


class ConsumerPrincipal:
    """The user of a request authenticated by a consumer key: authenticated, never staff."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, identity: ConsumerIdentity) -> None:
        self.identity = identity
        self.username = f"consumer:{identity.name}"

    def __str__(self) -> str:
        return self.username

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_perms(self, perm_list: Any, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False

    def get_username(self) -> str:
        return self.username


class ConsumerKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer <key>` or `X-Api-Key: <key>`; a bad key is a 401, never ignored."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ConsumerPrincipal, ConsumerIdentity] | None:
        raw_key = self._presented_key(request)
        if raw_key is None:
            return None
        identity = consumer_identity_from_key(raw_key)
        if identity is None:
            raise exceptions.AuthenticationFailed(INVALID_KEY_MESSAGE)
        return ConsumerPrincipal(identity), identity

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'

    def _presented_key(self, request: Request) -> str | None:
        parts = get_authorization_header(request).split()
        if parts and parts[0].lower() == self.keyword.lower().encode():
            if len(parts) != 2:
                raise exceptions.AuthenticationFailed(
                    "Send the key as `Authorization: Bearer <key>`, with no spaces in the key."
                )
            return _decoded(parts[1])
        header = request.META.get("HTTP_X_API_KEY")
        if header is not None:
            return _decoded(header.strip().encode("latin-1", "replace"))
        return None


def _decoded(raw: bytes) -> str:
    """A key is printable ASCII; anything else (NUL, control bytes) is refused before it
    reaches a query."""
    if not raw.isascii() or not all(0x21 <= byte < 0x7F for byte in raw):
        raise exceptions.AuthenticationFailed(INVALID_KEY_MESSAGE)
    return raw.decode("ascii")


def _staff_check(user: Any) -> None:
    """Inactive users are unauthenticated (401); active users who are not staff are refused
    (403): the API is for programs (consumer keys) and staff."""
    if not (user and user.is_active):
        raise exceptions.AuthenticationFailed("This user is inactive or deleted.")
    if not user.is_staff:
        raise exceptions.PermissionDenied(
            "Only staff members may use the API with a token or a session."
        )


class StaffTokenAuthentication(TokenAuthentication):
    """knox staff tokens (`Authorization: Token <token>`), valid only while the user is an
    active staff member; the user is read with the token on every request."""

    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        if not all(0x21 <= byte < 0x7F for byte in token):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(token)

    def validate_user(self, auth_token: Any) -> tuple[Any, Any]:
        _staff_check(auth_token.user)
        return auth_token.user, auth_token


class StaffSessionAuthentication(SessionAuthentication):
    """Django sessions of active staff users. The middleware reloads the user on every
    request, so a user made inactive (anonymous then) or no longer staff is refused at once."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is not None:
            _staff_check(result[0])
        return result


try:  # describe the scheme in the OpenAPI document
    from drf_spectacular.extensions import OpenApiAuthenticationExtension
except ImportError:  # pragma: no cover - drf-spectacular is a declared dependency
    pass
else:

    class ConsumerKeyScheme(OpenApiAuthenticationExtension):
        target_class = "providers.api.authentication.ConsumerKeyAuthentication"
        name = "ConsumerKey"

        def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
            return {
                "type": "http",
                "scheme": "bearer",
                "description": "A consumer API key (`prefix.secret`) as a Bearer token; "
                "`X-Api-Key: <key>` is accepted too.",
            }

    from drf_spectacular.authentication import SessionScheme
    from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme

    class StaffTokenScheme(KnoxTokenScheme):
        target_class = "providers.api.authentication.StaffTokenAuthentication"

    class StaffSessionScheme(SessionScheme):
        target_class = "providers.api.authentication.StaffSessionAuthentication"
