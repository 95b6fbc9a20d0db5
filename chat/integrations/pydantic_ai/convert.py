"""PydanticAI's messages and request parameters to the gateway's ChatRequest, and back.

The agent runs `Model.prepare_messages` before a model sees the history, so deferred and
framework-only parts (retry feedback, tool availability deltas...) have become the plain parts
mapped here. A legacy `RetryPromptPart` is still accepted for callers that drive a model
directly: one that names a tool answers that call again, one that does not is user text.

Usage: PydanticAI counts cached tokens inside `input_tokens` and reasoning inside
`output_tokens`; the gateway keeps them in separate buckets (providers.adapters.types), so the
mapping adds them up. The cost is the gateway's, from the stored prices.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic_ai.exceptions import ModelHTTPError, UserError
from pydantic_ai.messages import (
    BinaryContent,
    FinishReason,
    ImageUrl,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    SystemPromptPart,
    TextContent,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.usage import RequestUsage

from config.errors import ApplicationError
from providers.adapters import types as gw

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_call",
    "content_filter": "content_filter",
    "error": "error",
}


def chat_request_build(
    *,
    model: str,
    messages: Sequence[ModelMessage],
    instructions: Sequence[str],
    settings: ModelSettings | None,
    parameters: ModelRequestParameters,
) -> gw.ChatRequest:
    """The ChatRequest for one model request of an agent run, addressed to `model` (a
    service name or a model string)."""
    mapped = messages_map(messages)
    if instructions:
        leading = next((i for i, m in enumerate(mapped) if m.role != "system"), len(mapped))
        mapped.insert(leading, gw.Message(role="system", content="\n\n".join(instructions)))
    tools = [tool_map(t) for t in parameters.declared_function_tools]
    if parameters.output_mode == "tool":
        tools += [tool_map(t) for t in parameters.output_tools]
    choice = None
    if tools and not parameters.allow_text_output:
        choice = gw.ToolChoice(mode="required")
    json_schema = None
    if parameters.output_mode == "native" and parameters.output_object is not None:
        json_schema = dict(parameters.output_object.json_schema)
    settings = settings or {}
    return gw.ChatRequest(
        model=model,
        messages=tuple(mapped),
        tools=tuple(tools),
        tool_choice=choice,
        temperature=settings.get("temperature"),
        top_p=settings.get("top_p"),
        max_tokens=settings.get("max_tokens"),
        stop=tuple(settings.get("stop_sequences") or ()),
        json_output=parameters.output_mode == "prompted",
        json_schema=json_schema,
    )


def tool_map(tool: ToolDefinition) -> gw.Tool:
    return gw.Tool(
        name=tool.name,
        description=tool.description or "",
        parameters=dict(tool.parameters_json_schema),
    )


def messages_map(messages: Sequence[ModelMessage]) -> list[gw.Message]:
    mapped: list[gw.Message] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            mapped.extend(_request_parts(message))
        elif isinstance(message, ModelResponse):
            reply = _response_message(message)
            if reply is not None:
                mapped.append(reply)
    return mapped


def _request_parts(message: ModelRequest) -> list[gw.Message]:
    mapped: list[gw.Message] = []
    for part in message.parts:
        if isinstance(part, SystemPromptPart):
            mapped.append(gw.Message(role="system", content=part.content))
        elif isinstance(part, UserPromptPart):
            mapped.append(gw.Message(role="user", content=_user_content(part.content)))
        elif isinstance(part, ToolReturnPart):
            mapped.append(
                gw.Message(
                    role="tool",
                    content=part.model_response_str(),
                    tool_call_id=part.tool_call_id,
                    name=part.tool_name,
                )
            )
        elif isinstance(part, RetryPromptPart):  # pyright: ignore[reportDeprecated]
            if part.tool_name is not None:
                mapped.append(
                    gw.Message(
                        role="tool",
                        content=part.model_response(),
                        tool_call_id=part.tool_call_id,
                        name=part.tool_name,
                    )
                )
            else:
                mapped.append(gw.Message(role="user", content=part.model_response()))
        else:
            raise UserError(
                f"{type(part).__name__} cannot be sent through the gateway; run the model "
                "through an Agent (which prepares the history) or leave the part out."
            )
    return mapped


def _user_content(content: str | Sequence[Any]) -> str | tuple[gw.ContentPart, ...]:
    if isinstance(content, str):
        return content
    parts: list[gw.ContentPart] = []
    for item in content:
        if isinstance(item, str):
            parts.append(gw.TextPart(text=item))
        elif isinstance(item, TextContent):
            parts.append(gw.TextPart(text=item.content))
        elif isinstance(item, ImageUrl):
            detail = (item.vendor_metadata or {}).get("detail")
            parts.append(gw.ImagePart(url=item.url, detail=detail))
        elif isinstance(item, BinaryContent) and item.is_image:
            parts.append(gw.ImagePart(url=item.data_uri))
        else:
            raise UserError(
                f"{type(item).__name__} input is not supported by the gateway: send text "
                "and images."
            )
    return tuple(parts)


def _response_message(message: ModelResponse) -> gw.Message | None:
    """The assistant turn of an earlier response (thinking and other parts stay out)."""
    text = "".join(p.content for p in message.parts if isinstance(p, TextPart))
    calls = tuple(
        gw.ToolCall(id=p.tool_call_id, name=p.tool_name, arguments=p.args_as_json_str())
        for p in message.parts
        if isinstance(p, ToolCallPart)
    )
    if not text and not calls:
        return None
    return gw.Message(role="assistant", content=text, tool_calls=calls)


# -- back to PydanticAI ------------------------------------------------------------------------
def usage_map(usage: gw.Usage | None, cost: Decimal | None = None) -> RequestUsage:
    usage = usage or gw.Usage()
    return RequestUsage(
        input_tokens=usage.prompt_tokens,
        cache_read_tokens=usage.cached_input_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        output_tokens=usage.completion_tokens,
        output_reasoning_tokens=usage.reasoning_tokens,
        cost=cost,
    )


def usage_from(usage: RequestUsage) -> gw.Usage:
    """The gateway's buckets of a PydanticAI usage (for the ledger of direct calls)."""
    cached = usage.cache_read_tokens
    written = usage.cache_write_tokens
    reasoning = usage.output_reasoning_tokens
    return gw.Usage(
        input_tokens=max(0, usage.input_tokens - cached - written),
        cached_input_tokens=cached,
        cache_write_tokens=written,
        output_tokens=max(0, usage.output_tokens - reasoning),
        reasoning_tokens=reasoning,
        raw={"pydantic_ai": True, **{k: v for k, v in usage.details.items()}},
    )


def response_parts(response: gw.ChatResponse) -> list[TextPart | ToolCallPart]:
    parts: list[TextPart | ToolCallPart] = []
    if response.text:
        parts.append(TextPart(content=response.text))
    for call in response.tool_calls:
        parts.append(
            ToolCallPart(tool_name=call.name, args=call.arguments or None, tool_call_id=call.id)
        )
    return parts


def model_error(error: ApplicationError, model_name: str) -> ModelHTTPError:
    """A gateway refusal or provider failure as PydanticAI's HTTP error (so FallbackModel and
    retry policies see a status); the body is what the HTTP APIs would answer."""
    retry_after = getattr(error, "retry_after", None)
    return ModelHTTPError(
        status_code=error.http_status,
        model_name=model_name,
        body=error.as_dict(),
        provider_error_code=error.code,
        retry_after=float(retry_after) if retry_after is not None else None,
    )
