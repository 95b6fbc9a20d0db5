"""Mapping between the plain adapter types and google-genai's Gemini API types (the Gemini API
and Vertex AI's Gemini alike). Exposes the functions every wire mapping has
(adapters.wire.WireMapping), the error table among them.

Requests: system messages become `system_instruction`; roles are user/model; an assistant's
tool calls become function_call parts; role "tool" messages become function_response parts
(Gemini matches them by function NAME, so the name comes from Message.name or from the earlier
assistant tool call with the same id), consecutive tool results share one user turn.

Parameters (see adapters.params): seed, presence_penalty and frequency_penalty go to the
generation config under their names; reasoning_effort becomes
`thinking_config.thinking_budget` (THINKING_BUDGETS; "none" is 0, thinking off) with
include_thoughts on, so the thought summaries come back as ChatResponse.reasoning (they are
never sent back: Gemini needs only the thought signatures, which ride in tool call ids).

Tool call ids: Gemini often sends function calls without an id, so `call_<n>` (n = position
in the answer) is generated; it is the same for a streamed and a non-streamed answer. Gemini 3
models also attach a `thought_signature` to function calls and refuse a later turn whose
function call lacks it; the plain ToolCall type has no room for it, so it rides inside the id
(`<id>~sig~<base64url>`) and is restored when the id comes back in the history.

Usage, from usageMetadata (the last streamed chunk's is final):
- promptTokenCount INCLUDES cachedContentTokenCount, so
  input = promptTokenCount - cachedContentTokenCount + toolUsePromptTokenCount
  (tool-use prompt tokens are counted apart from the prompt and billed as input);
- cached_input = cachedContentTokenCount; cache_write = 0 (Gemini bills cache storage by time,
  through the caches API, not per call);
- output = candidatesTokenCount; reasoning = thoughtsTokenCount (reported apart from
  candidates, billed at the output price); raw = usageMetadata as sent (camelCase).

Errors: the SDK raises one class per status family (ClientError for 4xx, ServerError for 5xx),
so the table gives the family and `error_class` narrows it by Google's structured fields (HTTP
code, `status`, google.rpc ErrorInfo `reason`). A bad key is 400 INVALID_ARGUMENT with reason
API_KEY_INVALID, so the reason is checked before the code. Retry-After comes from the header,
else from google.rpc RetryInfo `retryDelay`.
"""

import base64
import binascii
import importlib
import json
import mimetypes
from collections.abc import Mapping
from typing import Any

import pydantic
from google.genai import errors as genai_errors
from google.genai import types

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
    retry_after_seconds,
)
from providers.adapters.types import (
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
from providers.adapters.wire import UpstreamFailure, describe, header


def transport_classes(name: str) -> tuple[type[BaseException], ...]:
    """The named exception class from each HTTP library the SDK may use (httpx2 or httpx)."""
    found: list[type[BaseException]] = []
    for module_name in ("httpx2", "httpx"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        found.append(getattr(module, name))
    return tuple(found)


# SDK exception class -> ours, looked up along the raised exception's MRO.
ERRORS: Mapping[type[BaseException], type[ProviderError]] = {
    genai_errors.ClientError: ProviderBadRequestError,  # every 4xx, narrowed by error_class
    genai_errors.ServerError: ProviderUnavailableError,  # every 5xx
    genai_errors.APIError: ProviderError,
    genai_errors.UnknownApiResponseError: MalformedResponseError,
    json.JSONDecodeError: MalformedResponseError,
    pydantic.ValidationError: MalformedResponseError,
    **dict.fromkeys(transport_classes("TimeoutException"), ProviderTimeoutError),
    **dict.fromkeys(transport_classes("TransportError"), ProviderUnavailableError),
}
_RPC = "type.googleapis.com/google.rpc."

_SIGNATURE_SEPARATOR = "~sig~"
THINKING_BUDGETS = {
    "none": 0,
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
}
_CONTENT_FILTER_REASONS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "MODEL_ARMOR",
    }
)
# CONTINUATION: the per-request output limit was hit (automatic continuation is off, so that
# one SDK call is one billed request the runtime can record).
_LENGTH_REASONS = frozenset({"MAX_TOKENS", "CONTINUATION"})
_TOOL_CHOICE_MODES = {
    "auto": types.FunctionCallingConfigMode.AUTO,
    "none": types.FunctionCallingConfigMode.NONE,
    "required": types.FunctionCallingConfigMode.ANY,
    "tool": types.FunctionCallingConfigMode.ANY,
}


