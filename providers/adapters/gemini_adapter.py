"""Google Gemini API adapter over the google-genai SDK (not Vertex AI, not google-generativeai).

One `genai.Client` per provider settings: the key travels in the x-goog-api-key header, the
API version is pinned to v1beta, the base URL is set explicitly (so GOOGLE_GEMINI_BASE_URL and
friends in the environment cannot redirect calls), HttpOptions.timeout is in MILLISECONDS,
and the SDK's own retries are off (HttpRetryOptions(attempts=1)): the runtime retries.
Request and response mapping, and how usageMetadata maps onto the usage buckets, live in
`gemini_mapping`.

Embeddings: the installed SDK sends every Gemini API embed_content call to
`models/{model}:batchEmbedContents`. The Gemini API reports no token counts for embeddings,
so usage stays zero unless the answer carries usageMetadata.

Errors are translated by the base class from gemini_mapping.ERRORS (by SDK exception type),
narrowed by Google's structured fields (see gemini_mapping). Google messages may echo a URL
with ?key=..., so every message goes through `scrub` (the base class does it).
"""

import dataclasses
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

from google import genai
from google.genai import types

from providers.adapters import gemini_mapping as mapping
from providers.adapters.base import ProviderAdapter
from providers.adapters.errors import (
    MalformedResponseError,
    ProviderAuthenticationError,
    StreamInterruptedError,
)
from providers.adapters.types import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    Finish,
    ProviderSettings,
    ReasoningDelta,
    RemoteModel,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from providers.adapters.wire import ErrorTable, WireMapping, header

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/"
API_VERSION = "v1beta"
_BROKEN_STREAM_ERRORS = mapping.transport_classes("RemoteProtocolError") + (
    mapping.transport_classes("ReadError")
)


class GeminiAdapter(ProviderAdapter):
    supports_embeddings: ClassVar[bool] = True
    mapping: ClassVar[WireMapping] = mapping
    errors: ClassVar[ErrorTable] = mapping.ERRORS

    def build_client(self, settings: ProviderSettings) -> genai.Client:
        if not settings.api_key:
            raise ProviderAuthenticationError(
                "No API key is configured for this Gemini provider.", provider=settings.slug
            )
        options = types.HttpOptions(
            base_url=settings.base_url or DEFAULT_BASE_URL,
            api_version=API_VERSION,
            headers=dict(settings.extra_headers) or None,
            timeout=max(1, int(settings.timeout * 1000)),
            retry_options=types.HttpRetryOptions(attempts=1),
            httpx_client=self.http_client(),
        )
        return genai.Client(api_key=settings.api_key, vertexai=False, http_options=options)

    # -- chat ----------------------------------------------------------------------------
    def _complete(self, request: ChatRequest) -> ChatResponse:
        raw = self.client.models.generate_content(**self._params(request))
        response = mapping.response_from_wire(raw)
        return response if response.model else dataclasses.replace(response, model=request.model)

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        return mapping.request_params(request, kind=self.settings.kind)

    def _stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        chunks = self.client.models.generate_content_stream(**self._params(request))
        calls: list[ToolCall] = []
        usage_metadata: Any = None
        reason: str | None = None
        model, request_id = request.model, None
        received = False
        iterator = iter(chunks)
        while True:
            try:
                chunk = next(iterator)
            except StopIteration:
                break
            except _BROKEN_STREAM_ERRORS as exc:
                if not received:
                    raise
                raise StreamInterruptedError(
                    "The Gemini stream broke off before the answer was complete.",
                    provider=self.settings.slug,
                    request_id=request_id,
                ) from exc
            received = True
            model = chunk.model_version or model
            request_id = request_id or mapping.response_request_id(chunk)
            usage_metadata = chunk.usage_metadata or usage_metadata
            reason = mapping.raw_finish_reason(chunk) or reason
            for part in mapping.candidate_parts(chunk):
                if part.function_call:
                    call = mapping.tool_call_from(part, len(calls))
                    calls.append(call)
                    yield ToolCallDelta(
                        index=len(calls) - 1, id=call.id, name=call.name, arguments=call.arguments
                    )
                elif thought := mapping.thought_text(part):
                    yield ReasoningDelta(text=thought)
                elif text := mapping.visible_text(part):
                    yield TextDelta(text)
        if reason is None:
            raise StreamInterruptedError(
                "The Gemini stream ended without a finish reason.",
                provider=self.settings.slug,
                request_id=request_id,
            )
        yield UsageEvent(mapping.usage_from_wire(usage_metadata))
        yield Finish(
            finish_reason=mapping.finish_reason_from_wire(reason, tool_calls=bool(calls)),
            model=model,
            request_id=request_id,
        )

    # -- embeddings and models ---------------------------------------------------------------
    def _embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        # One Content per input: given bare strings, the SDK merges them into ONE content (one
        # vector) for multimodal embedding models such as gemini-embedding-2.
        contents = [types.Content(role="user", parts=[types.Part(text=t)]) for t in request.inputs]
        response = self.client.models.embed_content(
            model=request.model,
            contents=contents,
            config=types.EmbedContentConfig(output_dimensionality=request.dimensions),
        )
        embeddings = response.embeddings or []
        if len(embeddings) != len(request.inputs):
            raise MalformedResponseError(
                f"Gemini returned {len(embeddings)} embeddings for {len(request.inputs)} inputs.",
                provider=self.settings.slug,
            )
        return EmbeddingResponse(
            vectors=tuple(tuple(e.values or ()) for e in embeddings),
            usage=self.embedding_usage(response),
            model=request.model,
            request_id=header(getattr(response.sdk_http_response, "headers", None), "x-request-id"),
        )

    def embedding_usage(self, response: types.EmbedContentResponse) -> Usage:
        return mapping.usage_from_wire(response.usage_metadata)

    def _list_models(self) -> list[RemoteModel]:
        return [
            _remote_model(model)
            for model in self.client.models.list(config=types.ListModelsConfig(page_size=1000))
        ]


def _remote_model(model: types.Model) -> RemoteModel:
    actions = set(model.supported_actions or ())
    kind: Literal["chat", "embedding", "unknown"] = "unknown"
    if "embedContent" in actions or "batchEmbedContents" in actions:
        kind = "embedding"
    elif "generateContent" in actions:
        kind = "chat"
    return RemoteModel(
        id=(model.name or "").removeprefix("models/"),
        display_name=model.display_name or "",
        kind=kind,
        context_window=model.input_token_limit,
        max_output_tokens=model.output_token_limit,
    )
