"""Mapping between the plain adapter types and OpenAI's chat-completions wire format.

Kept apart from the client in openai_adapter.py so that it can be read and tested on its own;
nothing here does I/O. Exposes the functions every wire mapping has (adapters.wire.WireMapping),
the error table among them.

Usage: OpenAI counts cached and cache-written prompt tokens INSIDE `prompt_tokens`
(`prompt_tokens_details.cached_tokens`, `.cache_write_tokens`) and reasoning tokens INSIDE
`completion_tokens` (`completion_tokens_details.reasoning_tokens`). Our buckets do not overlap:
    input_tokens        = prompt_tokens - cached_tokens - cache_write_tokens
    cached_input_tokens = cached_tokens
    cache_write_tokens  = cache_write_tokens (OpenAI itself reports none today; some
                          OpenAI-compatible routers do)
    output_tokens       = completion_tokens - reasoning_tokens
    reasoning_tokens    = reasoning_tokens
    raw                 = the provider's usage object as a dict
so Usage.prompt_tokens / completion_tokens give OpenAI's own totals back.

Parameters: every OpenAI parameter the request carries is passed under its own name (see
adapters.params); `cache_control` is not sent (OpenAI caches long prompts by itself).
Reasoning: OpenAI-compatible servers (vLLM, DeepSeek, Ollama...) answer their reasoning as
`message.reasoning_content` (some as `reasoning`); it becomes ChatResponse.reasoning, and an
assistant turn's reasoning goes back as `reasoning_content` to those servers (some need it
for tool use), never to OpenAI itself, which keeps its reasoning hidden.
Missing or null details (common with OpenAI-compatible servers) count as zero; a detail larger
than its total (a server bug) is clamped so no bucket goes negative.
"""

import json
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, Literal

import httpx2
import openai
import orjson

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
    retry_after_seconds,
)
from providers.adapters.types import (
    ChatRequest,
    ChatResponse,
    EmbeddingResponse,
    FinishReason,
    ImagePart,
    Message,
    ReasoningDelta,
    ReasoningPart,
    RemoteModel,
    StreamEvent,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
    UsageEvent,
)
from providers.adapters.wire import UpstreamFailure, describe, header

# SDK exception class -> ours; the adapter base walks the raised exception's MRO, so the most
# specific entry wins (a RateLimitError is an APIStatusError, which is an APIError).
ERRORS: Mapping[type[BaseException], type[ProviderError]] = {
    openai.AuthenticationError: ProviderAuthenticationError,
    openai.PermissionDeniedError: ProviderPermissionError,
    openai.NotFoundError: ModelNotFoundError,
    openai.BadRequestError: ProviderBadRequestError,
    openai.UnprocessableEntityError: ProviderBadRequestError,
    openai.RateLimitError: RateLimitedError,
    openai.InternalServerError: ProviderUnavailableError,  # every 5xx
    openai.APIStatusError: ProviderError,  # other 4xx (402, 409...): not retryable
    openai.APIResponseValidationError: MalformedResponseError,
    openai.APITimeoutError: ProviderTimeoutError,
    openai.APIConnectionError: ProviderUnavailableError,
    openai.APIError: ProviderUnavailableError,  # an error event inside a stream
    openai.OpenAIError: ProviderError,
    json.JSONDecodeError: MalformedResponseError,
    httpx2.TimeoutException: ProviderTimeoutError,
    httpx2.TransportError: ProviderUnavailableError,
}
# Structured `code` values of a 400 that deserve their own class.
BAD_REQUEST_CODES: dict[str, type[ProviderError]] = {
    "context_length_exceeded": ContextLengthExceededError,
}
# Kinds that are OpenAI itself: `max_completion_tokens`, and reasoning is never sent back.
OPENAI_KINDS = frozenset({"openai", "azure_openai"})

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",  # the legacy functions API
    "content_filter": "content_filter",
}

# Model-id markers, checked in this order: embedding, then models that are not chat models
# although their family is ("gpt-image-1", "gpt-4o-transcribe"), then chat families.
_EMBEDDING_MARKERS = ("embedding", "embed")
_NOT_CHAT_MARKERS = ("image", "dall-e", "tts", "whisper", "transcribe", "realtime", "moderation")
_CHAT_MARKERS = (
    "gpt-",
    "chatgpt",
    "o1",
    "o3",
    "o4",
    "llama",
    "mistral",
    "mixtral",
    "qwen",
    "gemma",
    "phi",
    "deepseek",
    "claude",
)


