"""Responses request bodies -> a ResponsesRequest holding the internal ChatRequest.

`input` is a string or a list of items: messages (roles user, assistant, system, developer;
parts input_text, input_image, output_text, refusal), function_call and
function_call_output items. A function_call following an assistant message joins it, so a
turn that said something and then called tools is one assistant message, as the chat
adapters expect. Only function tools are served: built-in tools (web_search, file_search,
...) run on OpenAI's own servers, so naming one is a 400 that says which. Parameters that only
tune OpenAI's service (include, prompt_cache_key, service_tier, reasoning, ...) are accepted
and ignored, as /v1/chat/completions does with its own.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from chat.content import invalid_param
from chat.v1.parsing import count_check, max_tokens_check, number_param
from providers.adapters.types import (
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    Role,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)

_ROLES: dict[str, Role] = {
    "user": "user",
    "assistant": "assistant",
    "system": "system",
    "developer": "system",
}
_TEXT_PARTS = ("input_text", "output_text")
# Parameters of OpenAI's service this one has no equivalent of: refused, not silently dropped,
# because ignoring them would change what the client gets.
_UNSUPPORTED = {
    "background": "background responses are not supported; omit background or set it false.",
    "conversation": "the Conversations API is not supported; use previous_response_id.",
    "prompt": "stored prompt templates are not supported; send instructions and input.",
}
MAX_RESPONSE_ID_LENGTH = 64


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    """A parsed Responses request. `chat.messages` holds only this request's input; the
    service adds the instructions and the previous response's conversation in front."""

    chat: ChatRequest
    instructions: str | None = None
    stream: bool = False
    store: bool = True
    previous_response_id: str | None = None
    truncation: str = "disabled"
    # Echoed in the Response object, in the Responses API's shapes.
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    text_format: dict[str, Any] = field(default_factory=lambda: {"type": "text"})
    metadata: dict[str, str] = field(default_factory=dict)
    parallel_tool_calls: bool = True
    user: str | None = None

    @property
    def model(self) -> str:
        return self.chat.model


