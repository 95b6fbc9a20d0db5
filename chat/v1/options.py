"""The OpenAI chat parameters beyond messages and sampling basics: parsed, refused or dropped.

What each provider kind then does with a parsed parameter (passes, translates, ignores,
refuses) is decided in providers.adapters.params; docs/parameters.md is the table. Here:
- parameters that change the answer and that no provider kind is served with here
  (REFUSED_EVERYWHERE: legacy `functions`, audio output, web search, a non-empty
  `logit_bias`) get a 400 naming them;
- parameters that only tune latency, storage or bookkeeping and are not carried to any
  provider (DROPPED) are accepted and listed in `x-ignored-params`;
- Anthropic's `cache_control` is read on messages and tools (on content parts by
  chat.content), and an assistant
  turn's reasoning (`reasoning_content`, and `thinking_blocks` with their signatures, as
  OpenAI-compatible gateways send them) is read back so it can round-trip.
"""

from typing import Any

from django.conf import settings

from chat.content import invalid_param
from providers.adapters.params import params_ignored
from providers.adapters.types import REASONING_EFFORTS, ChatRequest, ReasoningPart

SERVICE_TIERS = ("auto", "default", "flex", "scale", "priority")
MAX_METADATA_PAIRS = 16
MAX_USER_LENGTH = 256
# Accepted and not sent anywhere (they tune latency, storage or routing only).
DROPPED = ("store", "prediction", "verbosity", "prompt_cache_key", "safety_identifier")
_REFUSED_MESSAGES = {
    "functions": "functions (the legacy function-calling API) is not supported; use tools.",
    "function_call": "function_call is not supported; use tools and tool_choice.",
    "audio": "audio output is not supported.",
    "web_search_options": "web_search_options is not supported.",
    "logit_bias": "logit_bias is not supported.",
}


def refused_check(body: dict[str, Any]) -> None:
    """400 for a parameter that would change the answer and that this service never honours."""
    for name, message in _REFUSED_MESSAGES.items():
        if body.get(name) not in (None, {}, []):
            raise invalid_param(message, name)
    modalities = body.get("modalities")
    if modalities is not None and modalities != ["text"]:
        raise invalid_param("Only text output is supported (modalities ['text']).", "modalities")


def dropped(body: dict[str, Any]) -> list[str]:
    return [name for name in DROPPED if body.get(name) is not None]


def ignored_params(body: Any, request: ChatRequest, kind: str) -> list[str]:
    """What x-ignored-params lists: the request's parameters that `kind` did not receive."""
    names = params_ignored(request, kind)
    if isinstance(body, dict):
        names += dropped(body)
    return names


def ignored_header(body: Any, request: ChatRequest, kind: str) -> dict[str, str]:
    names = ignored_params(body, request, kind)
    return {"x-ignored-params": ",".join(names)} if names else {}


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if value not in allowed:
        raise invalid_param(f"{name} must be one of {', '.join(allowed)}.", name)
    return value


def _boolean(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise invalid_param(f"{name} must be a boolean.", name)
    return value


def _number(body: dict[str, Any], name: str, low: float, high: float, *, integer: bool = False):
    value = body.get(name)
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        raise invalid_param(f"{name} must be a number between {low:g} and {high:g}.", name)
    return value


def _user(body: dict[str, Any]) -> str | None:
    value = body.get("user")
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_USER_LENGTH:
        raise invalid_param(
            f"user must be a string of at most {MAX_USER_LENGTH} characters.", "user"
        )
    return value


def _metadata(body: dict[str, Any]) -> dict[str, str] | None:
    value = body.get("metadata")
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or len(value) > MAX_METADATA_PAIRS
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    ):
        raise invalid_param(
            f"metadata must be an object of at most {MAX_METADATA_PAIRS} string values.",
            "metadata",
        )
    return value or None


def options_parse(body: dict[str, Any]) -> dict[str, Any]:
    """ChatRequest keyword arguments for the optional parameters of a chat body."""
    refused_check(body)
    logprobs = _boolean(body, "logprobs") or False
    top_logprobs = _number(body, "top_logprobs", 0, 20, integer=True)
    if top_logprobs is not None and not logprobs:
        raise invalid_param("top_logprobs needs logprobs=true.", "top_logprobs")
    return {
        "reasoning_effort": _choice(body, "reasoning_effort", REASONING_EFFORTS),
        "seed": _number(body, "seed", -(2**63), 2**63 - 1, integer=True),
        "frequency_penalty": _number(body, "frequency_penalty", -2, 2),
        "presence_penalty": _number(body, "presence_penalty", -2, 2),
        "logprobs": logprobs,
        "top_logprobs": top_logprobs,
        "parallel_tool_calls": _boolean(body, "parallel_tool_calls"),
        "user": _user(body),
        "metadata": _metadata(body),
        "service_tier": _choice(body, "service_tier", SERVICE_TIERS),
    }


def reasoning_parse(raw: dict[str, Any], where: str) -> tuple[ReasoningPart, ...]:
    """An assistant turn's reasoning: signed `thinking_blocks` if sent, else the plain
    `reasoning_content` text."""
    blocks = raw.get("thinking_blocks")
    if blocks is not None:
        if not isinstance(blocks, list) or len(blocks) > settings.API_MAX_CONTENT_PARTS:
            raise invalid_param(f"{where}.thinking_blocks must be an array.", where)
        return tuple(
            _thinking_block(block, f"{where}.thinking_blocks[{index}]")
            for index, block in enumerate(blocks)
        )
    text = raw.get("reasoning_content")
    if text is None or text == "":
        return ()
    if not isinstance(text, str):
        raise invalid_param(f"{where}.reasoning_content must be a string.", where)
    return (ReasoningPart(text=text),)


def _thinking_block(block: Any, where: str) -> ReasoningPart:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "thinking":
        text, signature = block.get("thinking"), block.get("signature")
        if isinstance(text, str) and (signature is None or isinstance(signature, str)):
            return ReasoningPart(text=text, signature=signature or None)
    elif kind == "redacted_thinking" and isinstance(block.get("data"), str):
        return ReasoningPart(redacted=block["data"])
    raise invalid_param(
        f"{where} must be a thinking block (thinking, signature) or redacted_thinking (data).",
        where,
    )
