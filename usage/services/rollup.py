"""Roll UsageRecord up into DailyUsage (and DailyTagUsage), whole days or new records only.

Two ways, one invariant (usage.models.cursor): for every day, the rollup rows equal the sums of
that day's *counted* records, those with `id <= cursor.last_id` and not pending.

- The frequent run (`usage_rollup_recent`, every few minutes) is incremental: it counts the
  records that arrived since its last run (ids above the mark, and pending ids that became
  visible) and adds their sums to their own days with INSERT ... ON CONFLICT DO UPDATE, so its
  cost follows the new records, not the size of the day. A late record (created_at in an
  already rolled-up day) lands in its own day like any other.
- A whole-day recomputation (`usage_rollup_day`: the nightly finalisation, backfills, the
  reconciliation's repair) first brings the cursor up to date, then deletes the day's rows and
  recomputes them from the day's counted records in one INSERT ... SELECT ... GROUP BY.

Every run holds the ledger lock for its transaction, so the cursor and the rows move together;
running any of them twice gives the same rows. Out-of-order commits: the ids of the new records
are read in one statement, every id the mark passes without seeing becomes pending, and the
sums are taken over exactly the ids read (`id > mark AND id <= new mark AND id NOT IN new
pending`), so a record committing meanwhile is neither counted twice nor lost.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models.functions import TruncDate
from django.utils import timezone

from usage.business_days import business_day_bounds, business_days, business_zone
from usage.models import DailyTagUsage, DailyUsage, Outcome, RollupCursor, UsageRecord
from usage.models.cursor import LEDGER_CURSOR
from usage.services.rollup_sql import (
    GROUP_FIELDS,
    column,
    id_list,
    ledger_lock,
    rollup_statement,
    stage_drop_statement,
    stage_statement,
    tune,
)

logger = logging.getLogger(__name__)

__all__ = [
    "GROUP_FIELDS",
    "CountedSet",
    "usage_counted_set",
    "usage_rollup_day",
    "usage_rollup_range",
    "usage_rollup_recent",
]

# How long after local midnight a first run (no cursor yet) recomputes yesterday too.
FINALIZE_GRACE_HOURS = 1
# An id missed by the mark is waited for this long, then taken as a rolled-back insert.
PENDING_TTL = timedelta(minutes=10)
# Bounds on what one run takes on: new records (a backlog is worked off over several runs),
# ids waited for, and the widest run of missing ids still worth waiting for (inserts in flight
# are few; a wider hole is a sequence jump or a mass rollback, left to the nightly run).
BATCH_MAX = 500_000
PENDING_MAX = 10_000
GAP_SPAN_MAX = 1_000


@dataclass(frozen=True, slots=True)
class CountedSet:
    """Which records the rollups count: all (no cursor yet), or `id <= last_id` minus
    `pending`."""

    last_id: int | None
    pending: frozenset[int] = frozenset()

    def sql(self) -> str:
        if self.last_id is None:
            return ""
        ident = f"r.{column(UsageRecord, 'id')}"
        where = f"AND {ident} <= {int(self.last_id)}"
        if self.pending:
            where += f" AND {ident} NOT IN ({id_list(self.pending)})"
        return where


def _execute(sql: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _roll(day: date, where: str, *, add: bool) -> int:
    """Stage the sums of `day`'s records selected by `where`, then write (or, with `add`, add)
    them to both rollup tables; returns the DailyUsage rows written."""
    start, end = business_day_bounds(day)
    ops = connection.ops
    _execute(stage_drop_statement())
    _execute(
        stage_statement(where),
        [
            Outcome.OK.value,
            ops.adapt_datetimefield_value(start),
            ops.adapt_datetimefield_value(end),
        ],
    )
    # A date object: typed for PostgreSQL, ISO text for SQLite.
    params = [day, ops.adapt_datetimefield_value(timezone.now())]
    written = _execute(rollup_statement(tagged=False, add=add), params)
    _execute(rollup_statement(tagged=True, add=add), params)
    _execute(stage_drop_statement())
    return written


def _recompute(day: date, counted: CountedSet) -> int:
    DailyUsage.objects.filter(day=day).delete()
    DailyTagUsage.objects.filter(day=day).delete()
    return _roll(day, counted.sql(), add=False)


def _add(days: list[date], where: str) -> None:
    for day in days:
        _roll(day, where, add=True)


def _days_of(ids_where: dict) -> list[date]:
    """The business days of the records an id filter selects."""
    return sorted(
        UsageRecord.objects.filter(**ids_where)
        .order_by()
        .annotate(local_day=TruncDate("created_at", tzinfo=business_zone()))
        .values_list("local_day", flat=True)
        .distinct()
    )


def _gaps(mark: int, ids: list[int]) -> set[int]:
    """The ids above `mark` up to the last of `ids` (sorted) that were not seen."""
    gaps: set[int] = set()
    previous = mark
    for ident in ids:
        if 1 < ident - previous <= GAP_SPAN_MAX + 1:
            gaps.update(range(previous + 1, ident))
        elif ident - previous > GAP_SPAN_MAX + 1:
            logger.warning(
                "Rollup: %d missing ledger ids after %d not waited for",
                ident - previous - 1,
                previous,
            )
        previous = ident
    return gaps


def _catch_up(cursor: RollupCursor) -> list[date]:
    """Count the records that arrived since the cursor's last run; returns the days touched."""
    now = timezone.now()
    ident = f"r.{column(UsageRecord, 'id')}"
    mark = cursor.last_id
    pending = {int(k): v for k, v in cursor.pending.items()}
    ids = list(
        UsageRecord.objects.filter(id__gt=mark)
        .order_by("id")
        .values_list("id", flat=True)[:BATCH_MAX]
    )
    found = (
        set(UsageRecord.objects.filter(id__in=list(pending)).values_list("id", flat=True))
        if pending
        else set()
    )
    touched: set[date] = set()
    if found:
        days = _days_of({"id__in": list(found)})
        _add(days, f"AND {ident} IN ({id_list(found)})")
        touched.update(days)
    if ids:
        new_mark = ids[-1]
        gaps = _gaps(mark, ids)
        where = f"AND {ident} > {int(mark)} AND {ident} <= {int(new_mark)}"
        if gaps:
            where += f" AND {ident} NOT IN ({id_list(gaps)})"
        days = _days_of({"id__gt": mark, "id__lte": new_mark})
        _add(days, where)
        touched.update(days)
        seen = now.isoformat()
        pending.update(dict.fromkeys(gaps, seen))
        cursor.last_id = new_mark
    expired = now - PENDING_TTL
    kept = {
        k: v for k, v in pending.items() if k not in found and datetime.fromisoformat(v) > expired
    }
    if len(kept) > PENDING_MAX:
        logger.warning(
            "Rollup: %d pending ledger ids, keeping the newest %d", len(kept), PENDING_MAX
        )
        kept = dict(sorted(kept.items())[-PENDING_MAX:])
    cursor.pending = {str(k): v for k, v in sorted(kept.items())}
    cursor.save()
    return sorted(touched)


