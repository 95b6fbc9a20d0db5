"""The Anthropic adapter: the Messages API through the official `anthropic` SDK.

Wire mapping (system prompt, content blocks, tools, usage buckets) lives in
anthropic_mapping; this module owns the client, the stream state machine and error
translation. No embeddings: Anthropic has no embeddings API (the base class refuses).

Usage: Anthropic's input_tokens EXCLUDES cache reads and writes, so the buckets map one to
one: input = input_tokens, cached_input = cache_read_input_tokens, cache_write =
cache_creation_input_tokens, output = output_tokens (thinking is billed inside it and is
moved to reasoning only when the API breaks it out). Details in anthropic_mapping.

Streaming reads the raw event stream (`messages.create(stream=True)`): message_start brings
the model and the input/cache counts, content_block_* bring text and tool calls (a tool call's
index is its ordinal among tool_use blocks, not the block index), message_delta brings the
stop reason and the cumulative output_tokens, message_stop ends the message. Thinking blocks
stream as ReasoningDelta text; when a block closes, the whole block with its signature (or a
redacted block, which arrives whole) follows as ReasoningDelta.part, so a client can send it
back for tool use. A stream that
ends before message_stop, breaks at the transport, or carries an SSE `error` event (such as
`overloaded_error` half-way) raises StreamInterruptedError.

Errors are translated by the base class from anthropic_mapping.ERRORS (by SDK exception type,
walked along the exception's MRO; context length only from a structured code, see the
mapping). A response stopped by
the context window (stop_reason model_context_window_exceeded) finishes with "length".
"""

import json
from collections.abc import Iterator
from typing import Any, ClassVar

import anthropic
import httpx2

from providers.adapters import anthropic_mapping as mapping
from providers.adapters.base import ProviderAdapter
from providers.adapters.errors import MalformedResponseError, StreamInterruptedError
from providers.adapters.types import (
    ChatRequest,
    ChatResponse,
    Finish,
    ProviderSettings,
    ReasoningDelta,
    ReasoningPart,
    RemoteModel,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    UsageEvent,
)
from providers.adapters.wire import ErrorTable, WireMapping, describe

DEFAULT_BASE_URL = "https://api.anthropic.com"
# The clients that speak Messages: Anthropic's own, and its Bedrock and Vertex AI clients.
AnthropicClient = anthropic.Anthropic | anthropic.AnthropicBedrock | anthropic.AnthropicVertex


class AnthropicAdapter(ProviderAdapter):
    supports_embeddings: ClassVar[bool] = False
    supports_token_count: ClassVar[bool] = True
    models_page_size: ClassVar[int] = 100
    mapping: ClassVar[WireMapping] = mapping
    errors: ClassVar[ErrorTable] = mapping.ERRORS

    def build_client(self, settings: ProviderSettings) -> AnthropicClient:
        """One client per settings version; an explicit base URL so no environment leaks in."""
        return anthropic.Anthropic(
            http_client=self.http_client(),
            api_key=settings.api_key,
            base_url=settings.base_url or DEFAULT_BASE_URL,
            default_headers=dict(settings.extra_headers) or None,
            timeout=settings.timeout,
            max_retries=0,
        )

    # -- operations ------------------------------------------------------------------------
    def _complete(self, request: ChatRequest) -> ChatResponse:
        message = self.client.messages.create(**self._params(request))
        return mapping.response_from_wire(message)

    def _stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        stream = self.client.messages.create(**self._params(request), stream=True)
        state = _StreamState(request_id=stream.response.headers.get("request-id"))
        with stream:
            try:
                for event in stream:
                    yield from state.events_for(event)
            except anthropic.APIStatusError as exc:  # an SSE `error` event half-way
                raise self._interrupted(exc, state) from exc
            except (httpx2.TransportError, anthropic.APIConnectionError) as exc:
                raise self._interrupted(exc, state) from exc
        if not state.finished:
            if not state.started:
                raise MalformedResponseError(
                    "Anthropic answered a stream request without any message events.",
                    provider=self.settings.slug,
                    request_id=state.request_id,
                )
            raise StreamInterruptedError(
                "Anthropic's stream ended before message_stop.",
                provider=self.settings.slug,
                request_id=state.request_id,
            )

    def _count_tokens(self, request: ChatRequest) -> int:
        """messages.count_tokens takes the prompt of messages.create without the output
        settings (max_tokens, stop_sequences)."""
        params = self._params(request)
        for name in ("max_tokens", "stop_sequences"):
            params.pop(name, None)
        return int(self.client.messages.count_tokens(**params).input_tokens)

    def _list_models(self) -> list[RemoteModel]:
        return [
            RemoteModel(
                id=model.id,
                display_name=model.display_name or "",
                kind="chat",
                context_window=model.max_input_tokens,
                max_output_tokens=model.max_tokens,
            )
            for model in self.client.models.list(limit=self.models_page_size)
        ]

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        return mapping.request_params(request, kind=self.settings.kind)

    def _interrupted(self, exc: Exception, state: "_StreamState") -> StreamInterruptedError:
        if isinstance(exc, anthropic.APIStatusError):
            error_type, message, _ = mapping.status_error_fields(exc)
            text = f"Anthropic's stream broke off with an {error_type} event: {message}"
        else:
            text = f"Anthropic's stream broke off: {describe(exc)}"
        return StreamInterruptedError(
            self.scrub(text), provider=self.settings.slug, request_id=state.request_id
        )