# -- request ---------------------------------------------------------------------------
# ChatRequest fields sent as they are, under the same name, when set.
_PASSED_FIELDS = (
    "reasoning_effort",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "top_logprobs",
    "parallel_tool_calls",
    "user",
    "metadata",
    "service_tier",
)


def request_params(request: ChatRequest, *, kind: str) -> dict[str, Any]:
    """Keyword arguments for `chat.completions.create`, leaving out what was not asked for.

    max_tokens goes as "max_completion_tokens" to OpenAI itself (max_tokens is deprecated there
    and refused by reasoning models) and as "max_tokens" to OpenAI-compatible servers, most of
    which know only that name. Assistant turns carry their reasoning back as
    `reasoning_content` to OpenAI-compatible servers only.
    """
    max_tokens_field = "max_completion_tokens" if kind in OPENAI_KINDS else "max_tokens"
    send_reasoning = kind not in OPENAI_KINDS
    params: dict[str, Any] = {
        "model": request.model,
        "messages": [
            message_to_wire(message, send_reasoning=send_reasoning) for message in request.messages
        ],
    }
    if request.tools:
        params["tools"] = [tool_to_wire(tool) for tool in request.tools]
    if request.tool_choice is not None:
        params["tool_choice"] = tool_choice_to_wire(request.tool_choice)
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.top_p is not None:
        params["top_p"] = request.top_p
    if request.max_tokens is not None:
        params[max_tokens_field] = request.max_tokens
    if request.stop:
        params["stop"] = list(request.stop)
    response_format = response_format_to_wire(request)
    if response_format is not None:
        params["response_format"] = response_format
    if request.logprobs:
        params["logprobs"] = True
    for name in _PASSED_FIELDS:
        value = getattr(request, name)
        if value is not None:
            params[name] = value
    return params


def message_to_wire(message: Message, *, send_reasoning: bool = False) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text}
    if message.role == "assistant":
        wire: dict[str, Any] = {"role": "assistant", "content": message.text or None}
        reasoning = "".join(part.text for part in message.reasoning)
        if send_reasoning and reasoning:
            wire["reasoning_content"] = reasoning
        if message.tool_calls:
            wire["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments or "{}"},
                }
                for call in message.tool_calls
            ]
        elif wire["content"] is None:
            wire["content"] = ""
        return wire
    if message.role == "user" and not isinstance(message.content, str):
        return {"role": "user", "content": [_part_to_wire(part) for part in message.content]}
    # system messages take text only; parts are joined.
    return {"role": message.role, "content": message.text}


def _part_to_wire(part: TextPart | ImagePart) -> dict[str, Any]:
    if isinstance(part, ImagePart):
        image: dict[str, Any] = {"url": part.url}
        if part.detail:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    return {"type": "text", "text": part.text}


