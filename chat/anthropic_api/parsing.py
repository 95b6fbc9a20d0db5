"""Anthropic Messages request bodies -> the plain ChatRequest, with 400s naming the field.

What maps (Anthropic -> ChatRequest):
- `system` (a string or text blocks) -> one system message, blocks joined by a blank line.
- user/assistant `messages` of a string or content blocks: text; image (base64 source -> a
  data: URL, url source -> the URL); assistant tool_use (input object -> JSON arguments);
  user tool_result (-> a "tool" message answering tool_use_id, named after that tool_use for
  Gemini; content a string or text/image blocks; `is_error` prefixes the text with "Error: ",
  the one way every provider can be told). tool_results go before the turn's other blocks,
  as Anthropic requires them first.
- `tools` (name, description, input_schema), `tool_choice` auto/any/tool/none ->
  auto/required/tool/none, `max_tokens` (required, as on Anthropic), `temperature`, `top_p`,
  `stop_sequences`, `output_config.format` json_schema -> json_schema.
Accepted and not forwarded (no field in the plain types yet, or no meaning across
providers): `top_k`, `thinking`, `cache_control` (top level and on blocks and tools),
`metadata.user_id`, `service_tier`, thinking and redacted_thinking blocks of assistant turns
(a provider cannot verify another's signature). Refused with a 400: server tools (web search,
code execution, ...: only a provider can run them), document/search_result/container blocks.
"""

import json
from typing import Any

from django.conf import settings

from chat.content import invalid_param
from chat.v1.parsing import count_check, max_tokens_check
from providers.adapters.types import (
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)

_invalid = invalid_param
_TOOL_CHOICES = {"auto": "auto", "any": "required", "tool": "tool", "none": "none"}
# Blocks of assistant turns that only the provider that wrote them can use.
_DROPPED_BLOCKS = ("thinking", "redacted_thinking")


