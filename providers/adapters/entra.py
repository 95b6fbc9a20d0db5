"""Microsoft Entra ID tokens for Azure OpenAI, renewed: OAuth 2.0 client credentials (tenant,
client id, client secret) against the tenant's token endpoint.

A static Entra token stops working when it expires (about an hour); an app registration lets
the adapter ask for a new one before that. `ClientCredentialsToken` is the callable the
`openai` SDK's AzureOpenAI client takes as `azure_ad_token_provider`: it is called before each
request and answers the cached token until REFRESH_MARGIN seconds before its expiry, then asks
the token endpoint again (one request at a time, under a lock). The request goes through the
adapter's egress-checked HTTP client, the secret only in the form body. Failures raise
EntraTokenRefused (the endpoint said no: an authentication error) or EntraTokenUnavailable (it
could not answer); the Azure adapter's error table maps both.
"""

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx2

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
REFRESH_MARGIN = 300.0  # seconds before expiry at which a token is renewed


class EntraTokenRefused(Exception):
    """The token endpoint refused the app registration (wrong secret, tenant or client id)."""


class EntraTokenUnavailable(Exception):
    """The token endpoint could not be reached or answered something unusable."""


def token_url(*, tenant: str, authority: str = "") -> str:
    return f"{(authority or DEFAULT_AUTHORITY).rstrip('/')}/{tenant}/oauth2/v2.0/token"


class ClientCredentialsToken:
    def __init__(
        self,
        *,
        client: httpx2.Client,
        url: str,
        client_id: str,
        client_secret: str,
        scope: str = COGNITIVE_SERVICES_SCOPE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._url = url
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
        }
        self._clock = clock
        self._lock = threading.Lock()
        self._token = ""
        self._renew_at = 0.0

    def __call__(self) -> str:
        with self._lock:
            if not self._token or self._clock() >= self._renew_at:
                self._token, lifetime = self._request()
                self._renew_at = self._clock() + max(0.0, lifetime - REFRESH_MARGIN)
            return self._token

    def _request(self) -> tuple[str, float]:
        try:
            response = self._client.post(self._url, data=self._form)
        except httpx2.TransportError as exc:
            raise EntraTokenUnavailable(
                f"The Entra token endpoint could not be reached ({type(exc).__name__})."
            ) from None
        body = _json(response)
        if response.status_code in (400, 401, 403):
            error = str(body.get("error") or "refused")[:100]
            raise EntraTokenRefused(
                f"The Entra token endpoint refused the app registration "
                f"(HTTP {response.status_code}: {error})."
            )
        token = body.get("access_token")
        if response.status_code != 200 or not isinstance(token, str) or not token:
            raise EntraTokenUnavailable(
                f"The Entra token endpoint answered HTTP {response.status_code} without a token."
            )
        try:
            lifetime = float(body.get("expires_in") or 0)
        except (TypeError, ValueError):
            lifetime = 0.0
        return token, lifetime


def _json(response: httpx2.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
