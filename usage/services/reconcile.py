"""Check DailyUsage and the budgets against the ledger they summarise.

DailyUsage is checked day by day and group by group; each active budget's current period's
spend against the cost of the records in its scope (`budget_reconcile`).

The rollup is derived data; anything that writes records without a rollup afterwards (a late
record, a restored backup, a hand edit of a DailyUsage row) makes the two disagree. Both sides
are summed by the database with the same grouping, and every metric that differs is reported
as one drift. DailyUsage is summed per group too, so rows left key-less by a deleted consumer
key (see DailyUsage) still compare equal to the records.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from usage.budgets import budget_period_bounds
from usage.business_days import business_day_bounds, business_days, business_zone
from usage.models import Budget, BudgetHold, BudgetPeriod, DailyUsage, Outcome, UsageRecord
from usage.models.budget import ScopeType
from usage.models.daily import TOKEN_FIELDS
from usage.services.rollup import GROUP_FIELDS, usage_rollup_day

logger = logging.getLogger(__name__)

METRICS: tuple[str, ...] = ("requests", "errors", *TOKEN_FIELDS, "cost", "unpriced_calls")
_COST_QUANTUM = Decimal("1e-10")  # DecimalField(decimal_places=10) on both tables

GroupKey = tuple[str, str, str, str | None, int | None]


@dataclass(frozen=True, slots=True)
class UsageDrift:
    """One metric of one group of one day where DailyUsage differs from the records."""

    day: date
    provider: str
    model_string: str
    service: str
    api_key_id: str | None
    user_id: int | None
    metric: str
    expected: int | Decimal  # summed from UsageRecord
    actual: int | Decimal  # read from DailyUsage

    @property
    def consumer(self) -> str:
        """A printable consumer: the key's public prefix (its id also holds the key's hash)."""
        if self.api_key_id:
            return f"key {self.api_key_id.partition('.')[0]}"
        return f"user {self.user_id}" if self.user_id else "-"

    def __str__(self) -> str:
        return (
            f"{self.day} {self.provider} {self.model_string} service={self.service or '-'} "
            f"consumer={self.consumer} {self.metric}: records={self.expected} "
            f"daily={self.actual}"
        )


def _record_totals(day: date) -> dict[GroupKey, dict[str, int | Decimal]]:
    start, end = business_day_bounds(day)
    rows = (
        UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end)
        .order_by()
        .values(*GROUP_FIELDS)
        .annotate(
            m_requests=Count("id"),
            m_errors=Count("id", filter=~Q(outcome=Outcome.OK)),
            **{f"m_{name}": Sum(name) for name in TOKEN_FIELDS},
            m_cost=Sum("cost"),
            m_unpriced_calls=Count("id", filter=Q(is_priced=False)),
        )
    )
    return {_key(row): _metrics(row) for row in rows}


def _daily_totals(day: date) -> dict[GroupKey, dict[str, int | Decimal]]:
    rows = (
        DailyUsage.objects.filter(day=day)
        .order_by()
        .values(*GROUP_FIELDS)
        .annotate(**{f"m_{name}": Sum(name) for name in METRICS})
    )
    return {_key(row): _metrics(row) for row in rows}


def _key(row: dict) -> GroupKey:
    return tuple(row[name] for name in GROUP_FIELDS)  # type: ignore[return-value]


def _metrics(row: dict) -> dict[str, int | Decimal]:
    values: dict[str, int | Decimal] = {name: row[f"m_{name}"] or 0 for name in METRICS}
    values["cost"] = Decimal(values["cost"]).quantize(_COST_QUANTUM)
    return values


def usage_reconcile_day(*, day: date) -> list[UsageDrift]:
    """Every metric, per group, where DailyUsage for `day` differs from UsageRecord's sums."""
    expected_by_group = _record_totals(day)
    actual_by_group = _daily_totals(day)
    zero = dict.fromkeys(METRICS, 0) | {"cost": Decimal(0).quantize(_COST_QUANTUM)}
    drifts = []
    for group in sorted(expected_by_group.keys() | actual_by_group.keys(), key=_sort_key):
        expected = expected_by_group.get(group, zero)
        actual = actual_by_group.get(group, zero)
        provider, model_string, service, api_key_id, user_id = group
        drifts.extend(
            UsageDrift(
                day=day,
                provider=provider,
                model_string=model_string,
                service=service,
                api_key_id=api_key_id,
                user_id=user_id,
                metric=metric,
                expected=expected[metric],
                actual=actual[metric],
            )
            for metric in METRICS
            if expected[metric] != actual[metric]
        )
    return drifts


