"""Admission before any spend (rate limit, then budget) and settlement after the call.

Settlement runs after the response is known; a failure there is logged, never turned into an
error for a caller whose call has already been made and paid for. A budget reservation whose
settlement failed (the database went away) keeps its holds; the release task settles them
later from the ledger (usage.budgets.budget_reservations_release_stale), never at $0.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal

from config.outages import outage_log
from usage.budgets import budget_reserve, budget_settle
from usage.ratelimits import rate_limit_admit, rate_limit_settle
from usage.types import CallScope, Reservation

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Admission:
    scope: CallScope
    estimated_tokens: int
    reservation: Reservation | None
    closed: bool = False


def admission_open(
    *,
    scope: CallScope,
    estimated_tokens: int,
    estimated_cost: Decimal,
    provider_costs: dict[str, Decimal] | None = None,
    reservation_id: str | None = None,
) -> Admission:
    """Admit the call or raise a 429 (RateLimitExceeded / BudgetExceeded). `provider_costs`
    holds each provider the call may reach at most its own candidates' cost."""
    rate_limit_admit(scope=scope, estimated_tokens=estimated_tokens)
    try:
        reservation = budget_reserve(
            scope=scope,
            amount=estimated_cost,
            provider_amounts=provider_costs,
            reservation_id=reservation_id,
        )
    except Exception:
        rate_limit_settle(scope=scope, estimated_tokens=estimated_tokens, actual_tokens=0)
        raise
    return Admission(scope=scope, estimated_tokens=estimated_tokens, reservation=reservation)


def admission_close(
    *,
    admission: Admission,
    actual_tokens: int,
    actual_cost: Decimal,
    provider_costs: dict[str, Decimal] | None = None,
) -> None:
    """Turn the reservation into the actual cost (per provider for provider budgets) and
    correct the token count. Each step is tried even if the other fails."""
    if admission.closed:
        return
    admission.closed = True
    if admission.reservation is not None:
        try:
            budget_settle(
                reservation=admission.reservation,
                actual_cost=actual_cost,
                provider_costs=provider_costs,
            )
        except Exception as exc:
            outage_log(
                logger,
                logging.ERROR,
                "Settling budget reservation %s failed; the release task will settle it "
                "from the ledger",
                admission.reservation.id,
                exc=exc,
            )
    try:
        rate_limit_settle(
            scope=admission.scope,
            estimated_tokens=admission.estimated_tokens,
            actual_tokens=actual_tokens,
        )
    except Exception as exc:
        outage_log(logger, logging.ERROR, "Settling the rate limit of a call failed", exc=exc)
