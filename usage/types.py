"""Plain types the call runtime hands to budgets, rate limits and the ledger."""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class CallScope:
    """Who is calling what: every budget and rate limit scope is matched against this."""

    service: str | None = None
    provider_slug: str | None = None
    api_key_id: str | None = None  # ConsumerAPIKey pk (a string id)
    user_id: int | None = None
    tags: tuple[str, ...] = ()  # the call's attribution tags (usage.attribution)


@dataclass(frozen=True, slots=True)
class Reservation:
    """Money held against budgets before a call; settled or released after it."""

    id: str
    amount: Decimal
    budget_ids: tuple[int, ...] = ()
