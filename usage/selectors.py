"""Reads of usage for the usage API and the admin dashboard, all served from DailyUsage.

The ledger (UsageRecord) grows with every call; reports read the rollups, which are small and
indexed by day, so a dashboard refresh never scans raw records. Money stays Decimal here;
the API and the dashboard decide how to print it.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Max, QuerySet, Sum

from usage.business_days import business_days, business_today
from usage.models import DailyTagUsage, DailyUsage
from usage.models.daily import LATENCY_BUCKET_BOUNDS_MS, LATENCY_BUCKET_FIELDS, TOKEN_FIELDS

# What `group_by` may name, and the DailyUsage columns behind each choice.
GROUPINGS: dict[str, tuple[str, ...]] = {
    "provider": ("provider",),
    "model": ("model_string",),
    "service": ("service",),
    "consumer": ("api_key__name", "api_key__prefix", "user__username"),
    "end_user": ("end_user",),
    # A call with several tags counts in each of its tags' groups.
    "tag": ("tag",),
}
MAX_RANGE_DAYS = 366
COST_QUANTUM = Decimal("1e-10")  # DailyUsage.cost has 10 decimal places
_SUMMED = (
    "requests",
    "errors",
    *TOKEN_FIELDS,
    "cost",
    "unpriced_calls",
    "latency_ms_sum",
    "saved_cost",
)


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """The rows a report covers: days from `since` to `until`, optionally one provider,
    service, end user or tag."""

    since: date
    until: date
    provider: str | None = None
    service: str | None = None
    end_user: str | None = None
    tag: str | None = None


def _queryset(flt: UsageFilter, group_by: str | None = None) -> QuerySet:
    """DailyUsage, or DailyTagUsage when the report is about tags (grouped or filtered by
    one): there each tagged call counts once per tag it carries, untagged calls not at all."""
    tagged = flt.tag is not None or group_by == "tag"
    table = DailyTagUsage if tagged else DailyUsage
    # Either table (the same columns; DailyTagUsage adds `tag`, filtered only when tagged).
    qs: QuerySet[Any] = table.objects.filter(day__gte=flt.since, day__lte=flt.until)
    if flt.provider:
        qs = qs.filter(provider=flt.provider)
    if flt.service is not None:
        qs = qs.filter(service=flt.service)
    if flt.end_user is not None:
        qs = qs.filter(end_user=flt.end_user)
    if flt.tag is not None:
        qs = qs.filter(tag=flt.tag)
    return qs.order_by()


def _sums() -> dict[str, Sum]:
    return {f"s_{name}": Sum(name) for name in (*_SUMMED, *LATENCY_BUCKET_FIELDS)}


def _latency_percentile_ms(histogram: list[int], fraction: float) -> int | None:
    """The upper bound of the bucket holding the given fraction of calls (an estimate that
    errs high); the open last bucket reports the largest bound. None without calls."""
    total = sum(histogram)
    if not total:
        return None
    needed = total * fraction
    running = 0
    for count, bound in zip(histogram, (*LATENCY_BUCKET_BOUNDS_MS, None), strict=True):
        running += count
        if running >= needed:
            return bound if bound is not None else LATENCY_BUCKET_BOUNDS_MS[-1]
    return LATENCY_BUCKET_BOUNDS_MS[-1]  # pragma: no cover - the loop always reaches total


def _metrics(row: dict[str, Any]) -> dict[str, Any]:
    """Summed columns (s_*) of one aggregate row as report metrics."""
    values = {name: row.get(f"s_{name}") or 0 for name in _SUMMED}
    requests = values["requests"]
    histogram = [row.get(f"s_{name}") or 0 for name in LATENCY_BUCKET_FIELDS]
    return {
        "requests": requests,
        "errors": values["errors"],
        "error_rate": round(values["errors"] / requests, 4) if requests else 0.0,
        **{name: values[name] for name in TOKEN_FIELDS},
        "total_tokens": sum(values[name] for name in TOKEN_FIELDS),
        "cost": Decimal(values["cost"]).quantize(COST_QUANTUM),
        "unpriced_calls": values["unpriced_calls"],
        "saved_cost": Decimal(values["saved_cost"]).quantize(COST_QUANTUM),
        "latency_ms_mean": round(values["latency_ms_sum"] / requests) if requests else None,
        "latency_ms_p95": _latency_percentile_ms(histogram, 0.95),
    }


def _consumer_label(*, key_name: str | None, key_prefix: str | None, username: str | None) -> str:
    """How reports name a consumer: a key by name and public prefix (never its id, which holds
    the key's hash), else the user, else "(none)" for calls with neither."""
    if key_prefix:
        return f"{key_name} ({key_prefix})"
    if username:
        return f"user {username}"
    return "(none)"


def _group_label(group_by: str, row: dict[str, Any]) -> str:
    if group_by == "consumer":
        return _consumer_label(
            key_name=row["api_key__name"],
            key_prefix=row["api_key__prefix"],
            username=row["user__username"],
        )
    if group_by == "end_user":
        return row["end_user"] or "(none)"
    return row[GROUPINGS[group_by][0]]


def usage_daily_list(*, flt: UsageFilter, group_by: str | None = None) -> list[dict[str, Any]]:
    """One row per day (and group), in day order: metrics summed over the matching rollups."""
    fields = GROUPINGS[group_by] if group_by else ()
    rows = (
        _queryset(flt, group_by).values("day", *fields).annotate(**_sums()).order_by("day", *fields)
    )
    result = []
    for row in rows:
        item: dict[str, Any] = {"day": row["day"]}
        if group_by:
            item["group"] = _group_label(group_by, row)
        item.update(_metrics(row))
        result.append(item)
    return result


def usage_totals(*, flt: UsageFilter) -> dict[str, Any]:
    """The metrics summed over every row the filter covers."""
    return _metrics(_queryset(flt).aggregate(**_sums()))


def usage_top_groups(*, flt: UsageFilter, group_by: str, limit: int = 10) -> list[dict[str, Any]]:
    """The groups with the highest cost over the range (then the most requests)."""
    fields = GROUPINGS[group_by]
    rows = (
        _queryset(flt, group_by)
        .values(*fields)
        .annotate(**_sums())
        .order_by("-s_cost", "-s_requests", *fields)[:limit]
    )
    return [{"group": _group_label(group_by, row), **_metrics(row)} for row in rows]


def usage_budget_statuses() -> list[dict[str, Any]]:
    """The budget panel: helper-budget's `budget_status_list()`, with consumer-key scopes shown
    by the key's public prefix only."""
    from usage.budgets import budget_status_list

    rows = []
    for status in budget_status_list():
        scope = status["scope"]
        if status.get("scope_type") == "consumer_key":
            scope = f"consumer_key:{str(status.get('scope_value', '')).partition('.')[0]}"
        rows.append(
            {
                "name": status["name"],
                "scope": scope,
                "period": status["period"],
                "limit": status["limit"],
                "spent": status["spent"],
                "reserved": status["reserved"],
                "percent": status["percent"],
                "resets_at": status["resets_at"],
                "hard": status.get("hard", True),
            }
        )
    return rows


def usage_summary(*, today: date | None = None) -> dict[str, Any]:
    """Today, the month to date, its top models and error rate, and every budget's status."""
    today = today or business_today()
    month = UsageFilter(since=today.replace(day=1), until=today)
    month_totals = usage_totals(flt=month)
    return {
        "today": {"day": today, **usage_totals(flt=UsageFilter(since=today, until=today))},
        "month_to_date": {"since": month.since, "until": today, **month_totals},
        "top_models": usage_top_groups(flt=month, group_by="model", limit=5),
        "error_rate": month_totals["error_rate"],
        "budgets": usage_budget_statuses(),
        "rolled_up_at": DailyUsage.objects.aggregate(at=Max("updated_at"))["at"],
    }


def usage_filter_choices() -> dict[str, list[str]]:
    """The providers and services that appear in the rollups, for filter controls."""
    qs = DailyUsage.objects.order_by()
    return {
        "providers": sorted(set(qs.values_list("provider", flat=True).distinct())),
        "services": sorted(set(qs.values_list("service", flat=True).distinct())),
    }


def usage_dashboard_data(*, flt: UsageFilter) -> dict[str, Any]:
    """Every series the admin dashboard draws, aligned on the full list of days in range."""
    days = list(business_days(flt.since, flt.until))
    index = {day: i for i, day in enumerate(days)}
    cost_by_provider: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * len(days))
    for row in usage_daily_list(flt=flt, group_by="provider"):
        cost_by_provider[row["group"]][index[row["day"]]] = row["cost"]
    tokens = {name: [0] * len(days) for name in TOKEN_FIELDS}
    requests = [0] * len(days)
    for row in usage_daily_list(flt=flt):
        i = index[row["day"]]
        requests[i] = row["requests"]
        for name in TOKEN_FIELDS:
            tokens[name][i] = row[name]
    models = usage_top_groups(flt=flt, group_by="model", limit=15)
    return {
        "since": flt.since,
        "until": flt.until,
        "days": days,
        "totals": usage_totals(flt=flt),
        "cost_by_provider": [
            {"provider": provider, "cost": series}
            for provider, series in sorted(cost_by_provider.items())
        ],
        "requests_by_day": requests,
        "tokens_by_day": tokens,
        "models": sorted(models, key=lambda m: (-m["requests"], m["group"])),
        "top_consumers": usage_top_groups(flt=flt, group_by="consumer", limit=10),
        "budgets": usage_budget_statuses(),
    }


