"""Mapping between the plain adapter types and Anthropic's Messages wire format.

Kept apart from the adapter (which owns the client, streaming and errors) so that the wire
shapes can be read, and changed, in one place.

Requests:
- System messages, wherever they appear, are joined into the `system` parameter.
- Other turns become user/assistant messages of content blocks; consecutive turns of one role
  are merged, tool results ("tool" messages) become `tool_result` blocks of a user turn and are
  put before any text in that turn, as Anthropic requires after a `tool_use`.
- `max_tokens` is mandatory on Anthropic: request.max_tokens, else DEFAULT_MAX_TOKENS.
- temperature and top_p are NOT sent: the installed SDK (anthropic 2.12, API version
  2026-10-21) has no sampling parameters on messages.create any more, so a value a client
  sends out of habit (OpenAI clients often do) is dropped rather than failing every call.
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

from providers.adapters.errors import InvalidRequestError
from providers.adapters.types import (
    ChatRequest,
    ChatResponse,
    FinishReason,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    Usage,
)

DEFAULT_MAX_TOKENS = 4096
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


def finish_reason(stop_reason: str | None) -> FinishReason:
    """Anthropic's stop_reason in the shared vocabulary; an unknown reason counts as stop."""
    return FINISH_REASONS.get(stop_reason or "", "stop")


def usage_from_wire(raw: Mapping[str, Any]) -> Usage:
    """Usage buckets from an Anthropic usage object (see the module docstring)."""
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


def response_from_message(message: Any) -> ChatResponse:
    """A ChatResponse from the SDK's Message; thinking and server-tool blocks are not text."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            calls.append(ToolCall(id=block.id, name=block.name, arguments=json.dumps(block.input)))
    usage = message.usage.model_dump(exclude_none=True) if message.usage else {}
    return ChatResponse(
        text="".join(texts),
        tool_calls=tuple(calls),
        finish_reason=finish_reason(message.stop_reason),
        usage=usage_from_wire(usage),
        model=message.model,
        request_id=getattr(message, "_request_id", None),
    )


# -- requests --------------------------------------------------------------------------------
def request_params(request: ChatRequest) -> dict[str, Any]:
    """Keyword arguments for `client.messages.create` (without `stream`)."""
    messages = wire_messages(request.messages)
    if not messages:
        raise InvalidRequestError("Anthropic needs at least one user or assistant message.")
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": messages,
    }
    system = [m.text for m in request.messages if m.role == "system" and m.text]
    schema = _schema_of(request.json_schema)
    if schema is not None:
        params["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    elif request.json_output:
        system.append(JSON_INSTRUCTION)
    if system:
        params["system"] = "\n\n".join(system)
    if request.tools:
        params["tools"] = [
            {
                "name": tool.name,
                **({"description": tool.description} if tool.description else {}),
                "input_schema": tool.parameters,
            }
            for tool in request.tools
        ]
        if request.tool_choice is not None:
            params["tool_choice"] = _tool_choice(request.tool_choice.mode, request.tool_choice.name)
    if request.stop:
        params["stop_sequences"] = list(request.stop)
    return params


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
        return [
            {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": message.content
                if isinstance(message.content, str)
                else _content_blocks(index, message.content),
            }
        ]
    blocks = _content_blocks(index, message.content)
    if message.role == "assistant":
        for position, call in enumerate(message.tool_calls):
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.id,
                    "name": call.name,
                    "input": _arguments(index, position, call.arguments),
                }
            )
    return blocks


def _content_blocks(index: int, content: str | tuple[Any, ...]) -> list[dict[str, Any]]:
    """Text and image blocks; empty text is dropped (Anthropic refuses empty text blocks)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            if part.text:
                blocks.append({"type": "text", "text": part.text})
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
