"""Results -> OpenAI's response, chunk and embedding shapes, whichever provider served.

`model` in every body is the model string that served ("anthropic:claude-sonnet-4-5"), so a
client that asked for a service name can see what answered; the x-served-model header says
the same.

Reasoning is rendered as OpenAI-compatible servers (vLLM, DeepSeek) do: `reasoning_content`
on the message or the chunk's delta. Anthropic's signed and redacted thinking blocks also go
out as `thinking_blocks` (as OpenAI-compatible gateways name them), for the client to send
back on the assistant turn when it continues a tool-use conversation.
"""

import base64
import struct
import time
from collections.abc import Iterator
from typing import Any

from chat.http import sse_event, stream_error
from chat.services import ChatStream
from chat.types import ChatResult, EmbeddingResult
from chat.v1.errors import openai_error_from
from providers.adapters.types import (
    ChatResponse,
    Finish,
    ReasoningDelta,
    ReasoningPart,
    TextDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)


def usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def _tool_call_json(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def completion_id(request_id: str) -> str:
    return "chatcmpl-" + request_id.removeprefix("req_")


def completion_json(result: ChatResult) -> dict[str, Any]:
    response: ChatResponse = result.response
    message: dict[str, Any] = {
        "role": "assistant",
        "content": response.text if response.text or not response.tool_calls else None,
        "refusal": None,
    }
    if response.tool_calls:
        message["tool_calls"] = [_tool_call_json(call) for call in response.tool_calls]
    if response.reasoning:
        message["reasoning_content"] = response.reasoning_text
        blocks = [thinking_block_json(part) for part in response.reasoning if part.signed]
        if blocks:
            message["thinking_blocks"] = blocks
    return {
        "id": completion_id(result.request_id),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": result.served_by.model_string,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": response.logprobs,
                "finish_reason": response.finish_reason,
            }
        ],
        "usage": usage_json(response.usage),
        "system_fingerprint": None,
    }


def completion_chunks(stream: ChatStream, *, include_usage: bool) -> Iterator[bytes]:
    """The stream as OpenAI chunks; a provider error mid-stream becomes an error event (the
    OpenAI SDK raises it as an APIError) and the stream ends without [DONE]."""
    base = {
        "id": completion_id(stream.request_id),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": stream.served_by.model_string,
        "system_fingerprint": None,
    }

    def chunk(
        delta: dict[str, Any], finish_reason: str | None = None, logprobs: Any = None
    ) -> bytes:
        payload = {
            **base,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            payload["usage"] = None
        return sse_event(payload)

    yield chunk({"role": "assistant", "content": ""})
    try:
        for event in stream:
            if isinstance(event, TextDelta):
                if event.text:
                    yield chunk({"content": event.text}, logprobs=event.logprobs)
            elif isinstance(event, ReasoningDelta):
                if event.text:
                    yield chunk({"reasoning_content": event.text})
                if event.part is not None and event.part.signed:
                    yield chunk({"thinking_blocks": [thinking_block_json(event.part)]})
            elif isinstance(event, ToolCallDelta):
                yield chunk({"tool_calls": [_tool_call_delta_json(event)]})
            elif isinstance(event, Finish):
                yield chunk({}, event.finish_reason)
    except Exception as exc:
        error = stream_error(exc)
        yield sse_event(openai_error_from(error, request_id=stream.request_id))
        return
    if include_usage:
        yield sse_event({**base, "choices": [], "usage": usage_json(stream.usage or Usage())})
    yield sse_event("[DONE]")


def thinking_block_json(part: ReasoningPart) -> dict[str, Any]:
    """A signed or redacted thinking block as clients send it back (chat.v1.options)."""
    if part.redacted:
        return {"type": "redacted_thinking", "data": part.redacted}
    return {"type": "thinking", "thinking": part.text, "signature": part.signature}


def _tool_call_delta_json(event: ToolCallDelta) -> dict[str, Any]:
    delta: dict[str, Any] = {"index": event.index}
    function: dict[str, Any] = {"arguments": event.arguments}
    if event.id:
        delta["id"] = event.id
        delta["type"] = "function"
    if event.name:
        function["name"] = event.name
    delta["function"] = function
    return delta


def embeddings_json(result: EmbeddingResult, *, encoding: str) -> dict[str, Any]:
    def encoded(vector: tuple[float, ...]) -> Any:
        if encoding == "base64":
            return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        return list(vector)

    usage = result.response.usage
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": encoded(vector)}
            for index, vector in enumerate(result.response.vectors)
        ],
        "model": result.served_by.model_string,
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens},
    }