def _locked_cursor() -> RollupCursor | None:
    return RollupCursor.objects.select_for_update().filter(name=LEDGER_CURSOR).first()


def _counted(cursor: RollupCursor | None) -> CountedSet:
    if cursor is None:
        return CountedSet(last_id=None)
    return CountedSet(last_id=cursor.last_id, pending=frozenset(int(k) for k in cursor.pending))


def usage_counted_set() -> CountedSet:
    """What the rollups count now (the reconciliation compares the same records)."""
    return _counted(RollupCursor.objects.filter(name=LEDGER_CURSOR).first())


def usage_rollup_day(*, day: date) -> int:
    """Recompute DailyUsage and DailyTagUsage for one business day, after bringing the cursor
    up to date; returns the number of DailyUsage rows written."""
    with transaction.atomic():
        ledger_lock()
        tune()
        cursor = _locked_cursor()
        if cursor is not None:
            _catch_up(cursor)
        written = _recompute(day, _counted(cursor))
    logger.info("Rolled up usage for %s: %d rows", day.isoformat(), written)
    return written


def usage_rollup_range(*, since: date, until: date) -> int:
    """Recompute every day from `since` to `until` (both included), one transaction per day."""
    return sum(usage_rollup_day(day=day) for day in business_days(since, until))


def usage_rollup_recent(*, now: datetime | None = None) -> list[date]:
    """The frequent run: count the records that arrived since the last one, adding them to their
    days; returns the days touched. The first run ever (no cursor) puts the mark at the newest
    record and recomputes today (and yesterday in the first hour after local midnight)."""
    with transaction.atomic():
        ledger_lock()
        tune()
        cursor = _locked_cursor()
        if cursor is not None:
            days = _catch_up(cursor)
        else:
            last = UsageRecord.objects.order_by("-id").values_list("id", flat=True).first()
            cursor = RollupCursor.objects.create(name=LEDGER_CURSOR, last_id=last or 0)
            local_now = (now or timezone.now()).astimezone(business_zone())
            days = [local_now.date()]
            if local_now.hour < FINALIZE_GRACE_HOURS:
                days.insert(0, local_now.date() - timedelta(days=1))
            for day in days:
                _recompute(day, _counted(cursor))
    logger.info("Incremental usage rollup: %s", ", ".join(d.isoformat() for d in days) or "-")
    return days