def _sort_key(group: GroupKey) -> tuple:
    return tuple("" if part is None else str(part) for part in group)


def usage_reconcile_range(*, since: date, until: date, repair: bool = False) -> list[UsageDrift]:
    """Reconcile each day from `since` to `until`; log every drift as a warning and, with
    `repair`, recompute the days that drifted (which also picks up late records)."""
    drifts: list[UsageDrift] = []
    for day in business_days(since, until):
        found = usage_reconcile_day(day=day)
        for drift in found:
            logger.warning("Usage rollup drift: %s", drift)
        if found and repair:
            usage_rollup_day(day=day)
        drifts.extend(found)
    return drifts


@dataclass(frozen=True, slots=True)
class BudgetDrift:
    """A budget whose settled spend in a period differs from its share of the ledger."""

    budget: str
    period_start: date
    spent: Decimal  # BudgetPeriod.spent
    ledger: Decimal  # the settled calls' records in its scope and period

    def __str__(self) -> str:
        return (
            f"budget {self.budget!r} from {self.period_start}: spent={self.spent} "
            f"ledger={self.ledger} (drift {self.spent - self.ledger})"
        )


_SCOPE_FIELDS = {
    ScopeType.SERVICE: "service",
    ScopeType.PROVIDER: "provider",
    ScopeType.CONSUMER_KEY: "api_key_id",
    ScopeType.USER: "user_id",
}


def _budget_ledger(budget: Budget, period: BudgetPeriod, unsettled: set[str]) -> Decimal:
    """The cost of the records in `budget`'s scope during `period` (from the budget's creation
    on), leaving out calls still holding a reservation (their settle has not happened yet)."""
    zone = business_zone()
    start = datetime.combine(period.period_start, time.min, tzinfo=zone)
    _, end = budget_period_bounds(period=budget.period, at=start)
    records = UsageRecord.objects.filter(
        created_at__gte=max(start, budget.created_at), created_at__lt=end, cost__isnull=False
    )
    field = _SCOPE_FIELDS.get(budget.scope_type)
    if field is not None:
        records = records.filter(**{field: budget.scope_value})
    if unsettled:
        records = records.exclude(request_id__in=unsettled)
    total = records.aggregate(total=Sum("cost"))["total"] or Decimal(0)
    return Decimal(total).quantize(_COST_QUANTUM)


def budget_reconcile(*, at: datetime | None = None) -> list[BudgetDrift]:
    """Every active budget whose current period's `spent` differs from the ledger's sum.

    Settling charges each budget exactly its calls' recorded costs (a provider budget its
    provider's share), and a reservation that could not be settled is settled later from the
    ledger, so after any fault the two agree; a drift means something else changed one side
    (a hand edit, a budget whose scope was edited mid-period, records deleted). Read in one
    REPEATABLE READ snapshot on PostgreSQL so that calls settling meanwhile are not seen half.
    """
    now = at or timezone.now()
    drifts: list[BudgetDrift] = []
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        unsettled = set(BudgetHold.objects.values_list("reservation_id", flat=True))
        for budget in Budget.objects.filter(active=True).order_by("name"):
            start, _ = budget_period_bounds(period=budget.period, at=now)
            period = BudgetPeriod.objects.filter(budget=budget, period_start=start).first()
            if period is None:
                continue
            ledger = _budget_ledger(budget, period, unsettled)
            spent = period.spent.quantize(_COST_QUANTUM)
            if spent != ledger:
                drifts.append(BudgetDrift(budget.name, start, spent, ledger))
    for drift in drifts:
        logger.warning("Budget drift: %s", drift)
    return drifts
