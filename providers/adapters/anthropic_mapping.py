"""Mapping between the plain adapter types and Anthropic's Messages wire format.

Kept apart from the adapter (which owns the client and the stream state) so that the wire
shapes can be read, and changed, in one place. Exposes the functions every wire mapping has
(adapters.wire.WireMapping), the error table among them. The Bedrock and Vertex Claude clients
raise the same SDK exceptions and speak the same Messages body, so they use this mapping too.

Errors: Anthropic answers an over-long prompt with a plain 400 invalid_request_error and no
structured code (only the message text says "prompt is too long"), so it surfaces as
ProviderBadRequestError; it becomes ContextLengthExceededError only when the body carries a
structured `error.details.error_code` in CONTEXT_LENGTH_ERROR_CODES.

Requests:
- System messages, wherever they appear, are joined into the `system` parameter.
- Other turns become user/assistant messages of content blocks; consecutive turns of one role
  are merged, tool results ("tool" messages) become `tool_result` blocks of a user turn and are
  put before any text in that turn, as Anthropic requires after a `tool_use`.
- `max_tokens` is mandatory on Anthropic: request.max_tokens, else DEFAULT_MAX_TOKENS.
- temperature and top_p are NOT sent: the installed SDK (anthropic 2.12, API version
  2026-10-21) has no sampling parameters on messages.create any more, so a value a client
  sends out of habit (OpenAI clients often do) is dropped rather than failing every call.
- reasoning_effort becomes extended thinking, `thinking: {"type": "enabled", "budget_tokens"}`
  with THINKING_BUDGETS tokens ("none" disables it). Thinking counts toward max_tokens, as
  reasoning counts toward OpenAI's max_completion_tokens: a client's max_tokens stays the cap
  and the budget is cut to fit below it (400 if not even MIN_THINKING_BUDGET fits); without
  one, max_tokens is the budget plus DEFAULT_MAX_TOKENS for the answer. Anthropic refuses
  thinking with a forced tool choice, so that pair is a 400 naming tool_choice.
- Thinking round trip: an assistant turn's signed (or redacted) thinking goes back first in its
  content, unchanged, as Anthropic requires when that turn used tools; unsigned reasoning
  (from another provider) is not sent.
- Prompt caching: `cache_control` on a message (its last block), a content part or a tool is
  sent on that block or tool; with request.cache_prompt (a selection's option) the system
  prompt's last block and the last tool get an ephemeral breakpoint too. A system prompt with
  a breakpoint is sent as text blocks, otherwise as one string.
- user -> metadata.user_id; parallel_tool_calls=false -> tool_choice.disable_parallel_tool_use;
  service_tier auto -> auto, default -> standard_only (see adapters.params for the rest).
- JSON output: with a schema, Anthropic's structured outputs (`output_config.format`, type
  json_schema) constrain the answer. Without a schema Anthropic has no "any JSON" mode, so a
  system instruction (JSON_INSTRUCTION) steers the model instead.

Usage (Anthropic counts cache reads and writes OUTSIDE input_tokens, unlike OpenAI):
- input_tokens             -> Usage.input_tokens (uncached input, full price)
- cache_read_input_tokens  -> Usage.cached_input_tokens
- cache_creation_input_tokens -> Usage.cache_write_tokens
- output_tokens            -> Usage.output_tokens. Thinking tokens are billed inside
  output_tokens; when the API breaks them out (output_tokens_details.thinking_tokens) they
  move to Usage.reasoning_tokens and out of output_tokens, so the buckets never overlap.
  Without that breakdown reasoning_tokens is 0.
The wire usage dict is kept in Usage.raw.
"""

import json
from collections.abc import Mapping
from typing import Any

import anthropic
import httpx2