# -- requests ------------------------------------------------------------------------------
def request_params(request: ChatRequest, *, kind: str) -> dict[str, Any]:
    """Keyword arguments for `models.generate_content` (and `_stream`); the same for the
    Gemini API and Vertex AI."""
    return {
        "model": request.model,
        "contents": contents_from(request.messages),
        "config": generate_config(request),
    }


def generate_config(request: ChatRequest) -> types.GenerateContentConfig:
    """The generation config: sampling, tools, JSON output and the system instruction."""
    system = "\n\n".join(m.text for m in request.messages if m.role == "system" and m.text)
    config = types.GenerateContentConfig(
        system_instruction=system or None,
        temperature=request.temperature,
        top_p=request.top_p,
        max_output_tokens=request.max_tokens,
        stop_sequences=list(request.stop) or None,
        # The SDK's own loops would hide extra billed requests from the runtime.
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        automatic_continuation=False,
        seed=request.seed,
        presence_penalty=request.presence_penalty,
        frequency_penalty=request.frequency_penalty,
    )
    if request.reasoning_effort is not None:
        config.thinking_config = types.ThinkingConfig(
            thinking_budget=THINKING_BUDGETS[request.reasoning_effort],
            include_thoughts=request.reasoning_effort != "none",
        )
    if request.tools:
        config.tools = [
            types.Tool(
                function_declarations=[
                    types.FunctionDeclaration(
                        name=tool.name,
                        description=tool.description or None,
                        parameters_json_schema=tool.parameters or None,
                    )
                    for tool in request.tools
                ]
            )
        ]
        if request.tool_choice is not None:
            choice = request.tool_choice
            config.tool_config = types.ToolConfig(
                function_calling_config=types.FunctionCallingConfig(
                    mode=_TOOL_CHOICE_MODES[choice.mode],
                    allowed_function_names=[choice.name or ""] if choice.mode == "tool" else None,
                )
            )
    if request.json_output or request.json_schema is not None:
        config.response_mime_type = "application/json"
        if request.json_schema is not None:
            config.response_json_schema = request.json_schema
    return config


def contents_from(messages: tuple[Message, ...]) -> list[types.Content]:
    """The conversation as Gemini contents (system messages go to the config instead)."""
    names_by_call_id: dict[str, str] = {}
    contents: list[types.Content] = []
    for index, message in enumerate(messages):
        if message.role == "system":
            continue
        if message.role == "tool":
            part = _function_response_part(index, message, names_by_call_id)
            previous = contents[-1] if contents else None
            if previous is not None and previous.parts and previous.parts[-1].function_response:
                previous.parts.append(part)  # parallel results answer in one turn
            else:
                contents.append(types.Content(role="user", parts=[part]))
            continue
        parts = _content_parts(index, message)
        if message.role == "assistant":
            for call in message.tool_calls:
                names_by_call_id[call.id] = call.name
                parts.append(_function_call_part(index, call))
        if parts:
            role = "model" if message.role == "assistant" else "user"
            contents.append(types.Content(role=role, parts=parts))
    if not contents:
        raise InvalidRequestError("Gemini needs at least one user message besides the system.")
    return contents


def _content_parts(index: int, message: Message) -> list[types.Part]:
    if isinstance(message.content, str):
        return [types.Part(text=message.content)] if message.content else []
    parts: list[types.Part] = []
    for part in message.content:
        if isinstance(part, TextPart):
            parts.append(types.Part(text=part.text))
        elif isinstance(part, ImagePart):
            parts.append(_image_part(index, part))
    return parts


def _image_part(index: int, image: ImagePart) -> types.Part:
    if image.is_data_url:
        media_type, data = image.data_parts()
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestError(
                f"messages[{index}] has an image data URL that is not valid base64."
            ) from None
        return types.Part(inline_data=types.Blob(mime_type=media_type, data=raw))
    media_type = mimetypes.guess_type(image.url.split("?")[0])[0] or "image/jpeg"
    return types.Part(file_data=types.FileData(file_uri=image.url, mime_type=media_type))