def _object(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(f"{param}: Input should be an object.", param)
    return value


def _text(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{param}: Input should be a valid string.", param)
    return value


def _number(body: dict[str, Any], name: str, *, integer: bool = False) -> Any:
    value = body.get(name)
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise _invalid(
            f"{name}: Input should be a valid {'integer' if integer else 'number'}.", name
        )
    return value


def _blocks(value: Any, param: str) -> list[dict[str, Any]]:
    """Content as a list of blocks (a string is one text block)."""
    if isinstance(value, str):
        return [{"type": "text", "text": value}]
    if not isinstance(value, list):
        raise _invalid(f"{param}: Input should be a valid string or a list of blocks.", param)
    count_check(value, settings.API_MAX_CONTENT_PARTS, param, "blocks")
    for index, block in enumerate(value):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _invalid(f"{param}.{index}: Input should be a block with a type.", param)
    return value


def _image(block: dict[str, Any], param: str) -> ImagePart:
    source = _object(block.get("source"), f"{param}.source")
    kind = source.get("type")
    if kind == "base64":
        media_type = _text(source.get("media_type"), f"{param}.source.media_type")
        data = _text(source.get("data"), f"{param}.source.data")
        return ImagePart(url=f"data:{media_type};base64,{data}")
    if kind == "url":
        url = _text(source.get("url"), f"{param}.source.url")
        if not url.startswith(("https://", "http://")):
            raise _invalid(f"{param}.source.url must be an http(s) URL.", f"{param}.source.url")
        return ImagePart(url=url)
    raise _invalid(f"{param}.source.type must be 'base64' or 'url'.", f"{param}.source.type")


def _part(block: dict[str, Any], param: str) -> ContentPart:
    """A text or image block as a content part; anything else is refused."""
    kind = block["type"]
    if kind == "text":
        return TextPart(text=_text(block.get("text"), f"{param}.text"))
    if kind == "image":
        return _image(block, param)
    raise _invalid(
        f"{param}.type {kind[:40]!r} is not supported here (text, image, tool_use, "
        "tool_result and thinking blocks are).",
        f"{param}.type",
    )


def _content(parts: list[ContentPart], *, join: bool = False) -> str | tuple[ContentPart, ...]:
    """One text part as a plain string (every adapter's simplest case); several kept as parts,
    so each provider sees the blocks the client sent, unless `join` (a tool result's text)."""
    texts = [part.text for part in parts if isinstance(part, TextPart)]
    if len(texts) == len(parts) and (join or len(texts) <= 1):
        return "".join(texts)
    return tuple(parts)


def _tool_result(block: dict[str, Any], param: str, names: dict[str, str]) -> Message:
    tool_use_id = _text(block.get("tool_use_id"), f"{param}.tool_use_id")
    raw = block.get("content", "")
    parts = [
        _part(b, f"{param}.content.{i}") for i, b in enumerate(_blocks(raw, f"{param}.content"))
    ]
    if block.get("is_error") is True:
        parts.insert(0, TextPart(text="Error: "))
    return Message(
        role="tool",
        content=_content(parts, join=True),
        tool_call_id=tool_use_id,
        name=names.get(tool_use_id),
    )


def _user_turn(blocks: list[dict[str, Any]], where: str, names: dict[str, str]) -> list[Message]:
    results: list[Message] = []
    parts: list[ContentPart] = []
    for index, block in enumerate(blocks):
        param = f"{where}.content.{index}"
        if block["type"] == "tool_result":
            results.append(_tool_result(block, param, names))
        else:
            parts.append(_part(block, param))
    if parts:
        results.append(Message(role="user", content=_content(parts)))
    return results


def _assistant_turn(blocks: list[dict[str, Any]], where: str, names: dict[str, str]) -> Message:
    parts: list[ContentPart] = []
    calls: list[ToolCall] = []
    for index, block in enumerate(blocks):
        param = f"{where}.content.{index}"
        kind = block["type"]
        if kind in _DROPPED_BLOCKS:
            continue
        if kind == "tool_use":
            call = ToolCall(
                id=_text(block.get("id"), f"{param}.id"),
                name=_text(block.get("name"), f"{param}.name"),
                arguments=json.dumps(_object(block.get("input", {}), f"{param}.input")),
            )
            names[call.id] = call.name
            calls.append(call)
        else:
            parts.append(_part(block, param))
    return Message(role="assistant", content=_content(parts), tool_calls=tuple(calls))


def _messages(value: Any) -> list[Message]:
    if not isinstance(value, list) or not value:
        raise _invalid("messages: at least one message is required.", "messages")
    count_check(value, settings.API_MAX_MESSAGES, "messages", "messages")
    names: dict[str, str] = {}  # tool_use id -> tool name, for the tool_results that follow
    messages: list[Message] = []
    for index, raw in enumerate(value):
        where = f"messages.{index}"
        message = _object(raw, where)
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise _invalid(f"{where}.role: Input should be 'user' or 'assistant'.", f"{where}.role")
        blocks = _blocks(message.get("content"), f"{where}.content")
        if role == "user":
            messages.extend(_user_turn(blocks, where, names))
        else:
            messages.append(_assistant_turn(blocks, where, names))
    return messages


def _system(value: Any) -> list[Message]:
    if value is None:
        return []
    blocks = _blocks(value, "system")
    texts = []
    for index, block in enumerate(blocks):
        if block["type"] != "text":
            raise _invalid("system: only text blocks are accepted.", f"system.{index}.type")
        texts.append(_text(block.get("text"), f"system.{index}.text"))
    text = "\n\n".join(t for t in texts if t)
    return [Message(role="system", content=text)] if text else []


def _tools(value: Any) -> tuple[Tool, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _invalid("tools: Input should be a valid list.", "tools")
    count_check(value, settings.API_MAX_TOOLS, "tools", "tools")
    tools = []
    for index, raw in enumerate(value):
        param = f"tools.{index}"
        tool = _object(raw, param)
        if tool.get("type") not in (None, "custom"):
            raise _invalid(
                f"{param}: server tools ({str(tool.get('type'))[:40]!r}) cannot be served "
                "through the gateway; only custom tools with an input_schema are.",
                f"{param}.type",
            )
        schema = tool.get("input_schema")
        tools.append(
            Tool(
                name=_text(tool.get("name"), f"{param}.name"),
                description=_text(tool.get("description") or "", f"{param}.description"),
                parameters=_object(schema, f"{param}.input_schema"),
            )
        )
    return tuple(tools)


def _tool_choice(value: Any) -> ToolChoice | None:
    if value is None:
        return None
    choice = _object(value, "tool_choice")
    mode = _TOOL_CHOICES.get(choice.get("type"))  # type: ignore[arg-type]
    if mode is None:
        raise _invalid(
            "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'.", "tool_choice"
        )
    name = _text(choice.get("name"), "tool_choice.name") if mode == "tool" else None
    return ToolChoice(mode=mode, name=name)  # type: ignore[arg-type]


def _stop_sequences(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid("stop_sequences: Input should be a list of strings.", "stop_sequences")
    count_check(value, settings.API_MAX_TOOLS, "stop_sequences", "stop sequences")
    return tuple(value)


def _json_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """Structured outputs: output_config.format (or the older top-level output_format)."""
    config = body.get("output_config")
    output_format = _object(config, "output_config").get("format") if config is not None else None
    if output_format is None:
        output_format = body.get("output_format")
    if output_format is None:
        return None
    output_format = _object(output_format, "output_config.format")
    if output_format.get("type") != "json_schema":
        raise _invalid("output_config.format.type must be 'json_schema'.", "output_config")
    return _object(output_format.get("schema"), "output_config.format.schema")


def _optional_object(body: dict[str, Any], name: str) -> None:
    """Fields accepted without being forwarded must still be of their documented shape."""
    if body.get(name) is not None:
        _object(body[name], name)


def messages_request_parse(data: Any, *, count_only: bool = False) -> tuple[ChatRequest, bool]:
    """(request, stream) from a /v1/messages body. count_tokens bodies carry no max_tokens."""
    body = _object(data, "body")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _invalid("model: Field required.", "model")
    if len(model) > settings.API_MAX_MODEL_NAME_LENGTH:
        raise _invalid(
            f"model must be at most {settings.API_MAX_MODEL_NAME_LENGTH} characters.", "model"
        )
    max_tokens = _number(body, "max_tokens", integer=True)
    if max_tokens is None and not count_only:
        raise _invalid("max_tokens: Field required.", "max_tokens")
    max_tokens = max_tokens_check(max_tokens)
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise _invalid("stream: Input should be a valid boolean.", "stream")
    _number(body, "top_k", integer=True)
    for name in ("thinking", "metadata", "cache_control"):
        _optional_object(body, name)
    json_schema = _json_schema(body)
    request = ChatRequest(
        model=model.strip(),
        messages=(*_system(body.get("system")), *_messages(body.get("messages"))),
        tools=_tools(body.get("tools")),
        tool_choice=_tool_choice(body.get("tool_choice")),
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        max_tokens=None if count_only else max_tokens,
        stop=_stop_sequences(body.get("stop_sequences")),
        json_output=json_schema is not None,
        json_schema=json_schema,
    )
    return request, stream and not count_only