class _StreamState:
    """Turns raw Messages stream events into StreamEvents, keeping what later events need."""

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id
        self.model = ""
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self.tool_ordinals: dict[int, int] = {}  # content block index -> tool call index
        self.thinking: dict[int, list[str]] = {}  # open thinking block index -> its text
        self.signatures: dict[int, str] = {}
        self.started = False
        self.finished = False

    def events_for(self, event: Any) -> Iterator[StreamEvent]:
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            yield from handler(event)

    def _on_message_start(self, event: Any) -> Iterator[StreamEvent]:
        self.started = True
        self.model = event.message.model
        self.usage = event.message.usage.model_dump(exclude_none=True)
        yield UsageEvent(mapping.usage_from_wire(self.usage))

    def _on_content_block_start(self, event: Any) -> Iterator[StreamEvent]:
        block = event.content_block
        if block.type == "text" and block.text:
            yield TextDelta(block.text)
        elif block.type == "thinking":
            self.thinking[event.index] = [block.thinking] if block.thinking else []
            if block.thinking:
                yield ReasoningDelta(text=block.thinking)
        elif block.type == "redacted_thinking":
            yield ReasoningDelta(part=ReasoningPart(redacted=block.data))
        elif block.type == "tool_use":
            ordinal = len(self.tool_ordinals)
            self.tool_ordinals[event.index] = ordinal
            arguments = json.dumps(block.input) if block.input else ""
            yield ToolCallDelta(index=ordinal, id=block.id, name=block.name, arguments=arguments)

    def _on_content_block_delta(self, event: Any) -> Iterator[StreamEvent]:
        delta = event.delta
        if delta.type == "text_delta" and delta.text:
            yield TextDelta(delta.text)
        elif delta.type == "input_json_delta" and delta.partial_json:
            ordinal = self.tool_ordinals.get(event.index)
            if ordinal is not None:
                yield ToolCallDelta(index=ordinal, arguments=delta.partial_json)
        elif delta.type == "thinking_delta" and delta.thinking:
            self.thinking.setdefault(event.index, []).append(delta.thinking)
            yield ReasoningDelta(text=delta.thinking)
        elif delta.type == "signature_delta":
            self.signatures[event.index] = delta.signature

    def _on_content_block_stop(self, event: Any) -> Iterator[StreamEvent]:
        texts = self.thinking.pop(event.index, None)
        if texts is not None:
            signature = self.signatures.pop(event.index, None)
            yield ReasoningDelta(part=ReasoningPart(text="".join(texts), signature=signature))

    def _on_message_delta(self, event: Any) -> Iterator[StreamEvent]:
        self.stop_reason = event.delta.stop_reason or self.stop_reason
        if event.usage is not None:
            # message_delta counts are cumulative: they replace, never add to, earlier ones.
            self.usage.update(event.usage.model_dump(exclude_none=True))
            yield UsageEvent(mapping.usage_from_wire(self.usage))

    def _on_message_stop(self, event: Any) -> Iterator[StreamEvent]:
        self.finished = True
        yield Finish(
            finish_reason=mapping.finish_reason_from_wire(self.stop_reason),
            model=self.model,
            request_id=self.request_id,
        )
