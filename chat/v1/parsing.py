"""OpenAI request bodies -> the plain request types, with OpenAI-style errors naming the param.

Parameters this service cannot honour are refused (n > 1, token-array inputs, and those in
chat.v1.options); the optional parameters (reasoning_effort, seed, penalties, logprobs, user,
metadata, service_tier, cache_control...) are carried on the ChatRequest, and the serving
provider kind decides what it sends (providers.adapters.params, docs/parameters.md).
"""

from typing import Any, cast

from django.conf import settings

from chat.content import cache_control_parse, content_parse, invalid_param
from chat.v1.options import options_parse, reasoning_parse
from config.errors import RequestTooComplex
from providers.adapters.types import (
    ChatRequest,
    EmbeddingRequest,
    Message,
    Role,
    Tool,
    ToolCall,
    ToolChoice,
)

# OpenAI's newer "developer" role is its system role.
_ROLE_ALIASES = {"developer": "system"}
_ROLES = ("system", "user", "assistant", "tool")


_invalid = invalid_param


def count_check(value: list[Any], limit: int, param: str, what: str) -> None:
    """Work per request is bounded: refuse a list longer than its setting before walking it."""
    if len(value) > limit:
        raise RequestTooComplex(
            f"{param} holds {len(value)} {what}; at most {limit} are accepted.",
            details={"param": param},
        )


def max_tokens_check(value: int | None, param: str = "max_tokens") -> int | None:
    """At least 1 and at most API_MAX_OUTPUT_TOKENS (the model's own limit is checked later)."""
    if value is None:
        return None
    bound = settings.API_MAX_OUTPUT_TOKENS
    if not 1 <= value <= bound:
        raise _invalid(f"{param} must be between 1 and {bound}.", param)
    return value


