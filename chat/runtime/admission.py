"""Admission before any spend (rate limit, then budget) and settlement after the call.

Settlement runs after the response is known; a failure there is logged, never turned into an
error for a caller whose call has already been made and paid for.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal

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
    *, scope: CallScope, estimated_tokens: int, estimated_cost: Decimal
) -> Admission:
    """Admit the call or raise a 429 (RateLimitExceeded / BudgetExceeded)."""
    rate_limit_admit(scope=scope, estimated_tokens=estimated_tokens)
    try:
        reservation = budget_reserve(scope=scope, amount=estimated_cost)
    except Exception:
        rate_limit_settle(scope=scope, estimated_tokens=estimated_tokens, actual_tokens=0)
        raise
    return Admission(scope=scope, estimated_tokens=estimated_tokens, reservation=reservation)


def admission_close(
    *, admission: Admission, actual_tokens: int, actual_cost: Decimal | None
) -> None:
    """Turn the reservation into the actual cost (0 releases it) and correct the token count."""
    if admission.closed:
        return
    admission.closed = True
    try:
        if admission.reservation is not None:
            budget_settle(reservation=admission.reservation, actual_cost=actual_cost)
        rate_limit_settle(
            scope=admission.scope,
            estimated_tokens=admission.estimated_tokens,
            actual_tokens=actual_tokens,
        )
    except Exception:
        logger.exception("Settling the budget or rate limit of a call failed")