def _function_call_part(index: int, call: ToolCall) -> types.Part:
    try:
        args = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        args = None
    if not isinstance(args, dict):
        raise InvalidRequestError(
            f"messages[{index}] tool call {call.name!r} has arguments that are not a JSON object."
        )
    call_id, signature = split_tool_call_id(call.id)
    return types.Part(
        function_call=types.FunctionCall(id=call_id, name=call.name, args=args),
        thought_signature=signature,
    )


def _function_response_part(
    index: int, message: Message, names_by_call_id: dict[str, str]
) -> types.Part:
    call_id = message.tool_call_id or ""
    name = message.name or names_by_call_id.get(call_id)
    if not name:
        raise InvalidRequestError(
            f"messages[{index}] answers tool call {call_id!r}, but no earlier assistant message "
            "made that call and the message has no name; Gemini needs the function name."
        )
    try:
        value = json.loads(message.text)
    except json.JSONDecodeError:
        value = message.text
    response = value if isinstance(value, dict) else {"output": value}
    return types.Part(
        function_response=types.FunctionResponse(
            id=split_tool_call_id(call_id)[0], name=name, response=response
        )
    )


# -- tool call ids ---------------------------------------------------------------------------
def tool_call_id(call: types.FunctionCall, position: int, signature: bytes | None) -> str:
    """A stable id for a Gemini function call, carrying its thought signature if any."""
    call_id = call.id or f"call_{position}"
    if not signature:
        return call_id
    encoded = base64.urlsafe_b64encode(signature).decode().rstrip("=")
    return f"{call_id}{_SIGNATURE_SEPARATOR}{encoded}"


def split_tool_call_id(value: str) -> tuple[str, bytes | None]:
    """(Gemini's call id, thought signature) from an id made by `tool_call_id`."""
    call_id, separator, encoded = value.partition(_SIGNATURE_SEPARATOR)
    if not separator or not encoded:
        return value, None
    try:
        return call_id, base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        return call_id, None


# -- responses ---------------------------------------------------------------------------------
def response_from_wire(raw: Any, *, request_id: str | None = None) -> ChatResponse:
    """A ChatResponse from a GenerateContentResponse; `model` is empty when Gemini sent no
    model version (the adapter falls back to the requested model)."""
    response: types.GenerateContentResponse = raw
    parts = candidate_parts(response)
    tool_calls = tuple(
        tool_call_from(part, position)
        for position, part in enumerate(p for p in parts if p.function_call)
    )
    reasoning = "".join(thought_text(part) for part in parts)
    return ChatResponse(
        text="".join(visible_text(part) for part in parts),
        reasoning=(ReasoningPart(text=reasoning),) if reasoning else (),
        tool_calls=tool_calls,
        finish_reason=finish_reason_from_wire(
            raw_finish_reason(response), tool_calls=bool(tool_calls)
        ),
        usage=usage_from_wire(response.usage_metadata),
        model=response.model_version or "",
        request_id=request_id or response_request_id(response),
    )


def response_request_id(response: types.GenerateContentResponse) -> str | None:
    return response.response_id or header(
        getattr(response.sdk_http_response, "headers", None), "x-request-id"
    )


def candidate_parts(response: types.GenerateContentResponse) -> list[types.Part]:
    if not response.candidates or response.candidates[0].content is None:
        return []
    return list(response.candidates[0].content.parts or [])


def visible_text(part: types.Part) -> str:
    """The answer text of a part; thought summaries are not part of the answer."""
    if part.thought or not part.text:
        return ""
    return part.text


def thought_text(part: types.Part) -> str:
    """The text of a thought summary part (reasoning, not answer)."""
    return part.text or "" if part.thought else ""


def tool_call_from(part: types.Part, position: int) -> ToolCall:
    call = part.function_call
    assert call is not None
    return ToolCall(
        id=tool_call_id(call, position, part.thought_signature),
        name=call.name or "",
        arguments=json.dumps(call.args or {}),
    )


