"""The Response object and its output items, in the shapes the openai SDK's types parse.

`model` is the model string that served ("anthropic:claude-haiku-4-5"), as on /v1/chat, so a
client that asked for a service name sees what answered.
"""

import time
import uuid
from typing import TYPE_CHECKING, Any

from providers.adapters.types import ChatResponse, FinishReason, Usage

if TYPE_CHECKING:
    from chat.responses_api.services import ResponseCall

# Why a response stopped short, as Response.incomplete_details.reason.
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def status_for(finish_reason: FinishReason | None) -> str:
    return "incomplete" if finish_reason in _INCOMPLETE else "completed"


def usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_input_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, text: str | None, status: str) -> dict[str, Any]:
    """An assistant message item; `text` None is an item with no content part yet."""
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [] if text is None else [text_part(text)],
    }


def function_call_item(
    item_id: str, *, call_id: str, name: str, arguments: str, status: str
) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def output_items(response: ChatResponse) -> list[dict[str, Any]]:
    """A reply as output items: its text as one message (also when empty and there are no
    calls, so output_text is ""), then one function_call item per tool call."""
    status = "incomplete" if response.finish_reason in _INCOMPLETE else "completed"
    items = []
    if response.text or not response.tool_calls:
        items.append(message_item(new_id("msg"), response.text, status))
    items.extend(
        function_call_item(
            new_id("fc"),
            call_id=call.id or new_id("call"),
            name=call.name,
            arguments=call.arguments,
            status="completed",
        )
        for call in response.tool_calls
    )
    return items


def response_json(
    call: "ResponseCall",
    *,
    model: str,
    status: str,
    output: list[dict[str, Any]],
    usage: Usage | None,
    finish_reason: FinishReason | None = None,
) -> dict[str, Any]:
    """The Response object: in progress (no usage yet) or finished."""
    request = call.request
    reason = _INCOMPLETE.get(finish_reason or "")
    finished = status in ("completed", "incomplete")
    return {
        "id": call.response_id,
        "object": "response",
        "created_at": call.created_at,
        "completed_at": int(time.time()) if finished else None,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": reason} if reason and status == "incomplete" else None,
        "instructions": request.instructions,
        "max_output_tokens": request.chat.max_tokens,
        "metadata": request.metadata,
        "model": model,
        "output": output,
        "parallel_tool_calls": request.parallel_tool_calls,
        "previous_response_id": request.previous_response_id,
        "reasoning": {"effort": None, "summary": None},
        "store": request.store,
        "temperature": request.chat.temperature,
        "text": {"format": request.text_format},
        "tool_choice": request.tool_choice,
        "tools": request.tools,
        "top_p": request.chat.top_p,
        "truncation": request.truncation,
        "usage": usage_json(usage) if usage is not None else None,
        "user": request.user,
    }