from providers.adapters.errors import (
    ContextLengthExceededError,
    InvalidRequestError,
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
from providers.adapters.params import ANTHROPIC_SERVICE_TIERS
from providers.adapters.types import (
    CacheControl,
    ChatRequest,
    ChatResponse,
    FinishReason,
    ImagePart,
    Message,
    ReasoningPart,
    TextPart,
    ToolCall,
    Usage,
)
from providers.adapters.wire import UpstreamFailure, describe

# SDK exception class -> ours, looked up along the raised exception's MRO.
ERRORS: Mapping[type[BaseException], type[ProviderError]] = {
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

DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024  # Anthropic's minimum budget_tokens
THINKING_BUDGETS = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 32768,
}
EPHEMERAL: CacheControl = {"type": "ephemeral"}
JSON_INSTRUCTION = (
    "Respond with a single valid JSON value and nothing else: no prose, no code fences."
)

FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason_from_wire(value: str | None, *, tool_calls: bool = False) -> FinishReason:
    """Anthropic's stop_reason in the shared vocabulary; an unknown reason counts as stop.
    (Anthropic names tool use in the reason itself, so `tool_calls` is not needed.)"""
    return FINISH_REASONS.get(value or "", "stop")


def usage_from_wire(raw: Any) -> Usage:
    """Usage buckets from an Anthropic usage object or dict (see the module docstring)."""
    if raw is None:
        return Usage()
    if not isinstance(raw, Mapping):
        raw = raw.model_dump(exclude_none=True)
    output = int(raw.get("output_tokens") or 0)
    details = raw.get("output_tokens_details") or {}
    thinking = min(output, int(details.get("thinking_tokens") or 0))
    return Usage(
        input_tokens=int(raw.get("input_tokens") or 0),
        cached_input_tokens=int(raw.get("cache_read_input_tokens") or 0),
        cache_write_tokens=int(raw.get("cache_creation_input_tokens") or 0),
        output_tokens=output - thinking,
        reasoning_tokens=thinking,
        raw=dict(raw),
    )


def response_from_wire(raw: Any, *, request_id: str | None = None) -> ChatResponse:
    """A ChatResponse from the SDK's Message; thinking blocks are its reasoning, server-tool
    blocks are dropped."""
    message = raw
    texts: list[str] = []
    calls: list[ToolCall] = []
    reasoning: list[ReasoningPart] = []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            calls.append(ToolCall(id=block.id, name=block.name, arguments=json.dumps(block.input)))
        elif block.type == "thinking":
            reasoning.append(ReasoningPart(text=block.thinking, signature=block.signature))
        elif block.type == "redacted_thinking":
            reasoning.append(ReasoningPart(redacted=block.data))
    return ChatResponse(
        text="".join(texts),
        tool_calls=tuple(calls),
        finish_reason=finish_reason_from_wire(message.stop_reason),
        usage=usage_from_wire(message.usage),
        model=message.model,
        request_id=request_id or getattr(message, "_request_id", None),
        reasoning=tuple(reasoning),
    )


# -- requests --------------------------------------------------------------------------------
def request_params(request: ChatRequest, *, kind: str) -> dict[str, Any]:
    """Keyword arguments for `client.messages.create` (without `stream`); the same for every
    kind that speaks Messages (the Bedrock and Vertex clients move `model` into the path)."""
    messages = wire_messages(request.messages)
    if not messages:
        raise InvalidRequestError("Anthropic needs at least one user or assistant message.")
    thinking, max_tokens = thinking_params(request)
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": max_tokens,
        "messages": messages,
    }
    if thinking is not None:
        params["thinking"] = thinking
    schema = _schema_of(request.json_schema)
    if schema is not None:
        params["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    system = _system(request, json_instruction=schema is None and request.json_output)
    if system:
        params["system"] = system
    if request.tools:
        params["tools"] = tools_to_wire(request)
        choice = _tool_choice_param(request)
        if choice is not None:
            params["tool_choice"] = choice
    if request.stop:
        params["stop_sequences"] = list(request.stop)
    if request.user:
        params["metadata"] = {"user_id": request.user}
    if request.service_tier in ANTHROPIC_SERVICE_TIERS:
        params["service_tier"] = ANTHROPIC_SERVICE_TIERS[request.service_tier]
    return params


def thinking_params(request: ChatRequest) -> tuple[dict[str, Any] | None, int]:
    """(the `thinking` parameter or None, max_tokens) for the request's reasoning_effort."""
    effort = request.reasoning_effort
    if effort is None:
        return None, request.max_tokens or DEFAULT_MAX_TOKENS
    if effort == "none":
        return {"type": "disabled"}, request.max_tokens or DEFAULT_MAX_TOKENS
    choice = request.tool_choice
    if request.tools and choice is not None and choice.mode in ("required", "tool"):
        raise InvalidRequestError(
            "Anthropic models cannot think (reasoning_effort) while forced to call a tool: "
            "use tool_choice 'auto' or 'none', or leave reasoning_effort out.",
            details={"param": "tool_choice"},
        )
    budget = THINKING_BUDGETS[effort]
    if request.max_tokens is None:
        return {"type": "enabled", "budget_tokens": budget}, budget + DEFAULT_MAX_TOKENS
    budget = min(budget, request.max_tokens - 1)
    if budget < MIN_THINKING_BUDGET:
        raise InvalidRequestError(
            f"reasoning_effort needs max_tokens above {MIN_THINKING_BUDGET} on Anthropic "
            "models: thinking uses at least that many of the answer's tokens.",
            details={"param": "reasoning_effort"},
        )
    return {"type": "enabled", "budget_tokens": budget}, request.max_tokens


def _system(request: ChatRequest, *, json_instruction: bool) -> str | list[dict[str, Any]]:
    """The system prompt: one string, or text blocks when it carries a cache breakpoint."""
    blocks = system_blocks(request)
    if json_instruction:
        blocks.append({"type": "text", "text": JSON_INSTRUCTION})
    if blocks and request.cache_prompt and "cache_control" not in blocks[-1]:
        blocks[-1] = _cached(blocks[-1], EPHEMERAL)
    if any("cache_control" in block for block in blocks):
        return blocks
    texts = [m.text for m in request.messages if m.role == "system" and m.text]
    return "\n\n".join([*texts, JSON_INSTRUCTION] if json_instruction else texts)


def system_blocks(request: ChatRequest) -> list[dict[str, Any]]:
    """The system messages as text blocks, keeping their cache breakpoints."""
    blocks: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role != "system":
            continue
        if isinstance(message.content, str):
            if message.content:
                blocks.append({"type": "text", "text": message.content})
        else:
            blocks.extend(
                _cached({"type": "text", "text": part.text}, part.cache_control)
                for part in message.content
                if isinstance(part, TextPart) and part.text
            )
        if message.cache_control and blocks:
            blocks[-1] = _cached(blocks[-1], message.cache_control)
    return blocks


def tools_to_wire(request: ChatRequest) -> list[dict[str, Any]]:
    tools = [
        _cached(
            {
                "name": tool.name,
                **({"description": tool.description} if tool.description else {}),
                "input_schema": tool.parameters,
            },
            tool.cache_control,
        )
        for tool in request.tools
    ]
    if request.cache_prompt and "cache_control" not in tools[-1]:
        tools[-1] = _cached(tools[-1], EPHEMERAL)
    return tools


def _tool_choice_param(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None and request.parallel_tool_calls is not False:
        return None
    wire: dict[str, Any] = (
        _tool_choice(choice.mode, choice.name) if choice is not None else {"type": "auto"}
    )
    if request.parallel_tool_calls is False and wire["type"] != "none":
        wire["disable_parallel_tool_use"] = True
    return wire


def _cached(block: dict[str, Any], cache_control: CacheControl | None) -> dict[str, Any]:
    return {**block, "cache_control": cache_control} if cache_control else block


def wire_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """User/assistant turns of content blocks, merged so that roles alternate."""
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(index, message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":
            # tool_result blocks must open the user turn that follows a tool_use.
            turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    return turns


def _blocks(index: int, message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        result = {
            "type": "tool_result",
            "tool_use_id": message.tool_call_id,
            "content": message.content
            if isinstance(message.content, str)
            else _content_blocks(index, message.content),
        }
        return [_cached(result, message.cache_control)]
    blocks = _content_blocks(index, message.content)
    if message.role == "assistant":
        blocks[:0] = [_thinking_block(part) for part in message.reasoning if part.signed]
        for position, call in enumerate(message.tool_calls):
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.id,
                    "name": call.name,
                    "input": _arguments(index, position, call.arguments),
                }
            )
    if message.cache_control and blocks:
        blocks[-1] = _cached(blocks[-1], message.cache_control)
    return blocks


def _thinking_block(part: ReasoningPart) -> dict[str, Any]:
    if part.redacted:
        return {"type": "redacted_thinking", "data": part.redacted}
    return {"type": "thinking", "thinking": part.text, "signature": part.signature}


def _content_blocks(index: int, content: str | tuple[Any, ...]) -> list[dict[str, Any]]:
    """Text and image blocks; empty text is dropped (Anthropic refuses empty text blocks)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            if part.text:
                blocks.append(_cached({"type": "text", "text": part.text}, part.cache_control))
        elif isinstance(part, ImagePart):
            blocks.append({"type": "image", "source": _image_source(index, part)})
    return blocks


def _image_source(index: int, part: ImagePart) -> dict[str, Any]:
    if part.is_data_url:
        media_type, data = part.data_parts()
        return {"type": "base64", "media_type": media_type, "data": data}
    if part.url.startswith(("https://", "http://")):
        return {"type": "url", "url": part.url}
    raise InvalidRequestError(
        f"messages[{index}] has an image that is neither an http(s) URL nor a data: URL."
    )


def _arguments(index: int, position: int, arguments: str) -> dict[str, Any]:
    """Anthropic wants tool_use input as an object, not the JSON text OpenAI carries."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise InvalidRequestError(
            f"messages[{index}].tool_calls[{position}].arguments must be a JSON object."
        )
    return value


def _tool_choice(mode: str, name: str | None) -> dict[str, Any]:
    if mode == "required":
        return {"type": "any"}
    if mode == "tool":
        return {"type": "tool", "name": name}
    return {"type": mode}  # "auto" and "none" have the same names on Anthropic


def _schema_of(json_schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON schema itself, also when given OpenAI-style as {"name", "schema", ...}."""
    if json_schema is None:
        return None
    if "schema" in json_schema and "name" in json_schema:
        return json_schema["schema"]
    return json_schema


# -- errors ----------------------------------------------------------------------------------
def error_class(exc: BaseException, mapped: type[ProviderError]) -> type[ProviderError]:
    """A 400 with a structured context-length code is ContextLengthExceededError."""
    if (
        mapped is ProviderBadRequestError
        and isinstance(exc, anthropic.APIStatusError)
        and exc.error_code in CONTEXT_LENGTH_ERROR_CODES
    ):
        return ContextLengthExceededError
    return mapped


def error_fields(exc: BaseException) -> UpstreamFailure:
    """Status, Retry-After, request-id and Anthropic's error type, message and code."""
    if not isinstance(exc, anthropic.APIStatusError):
        return UpstreamFailure(detail=describe(exc))
    error_type, message, error_code = status_error_fields(exc)
    return UpstreamFailure(
        detail=f"{error_type}: {message}",
        status=exc.status_code,
        retry_after=retry_after_seconds(exc.response.headers),
        request_id=exc.request_id,
        extra={"upstream_type": error_type, "upstream_code": error_code},
    )


def status_error_fields(exc: anthropic.APIStatusError) -> tuple[str, str, str | None]:
    """(error.type, error.message, error.details.error_code) from an Anthropic error body."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if not isinstance(error, dict):
        error = {}
    error_type = str(error.get("type") or exc.type or "error")
    message = str(error.get("message") or exc.api_message or "no message")
    return error_type, message, exc.error_code
