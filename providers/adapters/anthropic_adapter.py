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

Errors are translated by SDK exception type (ERRORS, walked along the exception's MRO).
Context length: Anthropic answers an over-long prompt with a plain 400 invalid_request_error
and no structured code (only the message text says "prompt is too long"), so it surfaces as
ProviderBadRequestError; it becomes ContextLengthExceededError only when the body carries a
structured `error.details.error_code` in CONTEXT_LENGTH_ERROR_CODES. A response stopped by
the context window (stop_reason model_context_window_exceeded) finishes with "length".
"""

import json
from collections.abc import Iterator
from typing import Any, ClassVar

import anthropic
import httpx2

from providers.adapters.anthropic_mapping import (
    finish_reason,
    request_params,
    response_from_message,
    usage_from_wire,
)
from providers.adapters.base import ProviderAdapter
from providers.adapters.errors import (
    ContextLengthExceededError,
    MalformedResponseError,
    ModelNotFoundError,
    ProviderAuthenticationError,
    ProviderBadRequestError,
    ProviderError,
    ProviderPermissionError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitedError,
    StreamInterruptedError,
    retry_after_seconds,
)
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

DEFAULT_BASE_URL = "https://api.anthropic.com"

# Most specific first is not needed: the lookup walks the raised exception's MRO.
ERRORS: dict[type[Exception], type[ProviderError]] = {
    anthropic.AuthenticationError: ProviderAuthenticationError,
    anthropic.PermissionDeniedError: ProviderPermissionError,
    anthropic.PaymentRequiredError: ProviderPermissionError,  # billing_error: no credit left
    anthropic.NotFoundError: ModelNotFoundError,
    anthropic.BadRequestError: ProviderBadRequestError,
    anthropic.UnprocessableEntityError: ProviderBadRequestError,
    anthropic.ContentTooLargeError: ProviderBadRequestError,  # 413 request_too_large
    anthropic.RequestTimeoutError: ProviderTimeoutError,
    anthropic.GatewayTimeoutError: ProviderTimeoutError,
    anthropic.RateLimitError: RateLimitedError,
    anthropic.InternalServerError: ProviderUnavailableError,  # every 5xx, 529 overloaded too
    anthropic.APIStatusError: ProviderError,  # any other status
    anthropic.APITimeoutError: ProviderTimeoutError,
    anthropic.APIConnectionError: ProviderUnavailableError,
    anthropic.APIResponseValidationError: MalformedResponseError,
    json.JSONDecodeError: MalformedResponseError,
    httpx2.TimeoutException: ProviderTimeoutError,
    httpx2.TransportError: StreamInterruptedError,  # raw transport errors only occur mid-body
}
CONTEXT_LENGTH_ERROR_CODES = frozenset({"prompt_too_long", "context_length_exceeded"})


class AnthropicAdapter(ProviderAdapter):
    supports_embeddings: ClassVar[bool] = False
    supports_token_count: ClassVar[bool] = True
    models_page_size: ClassVar[int] = 100

    def build_client(self, settings: ProviderSettings) -> anthropic.Anthropic:
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
        message = self.client.messages.create(**request_params(request))
        return response_from_message(message)

    def _stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        stream = self.client.messages.create(**request_params(request), stream=True)
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
        params = request_params(request)
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

    # -- errors ----------------------------------------------------------------------------
    def translate_error(self, exc: Exception) -> ProviderError | None:
        error_class = next((ERRORS[c] for c in type(exc).__mro__ if c in ERRORS), None)
        if error_class is None:
            return None
        if not isinstance(exc, anthropic.APIStatusError):
            return error_class(
                self.scrub(f"Anthropic call failed: {_describe(exc)}"), provider=self.settings.slug
            )
        error_type, message, error_code = _error_fields(exc)
        if error_class is ProviderBadRequestError and error_code in CONTEXT_LENGTH_ERROR_CODES:
            error_class = ContextLengthExceededError
        return error_class(
            self.scrub(f"Anthropic answered {exc.status_code} ({error_type}): {message}"),
            provider=self.settings.slug,
            status_code=exc.status_code,
            retry_after=retry_after_seconds(exc.response.headers),
            request_id=exc.request_id,
            details={
                "provider": self.settings.slug,
                "upstream_status": exc.status_code,
                "upstream_type": error_type,
                "upstream_code": error_code,
            },
        )

    def _interrupted(self, exc: Exception, state: "_StreamState") -> StreamInterruptedError:
        if isinstance(exc, anthropic.APIStatusError):
            error_type, message, _ = _error_fields(exc)
            text = f"Anthropic's stream broke off with an {error_type} event: {message}"
        else:
            text = f"Anthropic's stream broke off: {_describe(exc)}"
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
        yield UsageEvent(usage_from_wire(self.usage))

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
            yield UsageEvent(usage_from_wire(self.usage))

    def _on_message_stop(self, event: Any) -> Iterator[StreamEvent]:
        self.finished = True
        yield Finish(
            finish_reason=finish_reason(self.stop_reason),
            model=self.model,
            request_id=self.request_id,
        )


def _error_fields(exc: "anthropic.APIStatusError") -> tuple[str, str, str | None]:
    """(error.type, error.message, error.details.error_code) from an Anthropic error body."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    error_type = str(error.get("type") or exc.type or "error")
    message = str(error.get("message") or exc.api_message or "no message")
    return error_type, message, exc.error_code


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
