"""Active budgets and rate limits, read from the shared cache on the hot path.

Every call checks which budgets and rate limits apply to it. Reading them from the database on
each call would cost queries even when nothing applies, so the active rows are cached as plain
tuples under a generation number. Saving or deleting a Budget or RateLimit bumps the generation
after commit (signals below); entries cached under an older generation are never read again, so
a reader that raced a change can only ever write a stale entry nobody looks up. A missing
generation restarts from the clock, never from a number an old entry may still carry.
"""

import logging
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from config.generation_cache import CacheGeneration, GenerationCache, cache_errors
from usage.models import Budget, RateLimit
from usage.types import CallScope

# Public so a call can read it together with its other cache state (chat.runtime.call).
generation_counter = CacheGeneration("usage:limits-generation")
ENTRY_TIMEOUT = 3600  # seconds; only frees memory, correctness comes from the generation

logger = logging.getLogger(__name__)


class BudgetSpec(NamedTuple):
    id: int
    name: str
    scope_type: str
    scope_value: str
    period: str
    limit_usd: Decimal
    hard: bool
    alert_thresholds: tuple[int, ...]


class RateLimitSpec(NamedTuple):
    id: int
    scope_type: str
    scope_value: str
    requests_per_minute: int | None
    tokens_per_minute: int | None


def scope_matches(scope_type: str, scope_value: str, scope: CallScope) -> bool:
    """Whether a budget or rate limit of this scope applies to a call of `scope`."""
    if scope_type == "global":
        return True
    if scope_type == "tag":
        return scope_value in scope.tags
    actual: Any = {
        "service": scope.service,
        "provider": scope.provider_slug,
        "consumer_key": scope.api_key_id,
        "user": scope.user_id,
    }.get(scope_type)
    return actual is not None and str(actual) == scope_value


def limits_generation() -> int:
    return generation_counter.current()


def limits_generation_bump() -> None:
    generation_counter.bump()


def _load_budgets() -> tuple[BudgetSpec, ...]:
    return tuple(
        BudgetSpec(
            id=b.id,
            name=b.name,
            scope_type=b.scope_type,
            scope_value=b.scope_value,
            period=b.period,
            limit_usd=b.limit_usd,
            hard=b.hard,
            alert_thresholds=tuple(sorted(int(t) for t in b.alert_thresholds or ())),
        )
        for b in Budget.objects.filter(active=True).order_by("id")
    )


def _load_rate_limits() -> tuple[RateLimitSpec, ...]:
    return tuple(
        RateLimitSpec(
            id=r.id,
            scope_type=r.scope_type,
            scope_value=r.scope_value,
            requests_per_minute=r.requests_per_minute,
            tokens_per_minute=r.tokens_per_minute,
        )
        for r in RateLimit.objects.filter(active=True).order_by("id")
    )


# Straight from the database when the cache is down, so a cache outage costs queries, never a
# wrong budget decision.
_budgets = GenerationCache(
    "usage:limits:budgets",
    lambda _: _load_budgets(),
    generation=generation_counter,
    timeout=ENTRY_TIMEOUT,
    load_on_cache_error=True,
)
_rate_limits = GenerationCache(
    "usage:limits:rate-limits",
    lambda _: _load_rate_limits(),
    generation=generation_counter,
    timeout=ENTRY_TIMEOUT,
    load_on_cache_error=True,
)


def active_budgets() -> tuple[BudgetSpec, ...]:
    """All active budgets, ordered by id (the lock order)."""
    return _budgets.get()


def active_rate_limits() -> tuple[RateLimitSpec, ...]:
    return _rate_limits.get()


@receiver(post_save, sender=Budget)
@receiver(post_delete, sender=Budget)
@receiver(post_save, sender=RateLimit)
@receiver(post_delete, sender=RateLimit)
def limits_changed(sender: type, **kwargs: Any) -> None:
    transaction.on_commit(_bump_quietly)


def _bump_quietly() -> None:
    try:
        limits_generation_bump()
    except cache_errors():  # the entries expire on their own within ENTRY_TIMEOUT
        logger.warning("Cache unavailable: limits generation not bumped", exc_info=True)