def _body(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _invalid("The request body must be a JSON object.", "body")
    return data


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _invalid("you must provide a model parameter", "model")
    if len(model) > settings.API_MAX_MODEL_NAME_LENGTH:
        raise _invalid(
            f"model must be at most {settings.API_MAX_MODEL_NAME_LENGTH} characters.", "model"
        )
    return model.strip()


def number_param(body: dict[str, Any], name: str, *, integer: bool = False) -> Any:
    """`body[name]` when it is a number (a whole one with `integer`), None when absent; 400
    naming it otherwise (a JSON true is not a number)."""
    value = body.get(name)
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise _invalid(f"{name} must be a {'whole number' if integer else 'number'}.", name)
    return value


def _text(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{param} must be a string.", param)
    return value


def _tool_calls(value: Any, param: str) -> tuple[ToolCall, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _invalid(f"{param} must be an array.", param)
    count_check(value, settings.API_MAX_TOOLS, param, "tool calls")
    calls = []
    for index, call in enumerate(value):
        where = f"{param}[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise _invalid(f"{where}.function is required.", f"{where}.function")
        calls.append(
            ToolCall(
                id=_text(call.get("id"), f"{where}.id"),
                name=_text(function.get("name"), f"{where}.function.name"),
                arguments=_text(function.get("arguments", "{}"), f"{where}.function.arguments"),
            )
        )
    return tuple(calls)


def _messages(value: Any) -> tuple[Message, ...]:
    if not isinstance(value, list) or not value:
        raise _invalid("messages must be a non-empty array.", "messages")
    count_check(value, settings.API_MAX_MESSAGES, "messages", "messages")
    messages = []
    for index, raw in enumerate(value):
        where = f"messages[{index}]"
        if not isinstance(raw, dict):
            raise _invalid(f"{where} must be an object.", where)
        raw_role = raw.get("role")
        role = _ROLE_ALIASES.get(raw_role, raw_role) if isinstance(raw_role, str) else None
        if role not in _ROLES:
            raise _invalid(
                f"{where}.role {str(raw_role)[:40]!r} is not one of "
                "'system', 'developer', 'user', 'assistant', 'tool'.",
                f"{where}.role",
            )
        content = raw.get("content")
        if isinstance(content, list):
            count_check(content, settings.API_MAX_CONTENT_PARTS, f"{where}.content", "parts")
        tool_call_id = raw.get("tool_call_id")
        if role == "tool" and not isinstance(tool_call_id, str):
            raise _invalid(f"{where}.tool_call_id is required for tool messages.", where)
        messages.append(
            Message(
                role=cast(Role, role),
                content=content_parse(content, f"{where}.content"),
                tool_calls=_tool_calls(raw.get("tool_calls"), f"{where}.tool_calls")
                if role == "assistant"
                else (),
                tool_call_id=tool_call_id if role == "tool" else None,
                name=raw.get("name") if isinstance(raw.get("name"), str) else None,
                reasoning=reasoning_parse(raw, where) if role == "assistant" else (),
                cache_control=cache_control_parse(
                    raw.get("cache_control"), f"{where}.cache_control"
                ),
            )
        )
    return tuple(messages)


def _tools(value: Any) -> tuple[Tool, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _invalid("tools must be an array.", "tools")
    count_check(value, settings.API_MAX_TOOLS, "tools", "tools")
    tools = []
    for index, raw in enumerate(value):
        function = raw.get("function") if isinstance(raw, dict) else None
        if not isinstance(function, dict) or raw.get("type", "function") != "function":
            raise _invalid(f"tools[{index}] must be a function tool.", f"tools[{index}]")
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, dict):
            raise _invalid("parameters must be a JSON schema object.", f"tools[{index}]")
        tools.append(
            Tool(
                name=_text(function.get("name"), f"tools[{index}].function.name"),
                description=_text(function.get("description") or "", f"tools[{index}].description"),
                parameters=parameters,
                cache_control=cache_control_parse(
                    raw.get("cache_control"), f"tools[{index}].cache_control"
                ),
            )
        )
    return tuple(tools)


def _tool_choice(value: Any) -> ToolChoice | None:
    if value is None:
        return None
    if value in ("auto", "none", "required"):
        return ToolChoice(mode=value)
    if isinstance(value, dict) and isinstance(value.get("function"), dict):
        return ToolChoice(mode="tool", name=_text(value["function"].get("name"), "tool_choice"))
    raise _invalid("tool_choice must be 'auto', 'none', 'required' or a function.", "tool_choice")


def _response_format(value: Any) -> tuple[bool, dict[str, Any] | None]:
    if value is None:
        return False, None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "text":
        return False, None
    if kind == "json_object":
        return True, None
    if kind == "json_schema":
        schema = value.get("json_schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("schema", {}), dict):
            raise _invalid("response_format.json_schema must be an object.", "response_format")
        return True, schema.get("schema") or {}
    raise _invalid(
        "response_format.type must be 'text', 'json_object' or 'json_schema'.", "response_format"
    )


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _invalid("stop must be a string or an array of strings.", "stop")


def chat_request_parse(data: Any) -> tuple[ChatRequest, bool, bool]:
    """(request, stream, include_usage) from a /v1/chat/completions body."""
    body = _body(data)
    model = _model(body)
    n = number_param(body, "n", integer=True)
    if n not in (None, 1):
        raise _invalid("Only n=1 is supported.", "n")
    max_tokens = max_tokens_check(
        number_param(body, "max_completion_tokens", integer=True), "max_completion_tokens"
    ) or max_tokens_check(number_param(body, "max_tokens", integer=True))
    json_output, json_schema = _response_format(body.get("response_format"))
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise _invalid("stream must be a boolean.", "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise _invalid("stream_options must be an object.", "stream_options")
    request = ChatRequest(
        model=model,
        messages=_messages(body.get("messages")),
        tools=_tools(body.get("tools")),
        tool_choice=_tool_choice(body.get("tool_choice")),
        temperature=number_param(body, "temperature"),
        top_p=number_param(body, "top_p"),
        max_tokens=max_tokens,
        stop=_stop(body.get("stop")),
        json_output=json_output,
        json_schema=json_schema,
        **options_parse(body),
    )
    return request, stream, bool(options.get("include_usage"))


def embedding_request_parse(data: Any) -> tuple[EmbeddingRequest, str]:
    """(request, encoding format) from a /v1/embeddings body."""
    body = _body(data)
    model = _model(body)
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs:
        raise _invalid("input must be a non-empty string or array of strings.", "input")
    count_check(inputs, settings.API_MAX_EMBEDDING_INPUTS, "input", "inputs")
    if not all(isinstance(text, str) for text in inputs):
        raise _invalid("input must contain strings (token arrays are not supported).", "input")
    if any(not text for text in inputs):
        raise _invalid("input must not contain empty strings.", "input")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise _invalid("encoding_format must be 'float' or 'base64'.", "encoding_format")
    dimensions = number_param(body, "dimensions", integer=True)
    if dimensions is not None and dimensions < 1:
        raise _invalid("dimensions must be at least 1.", "dimensions")
    return EmbeddingRequest(model=model, inputs=tuple(inputs), dimensions=dimensions), encoding
