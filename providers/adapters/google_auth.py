"""Google OAuth for Vertex AI from a service-account key, through the guarded HTTP client.

Both SDKs that speak to Vertex (google-genai in Vertex mode, the `anthropic` SDK's Vertex
client) take google-auth credentials and refresh them with google-auth's own `requests`
transport, which would bypass the egress policy and the proxy-free client every provider call
uses. The service account's `token_uri` is staff input, so the token request (a signed JWT
assertion) goes through the same guarded client as the calls: `GuardedServiceAccountCredentials`
refreshes through `GuardedAuthRequest` whatever transport the SDK hands it.
"""

from typing import Any

import httpx2
from google.auth import exceptions as auth_exceptions
from google.auth import transport
from google.oauth2 import service_account

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


class _Response(transport.Response):
    def __init__(self, response: httpx2.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> dict[str, str]:
        return dict(self._response.headers)

    @property
    def data(self) -> bytes:
        return self._response.content


class GuardedAuthRequest(transport.Request):
    """google-auth's transport interface over an httpx2 client."""

    def __init__(self, client: httpx2.Client) -> None:
        self.client = client

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Response:
        try:
            response = self.client.request(
                method, url, content=body, headers=headers, timeout=timeout or 30.0
            )
        except httpx2.HTTPError as exc:
            # google-auth turns a TransportError into RefreshError; the adapter's base class
            # still finds a DestinationRefused in the chain.
            raise auth_exceptions.TransportError(f"{type(exc).__name__}: {exc}") from exc
        return _Response(response)


class GuardedServiceAccountCredentials(service_account.Credentials):
    """Service-account credentials that always refresh through the guarded client."""

    guarded_request: GuardedAuthRequest | None = None

    def refresh(self, request: Any) -> None:
        super().refresh(self.guarded_request or request)


def service_account_credentials(
    info: dict[str, Any], *, client: httpx2.Client
) -> GuardedServiceAccountCredentials:
    credentials = GuardedServiceAccountCredentials.from_service_account_info(
        info, scopes=list(SCOPES)
    )
    credentials.guarded_request = GuardedAuthRequest(client)
    return credentials
