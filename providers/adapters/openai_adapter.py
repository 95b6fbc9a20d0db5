"""The OpenAI adapter: serves kinds `openai` and `openai_compatible` (Ollama, vLLM, Groq,
Mistral, Together, OpenRouter...) through the official `openai` SDK and chat completions.

- One `openai.OpenAI` client per ProviderSettings, with the SDK's own retries off: the call
  runtime decides about retries and fallbacks. Organization, project and base URL come only
  from the settings, never from OPENAI_* environment variables the SDK would otherwise read.
- Keyless OpenAI-compatible servers get a placeholder key (the SDK refuses to build without
  one; such servers ignore the Authorization header).
- `max_tokens` is sent as `max_completion_tokens` to OpenAI (the SDK marks `max_tokens`
  deprecated and reasoning models refuse it) and as `max_tokens` to compatible servers.
- Streams ask for `stream_options.include_usage`; the usage chunk arrives after the finish
  reason, so Finish is yielded last. A server that ignores the option yields no UsageEvent.
- Usage buckets: see openai_mapping (OpenAI counts cached tokens inside prompt_tokens and
  reasoning tokens inside completion_tokens; the mapping subtracts them).
- Errors are translated by the base class from openai_mapping.ERRORS (by SDK exception type,
  narrowed by the structured error `code` for context length), keeping status, Retry-After
  and x-request-id. Transport errors raised while a
  stream is being read become StreamInterruptedError: part of the answer may already be out.
"""

from collections.abc import Iterator
from typing import Any, ClassVar

import httpx2
import openai

from providers.adapters import openai_mapping as mapping
from providers.adapters.base import ProviderAdapter
from providers.adapters.errors import MalformedResponseError, StreamInterruptedError
from providers.adapters.types import (
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    Finish,
    FinishReason,
    ProviderSettings,
    ReasoningDelta,
    RemoteModel,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from providers.adapters.wire import ErrorTable, WireMapping

OPENAI_BASE_URL = "https://api.openai.com/v1"
KEYLESS_PLACEHOLDER = "no-key-configured"


class OpenAIAdapter(ProviderAdapter):
    supports_embeddings = True
    mapping: ClassVar[WireMapping] = mapping
    errors: ClassVar[ErrorTable] = mapping.ERRORS

    def build_client(self, settings: ProviderSettings) -> openai.OpenAI:
        client = openai.OpenAI(
            http_client=self.http_client(),
            api_key=settings.api_key or KEYLESS_PLACEHOLDER,
            base_url=settings.base_url or OPENAI_BASE_URL,
            organization=settings.organization or None,
            project=settings.project or None,
            default_headers=dict(settings.extra_headers) or None,
            timeout=settings.timeout,
            max_retries=0,
        )
        # The SDK fills organization/project from the environment when given None.
        client.organization = settings.organization or None
        client.project = settings.project or None
        return client

    # -- chat ------------------------------------------------------------------------------
    def _params(self, request: ChatRequest) -> dict[str, Any]:
        return mapping.request_params(request, kind=self.settings.kind)

    def _complete(self, request: ChatRequest) -> ChatResponse:
        completion = self.client.chat.completions.create(**self._params(request))
        return mapping.response_from_wire(completion)

    def _stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        stream = self.client.chat.completions.create(
            **self._params(request), stream=True, stream_options={"include_usage": True}
        )
        request_id = stream.response.headers.get("x-request-id")
        with stream:  # releases the connection if the consumer stops early
            yield from self._stream_events(stream, request_id)

    def _stream_events(self, stream: Any, request_id: str | None) -> Iterator[StreamEvent]:
        model = ""
        finish: FinishReason | None = None
        chunks = 0
        try:
            for chunk in stream:
                chunks += 1
                model = model or chunk.model or ""
                for choice in chunk.choices or ():
                    if choice.index != 0:
                        continue
                    delta = choice.delta
                    reasoning = mapping.reasoning_from_wire(delta) if delta else ""
                    if reasoning:
                        yield ReasoningDelta(text=reasoning)
                    text = (delta.content or delta.refusal) if delta else None
                    if text:
                        yield TextDelta(text=text, logprobs=mapping.logprobs_dumped(choice))
                    for call in (delta.tool_calls if delta else None) or ():
                        function = call.function
                        yield ToolCallDelta(
                            index=call.index,
                            id=call.id,
                            name=function.name if function else None,
                            arguments=(function.arguments if function else None) or "",
                        )
                    if choice.finish_reason:
                        finish = mapping.finish_reason_from_wire(choice.finish_reason)
                if chunk.usage is not None:
                    yield UsageEvent(usage=mapping.usage_from_wire(chunk.usage))
        except (openai.APIConnectionError, httpx2.TransportError, openai.APIError) as exc:
            self.scrub_exception(exc)
            detail = self.scrub(mapping.error_detail(exc))
            raise StreamInterruptedError(
                f"{StreamInterruptedError.default_message} ({detail})",
                provider=self.settings.slug,
                request_id=request_id,
            ) from exc
        if chunks == 0:
            raise MalformedResponseError(
                "The provider answered a streamed request with no chunks.",
                provider=self.settings.slug,
                request_id=request_id,
            )
        if finish is None:
            raise StreamInterruptedError(
                "The provider's stream ended without a finish reason.",
                provider=self.settings.slug,
                request_id=request_id,
            )
        yield Finish(finish_reason=finish, model=model, request_id=request_id)

    # -- embeddings and models ---------------------------------------------------------------
    def _embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        extra: dict[str, Any] = {}
        if request.dimensions is not None:
            extra["dimensions"] = request.dimensions
        # "float": the SDK would otherwise ask for base64, which compatible servers lack.
        response = self.client.embeddings.create(
            model=request.model, input=list(request.inputs), encoding_format="float", **extra
        )
        data = sorted(response.data or (), key=lambda item: item.index)
        if len(data) != len(request.inputs):
            raise MalformedResponseError(
                f"The provider answered {len(data)} embeddings for {len(request.inputs)} inputs.",
                provider=self.settings.slug,
            )
        usage = Usage()
        if response.usage is not None:
            raw = response.usage.model_dump(mode="json", exclude_none=True)
            usage = Usage(input_tokens=response.usage.prompt_tokens or 0, raw=raw)
        return EmbeddingResponse(
            vectors=tuple(tuple(float(x) for x in item.embedding) for item in data),
            usage=usage,
            model=response.model or request.model,
            request_id=getattr(response, "_request_id", None),
        )

    def _list_models(self) -> list[RemoteModel]:
        return [mapping.remote_model(model) for model in self.client.models.list()]
