"""The Azure OpenAI adapter: the OpenAI wire (chat completions, embeddings, models) through
the `openai` SDK's own Azure client, `openai.AzureOpenAI`.

Only how to authenticate and where to go differ from OpenAIAdapter, so this is a subclass
whose `build_client` is the Azure client; the wire mapping, the stream state and the error
table (the Azure client raises the same SDK exceptions) are inherited.

- The base URL is the resource endpoint (https://<resource>.openai.azure.com); the SDK adds
  `/openai/deployments/{deployment}/...` and `?api-version=` from the kind's `api_version`
  field, so the stored base URL never needs a query string (which base URLs refuse).
- Authentication: the API key (`api-key` header) or a Microsoft Entra ID token (`Authorization:
  Bearer`), never both; nothing is read from AZURE_OPENAI_* or OPENAI_* environment variables.
- Deployment per model: a model's name is called as the deployment of that name unless the
  kind's `deployments` field maps it to another deployment ({"gpt-4o": "prod-gpt4o"}).
- `max_tokens` is sent as `max_completion_tokens` (GA API versions accept it; o-series
  deployments refuse `max_tokens`).
- The model list is the resource's `/openai/models` (base models the resource may deploy).
"""

import dataclasses
import json
from typing import Any

import openai

from providers.adapters.errors import ProviderAuthenticationError
from providers.adapters.openai_adapter import OpenAIAdapter
from providers.adapters.types import (
    ChatRequest,
    EmbeddingRequest,
    EmbeddingResponse,
    ProviderSettings,
)


class AzureOpenAIAdapter(OpenAIAdapter):
    def build_client(self, settings: ProviderSettings) -> openai.AzureOpenAI:
        values = settings.credentials
        token = values.get("entra_token") or None
        if not settings.base_url or not values.get("api_version"):
            raise ProviderAuthenticationError(
                "An Azure OpenAI provider needs its endpoint and API version.",
                provider=settings.slug,
            )
        if not token and not settings.api_key:
            raise ProviderAuthenticationError(
                "No API key or Entra ID token is configured for this Azure OpenAI provider.",
                provider=settings.slug,
            )
        self.deployments: dict[str, str] = json.loads(values.get("deployments") or "{}")
        client = openai.AzureOpenAI(
            http_client=self.http_client(),
            azure_endpoint=settings.base_url,
            api_version=values["api_version"],
            api_key=None if token else settings.api_key,
            azure_ad_token=token,
            default_headers=dict(settings.extra_headers) or None,
            timeout=settings.timeout,
            max_retries=0,
        )
        client.organization = None  # the SDK reads OPENAI_ORG_ID / OPENAI_PROJECT_ID
        client.project = None
        return client

    def deployment(self, model: str) -> str:
        return self.deployments.get(model, model)

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params = super()._params(request)
        params["model"] = self.deployment(request.model)
        return params

    def _embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        return super()._embed(dataclasses.replace(request, model=self.deployment(request.model)))
