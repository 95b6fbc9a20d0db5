"""DRF authentication for programs: a consumer API key as a Bearer token or X-Api-Key.

The request's user is a ConsumerPrincipal, never the key owner's user, so a key cannot inherit
staff rights; `request.auth` is the ConsumerIdentity that scoping code reads.
"""

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
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
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed(INVALID_KEY_MESSAGE) from None


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