def _text(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise invalid_param(f"{param} must be a string.", param)
    return value


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid_param(f"{name} must be a boolean.", name)
    return value


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid_param("you must provide a model parameter", "model")
    if len(model) > settings.API_MAX_MODEL_NAME_LENGTH:
        raise invalid_param(
            f"model must be at most {settings.API_MAX_MODEL_NAME_LENGTH} characters.", "model"
        )
    return model.strip()


def _part(part: Any, where: str) -> ContentPart:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in _TEXT_PARTS:
        return TextPart(text=_text(part.get("text"), f"{where}.text"))
    if kind == "refusal":
        return TextPart(text=_text(part.get("refusal"), f"{where}.refusal"))
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise invalid_param(
                f"{where}.image_url is required (a URL or a data: URL; file_id is not supported).",
                f"{where}.image_url",
            )
        detail = part.get("detail")
        return ImagePart(url=url, detail=detail if isinstance(detail, str) else None)
    raise invalid_param(
        f"{where}.type must be 'input_text', 'input_image', 'output_text' or 'refusal'.",
        f"{where}.type",
    )


def _content(value: Any, where: str, role: str) -> str | tuple[ContentPart, ...]:
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise invalid_param(f"{where} must be a string or an array of content parts.", where)
    count_check(value, settings.API_MAX_CONTENT_PARTS, where, "parts")
    parts = tuple(_part(part, f"{where}[{index}]") for index, part in enumerate(value))
    if role != "user":
        # System and assistant turns are text for every adapter.
        if any(isinstance(part, ImagePart) for part in parts):
            raise invalid_param(f"{where}: only user messages may carry images.", where)
        return "".join(part.text for part in parts if isinstance(part, TextPart))
    return parts


def _message(item: dict[str, Any], where: str) -> Message:
    raw_role = item.get("role")
    role = _ROLES.get(raw_role) if isinstance(raw_role, str) else None
    if role is None:
        raise invalid_param(
            f"{where}.role {str(raw_role)[:40]!r} is not one of "
            "'user', 'assistant', 'system', 'developer'.",
            f"{where}.role",
        )
    return Message(role=role, content=_content(item.get("content"), f"{where}.content", role))


def _call_output(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        count_check(value, settings.API_MAX_CONTENT_PARTS, where, "parts")
        texts = []
        for index, part in enumerate(value):
            if not isinstance(part, dict) or part.get("type") != "input_text":
                raise invalid_param(
                    f"{where}[{index}] must be an input_text part.", f"{where}[{index}]"
                )
            texts.append(_text(part.get("text"), f"{where}[{index}].text"))
        return "".join(texts)
    raise invalid_param(f"{where} must be a string or an array of input_text parts.", where)


def _input(value: Any) -> tuple[Message, ...]:
    if isinstance(value, str):
        if not value:
            raise invalid_param("input must not be empty.", "input")
        return (Message(role="user", content=value),)
    if not isinstance(value, list) or not value:
        raise invalid_param("input must be a string or a non-empty array of input items.", "input")
    count_check(value, settings.API_MAX_MESSAGES, "input", "items")
    messages: list[Message] = []
    for index, item in enumerate(value):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise invalid_param(f"{where} must be an object.", where)
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item, where))
        elif kind == "function_call":
            call = ToolCall(
                id=_text(item.get("call_id"), f"{where}.call_id"),
                name=_text(item.get("name"), f"{where}.name"),
                arguments=_text(item.get("arguments", "{}"), f"{where}.arguments"),
            )
            if messages and messages[-1].role == "assistant":
                last = messages[-1]
                messages[-1] = dataclasses.replace(last, tool_calls=(*last.tool_calls, call))
            else:
                messages.append(Message(role="assistant", tool_calls=(call,)))
        elif kind == "function_call_output":
            messages.append(
                Message(
                    role="tool",
                    content=_call_output(item.get("output"), f"{where}.output"),
                    tool_call_id=_text(item.get("call_id"), f"{where}.call_id"),
                )
            )
        elif kind == "reasoning":
            continue  # an earlier output's reasoning, passed back: nothing to send upstream
        else:
            raise invalid_param(
                f"{where}.type {str(kind)[:40]!r} is not supported: input items are messages, "
                "function_call, function_call_output and reasoning.",
                f"{where}.type",
            )
    if not messages:
        raise invalid_param("input holds no message or function call item.", "input")
    return tuple(messages)


def _tools(value: Any) -> tuple[tuple[Tool, ...], list[dict[str, Any]]]:
    if value is None:
        return (), []
    if not isinstance(value, list):
        raise invalid_param("tools must be an array.", "tools")
    count_check(value, settings.API_MAX_TOOLS, "tools", "tools")
    tools, echoed = [], []
    for index, raw in enumerate(value):
        where = f"tools[{index}]"
        if not isinstance(raw, dict):
            raise invalid_param(f"{where} must be an object.", where)
        kind = raw.get("type")
        if kind != "function":
            raise invalid_param(
                f"{where}.type {str(kind)[:40]!r} is not supported: only function tools are "
                "(built-in tools such as web_search and file_search run on OpenAI's servers).",
                f"{where}.type",
            )
        name = _text(raw.get("name"), f"{where}.name")
        if not name:
            raise invalid_param(f"{where}.name must not be empty.", f"{where}.name")
        description = _text(raw.get("description") or "", f"{where}.description")
        parameters = raw.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, dict):
            raise invalid_param(f"{where}.parameters must be a JSON schema object.", where)
        strict = raw.get("strict")
        if strict is not None and not isinstance(strict, bool):
            raise invalid_param(f"{where}.strict must be a boolean.", f"{where}.strict")
        tools.append(Tool(name=name, description=description, parameters=parameters))
        echoed.append(
            {
                "type": "function",
                "name": name,
                "description": description or None,
                "parameters": parameters,
                "strict": strict,
            }
        )
    return tuple(tools), echoed


