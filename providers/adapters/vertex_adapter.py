"""The Vertex AI adapter: Gemini through google-genai in Vertex mode, Claude through the
`anthropic` SDK's Vertex client (`anthropic.AnthropicVertex`), both authenticated with a
service-account key (OAuth bearer tokens from its token_uri, see google_auth).

A Vertex provider serves both publishers; a model whose id starts with `claude` (as Vertex
names them, e.g. `claude-sonnet-4-5@20250929`) goes to the Claude client, every other model to
the Gemini client. Each side is the existing adapter with only `build_client` replaced, so the
wire mapping, stream state and error tables are the Gemini and Anthropic adapters' own:
- Gemini: `{base}/v1/projects/{project}/locations/{location}/publishers/google/models/
  {model}:generateContent` (`:streamGenerateContent?alt=sse`), embeddings through the SDK's
  Vertex embedding call, the model list from `publishers/google/models`.
- Claude: `{base}/v1/projects/{project}/locations/{location}/publishers/anthropic/models/
  {model}:rawPredict` (`:streamRawPredict`), the Messages body with `anthropic_version`
  `vertex-2023-10-16` instead of a `model` field. No embeddings, no model list.
The base URL defaults to `https://{location}-aiplatform.googleapis.com` (the global location:
`https://aiplatform.googleapis.com`); a base URL set on the provider replaces it for both.

Token failures: a token endpoint that refuses the service account (google-auth RefreshError)
is an authentication error; one that cannot be reached is unavailable (GOOGLE_AUTH_ERRORS, added
to each side's error table; the provider-level adapter's own table holds only those, since
everything a side raises is already translated).
"""

import dataclasses
import json
from collections.abc import Iterator
from typing import Any, ClassVar

import anthropic
from google import genai
from google.auth import exceptions as auth_exceptions
from google.genai import types

from providers.adapters import gemini_mapping
from providers.adapters.anthropic_adapter import AnthropicAdapter
from providers.adapters.base import ProviderAdapter
from providers.adapters.errors import (
    ProviderAuthenticationError,
    ProviderError,
    ProviderUnavailableError,
)
from providers.adapters.gemini_adapter import GeminiAdapter
from providers.adapters.google_auth import service_account_credentials
from providers.adapters.overheads import vertex_wire
from providers.adapters.types import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    ProviderSettings,
    RemoteModel,
    StreamEvent,
    Usage,
)
from providers.adapters.wire import ErrorTable, WireMapping

API_VERSION = "v1"
GOOGLE_AUTH_ERRORS: dict[type[BaseException], type[ProviderError]] = {
    auth_exceptions.RefreshError: ProviderAuthenticationError,
    auth_exceptions.TransportError: ProviderUnavailableError,
}


def vertex_host(settings: ProviderSettings) -> str:
    """The Vertex endpoint (scheme and host, no path) for the provider's location."""
    if settings.base_url:
        return settings.base_url.rstrip("/")
    location = settings.credentials.get("location", "")
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


def _google_credentials(adapter: ProviderAdapter, settings: ProviderSettings) -> Any:
    raw = settings.credentials.get("service_account_json", "")
    project = settings.credentials.get("project_id", "")
    location = settings.credentials.get("location", "")
    if not raw or not project or not location:
        raise ProviderAuthenticationError(
            "A Vertex AI provider needs its project, location and service account key.",
            provider=settings.slug,
        )
    try:
        info = json.loads(raw)
        return service_account_credentials(info, client=adapter.http_client())
    except (ValueError, KeyError):
        raise ProviderAuthenticationError(
            "The Vertex AI service account key is not usable.", provider=settings.slug
        ) from None


class VertexGeminiAdapter(GeminiAdapter):
    errors: ClassVar[ErrorTable] = {**GeminiAdapter.errors, **GOOGLE_AUTH_ERRORS}

    def build_client(self, settings: ProviderSettings) -> genai.Client:
        credentials = _google_credentials(self, settings)
        options = types.HttpOptions(
            base_url=f"{vertex_host(settings)}/",
            api_version=API_VERSION,
            headers=dict(settings.extra_headers) or None,
            timeout=max(1, int(settings.timeout * 1000)),
            retry_options=types.HttpRetryOptions(attempts=1),
            httpx_client=self.http_client(),
        )
        return genai.Client(
            vertexai=True,
            project=settings.credentials["project_id"],
            location=settings.credentials["location"],
            credentials=credentials,
            http_options=options,
        )

    def embedding_usage(self, response: types.EmbedContentResponse) -> Usage:
        """Vertex's text-embedding models report tokens per vector (statistics.token_count)
        rather than usage metadata: their sum is the input."""
        usage = super().embedding_usage(response)
        if usage.input_tokens:
            return usage
        counts = [
            int(e.statistics.token_count or 0)
            for e in response.embeddings or ()
            if e.statistics is not None
        ]
        return (
            Usage(input_tokens=sum(counts), raw={"token_count": sum(counts)}) if counts else usage
        )

    def _list_models(self) -> list[RemoteModel]:
        """Vertex lists publisher models by their resource name: the id is its last part."""
        return [
            dataclasses.replace(model, id=model.id.rsplit("/", 1)[-1])
            for model in super()._list_models()
        ]


class VertexClaudeAdapter(AnthropicAdapter):
    errors: ClassVar[ErrorTable] = {**AnthropicAdapter.errors, **GOOGLE_AUTH_ERRORS}

    def build_client(self, settings: ProviderSettings) -> anthropic.AnthropicVertex:
        credentials = _google_credentials(self, settings)
        return anthropic.AnthropicVertex(
            region=settings.credentials["location"],
            project_id=settings.credentials["project_id"],
            credentials=credentials,
            base_url=f"{vertex_host(settings)}/{API_VERSION}",
            http_client=self.http_client(),
            default_headers=dict(settings.extra_headers) or None,
            timeout=settings.timeout,
            max_retries=0,
        )


class VertexAdapter(ProviderAdapter):
    supports_embeddings: ClassVar[bool] = True
    # Each side translates its own errors; what reaches this level untranslated can only be
    # a token failure while building or listing.
    mapping: ClassVar[WireMapping] = gemini_mapping
    errors: ClassVar[ErrorTable] = GOOGLE_AUTH_ERRORS

    def build_client(self, settings: ProviderSettings) -> genai.Client:
        self.gemini = VertexGeminiAdapter(settings)
        self.claude = VertexClaudeAdapter(settings)
        return self.gemini.client

    def close(self) -> None:
        self.gemini.close()
        self.claude.close()

    def side(self, model: str) -> ProviderAdapter:
        """The adapter for a model: Claude for `claude*` ids, Gemini otherwise."""
        return self.claude if vertex_wire(model) == "anthropic" else self.gemini

    def _complete(self, request: ChatRequest) -> ChatResponse:
        return self.side(request.model).complete(request)

    def _stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        return self.side(request.model).stream(request)

    def _embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        return self.gemini.embed(request)

    def _list_models(self) -> list[RemoteModel]:
        return self.gemini.list_models()
