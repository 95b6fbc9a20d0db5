"""Upper bounds on what one call can consume, so that a budget reservation is a true maximum.

Prompt: every tokenizer the supported providers use (OpenAI's and Anthropic's byte-level BPE,
Gemini's SentencePiece with byte fallback, and the Llama/Qwen/Mistral BPEs behind compatible
servers) turns text into tokens that each cover at least one UTF-8 byte, so the UTF-8 length of
a text is an upper bound on its token count whatever the script (English, CJK, emoji, code).
What the provider adds around the text (role markers, the tool-use system prompt, the image
encoding) is counted with the per-kind overheads below, taken at or above each provider's
documented figures. chars/4 (`request.prompt_tokens_estimate`) stays the typical estimate used
to fit context windows; only this bound is used to reserve money.

Output: the runtime always sends a cap (`output_cap`), so the provider cannot produce more
than the reservation assumed; reasoning ("thinking") tokens count within that cap on OpenAI
(max_completion_tokens), Anthropic (max_tokens) and Gemini (maxOutputTokens).
"""

import dataclasses
import json
from decimal import ROUND_CEILING, Decimal

from django.conf import settings

from config.errors import InvalidInput
from providers.adapters.overheads import prompt_overheads as overheads_for
from providers.adapters.types import ChatRequest, ImagePart, Message, TextPart, Usage
from providers.resolution import ModelPrices, ResolvedModel, ResolvedSelection
from usage.pricing import COST_QUANTUM, PER_MILLION


def text_bytes(text: str) -> int:
    """UTF-8 length; an unpaired surrogate (never valid UTF-8) counts as its escape would."""
    return len(text.encode("utf-8", errors="backslashreplace"))


def _message_bytes_and_images(message: Message) -> tuple[int, int]:
    size = 0
    images = 0
    if isinstance(message.content, str):
        size += text_bytes(message.content)
    else:
        for part in message.content:
            if isinstance(part, TextPart):
                size += text_bytes(part.text)
            elif isinstance(part, ImagePart):
                images += 1
    for call in message.tool_calls:
        size += text_bytes(call.id) + text_bytes(call.name) + text_bytes(call.arguments)
    size += text_bytes(message.tool_call_id or "") + text_bytes(message.name or "")
    return size, images


def prompt_tokens_max(request: ChatRequest, *, kind: str) -> int:
    """The most input tokens `request` can count as at a provider of `kind`."""
    costs = overheads_for(kind)
    total = costs.per_request
    for message in request.messages:
        size, images = _message_bytes_and_images(message)
        total += costs.per_message + size + images * costs.per_image
    if request.tools:
        total += costs.tools_prompt
        for tool in request.tools:
            total += costs.per_tool + text_bytes(tool.name) + text_bytes(tool.description)
            total += text_bytes(json.dumps(tool.parameters, ensure_ascii=False))
    if request.json_schema is not None:
        total += costs.per_tool + text_bytes(json.dumps(request.json_schema, ensure_ascii=False))
    return total


def embedding_tokens_max(inputs: tuple[str, ...] | list[str], *, kind: str) -> int:
    """The most input tokens embedding `inputs` can count as (bytes plus framing per input)."""
    costs = overheads_for(kind)
    return sum(costs.per_message + text_bytes(text) for text in inputs)


def output_cap(max_tokens: int | None, candidate: ResolvedModel) -> int:
    """The output cap `candidate` is sent, and reserved for: the asked max_tokens (the
    client's, else the selection's), else the model's max_output_tokens, else
    RUNTIME_DEFAULT_MAX_OUTPUT_TOKENS; never above the model's max_output_tokens."""
    limit = candidate.max_output_tokens
    cap = max_tokens or limit or int(settings.RUNTIME_DEFAULT_MAX_OUTPUT_TOKENS)
    if limit:
        cap = min(cap, limit)
    return max(1, cap)


def client_max_tokens_check(max_tokens: int | None, selection: ResolvedSelection) -> None:
    """Refuse (400, naming max_tokens) a client max_tokens that no chat model of the selection
    can produce: above the largest max_output_tokens among them, when all of them declare one.
    Candidates with a smaller limit are sent their own limit instead."""
    if max_tokens is None:
        return
    limits = [c.max_output_tokens for c in selection.candidates if c.kind == "chat"]
    if not limits or not all(limits):
        return
    largest = max(limit for limit in limits if limit)
    if max_tokens > largest:
        raise InvalidInput(
            f"max_tokens ({max_tokens}) is above what the model can produce ({largest}).",
            details={"param": "max_tokens", "max_output_tokens": largest},
        )


def cost_max(*, prices: ModelPrices, prompt_tokens: int, output_tokens: int) -> Decimal | None:
    """The most `prompt_tokens` in and `output_tokens` out can cost: every prompt token at the
    dearest input price (a cache write costs more than a plain input token on Anthropic),
    rounded up. None when the model has no input or output price (an unpriced call is
    recorded with no cost and charges no budget)."""
    if prices.input is None or prices.output is None:
        return None
    input_price = max(
        p for p in (prices.input, prices.cached_input, prices.cache_write) if p is not None
    )
    amount = (Decimal(prompt_tokens) * input_price + Decimal(output_tokens) * prices.output) / (
        PER_MILLION
    )
    return amount.quantize(COST_QUANTUM, rounding=ROUND_CEILING)


def usage_completed(
    usage: Usage | None,
    *,
    request: ChatRequest,
    kind: str,
    delivered: str,
    interrupted: bool,
) -> Usage | None:
    """The usage to record for a chat attempt, completed where the provider left it short so
    an answered or interrupted attempt is never recorded as a silent $0. A complete answer
    keeps the provider's count unless it reported none at all; otherwise a missing prompt count
    becomes its upper bound and an output count below the UTF-8 bytes of the text and tool
    calls `delivered` (at most the cap sent) becomes that. Estimates are flagged in `raw`."""
    reported = usage or Usage()
    if not interrupted and reported.total_tokens:
        return usage  # a complete answer with the provider's own count
    output = text_bytes(delivered)
    if request.max_tokens:
        output = min(output, request.max_tokens)
    changes: dict[str, int] = {}
    if output > reported.completion_tokens:
        changes["output_tokens"] = output - reported.reasoning_tokens
    if reported.prompt_tokens == 0:
        changes["input_tokens"] = prompt_tokens_max(request, kind=kind)
    if not changes:
        return usage
    raw = {
        **reported.raw,
        "estimated": True,
        "estimate_method": "utf8_bytes",
        **{f"reported_{name}": getattr(reported, name) for name in changes},
    }
    return dataclasses.replace(reported, **changes, raw=raw)
