"""Counting a Messages request's input tokens for /anthropic/v1/messages/count_tokens.

When the model (or the service's primary model) is on an Anthropic provider, that provider
counts: its count_tokens is free, exact for its tokenizer, and the count Claude Code expects.
Otherwise, when that provider's circuit is open (no waiting on a provider known to be down;
a count is not a call, so it neither opens nor closes the circuit), or when it fails to
answer, the gateway's own estimate
(chat.runtime.request.prompt_tokens_estimate, about four characters a token plus framing: the
one used to fit context windows) answers, so counting never fails for a provider's outage.
No UsageRecord is written and no budget or rate limit is charged: nothing is generated.
"""

import logging
from typing import Literal

from chat.runtime.breaker import CircuitBreaker
from chat.runtime.request import prompt_tokens_estimate, request_for_candidate
from providers.adapters.errors import ProviderError
from providers.adapters.registry import adapter_class_for
from providers.adapters.types import ChatRequest
from providers.selectors import model_selection_resolve, provider_adapter_get

logger = logging.getLogger(__name__)

CountMethod = Literal["provider", "estimate"]


def message_tokens_count(*, request: ChatRequest) -> tuple[int, CountMethod]:
    """(input tokens, how they were counted) for `request`, whose model is checked already."""
    primary = model_selection_resolve(name=request.model).candidates[0]
    counts = adapter_class_for(primary.provider_kind).supports_token_count
    if counts and not CircuitBreaker().is_open(primary.provider_slug):
        try:
            adapter = provider_adapter_get(
                slug=primary.provider_slug, version=primary.provider_version
            )
            return adapter.count_tokens(request_for_candidate(request, primary)), "provider"
        except ProviderError as error:
            logger.warning(
                "Counting tokens at %s failed (%s); answering the estimate.",
                primary.provider_slug,
                error.code,
            )
    return prompt_tokens_estimate(request), "estimate"