def tool_to_wire(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def tool_choice_to_wire(choice: ToolChoice) -> str | dict[str, Any]:
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def response_format_to_wire(request: ChatRequest) -> dict[str, Any] | None:
    """json_schema wins over json_output. `json_schema` may be a bare JSON schema or OpenAI's
    own wrapper ({"name", "schema", "strict"}), told apart by a nested "schema" object."""
    schema = request.json_schema
    if schema is not None:
        if isinstance(schema.get("schema"), dict) and "type" not in schema:
            wrapper = {"name": "response", **schema}
        else:
            wrapper = {"name": str(schema.get("title") or "response"), "schema": schema}
        return {"type": "json_schema", "json_schema": wrapper}
    if request.json_output:
        return {"type": "json_object"}
    return None


# -- response ----------------------------------------------------------------------------
# The adapter reads the SDK's raw HTTP response and maps the decoded JSON here, without the
# SDK's pydantic models; `logprobs` and `usage.raw` are kept as sent, minus nulls (as the SDK
# models' `model_dump(exclude_none=True)` gave them).
def loads(data: bytes | str) -> Any:
    """Decoded JSON; a body that is not JSON raises json.JSONDecodeError (orjson's subclasses
    it), which the error table maps to MalformedResponseError."""
    return orjson.loads(data)


def finish_reason_from_wire(value: str | None, *, tool_calls: bool = False) -> FinishReason:
    """OpenAI's finish reason, normalised; anything unknown is a plain stop. (OpenAI names
    tool calls in the reason itself, so `tool_calls` is not needed.)"""
    return FINISH_REASONS.get(value or "stop", "stop")


def usage_from_wire(raw: Any) -> Usage:
    """Non-overlapping buckets from a decoded OpenAI usage object (see the module docstring);
    anything else (absent, null) is no usage."""
    if not isinstance(raw, Mapping):
        return Usage()
    raw = without_nulls(raw)
    prompt = _int(raw.get("prompt_tokens"))
    completion = _int(raw.get("completion_tokens"))
    prompt_details = _mapping(raw.get("prompt_tokens_details"))
    completion_details = _mapping(raw.get("completion_tokens_details"))
    cached = min(_int(prompt_details.get("cached_tokens")), prompt)
    cache_write = min(_int(prompt_details.get("cache_write_tokens")), prompt - cached)
    reasoning = min(_int(completion_details.get("reasoning_tokens")), completion)
    return Usage(
        input_tokens=prompt - cached - cache_write,
        cached_input_tokens=cached,
        cache_write_tokens=cache_write,
        output_tokens=completion - reasoning,
        reasoning_tokens=reasoning,
        raw=raw,
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


_EMPTY: Mapping[str, Any] = MappingProxyType({})


def without_nulls(value: Any) -> Any:
    """A JSON value with the null members of its objects left out, at every depth."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def response_from_wire(raw: Any, *, request_id: str | None = None) -> ChatResponse:
    """A ChatResponse from a decoded chat completion; the first choice is the answer."""
    completion = raw
    choices = completion.get("choices") if isinstance(completion, dict) else None
    choice = choices[0] if isinstance(choices, list) and choices else None
    if not isinstance(choice, dict) or not isinstance(message := choice.get("message"), dict):
        raise MalformedResponseError("The provider answered a chat completion with no choices.")
    tool_calls = tuple(
        call
        for call in (_tool_call(raw) for raw in message.get("tool_calls") or ())
        if call is not None
    )
    reasoning = reasoning_from_wire(message)
    return ChatResponse(
        text=_str(message.get("content")) or _str(message.get("refusal")),
        tool_calls=tool_calls,
        finish_reason=finish_reason_from_wire(choice.get("finish_reason")),
        usage=usage_from_wire(completion.get("usage")),
        model=_str(completion.get("model")),
        request_id=request_id,
        reasoning=(ReasoningPart(text=reasoning),) if reasoning else (),
        logprobs=logprobs_dumped(choice),
    )


def reasoning_from_wire(message_or_delta: Mapping[str, Any]) -> str:
    """The reasoning text an OpenAI-compatible server sent beside the answer."""
    for name in ("reasoning_content", "reasoning"):
        value = message_or_delta.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def logprobs_dumped(choice: Mapping[str, Any]) -> dict[str, Any] | None:
    """A choice's logprobs as sent (rendered back unchanged by /v1), or None."""
    value = choice.get("logprobs")
    if not isinstance(value, dict):
        return None
    return without_nulls(value)


def _tool_call(raw: Any) -> ToolCall | None:
    if not isinstance(raw, dict):
        return None
    function = raw.get("function")
    if isinstance(function, dict):
        return ToolCall(
            id=_str(raw.get("id")),
            name=_str(function.get("name")),
            arguments=_str(function.get("arguments")),
        )
    custom = raw.get("custom")  # custom (free-text) tools: input is the argument
    if isinstance(custom, dict):
        return ToolCall(
            id=_str(raw.get("id")),
            name=_str(custom.get("name")),
            arguments=_str(custom.get("input")),
        )
    return None


def chunk_events(chunk: Any) -> tuple[list[StreamEvent], str | None, str]:
    """A decoded stream chunk's events (choice 0 only, usage last), its finish reason and the
    model it names. Finish is not among the events: the adapter yields it once the stream
    has ended, after the usage chunk that follows the finish reason."""
    if not isinstance(chunk, dict):
        raise MalformedResponseError("The provider streamed a chunk that is not a JSON object.")
    events: list[StreamEvent] = []
    finish_reason = None
    for choice in chunk.get("choices") or ():
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            continue
        finish_reason = finish_reason or choice.get("finish_reason") or None
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            continue
        reasoning = reasoning_from_wire(delta)
        if reasoning:
            events.append(ReasoningDelta(text=reasoning))
        text = _str(delta.get("content")) or _str(delta.get("refusal"))
        if text:
            events.append(TextDelta(text=text, logprobs=logprobs_dumped(choice)))
        for call in delta.get("tool_calls") or ():
            if isinstance(call, dict):
                events.append(_tool_call_delta(call))
    usage = chunk.get("usage")
    if usage is not None:
        events.append(UsageEvent(usage=usage_from_wire(usage)))
    return events, finish_reason, _str(chunk.get("model"))


def _tool_call_delta(call: dict[str, Any]) -> ToolCallDelta:
    function = _mapping(call.get("function"))
    index, call_id, name = call.get("index", 0), call.get("id"), function.get("name")
    return ToolCallDelta(
        index=index if isinstance(index, int) else 0,
        id=call_id if isinstance(call_id, str) else None,
        name=name if isinstance(name, str) else None,
        arguments=_str(function.get("arguments")),
    )


def embeddings_from_wire(
    answer: Any, *, inputs: int, model: str, request_id: str | None, provider: str
) -> EmbeddingResponse:
    """An EmbeddingResponse from a decoded embeddings answer (float encoding), vectors in the
    order of the inputs; a count or a vector that does not fit is malformed."""
    data = answer.get("data") if isinstance(answer, dict) else None
    items = [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
    if len(items) != inputs:
        raise MalformedResponseError(
            f"The provider answered {len(items)} embeddings for {inputs} inputs.",
            provider=provider,
        )
    try:
        items.sort(key=lambda item: item.get("index", 0))
        vectors = tuple(tuple(map(float, item["embedding"])) for item in items)
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedResponseError(
            "The provider answered an embedding that is not a list of numbers.",
            provider=provider,
        ) from exc
    usage = answer.get("usage")
    if isinstance(usage, dict):
        raw = without_nulls(usage)
        usage_read = Usage(input_tokens=_int(raw.get("prompt_tokens")), raw=raw)
    else:
        usage_read = Usage()
    return EmbeddingResponse(
        vectors=vectors,
        usage=usage_read,
        model=_str(answer.get("model")) or model,
        request_id=request_id,
    )


def sse_data(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The `data` of each server-sent event in a byte stream, read as the SDK's decoder reads
    it: lines end in LF, CRLF or CR; a blank line ends an event (one with data, an event name,
    a retry, or after any id); data lines are joined by LF; comments and unknown fields are
    skipped; an unterminated last event is dropped."""
    buffer = b""
    data: list[bytes] = []
    named = False  # an `event` or valid `retry` field in this event
    has_id = False  # an `id` was seen: from then on every blank line ends an event
    skip_lf = False
    for chunk in chunks:
        if skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        skip_lf = False
        if b"\r" in chunk:
            skip_lf = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = (buffer + chunk).split(b"\n") if buffer else chunk.split(b"\n")
        buffer = lines.pop()
        for line in lines:
            if line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value[:1] == b" " else value)
            elif not line:
                if data or named or has_id:
                    yield b"\n".join(data)
                    data = []
                    named = False
            elif line[:1] != b":":
                field, _, value = line.partition(b":")
                value = value[1:] if value[:1] == b" " else value
                if field == b"data":
                    data.append(value)
                elif field == b"event":
                    named = named or bool(value)
                elif field == b"retry":
                    named = named or value.strip().lstrip(b"+-").isdigit()
                elif field == b"id" and b"\0" not in value:
                    has_id = True


# -- models ------------------------------------------------------------------------------
def model_kind(model_id: str) -> Literal["chat", "embedding", "unknown"]:
    """Guess a listed model's kind from its id: OpenAI's models list says nothing else."""
    name = model_id.lower().rsplit("/", 1)[-1]
    if any(marker in name for marker in _EMBEDDING_MARKERS):
        return "embedding"
    if any(marker in name for marker in _NOT_CHAT_MARKERS):
        return "unknown"
    if any(name.startswith(marker) or f"-{marker}" in name for marker in _CHAT_MARKERS):
        return "chat"
    return "unknown"


def remote_model(model: Any) -> RemoteModel:
    return RemoteModel(id=model.id, display_name=model.id, kind=model_kind(model.id))


# -- errors ----------------------------------------------------------------------------------
def error_class(exc: BaseException, mapped: type[ProviderError]) -> type[ProviderError]:
    """A 400 whose structured `code` has a class of its own; otherwise the table's class."""
    if isinstance(exc, openai.BadRequestError) and exc.code in BAD_REQUEST_CODES:
        return BAD_REQUEST_CODES[exc.code]
    return mapped


def error_fields(exc: BaseException) -> UpstreamFailure:
    """Status, Retry-After (retry-after-ms too) and x-request-id, and the provider's message."""
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) if response is not None else None
    request_id = getattr(exc, "request_id", None) or header(headers, "x-request-id")
    return UpstreamFailure(
        detail=error_detail(exc),
        status=status if isinstance(status, int) else None,
        retry_after=retry_after_seconds(headers),
        request_id=request_id,
    )


def error_detail(exc: BaseException) -> str:
    """The provider's own message when it sent one, else the exception's text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return body["message"]
    return str(exc) or describe(exc)
