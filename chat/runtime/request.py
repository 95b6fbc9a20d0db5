"""Building the request each candidate model receives, and fitting it to its context window.

Token counts here are typical estimates (usage.pricing.tokens_estimate: about four characters
a token, no tokenizer); they decide whether a model's context window fits and how much history
to keep. Budget reservations use the upper bounds of chat.runtime.bounds instead, and recorded
usage comes from the provider.
"""

import dataclasses
import json
from collections.abc import Sequence

from providers.adapters.types import ChatRequest, ImagePart, Message, TextPart
from providers.resolution import ParameterOverrides, ResolvedModel
from usage.pricing import tokens_estimate

# Per-message framing (role markers, separators) that providers add to the prompt.
MESSAGE_OVERHEAD_TOKENS = 4
# An image costs far more than its URL's length; a flat, conservative figure.
IMAGE_TOKENS = 1000


def message_tokens_estimate(message: Message) -> int:
    chars = 0
    images = 0
    if isinstance(message.content, str):
        chars += len(message.content)
    else:
        for part in message.content:
            if isinstance(part, TextPart):
                chars += len(part.text)
            else:
                images += 1
    for call in message.tool_calls:
        chars += len(call.name) + len(call.arguments)
    return MESSAGE_OVERHEAD_TOKENS + tokens_estimate(chars=chars) + images * IMAGE_TOKENS


def prompt_tokens_estimate(request: ChatRequest) -> int:
    tools_chars = sum(
        len(tool.name) + len(tool.description) + len(json.dumps(tool.parameters))
        for tool in request.tools
    )
    return sum(message_tokens_estimate(m) for m in request.messages) + tokens_estimate(
        chars=tools_chars
    )


def required_capabilities(request: ChatRequest) -> frozenset[str]:
    """The model capabilities this request cannot be served without."""
    needed: set[str] = set()
    if request.tools:
        needed.add("tools")
    if request.json_output or request.json_schema is not None:
        needed.add("json_output")
    if any(
        isinstance(part, ImagePart)
        for message in request.messages
        if not isinstance(message.content, str)
        for part in message.content
    ):
        needed.add("vision")
    return frozenset(needed)


def request_with_overrides(request: ChatRequest, overrides: ParameterOverrides) -> ChatRequest:
    """The service's defaults fill what the caller left unset; its system prompt goes first."""
    messages = request.messages
    if overrides.system_prompt:
        messages = (Message(role="system", content=overrides.system_prompt), *messages)
    return dataclasses.replace(
        request,
        messages=messages,
        temperature=request.temperature
        if request.temperature is not None
        else overrides.temperature,
        top_p=request.top_p if request.top_p is not None else overrides.top_p,
        max_tokens=request.max_tokens if request.max_tokens is not None else overrides.max_tokens,
        cache_prompt=request.cache_prompt or overrides.cache_prompt,
    )


def request_for_candidate(request: ChatRequest, candidate: ResolvedModel) -> ChatRequest:
    """The request as `candidate` receives it: its model id, max_tokens within its limit."""
    max_tokens = request.max_tokens
    if max_tokens is not None and candidate.max_output_tokens:
        max_tokens = min(max_tokens, candidate.max_output_tokens)
    return dataclasses.replace(request, model=candidate.model_name, max_tokens=max_tokens)


def fits_context(*, prompt_tokens: int, max_tokens: int | None, context_window: int | None) -> bool:
    if not context_window:
        return True  # unknown window: let the provider judge
    return prompt_tokens + (max_tokens or 0) <= context_window


def history_trim(
    messages: Sequence[Message], *, context_window: int | None, max_tokens: int | None
) -> tuple[Message, ...]:
    """Drop the oldest turns until the history fits; system messages are always kept.

    A turn starts at a user message and carries the assistant replies and tool results that
    follow it, so a tool result is never sent without the call it answers. The latest turn is
    never dropped: if it alone does not fit, the caller finds out from the fit check.
    """
    messages = tuple(messages)
    if not context_window:
        return messages
    budget = context_window - (max_tokens or 0)
    system = [m for m in messages if m.role == "system"]
    turns: list[list[Message]] = []
    for message in messages:
        if message.role == "system":
            continue
        if message.role == "user" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)
    used = sum(message_tokens_estimate(m) for m in system)
    sizes = [sum(message_tokens_estimate(m) for m in turn) for turn in turns]
    total = used + sum(sizes)
    first = 0
    while total > budget and first < len(turns) - 1:
        total -= sizes[first]
        first += 1
    kept = [m for turn in turns[first:] for m in turn]
    return (*system, *kept)
