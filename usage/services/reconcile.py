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
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from usage.budgets import budget_period_bounds
from usage.business_days import business_day_bounds, business_days, business_zone
from usage.models import (
    Budget,
    BudgetHold,
    BudgetPeriod,
    DailyTagUsage,
    DailyUsage,
    Outcome,
    UsageRecord,
)
from usage.models.budget import ScopeType
from usage.models.daily import TOKEN_FIELDS
from usage.services.rollup import GROUP_FIELDS, usage_counted_set, usage_rollup_day

logger = logging.getLogger(__name__)

METRICS: tuple[str, ...] = ("requests", "errors", *TOKEN_FIELDS, "cost", "unpriced_calls")
_COST_QUANTUM = Decimal("1e-10")  # DecimalField(decimal_places=10) on both tables

GroupKey = tuple  # GROUP_FIELDS' values, then the tag for DailyTagUsage


@dataclass(frozen=True, slots=True)
class UsageDrift:
    """One metric of one group of one day where DailyUsage (or, with `tag`, DailyTagUsage)
    differs from the records."""

    day: date
    provider: str
    model_string: str
    service: str
    api_key_id: str | None
    user_id: int | None
    metric: str
    expected: int | Decimal  # summed from UsageRecord
    actual: int | Decimal  # read from DailyUsage
    end_user: str = ""
    tag: str | None = None

    @property
    def consumer(self) -> str:
        """A printable consumer: the key's public prefix (its id also holds the key's hash)."""
        if self.api_key_id:
            return f"key {self.api_key_id.partition('.')[0]}"
        return f"user {self.user_id}" if self.user_id else "-"

    def __str__(self) -> str:
        tag = f" tag={self.tag}" if self.tag is not None else ""
        return (
            f"{self.day} {self.provider} {self.model_string} service={self.service or '-'} "
            f"consumer={self.consumer} end_user={self.end_user or '-'}{tag} {self.metric}: "
            f"records={self.expected} daily={self.actual}"
        )


def _day_records(day: date) -> QuerySet[UsageRecord]:
    """The day's records the rollups count (usage.services.rollup.CountedSet): records still
    on their way to the rollups are not a drift."""
    start, end = business_day_bounds(day)
    records = UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end).order_by()
    counted = usage_counted_set()
    if counted.last_id is not None:
        records = records.filter(id__lte=counted.last_id).exclude(id__in=counted.pending)
    return records


def _record_totals(day: date) -> dict[GroupKey, dict[str, int | Decimal]]:
    rows = (
        _day_records(day)
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


def _record_tag_totals(day: date) -> dict[GroupKey, dict[str, int | Decimal]]:
    """Per group and tag, summed in Python from the tagged records (the rollup expands tags
    in SQL; this is the independent count it is checked against)."""
    totals: dict[GroupKey, dict[str, int | Decimal]] = {}
    rows = (
        _day_records(day)
        .exclude(tags=[])
        .values(*GROUP_FIELDS, "tags", "outcome", "is_priced", "cost", *TOKEN_FIELDS)
    )
    for row in rows.iterator(chunk_size=5000):
        for tag in set(row["tags"]):
            values = totals.setdefault((*_key(row), tag), dict.fromkeys(METRICS, 0))
            values["requests"] += 1
            values["errors"] += row["outcome"] != Outcome.OK
            values["unpriced_calls"] += not row["is_priced"]
            values["cost"] += row["cost"] or 0
            for name in TOKEN_FIELDS:
                values[name] += row[name]
    for values in totals.values():
        values["cost"] = Decimal(values["cost"]).quantize(_COST_QUANTUM)
    return totals


def _daily_totals(day: date, *, tagged: bool = False) -> dict[GroupKey, dict[str, int | Decimal]]:
    table = DailyTagUsage if tagged else DailyUsage
    fields = (*GROUP_FIELDS, "tag") if tagged else GROUP_FIELDS
    rows = (
        table.objects.filter(day=day)
        .order_by()
        .values(*fields)
        .annotate(**{f"m_{name}": Sum(name) for name in METRICS})
    )
    return {_key(row, tagged=tagged): _metrics(row) for row in rows}


def _key(row: dict, *, tagged: bool = False) -> GroupKey:
    return tuple(row[name] for name in GROUP_FIELDS) + ((row["tag"],) if tagged else ())


def _metrics(row: dict) -> dict[str, int | Decimal]:
    values: dict[str, int | Decimal] = {name: row[f"m_{name}"] or 0 for name in METRICS}
    values["cost"] = Decimal(values["cost"]).quantize(_COST_QUANTUM)
    return values


def _drifts(day: date, expected_by_group: dict, actual_by_group: dict) -> list[UsageDrift]:
    zero = dict.fromkeys(METRICS, 0) | {"cost": Decimal(0).quantize(_COST_QUANTUM)}
    drifts: list[UsageDrift] = []
    for group in sorted(expected_by_group.keys() | actual_by_group.keys(), key=_sort_key):
        expected = expected_by_group.get(group, zero)
        actual = actual_by_group.get(group, zero)
        provider, model_string, service, api_key_id, user_id, end_user, *tag = group
        drifts.extend(
            UsageDrift(
                day=day,
                provider=provider,
                model_string=model_string,
                service=service,
                api_key_id=api_key_id,
                user_id=user_id,
                end_user=end_user,
                tag=tag[0] if tag else None,
                metric=metric,
                expected=expected[metric],
                actual=actual[metric],
            )
            for metric in METRICS
            if expected[metric] != actual[metric]
        )
    return drifts


def usage_reconcile_day(*, day: date) -> list[UsageDrift]:
    """Every metric, per group (and per group and tag), where the rollups of `day` differ from
    the sums of its records. Read in one REPEATABLE READ snapshot on PostgreSQL, so a rollup
    committing meanwhile is seen whole or not at all."""
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        drifts = _drifts(day, _record_totals(day), _daily_totals(day))
        drifts += _drifts(day, _record_tag_totals(day), _daily_totals(day, tagged=True))
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


_SCOPE_FIELDS: dict[str, str] = {
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
    if budget.scope_type == ScopeType.TAG:
        total = _tagged_cost(records, budget.scope_value)
    else:
        total = records.aggregate(total=Sum("cost"))["total"] or Decimal(0)
    return Decimal(total).quantize(_COST_QUANTUM)


def _tagged_cost(records: QuerySet[UsageRecord], tag: str) -> Decimal:
    """The cost of the records carrying `tag`: JSON containment where the database has it
    (PostgreSQL), else summed here (SQLite, for `make run`)."""
    if connection.features.supports_json_field_contains:
        return records.filter(tags__contains=[tag]).aggregate(total=Sum("cost"))[
            "total"
        ] or Decimal(0)
    pairs = records.exclude(tags=[]).values_list("tags", "cost")
    return sum(
        (cost for tags, cost in pairs.iterator() if tag in tags and cost is not None), Decimal(0)
    )


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
