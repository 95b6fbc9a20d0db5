"""The usage ledger: one UsageRecord per attempt at a provider call.

Writing a record is on the hot path of every call, so it is a single INSERT: the caller
passes ids (never model instances to look up) and the resolved model carries its prices.
"""

from datetime import datetime

from django.utils import timezone

from config.logging import redact
from providers.adapters.types import Usage
from providers.resolution import ResolvedModel
from usage.models import Outcome, UsageRecord
from usage.pricing import usage_cost

_MAX_MESSAGE = 500


def usage_record_create(
    *,
    request_id: str,
    model: ResolvedModel,
    usage: Usage | None = None,
    outcome: str = Outcome.OK,
    error_message: str = "",
    attempt: int = 1,
    is_fallback: bool = False,
    streamed: bool = False,
    operation: str = "chat",
    latency_ms: int = 0,
    time_to_first_token_ms: int | None = None,
    service: str | None = None,
    user_id: int | None = None,
    api_key_id: str | None = None,
    conversation_id: int | None = None,
    provider_request_id: str | None = None,
    model_reported: str = "",
    created_at: datetime | None = None,
) -> UsageRecord:
    """Record one attempt (failed attempts too, with the tokens seen, often zero) and its cost
    at the prices in force now, keeping the price snapshot and the provider's raw usage."""
    usage = usage or Usage()
    priced = usage_cost(usage=usage, prices=model.prices)
    return UsageRecord.objects.create(
        created_at=created_at or timezone.now(),
        request_id=request_id,
        provider_request_id=(provider_request_id or "")[:128],
        user_id=user_id,
        api_key_id=api_key_id,
        service=service or "",
        provider=model.provider_slug,
        model_string=model.model_string,
        model_reported=(model_reported or "")[:200],
        conversation_id=conversation_id,
        input_tokens=usage.input_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        output_tokens=usage.output_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        raw_usage=usage.raw or {},
        cost=priced.cost,
        is_priced=priced.is_priced,
        price_snapshot=priced.price_snapshot,
        latency_ms=max(0, latency_ms),
        time_to_first_token_ms=time_to_first_token_ms,
        outcome=outcome,
        error_message=redact(error_message)[:_MAX_MESSAGE],
        attempt=attempt,
        is_fallback=is_fallback,
        streamed=streamed,
        operation=operation,
    )
