"""Results -> Anthropic's message object and its server-sent event stream, whichever
provider served.

`model` echoes what the caller asked for (a service name or a model string), as Anthropic
echoes the model of the request; the x-served-model header says which model string served.

Usage is rendered in Anthropic's non-overlapping buckets, which are the plain Usage buckets:
input_tokens (uncached input), cache_read_input_tokens, cache_creation_input_tokens, and
output_tokens with reasoning included (Anthropic bills thinking inside output_tokens).

The stream follows Anthropic's sequence: message_start (usage known so far: the input counts
when the provider reports them first, as Anthropic does), ping, per block content_block_start
/ content_block_delta (text_delta, input_json_delta) / content_block_stop, then message_delta
(stop_reason and the final cumulative usage, input counts included, which the SDK takes over
message_start's) and message_stop. An error after the headers went out is an `error` event.
"""

import json
import uuid
from collections.abc import Iterator
from typing import Any

from chat.anthropic_api.errors import anthropic_error_from
from chat.http import sse_event, stream_error
from chat.runtime.streaming import ChatStream
from chat.types import ChatResult
from providers.adapters.types import (
    ChatResponse,
    FinishReason,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)

STOP_REASONS: dict[FinishReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "error": "end_turn",
}


def stop_reason(finish_reason: FinishReason | None) -> str:
    """Anthropic's stop_reason. A stop sequence ends as "stop" in the plain vocabulary, so it
    is reported as end_turn (the plain types do not say which sequence matched)."""
    return STOP_REASONS.get(finish_reason or "stop", "end_turn")


def usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
        "output_tokens": usage.completion_tokens,
    }


def message_id(request_id: str) -> str:
    return "msg_" + (request_id.removeprefix("req_") or uuid.uuid4().hex)


def tool_input(call: ToolCall) -> dict[str, Any]:
    """A tool call's arguments as the object Anthropic carries; text that is not a JSON object
    (a model's malformed arguments) is kept under "arguments" rather than lost."""
    try:
        value = json.loads(call.arguments) if call.arguments.strip() else {}
    except json.JSONDecodeError:
        value = None
    return value if isinstance(value, dict) else {"arguments": call.arguments}


def content_json(response: ChatResponse) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if response.text or not response.tool_calls:
        blocks.append({"type": "text", "text": response.text})
    blocks.extend(
        {"type": "tool_use", "id": call.id, "name": call.name, "input": tool_input(call)}
        for call in response.tool_calls
    )
    return blocks


def message_json(result: ChatResult, *, model: str) -> dict[str, Any]:
    response = result.response
    return {
        "id": message_id(result.request_id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content_json(response),
        "stop_reason": stop_reason(response.finish_reason),
        "stop_sequence": None,
        "usage": usage_json(response.usage),
    }


def _event(name: str, data: dict[str, Any]) -> bytes:
    return sse_event({"type": name, **data}, name)


class _Blocks:
    """Which content block is open; tool call ordinals -> their block index."""

    def __init__(self) -> None:
        self.count = 0
        self.open: tuple[str, int] | None = None  # ("text", -1) or ("tool", ordinal)
        self.tool_blocks: dict[int, int] = {}

    def close(self) -> Iterator[bytes]:
        if self.open is not None:
            self.open = None
            yield _event("content_block_stop", {"index": self.count - 1})

    def start(self, key: tuple[str, int], block: dict[str, Any]) -> Iterator[bytes]:
        yield from self.close()
        self.open = key
        self.count += 1
        yield _event("content_block_start", {"index": self.count - 1, "content_block": block})

    def text(self, event: TextDelta) -> Iterator[bytes]:
        if not event.text:
            return
        if self.open != ("text", -1):
            yield from self.start(("text", -1), {"type": "text", "text": ""})
        delta = {"type": "text_delta", "text": event.text}
        yield _event("content_block_delta", {"index": self.count - 1, "delta": delta})

    def tool(self, event: ToolCallDelta) -> Iterator[bytes]:
        if event.index not in self.tool_blocks:
            block = {
                "type": "tool_use",
                "id": event.id or "",
                "name": event.name or "",
                "input": {},
            }
            yield from self.start(("tool", event.index), block)
            self.tool_blocks[event.index] = self.count - 1
        if event.arguments:
            # A fragment of an earlier call (never sent in order by the providers served
            # today) still names its own block: the SDK appends by index.
            delta = {"type": "input_json_delta", "partial_json": event.arguments}
            index = self.tool_blocks[event.index]
            yield _event("content_block_delta", {"index": index, "delta": delta})


def message_events(stream: ChatStream, *, model: str) -> Iterator[bytes]:
    """The stream as Anthropic's events; a provider error mid-stream becomes an `error` event
    (the SDK raises it as an APIStatusError) and the stream ends without message_stop."""
    start: dict[str, Any] = {
        "id": message_id(stream.request_id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage_json(stream.usage or Usage()),
    }
    yield _event("message_start", {"message": start})
    yield _event("ping", {})
    blocks = _Blocks()
    try:
        for event in stream:
            if isinstance(event, TextDelta):
                yield from blocks.text(event)
            elif isinstance(event, ToolCallDelta):
                yield from blocks.tool(event)
    except Exception as exc:
        error = stream_error(exc)
        yield _event("error", anthropic_error_from(error, request_id=stream.request_id))
        return
    yield from blocks.close()
    delta = {"stop_reason": stop_reason(stream.finish_reason), "stop_sequence": None}
    yield _event("message_delta", {"delta": delta, "usage": usage_json(stream.usage or Usage())})
    yield _event("message_stop", {})
