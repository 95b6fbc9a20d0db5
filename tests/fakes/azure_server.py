"""A local server speaking Azure OpenAI's wire: the OpenAI wire under the resource's paths.

- `POST /openai/deployments/{deployment}/chat/completions?api-version=...` and
  `.../embeddings`, `GET /openai/models?api-version=...`; every request must carry a known
  `api-version` query (else 404 as Azure answers an unknown version), and authenticate with
  the `api-key` header or an Entra ID token as `Authorization: Bearer` (else 401 in Azure's
  shape, which echoes nothing).
- `deployments` maps deployment names to the model they serve; an unknown deployment is a
  404 `DeploymentNotFound`. The body's `model` is replaced by the deployed model before the
  OpenAI fake answers, as Azure does (the answer names the underlying model).
- The Entra ID token endpoint, `POST /{tenant}/oauth2/v2.0/token` (client credentials): the
  form must name the tenant, client id, client secret and the Cognitive Services scope, else
  400/401 as Entra answers; each grant issues a new token (`issued_tokens`), valid for
  `token_lifetime` seconds as `expires_in` says, and accepted as the Bearer from then on.
Everything else (answers, tools, streams, usage, faults) is the OpenAI fake's.
"""

import dataclasses
import re
from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import parse_qs

import pytest

from providers.adapters.types import ProviderSettings
from tests.fakes.base import FakeResponse, RecordedRequest
from tests.fakes.openai_server import OpenAIFakeServer

DEFAULT_AZURE_KEY = "azure-key-0123456789abcdef0123456789ab"
DEFAULT_ENTRA_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra-test-token.c2lnbmF0dXJl"
API_VERSIONS = frozenset({"2024-10-21", "2025-01-01-preview"})
DEFAULT_TENANT = "contoso.onmicrosoft.com"
DEFAULT_CLIENT_ID = "11111111-2222-3333-4444-555555555555"
DEFAULT_CLIENT_SECRET = "entra-client-secret-Qx7~abcdefghijklmnopqrstu"
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
_TOKEN_PATH = re.compile(r"/([^/]+)/oauth2/v2\.0/token")
DEFAULT_DEPLOYMENTS = {
    "gpt-4o-mini": "gpt-4o-mini",
    "prod-gpt4o": "gpt-4.1",
    "embed-small": "text-embedding-3-small",
}
_DEPLOYMENT_PATH = re.compile(r"/openai/deployments/([^/]+)/(chat/completions|embeddings)")


class AzureOpenAIFakeServer(OpenAIFakeServer):
    name = "azure-openai-fake"

    def _defaults(self) -> None:
        super()._defaults()
        self.api_key = DEFAULT_AZURE_KEY
        self.entra_token: str | None = DEFAULT_ENTRA_TOKEN
        self.deployments: dict[str, str] = dict(DEFAULT_DEPLOYMENTS)
        self.tenant = DEFAULT_TENANT
        self.client_id = DEFAULT_CLIENT_ID
        self.client_secret = DEFAULT_CLIENT_SECRET
        self.token_lifetime = 3599
        self.issued_tokens: list[str] = []

    def app_registration(self) -> dict[str, str]:
        """The kind's credential fields of an app registration this fake's tenant knows."""
        return {
            "api_version": "2024-10-21",
            "entra_tenant_id": self.tenant,
            "entra_client_id": self.client_id,
            "entra_client_secret": self.client_secret,
            "entra_authority": self.url,
        }

    def token_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if _TOKEN_PATH.fullmatch(r.path)]

    def provider_settings(self, kind: str = "azure_openai", **overrides: Any) -> ProviderSettings:
        settings = ProviderSettings(
            kind=kind,
            slug="azure-fake",
            api_key=self.api_key or "",
            base_url=self.url,
            credentials={"api_version": "2024-10-21"},
            timeout=5.0,
            max_retries=0,
            version="1",
        )
        return dataclasses.replace(settings, **overrides)

    def error_body(self, status: int, code: str | None) -> Any:
        body = super().error_body(status, code)
        body["error"].pop("type", None)  # Azure's errors carry code and message
        return body

    def _azure_error(self, status: int, code: str, message: str) -> FakeResponse:
        return FakeResponse(
            status=status,
            body={"error": {"code": code, "message": message}},
            headers={"apim-request-id": "azure-req-1"},
        )

    def _token(self, request: RecordedRequest, tenant: str) -> FakeResponse:
        form = {k: v[0] for k, v in parse_qs(request.raw.decode()).items()}
        if form.get("grant_type") != "client_credentials" or form.get("scope") != ENTRA_SCOPE:
            return FakeResponse(status=400, body={"error": "invalid_request"})
        if tenant != self.tenant:
            return FakeResponse(status=400, body={"error": "invalid_tenant"})
        if form.get("client_id") != self.client_id:
            return FakeResponse(status=400, body={"error": "unauthorized_client"})
        if form.get("client_secret") != self.client_secret:
            return FakeResponse(status=401, body={"error": "invalid_client"})
        token = f"entra-issued-{len(self.issued_tokens) + 1}-token-0123456789"
        self.issued_tokens.append(token)
        body = {"token_type": "Bearer", "expires_in": self.token_lifetime, "access_token": token}
        return FakeResponse(status=200, body=body)

    def route(self, request: RecordedRequest) -> FakeResponse:
        token_path = _TOKEN_PATH.fullmatch(request.path)
        if request.method == "POST" and token_path is not None:
            return self._token(request, token_path.group(1))
        version = (request.query.get("api-version") or [""])[0]
        if version not in API_VERSIONS:
            return self._azure_error(404, "404", "Resource not found")
        bearer = request.headers.get("authorization", "")
        key_ok = self.api_key is None or request.headers.get("api-key") == self.api_key
        token_ok = (self.entra_token is not None and bearer == f"Bearer {self.entra_token}") or (
            bool(self.issued_tokens) and bearer == f"Bearer {self.issued_tokens[-1]}"
        )
        if not (key_ok or token_ok) or ("api-key" in request.headers and bearer):
            return self._azure_error(
                401,
                "401",
                "Access denied due to invalid subscription key or wrong API endpoint. Make "
                "sure to provide a valid key for an active subscription and use a correct "
                "regional API endpoint for your resource.",
            )
        if request.method == "GET" and request.path == "/openai/models":
            return self._models(request)
        match = _DEPLOYMENT_PATH.fullmatch(request.path)
        if request.method != "POST" or match is None:
            return self._azure_error(404, "404", "Resource not found")
        deployment, operation = match.groups()
        if deployment not in self.deployments:
            return self._azure_error(
                404,
                "DeploymentNotFound",
                "The API deployment for this resource does not exist. If you created the "
                "deployment within the last 5 minutes, please wait a moment and try again.",
            )
        if not isinstance(request.body, dict):
            return self._error(400, "We could not parse the JSON body of your request.", None)
        body = {**request.body, "model": self.deployments[deployment]}
        deployed = dataclasses.replace(request, body=body)
        if operation == "embeddings":
            return self._embeddings(deployed)
        return self._chat(deployed)


@pytest.fixture(scope="session")
def azure_fake_server() -> Iterator[AzureOpenAIFakeServer]:
    server = cast(AzureOpenAIFakeServer, AzureOpenAIFakeServer().start())
    yield server
    server.stop()


@pytest.fixture
def azure_fake(azure_fake_server: AzureOpenAIFakeServer) -> AzureOpenAIFakeServer:
    azure_fake_server.reset()
    return azure_fake_server
