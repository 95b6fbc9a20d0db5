"""Stored conversations: internal messages <-> JSON, and a response's output as a message.

The JSON is the chat-completions-like shape the conversation API already stores (content as
text or a list of text/image_url parts), read back through the same content parser, so a
stored row stays readable by code that knows only that shape.
"""

import dataclasses
from typing import Any

from chat.content import content_parse
from providers.adapters.types import ImagePart, Message, TextPart, ToolCall


def _content_dump(message: Message) -> Any:
    if isinstance(message.content, str):
        return message.content
    parts: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, TextPart):
            parts.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            parts.append(
                {"type": "image_url", "image_url": {"url": part.url, "detail": part.detail}}
            )
    return parts


def message_dump(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = {"role": message.role, "content": _content_dump(message)}
    if message.tool_calls:
        data["tool_calls"] = [
            {"id": call.id, "name": call.name, "arguments": call.arguments}
            for call in message.tool_calls
        ]
    if message.tool_call_id:
        data["tool_call_id"] = message.tool_call_id
    if message.name:
        data["name"] = message.name
    return data


def message_load(data: dict[str, Any]) -> Message:
    return Message(
        role=data["role"],
        content=content_parse(data.get("content"), "content"),
        tool_calls=tuple(ToolCall(**call) for call in data.get("tool_calls", ())),
        tool_call_id=data.get("tool_call_id"),
        name=data.get("name"),
    )


def conversation_dump(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    return [message_dump(message) for message in messages]


def conversation_load(data: list[dict[str, Any]]) -> tuple[Message, ...]:
    return tuple(message_load(item) for item in data)


def output_message(output: list[dict[str, Any]]) -> Message | None:
    """The assistant turn a response's output items make, for the next response to continue
    (None when the output is empty)."""
    text = "".join(
        part.get("text", "")
        for item in output
        if item["type"] == "message"
        for part in item["content"]
        if part.get("type") == "output_text"
    )
    calls = tuple(
        ToolCall(id=item["call_id"], name=item["name"], arguments=item["arguments"])
        for item in output
        if item["type"] == "function_call"
    )
    if not text and not calls:
        return None
    return Message(role="assistant", content=text, tool_calls=calls)


def tool_names_filled(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    """Tool results named after the call they answer: function_call_output items carry only
    the call id, and some providers (Gemini) need the function's name too."""
    names: dict[str, str] = {}
    filled = []
    for message in messages:
        for call in message.tool_calls:
            names[call.id] = call.name
        if message.role == "tool" and not message.name and message.tool_call_id in names:
            message = dataclasses.replace(message, name=names[message.tool_call_id])
        filled.append(message)
    return tuple(filled)
