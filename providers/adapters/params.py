"""Which OpenAI chat parameters each provider kind honours: the table behind docs/parameters.md.

Every parameter a request sets is, for the provider kind that serves it, one of
- PASSED: sent under its own name;
- TRANSLATED: sent as the provider's equivalent (the *_mapping modules do it);
- IGNORED: it only tunes sampling, latency or bookkeeping, the provider has no equivalent, so
  it is not sent and the /v1 response lists it in `x-ignored-params`;
- REFUSED: it would change what the answer means (its content or shape) and the provider
  cannot honour it: the adapter answers 400 naming it, before any network call, and the
  runtime may still serve the request with a fallback of another kind.
The decision is per kind, not per model: a model that refuses a passed parameter answers with
the provider's own 400.
"""

from typing import Literal

from providers.adapters.errors import InvalidRequestError
from providers.adapters.types import ChatRequest

Treatment = Literal["passed", "translated", "ignored", "refused"]
PASSED: Treatment = "passed"
TRANSLATED: Treatment = "translated"
IGNORED: Treatment = "ignored"
REFUSED: Treatment = "refused"

# OpenAI parameter -> treatment, by the adapter family ("openai" also serves
# "openai_compatible"). Parameters every kind refuses or drops at parsing (n > 1, functions,
# logit_bias, audio...) are in chat.v1.parsing.
_OPENAI: dict[str, Treatment] = {
    "temperature": PASSED,
    "top_p": PASSED,
    "max_tokens": PASSED,
    "stop": PASSED,
    "tools": PASSED,
    "tool_choice": PASSED,
    "response_format": PASSED,
    "reasoning_effort": PASSED,
    "seed": PASSED,
    "frequency_penalty": PASSED,
    "presence_penalty": PASSED,
    "logprobs": PASSED,
    "top_logprobs": PASSED,
    "parallel_tool_calls": PASSED,
    "user": PASSED,
    "metadata": PASSED,
    "service_tier": PASSED,
    "cache_control": IGNORED,  # OpenAI caches long prompts by itself
}
_ANTHROPIC: dict[str, Treatment] = {
    # The Messages API version the installed SDK speaks has no sampling parameters.
    "temperature": IGNORED,
    "top_p": IGNORED,
    "max_tokens": PASSED,
    "stop": TRANSLATED,  # stop_sequences
    "tools": TRANSLATED,
    "tool_choice": TRANSLATED,
    "response_format": TRANSLATED,  # output_config.format, or an instruction for json_object
    "reasoning_effort": TRANSLATED,  # thinking.budget_tokens
    "seed": IGNORED,
    "frequency_penalty": IGNORED,
    "presence_penalty": IGNORED,
    "logprobs": REFUSED,
    "top_logprobs": REFUSED,
    "parallel_tool_calls": TRANSLATED,  # tool_choice.disable_parallel_tool_use
    "user": TRANSLATED,  # metadata.user_id
    "metadata": IGNORED,
    "service_tier": TRANSLATED,  # auto -> auto, default -> standard_only; others ignored
    "cache_control": PASSED,
}
_GEMINI: dict[str, Treatment] = {
    "temperature": TRANSLATED,  # generation_config.temperature
    "top_p": TRANSLATED,
    "max_tokens": TRANSLATED,  # max_output_tokens
    "stop": TRANSLATED,  # stop_sequences
    "tools": TRANSLATED,
    "tool_choice": TRANSLATED,
    "response_format": TRANSLATED,  # response_mime_type + response_json_schema
    "reasoning_effort": TRANSLATED,  # thinking_config.thinking_budget
    "seed": TRANSLATED,
    "frequency_penalty": TRANSLATED,
    "presence_penalty": TRANSLATED,
    "logprobs": REFUSED,
    "top_logprobs": REFUSED,
    "parallel_tool_calls": IGNORED,
    "user": IGNORED,
    "metadata": IGNORED,
    "service_tier": IGNORED,
    "cache_control": IGNORED,  # Gemini caches implicitly; explicit caches are another API
}
SUPPORT: dict[str, dict[str, Treatment]] = {
    "openai": _OPENAI,
    "openai_compatible": _OPENAI,
    "anthropic": _ANTHROPIC,
    "gemini": _GEMINI,
}
# Anthropic's service tiers for OpenAI's; a tier without one is ignored.
ANTHROPIC_SERVICE_TIERS = {"auto": "auto", "default": "standard_only"}


def params_set(request: ChatRequest) -> list[str]:
    """The OpenAI names of the parameters this request sets (in the table's order)."""
    present = {
        "temperature": request.temperature is not None,
        "top_p": request.top_p is not None,
        "max_tokens": request.max_tokens is not None,
        "stop": bool(request.stop),
        "tools": bool(request.tools),
        "tool_choice": request.tool_choice is not None,
        "response_format": request.json_output or request.json_schema is not None,
        "reasoning_effort": request.reasoning_effort is not None,
        "seed": request.seed is not None,
        "frequency_penalty": request.frequency_penalty is not None,
        "presence_penalty": request.presence_penalty is not None,
        "logprobs": request.logprobs,
        "top_logprobs": request.top_logprobs is not None,
        "parallel_tool_calls": request.parallel_tool_calls is not None,
        "user": bool(request.user),
        "metadata": bool(request.metadata),
        "service_tier": bool(request.service_tier),
        "cache_control": cache_control_used(request),
    }
    return [name for name in _OPENAI if present[name]]


def cache_control_used(request: ChatRequest) -> bool:
    if any(tool.cache_control for tool in request.tools):
        return True
    for message in request.messages:
        if message.cache_control:
            return True
        if not isinstance(message.content, str) and any(
            getattr(part, "cache_control", None) for part in message.content
        ):
            return True
    return False


def _treatment(kind: str, name: str, request: ChatRequest) -> Treatment:
    if (
        kind == "anthropic"
        and name == "service_tier"
        and request.service_tier not in ANTHROPIC_SERVICE_TIERS
    ):
        return IGNORED
    return SUPPORT.get(kind, _OPENAI)[name]


def params_ignored(request: ChatRequest, kind: str) -> list[str]:
    """The parameters this request sets that `kind` does not send (x-ignored-params)."""
    return [name for name in params_set(request) if _treatment(kind, name, request) == IGNORED]


def params_refused(request: ChatRequest, kind: str) -> list[str]:
    return [name for name in params_set(request) if _treatment(kind, name, request) == REFUSED]


def params_check(request: ChatRequest, *, kind: str, provider: str = "") -> None:
    """400 naming the first parameter that `kind` cannot honour and that changes the answer."""
    refused = params_refused(request, kind)
    if refused:
        name = refused[0]
        raise InvalidRequestError(
            f"{name} is not supported by {kind} models; it would change the answer, so the "
            "request is refused rather than answered without it.",
            provider=provider,
            details={"param": name, "provider": provider},
        )
