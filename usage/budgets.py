"""Budgets that hold under concurrency: reserve a call's maximum cost before it, settle after.

Protocol (every step in one database transaction):

- reserve: find the active budgets whose scope matches the call (from the shared cache, so a
  call that matches none does no query), then `SELECT ... FOR UPDATE` their current-period rows
  in id order (a stable order, so two callers never deadlock). For each hard budget check
  `spent + reserved + amount <= limit`; refuse with BudgetExceeded (HTTP 429) if not. Otherwise
  add `amount` to `reserved` and write one BudgetHold row per period row, keyed by the
  reservation id. A missing period row (new period, new budget) is inserted with
  `INSERT ... ON CONFLICT DO NOTHING` outside the locking transaction, then the lock is retried,
  so two processes creating it at once both succeed and neither holds a lock while inserting.
- settle: lock the reservation's holds, then their period rows (id order); `reserved -= hold`,
  `spent += actual cost` (a provider budget: the cost of that provider's attempts only);
  delete the holds. A second settle of the same reservation finds no holds and changes
  nothing. `actual_cost=None` or 0 (nothing billed) releases the hold.
- cleanup: holds older than a few minutes belong to callers that never settled (a crash, or
  the database gone while settling); they are settled from the ledger, the usage records of
  the call whose request id is the reservation id (budget_reservations_release_stale, run by
  Celery beat), so budgets and the ledger agree after any fault.

Bound on overspend: the check and the hold happen under the row lock, so concurrent calls are
serialised per budget and every call in flight is already counted in `reserved`. A hard budget
is therefore exceeded only by the amount by which the calls' actual cost exceeds what they
reserved: for each call `max(0, actual - reserved)`, which is zero when the reservation is a
true maximum (prompt estimate plus max_tokens at the model's prices) and otherwise at most the
error of that call's prompt estimate. It never grows with the number of concurrent calls.
The call runtime makes the reservation a true maximum (chat.runtime.bounds); the README's
budget section states the resulting bound.

Call reserve and settle outside any enclosing transaction: the row locks are held until the
outermost transaction commits, which must not include the provider call.
"""

import logging
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from config.errors import TooManyRequests
from usage.alerts import budget_alerts_record
from usage.business_days import business_zone
from usage.limits_cache import BudgetSpec, active_budgets, scope_matches
from usage.models import Budget, BudgetHold, BudgetPeriod, UsageRecord
from usage.models.budget import Period, ScopeType
from usage.types import CallScope, Reservation

logger = logging.getLogger(__name__)

STALE_HOLD_AGE = timedelta(minutes=15)
_LEDGER_SCALE = Decimal("1e-10")  # the ledger columns' scale: holds release exactly
_LOCK_ATTEMPTS = 3


class BudgetExceeded(TooManyRequests):
    code = "budget_exceeded"
    default_message = "A budget would be exceeded."


def _now() -> datetime:
    return timezone.now()


def budget_period_bounds(*, period: str, at: datetime) -> tuple[date, datetime]:
    """The first day of the period containing `at` and the instant the next one starts, both
    in the business time zone (so a monthly budget resets at local midnight on the 1st)."""
    zone = business_zone()
    local_day = at.astimezone(zone).date()
    if period == Period.DAILY:
        start = local_day
        next_start = start + timedelta(days=1)
    else:
        start = local_day.replace(day=1)
        next_start = (start + timedelta(days=32)).replace(day=1)
    return start, datetime.combine(next_start, time.min, tzinfo=zone)


def _period_filter(starts: dict[int, date]) -> Q:
    return reduce(or_, (Q(budget_id=bid, period_start=start) for bid, start in starts.items()))


def _periods_create(budgets: list[BudgetSpec], starts: dict[int, date]) -> list[BudgetSpec]:
    """Insert missing period rows (racing inserts are ignored); drop budgets deleted meanwhile."""
    existing = set(
        Budget.objects.filter(id__in=[b.id for b in budgets]).values_list("id", flat=True)
    )
    BudgetPeriod.objects.bulk_create(
        [BudgetPeriod(budget_id=bid, period_start=starts[bid]) for bid in sorted(existing)],
        ignore_conflicts=True,
    )
    return [b for b in budgets if b.id in existing]