def _tool_choice(value: Any, tools: tuple[Tool, ...]) -> tuple[ToolChoice | None, Any]:
    if value is None:
        return None, "auto"
    if value in ("auto", "none", "required"):
        return ToolChoice(mode=value), value
    if isinstance(value, dict) and value.get("type") == "function":
        name = _text(value.get("name"), "tool_choice.name")
        if name not in {tool.name for tool in tools}:
            raise invalid_param("tool_choice names a function that is not in tools.", "tool_choice")
        return ToolChoice(mode="tool", name=name), {"type": "function", "name": name}
    raise invalid_param(
        "tool_choice must be 'auto', 'none', 'required' or {'type': 'function', 'name': ...}.",
        "tool_choice",
    )


def _text_format(value: Any) -> tuple[bool, dict[str, Any] | None, dict[str, Any]]:
    """(json_output, json_schema, the format echoed) from the `text` parameter."""
    if value is None:
        return False, None, {"type": "text"}
    if not isinstance(value, dict):
        raise invalid_param("text must be an object.", "text")
    form = value.get("format")
    if form is None:
        return False, None, {"type": "text"}
    kind = form.get("type") if isinstance(form, dict) else None
    if kind == "text":
        return False, None, {"type": "text"}
    if kind == "json_object":
        return True, None, {"type": "json_object"}
    if kind == "json_schema":
        schema = form.get("schema")
        if not isinstance(schema, dict):
            raise invalid_param("text.format.schema must be a JSON schema object.", "text.format")
        name = _text(form.get("name", "response"), "text.format.name")
        echoed = {"type": "json_schema", "name": name, "schema": schema}
        for key in ("description", "strict"):
            if form.get(key) is not None:
                echoed[key] = form[key]
        return True, schema, echoed
    raise invalid_param(
        "text.format.type must be 'text', 'json_object' or 'json_schema'.", "text.format"
    )


def _metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if (
        not isinstance(value, dict)
        or len(value) > 16
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    ):
        raise invalid_param("metadata must be an object of at most 16 strings.", "metadata")
    return value


def _optional_text(body: dict[str, Any], name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise invalid_param(f"{name} must be a string of 1 to {limit} characters.", name)
    return value


def responses_request_parse(data: Any) -> ResponsesRequest:
    """A ResponsesRequest from a POST /v1/responses body; a 400 naming the param otherwise."""
    if not isinstance(data, dict):
        raise invalid_param("The request body must be a JSON object.", "body")
    body = data
    model = _model(body)
    for name, reason in _UNSUPPORTED.items():
        if body.get(name) not in (None, False):
            raise invalid_param(f"{name}: {reason}", name)
    instructions = body.get("instructions")
    if instructions is not None:
        instructions = _text(instructions, "instructions")
    tools, echoed_tools = _tools(body.get("tools"))
    tool_choice, echoed_choice = _tool_choice(body.get("tool_choice"), tools)
    json_output, json_schema, text_format = _text_format(body.get("text"))
    truncation = body.get("truncation") or "disabled"
    if truncation not in ("auto", "disabled"):
        raise invalid_param("truncation must be 'auto' or 'disabled'.", "truncation")
    chat = ChatRequest(
        model=model,
        messages=_input(body.get("input")),
        tools=tools,
        tool_choice=tool_choice,
        temperature=number_param(body, "temperature"),
        top_p=number_param(body, "top_p"),
        max_tokens=max_tokens_check(
            number_param(body, "max_output_tokens", integer=True), "max_output_tokens"
        ),
        json_output=json_output,
        json_schema=json_schema,
    )
    return ResponsesRequest(
        chat=chat,
        instructions=instructions,
        stream=_flag(body, "stream", False),
        store=_flag(body, "store", True),
        previous_response_id=_optional_text(body, "previous_response_id", MAX_RESPONSE_ID_LENGTH),
        truncation=truncation,
        tools=echoed_tools,
        tool_choice=echoed_choice,
        text_format=text_format,
        metadata=_metadata(body.get("metadata")),
        parallel_tool_calls=_flag(body, "parallel_tool_calls", True),
        user=_optional_text(body, "user", 256),
    )