def usage_default_range(*, days: int = 30) -> tuple[date, date]:
    """The last `days` business days, today included: what a report shows unless asked."""
    until = business_today()
    return until - timedelta(days=days - 1), until


def usage_rollup_freshness() -> dict[str, Any]:
    """When the rollups were last written and how many ledger records came after: what the
    dashboard says so nobody reads a stale $0 as "no calls"."""
    from usage.models import RollupCursor, UsageRecord
    from usage.models.cursor import LEDGER_CURSOR

    cursor = RollupCursor.objects.filter(name=LEDGER_CURSOR).first()
    if cursor is not None:
        # The incremental rollup's own mark: exact, and a count over the primary key.
        pending = UsageRecord.objects.filter(id__gt=cursor.last_id).count()
        if cursor.pending:
            pending += UsageRecord.objects.filter(id__in=[int(i) for i in cursor.pending]).count()
        return {"rolled_up_at": cursor.updated_at, "pending_calls": pending}
    rolled_up_at = DailyUsage.objects.aggregate(at=Max("updated_at"))["at"]
    newer = UsageRecord.objects.order_by()
    if rolled_up_at is not None:
        newer = newer.filter(created_at__gt=rolled_up_at)
    return {"rolled_up_at": rolled_up_at, "pending_calls": newer.count()}