def _refusal(budget: BudgetSpec, period: BudgetPeriod, now: datetime) -> BudgetExceeded:
    _, resets_at = budget_period_bounds(period=budget.period, at=now)
    return BudgetExceeded(
        f'The {budget.period} budget "{budget.name}" would be exceeded; '
        f"it resets at {resets_at.isoformat()}.",
        retry_after=max(1.0, (resets_at - now).total_seconds()),
        details={
            "budget": budget.name,
            "resets_at": resets_at.isoformat(),
            "limit": str(budget.limit_usd),
            "spent": str(period.spent),
        },
    )


def _matches(
    budget: BudgetSpec, scope: CallScope, provider_amounts: dict[str, Decimal] | None
) -> bool:
    if budget.scope_type == ScopeType.PROVIDER and provider_amounts is not None:
        return budget.scope_value in provider_amounts
    return scope_matches(budget.scope_type, budget.scope_value, scope)


def _hold_amount(
    budget: BudgetSpec, amount: Decimal, provider_amounts: dict[str, Decimal] | None
) -> Decimal:
    if budget.scope_type == ScopeType.PROVIDER and provider_amounts is not None:
        return provider_amounts[budget.scope_value].quantize(_LEDGER_SCALE)
    return amount


def budget_reserve(
    *,
    scope: CallScope,
    amount: Decimal,
    provider_amounts: dict[str, Decimal] | None = None,
    reservation_id: str | None = None,
) -> Reservation | None:
    """Hold `amount` against every active budget matching `scope`; None when none applies.

    With `provider_amounts` (provider slug -> the most that provider's attempts can cost), a
    provider-scoped budget matches when its provider is one the call may reach (the primary or
    a fallback) and holds that provider's amount; without it, `scope.provider_slug` decides.
    `reservation_id` should be the call's request id, which its usage records carry, so that a
    reservation left unsettled can be settled from the ledger later.

    Raises BudgetExceeded when a hard budget cannot afford it (nothing is held then).
    """
    if amount < 0 or any(v < 0 for v in (provider_amounts or {}).values()):
        raise ValueError("A reservation amount cannot be negative.")
    amount = amount.quantize(_LEDGER_SCALE)
    budgets = [b for b in active_budgets() if _matches(b, scope, provider_amounts)]
    if not budgets:
        return None
    now = _now()
    starts = {b.id: budget_period_bounds(period=b.period, at=now)[0] for b in budgets}
    reservation_id = reservation_id or uuid.uuid4().hex
    for _ in range(_LOCK_ATTEMPTS):
        with transaction.atomic():
            periods = list(
                BudgetPeriod.objects.select_for_update()
                .filter(_period_filter(starts))
                .order_by("id")
            )
            if len(periods) == len(budgets):
                by_id = {b.id: b for b in budgets}
                holds = {
                    p.id: _hold_amount(by_id[p.budget_id], amount, provider_amounts)
                    for p in periods
                }
                for period in periods:
                    budget = by_id[period.budget_id]
                    held = holds[period.id]
                    if budget.hard and period.spent + period.reserved + held > budget.limit_usd:
                        raise _refusal(budget, period, now)
                for period in periods:
                    BudgetPeriod.objects.filter(id=period.id).update(
                        reserved=F("reserved") + holds[period.id]
                    )
                BudgetHold.objects.bulk_create(
                    [
                        BudgetHold(
                            reservation_id=reservation_id,
                            period_id=pid,
                            amount=held,
                            created_at=now,
                        )
                        for pid, held in holds.items()
                    ]
                )
                return Reservation(
                    id=reservation_id, amount=amount, budget_ids=tuple(sorted(by_id))
                )
        budgets = _periods_create(budgets, starts)
        if not budgets:
            return None
        starts = {b.id: starts[b.id] for b in budgets}
    raise RuntimeError("Budget period rows could not be created and locked.")


def _budget_cost(
    budget: Budget, total: Decimal, provider_costs: dict[str, Decimal] | None
) -> Decimal:
    """What one call charges `budget`: a provider budget only its provider's attempts."""
    if budget.scope_type == ScopeType.PROVIDER and provider_costs is not None:
        return provider_costs.get(budget.scope_value, Decimal(0))
    return total


