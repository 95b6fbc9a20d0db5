"""Check DailyUsage against the ledger it summarises, day by day and group by group.

The rollup is derived data; anything that writes records without a rollup afterwards (a late
record, a restored backup, a hand edit of a DailyUsage row) makes the two disagree. Both sides
are summed by the database with the same grouping, and every metric that differs is reported
as one drift. DailyUsage is summed per group too, so rows left key-less by a deleted consumer
key (see DailyUsage) still compare equal to the records.
"""

import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, Sum

from usage.business_days import business_day_bounds, business_days
from usage.models import DailyUsage, Outcome, UsageRecord
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
