"""Roll UsageRecord up into DailyUsage, one business day at a time.

A day is recomputed from scratch in one transaction: delete its rows, then one
INSERT ... SELECT ... GROUP BY over the records between the day's UTC bounds. The database does
the summing (no Python loop over records), the result depends only on the records, so running
it twice, or late after a record arrived for a past day, gives exactly the right rows.
The SQL is plain enough for both SQLite and PostgreSQL; day bounds come from Python so that
daylight-saving days are cut at the real local midnight.
"""

import logging
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from usage.business_days import business_day_bounds, business_days, business_zone
from usage.models import DailyUsage, Outcome, UsageRecord
from usage.models.daily import LATENCY_BUCKET_BOUNDS_MS, LATENCY_BUCKET_FIELDS, TOKEN_FIELDS

logger = logging.getLogger(__name__)

# The columns that identify a group, identical in both tables.
GROUP_FIELDS: tuple[str, ...] = ("provider", "model_string", "service", "api_key", "user")
# How long after local midnight the frequent rollup keeps recomputing yesterday too.
FINALIZE_GRACE_HOURS = 1


def _column(model: type, field_name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field_name).column)


def _latency_bucket_sql(index: int, latency: str) -> str:
    """SUM(CASE ...) counting the records whose latency falls in bucket `index`."""
    bounds = LATENCY_BUCKET_BOUNDS_MS
    if index == 0:
        condition = f"{latency} <= {bounds[0]}"
    elif index < len(bounds):
        condition = f"{latency} > {bounds[index - 1]} AND {latency} <= {bounds[index]}"
    else:
        condition = f"{latency} > {bounds[-1]}"
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _rollup_sql() -> str:
    """The INSERT ... SELECT for one day. Identifiers come from model metadata and bounds from
    constants, never from input; every value is a query parameter."""
    qn = connection.ops.quote_name
    rec = UsageRecord
    group_src = [f"r.{_column(rec, name)}" for name in GROUP_FIELDS]
    latency = f"r.{_column(rec, 'latency_ms')}"
    targets = {
        "day": "%s",
        **dict(zip(GROUP_FIELDS, group_src, strict=True)),
        "requests": "COUNT(*)",
        "errors": f"SUM(CASE WHEN r.{_column(rec, 'outcome')} <> %s THEN 1 ELSE 0 END)",
        **{name: f"SUM(r.{_column(rec, name)})" for name in TOKEN_FIELDS},
        "cost": f"COALESCE(SUM(r.{_column(rec, 'cost')}), 0)",
        "unpriced_calls": f"SUM(CASE WHEN r.{_column(rec, 'is_priced')} THEN 0 ELSE 1 END)",
        "saved_cost": f"COALESCE(SUM(r.{_column(rec, 'saved_cost')}), 0)",
        "latency_ms_sum": f"SUM({latency})",
        **{
            name: _latency_bucket_sql(index, latency)
            for index, name in enumerate(LATENCY_BUCKET_FIELDS)
        },
        "updated_at": "%s",
    }
    columns = ", ".join(_column(DailyUsage, name) for name in targets)
    created_at = f"r.{_column(rec, 'created_at')}"
    return (
        f"INSERT INTO {qn(DailyUsage._meta.db_table)} ({columns}) "  # noqa: S608 - see docstring
        f"SELECT {', '.join(targets.values())} "
        f"FROM {qn(rec._meta.db_table)} r "
        f"WHERE {created_at} >= %s AND {created_at} < %s "
        f"GROUP BY {', '.join(group_src)}"
    )


def _lock_day(day: date) -> None:
    """Serialise concurrent rollups of one day (a beat run meeting a backfill) on PostgreSQL,
    where two delete+insert transactions would otherwise collide on the unique constraint.
    SQLite already allows a single writer at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Namespace 0x5553 ('US'age); the key is the day's ordinal.
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x5553, day.toordinal()])


def usage_rollup_day(*, day: date) -> int:
    """Recompute DailyUsage for one business day; returns the number of rows written."""
    start, end = business_day_bounds(day)
    ops = connection.ops
    params = [
        day,  # a date object: typed for PostgreSQL, ISO text for SQLite
        Outcome.OK.value,
        ops.adapt_datetimefield_value(timezone.now()),
        ops.adapt_datetimefield_value(start),
        ops.adapt_datetimefield_value(end),
    ]
    with transaction.atomic():
        _lock_day(day)
        DailyUsage.objects.filter(day=day).delete()
        with connection.cursor() as cursor:
            cursor.execute(_rollup_sql(), params)
            written = cursor.rowcount
    logger.info("Rolled up usage for %s: %d rows", day.isoformat(), written)
    return written


def usage_rollup_range(*, since: date, until: date) -> int:
    """Recompute every day from `since` to `until` (both included), one transaction per day."""
    return sum(usage_rollup_day(day=day) for day in business_days(since, until))


def usage_rollup_recent(*, now: datetime | None = None) -> list[date]:
    """Recompute today; in the first hour after local midnight, yesterday as well, so records
    written just before midnight (or committed just after it) land in yesterday's final rows."""
    local_now = (now or timezone.now()).astimezone(business_zone())
    today = local_now.date()
    days = [today]
    if local_now.hour < FINALIZE_GRACE_HOURS:
        days.insert(0, today - timedelta(days=1))
    for day in days:
        usage_rollup_day(day=day)
    return days