def _settle_holds(
    reservation_id: str, actual_cost: Decimal | None, provider_costs: dict[str, Decimal] | None
) -> int:
    """Replace one reservation's holds by its actual cost; returns how many holds it cleared."""
    total = actual_cost or Decimal(0)
    with transaction.atomic():
        holds = list(
            BudgetHold.objects.select_for_update()
            .filter(reservation_id=reservation_id)
            .order_by("id")
        )
        if not holds:
            return 0
        periods = list(
            BudgetPeriod.objects.select_for_update(of=("self",))
            .select_related("budget")
            .filter(id__in=[h.period_id for h in holds])
            .order_by("id")
        )
        held = {h.period_id: h.amount for h in holds}
        for period in periods:
            cost = _budget_cost(period.budget, total, provider_costs).quantize(_LEDGER_SCALE)
            BudgetPeriod.objects.filter(id=period.id).update(
                reserved=F("reserved") - held[period.id], spent=F("spent") + cost
            )
            if cost > 0:
                budget_alerts_record(
                    budget=period.budget,
                    period_start=period.period_start,
                    spent_before=period.spent,
                    spent_after=period.spent + cost,
                )
        BudgetHold.objects.filter(id__in=[h.id for h in holds]).delete()
    return len(holds)


def budget_settle(
    *,
    reservation: Reservation | None,
    actual_cost: Decimal | None,
    provider_costs: dict[str, Decimal] | None = None,
) -> None:
    """Replace the hold by the actual cost (None or 0 releases it); with `provider_costs`
    (slug -> the cost of that provider's attempts) a provider budget is charged only its
    provider's share. Settling twice changes nothing."""
    if reservation is None:
        return
    costs = [actual_cost or Decimal(0), *(provider_costs or {}).values()]
    if any(cost < 0 for cost in costs):
        raise ValueError("An actual cost cannot be negative.")
    _settle_holds(reservation.id, actual_cost, provider_costs)


def _ledger_costs(reservation_id: str) -> tuple[Decimal, dict[str, Decimal]]:
    """What the ledger holds for the call of `reservation_id` (its request id): in total and
    per provider."""
    rows = (
        UsageRecord.objects.filter(request_id=reservation_id, cost__isnull=False)
        .order_by()
        .values("provider")
        .annotate(total=Sum("cost"))
    )
    by_provider = {row["provider"]: row["total"] or Decimal(0) for row in rows}
    return sum(by_provider.values(), Decimal(0)), by_provider


def budget_reservations_release_stale(*, older_than: timedelta = STALE_HOLD_AGE) -> int:
    """Settle the holds of callers that never settled (a crashed worker, or a database outage
    while settling) from the ledger: the reservation id is the call's request id, so the
    budgets end up charged exactly what its usage records cost. Returns how many."""
    cutoff = _now() - older_than
    reservation_ids = list(
        BudgetHold.objects.filter(created_at__lt=cutoff)
        .values_list("reservation_id", flat=True)
        .distinct()[:1000]
    )
    settled = 0
    for reservation_id in reservation_ids:
        total, by_provider = _ledger_costs(reservation_id)
        if _settle_holds(reservation_id, total, by_provider):
            settled += 1
            logger.warning(
                "Settled stale budget reservation %s from the ledger: %s", reservation_id, total
            )
    return settled


def _percent(spent: Decimal, limit: Decimal) -> float:
    if limit <= 0:
        return 100.0 if spent > 0 else 0.0
    return float(round(spent * 100 / limit, 1))


def budget_status_list() -> list[dict]:
    """Every active budget with its current period's spend, for dashboards and the usage API.

    Keys: id, name, scope ("global" or "type:value"), scope_type, scope_value, period,
    limit/spent/reserved (Decimal USD), percent (float, spent over limit), resets_at (ISO
    8601 string), hard (bool).
    """
    now = _now()
    budgets = list(Budget.objects.filter(active=True).order_by("name"))
    if not budgets:
        return []
    bounds = {b.id: budget_period_bounds(period=b.period, at=now) for b in budgets}
    periods = {
        p.budget_id: p
        for p in BudgetPeriod.objects.filter(
            _period_filter({bid: start for bid, (start, _) in bounds.items()})
        )
    }
    rows = []
    for budget in budgets:
        period = periods.get(budget.id)
        spent = period.spent if period else Decimal("0")
        rows.append(
            {
                "id": budget.id,
                "name": budget.name,
                "scope": budget.scope_label,
                "scope_type": budget.scope_type,
                "scope_value": budget.scope_value,
                "period": budget.period,
                "limit": budget.limit_usd,
                "spent": spent,
                "reserved": period.reserved if period else Decimal("0"),
                "percent": _percent(spent, budget.limit_usd),
                "resets_at": bounds[budget.id][1].isoformat(),
                "hard": budget.hard,
            }
        )
    return rows
