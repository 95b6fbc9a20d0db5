"""The Azure OpenAI adapter: the OpenAI wire (chat completions, embeddings, models) through
the `openai` SDK's own Azure client, `openai.AzureOpenAI`.

Only how to authenticate and where to go differ from OpenAIAdapter, so this is a subclass
whose `build_client` is the Azure client; the wire mapping, the stream state and the error
table (the Azure client raises the same SDK exceptions) are inherited.

- The base URL is the resource endpoint (https://<resource>.openai.azure.com); the SDK adds
  `/openai/deployments/{deployment}/...` and `?api-version=` from the kind's `api_version`
  field, so the stored base URL never needs a query string (which base URLs refuse).
- Authentication, one of: the API key (`api-key` header); a static Microsoft Entra ID token
  (`Authorization: Bearer`, not renewed); or an app registration (tenant, client id, client
  secret) whose tokens are requested and renewed before expiry (adapters.entra, as the SDK's
  `azure_ad_token_provider`). Nothing is read from AZURE_OPENAI_* or OPENAI_* variables.
  With a key or a static token, calls take the inherited direct path (adapters.openai_direct:
  the Azure client's own head, deployment path and api-version, derived once per path and
  deployment); with an app registration, each call goes through the SDK client, which asks
  the token provider for the current token.
- Deployment per model: a model's name is called as the deployment of that name unless the
  kind's `deployments` field maps it to another deployment ({"gpt-4o": "prod-gpt4o"}).
- `max_tokens` is sent as `max_completion_tokens` (GA API versions accept it; o-series
  deployments refuse `max_tokens`).
- The model list is the resource's `/openai/models` (base models the resource may deploy).
"""

import dataclasses
import json
from collections.abc import Callable
from typing import Any, ClassVar

import openai

from providers.adapters.entra import (
    ClientCredentialsToken,
    EntraTokenRefused,
    EntraTokenUnavailable,
    token_url,
)
from providers.adapters.errors import (
    ProviderAuthenticationError,
    ProviderUnavailableError,
)
from providers.adapters.openai_adapter import OpenAIAdapter
from providers.adapters.types import (
    ChatRequest,
    EmbeddingRequest,
    EmbeddingResponse,
    ProviderSettings,
)
from providers.adapters.wire import ErrorTable


class AzureOpenAIAdapter(OpenAIAdapter):
    errors: ClassVar[ErrorTable] = {
        **OpenAIAdapter.errors,
        EntraTokenRefused: ProviderAuthenticationError,
        EntraTokenUnavailable: ProviderUnavailableError,
    }

    def build_client(self, settings: ProviderSettings) -> openai.AzureOpenAI:
        values = settings.credentials
        token = values.get("entra_token") or None
        token_provider = self._token_provider(settings)
        if not settings.base_url or not values.get("api_version"):
            raise ProviderAuthenticationError(
                "An Azure OpenAI provider needs its endpoint and API version.",
                provider=settings.slug,
            )
        if not token and not settings.api_key and token_provider is None:
            raise ProviderAuthenticationError(
                "No API key, Entra ID token or app registration is configured for this Azure "
                "OpenAI provider.",
                provider=settings.slug,
            )
        self.deployments: dict[str, str] = json.loads(values.get("deployments") or "{}")
        client = openai.AzureOpenAI(
            http_client=self.http_client(),
            azure_endpoint=settings.base_url,
            api_version=values["api_version"],
            api_key=None if token or token_provider else settings.api_key,
            azure_ad_token=token,
            azure_ad_token_provider=token_provider,
            default_headers=dict(settings.extra_headers) or None,
            timeout=settings.timeout,
            max_retries=0,
        )
        client.organization = None  # the SDK reads OPENAI_ORG_ID / OPENAI_PROJECT_ID
        client.project = None
        return client

    def _token_provider(self, settings: ProviderSettings) -> Callable[[], str] | None:
        """Renewed tokens of the app registration, when one is configured."""
        values = settings.credentials
        if not all(values.get(n) for n in ("entra_tenant_id", "entra_client_id")):
            return None
        if not values.get("entra_client_secret"):
            return None
        self.token_client = self.http_client()
        return ClientCredentialsToken(
            client=self.token_client,
            url=token_url(
                tenant=values["entra_tenant_id"], authority=values.get("entra_authority", "")
            ),
            client_id=values["entra_client_id"],
            client_secret=values["entra_client_secret"],
        )

    def close(self) -> None:
        super().close()
        token_client = getattr(self, "token_client", None)
        if token_client is not None:
            token_client.close()

    def deployment(self, model: str) -> str:
        return self.deployments.get(model, model)

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params = super()._params(request)
        params["model"] = self.deployment(request.model)
        return params

    def _embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        return super()._embed(dataclasses.replace(request, model=self.deployment(request.model)))