def raw_finish_reason(response: types.GenerateContentResponse) -> str | None:
    """The candidate's finish reason, or the prompt block reason when no candidate came back."""
    if response.candidates and response.candidates[0].finish_reason:
        return _enum_name(response.candidates[0].finish_reason)
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason:
        return "SAFETY"
    return None


def finish_reason_from_wire(value: str | None, *, tool_calls: bool = False) -> FinishReason:
    """Gemini's finish reason; Gemini says STOP after function calls, hence `tool_calls`."""
    if value in _CONTENT_FILTER_REASONS:
        return "content_filter"
    if value in _LENGTH_REASONS:
        return "length"
    return "tool_calls" if tool_calls else "stop"


def usage_from_wire(raw: Any) -> Usage:
    """Usage buckets from a usageMetadata object (see the module docstring)."""
    metadata = raw
    if metadata is None:
        return Usage()
    prompt = metadata.prompt_token_count or 0
    cached = min(prompt, getattr(metadata, "cached_content_token_count", None) or 0)
    tool_use = getattr(metadata, "tool_use_prompt_token_count", None) or 0
    output = getattr(metadata, "candidates_token_count", None)
    if output is None:  # embeddings' UsageMetadata names it response_token_count
        output = getattr(metadata, "response_token_count", None)
    return Usage(
        input_tokens=prompt - cached + tool_use,
        cached_input_tokens=cached,
        cache_write_tokens=0,
        output_tokens=output or 0,
        reasoning_tokens=getattr(metadata, "thoughts_token_count", None) or 0,
        raw=metadata.model_dump(mode="json", by_alias=True, exclude_none=True),
    )


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))


# -- errors ----------------------------------------------------------------------------------
def error_class(exc: BaseException, mapped: type[ProviderError]) -> type[ProviderError]:
    """An APIError's class from Google's structured fields; other exceptions keep the table's."""
    if not isinstance(exc, genai_errors.APIError):
        return mapped
    code = exc.code if isinstance(exc.code, int) else 0
    status = exc.status or ""
    reasons = {
        d.get("reason") for d in _error_details(exc.details) if d.get("@type") == _RPC + "ErrorInfo"
    }
    if "API_KEY_INVALID" in reasons or code == 401 or status == "UNAUTHENTICATED":
        return ProviderAuthenticationError
    if code == 403 or status == "PERMISSION_DENIED":
        return ProviderPermissionError
    if code == 404 or status == "NOT_FOUND":
        return ModelNotFoundError
    if code == 429 or status == "RESOURCE_EXHAUSTED":
        return RateLimitedError
    if code == 408 or status == "DEADLINE_EXCEEDED":
        return ProviderTimeoutError
    if code == 413:
        return ContextLengthExceededError
    return mapped


def error_fields(exc: BaseException) -> UpstreamFailure:
    """Code, `status`, message, Retry-After (header, else RetryInfo) and x-request-id."""
    if not isinstance(exc, genai_errors.APIError):
        return UpstreamFailure(detail=describe(exc))
    code = exc.code if isinstance(exc.code, int) else None
    headers = getattr(getattr(exc, "response", None), "headers", None)
    retry_after = retry_after_seconds(headers)
    if retry_after is None:
        retry_after = _retry_delay(_error_details(exc.details))
    return UpstreamFailure(
        detail=f"{exc.status or 'error'}: {exc.message or 'no message'}",
        status=code or None,
        retry_after=retry_after,
        request_id=header(headers, "x-request-id"),
    )


def _error_details(body: Any) -> list[dict[str, Any]]:
    """The google.rpc detail objects of an error body ({"error": {"details": [...]}})."""
    if not isinstance(body, dict):
        return []
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, dict) else None
    return [d for d in details or [] if isinstance(d, dict)]


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    """Seconds from a google.rpc.RetryInfo retryDelay ("12s", "1.5s")."""
    for detail in details:
        if detail.get("@type") != _RPC + "RetryInfo":
            continue
        delay = detail.get("retryDelay")
        try:
            return max(0.0, float(str(delay).removesuffix("s")))
        except ValueError:
            return None
    return None
