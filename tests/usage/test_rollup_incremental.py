"""The frequent rollup counts only what arrived since its last run: new records land in their
own day (late ones too), ids committed out of order are waited for, not lost, running it twice
changes nothing, and whole-day recomputation and reconciliation agree with it."""

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from tests.fixtures import requires_postgres
from tests.usage.records import make_record
from usage.business_days import business_today
from usage.models import DailyTagUsage, DailyUsage, RollupCursor, UsageRecord
from usage.services import rollup
from usage.services.reconcile import usage_reconcile_day
from usage.services.rollup import usage_rollup_day, usage_rollup_recent

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 10)


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _rows(model=DailyUsage) -> set[tuple]:
    fields = ["day", "service", "end_user", "requests", "input_tokens", "cost", "latency_le_500ms"]
    if model is DailyTagUsage:
        fields.append("tag")
    return set(model.objects.values_list(*fields))


def _cursor() -> RollupCursor:
    return RollupCursor.objects.get()


def test_new_records_are_added_to_their_own_days_late_ones_included():
    make_record(created_at=_at(DAY, 9), tags=["a"])
    usage_rollup_day(day=DAY)
    usage_rollup_recent()  # first run: puts the mark at the newest record
    assert _cursor().last_id == UsageRecord.objects.latest("id").id
    make_record(created_at=_at(DAY, 10), tags=["a", "b"], end_user="u1")
    make_record(created_at=_at(DAY - timedelta(days=3), 10))  # late, for a day long rolled up
    assert usage_rollup_recent() == [DAY - timedelta(days=3), DAY]
    assert DailyUsage.objects.get(day=DAY, end_user="").requests == 1
    assert DailyUsage.objects.get(day=DAY, end_user="u1").requests == 1
    assert DailyUsage.objects.get(day=DAY - timedelta(days=3)).requests == 1
    assert DailyTagUsage.objects.get(day=DAY, tag="a", end_user="").requests == 1
    assert DailyTagUsage.objects.get(day=DAY, tag="a", end_user="u1").requests == 1
    make_record(created_at=_at(DAY, 11), tags=["a"])
    usage_rollup_recent()
    assert DailyUsage.objects.get(day=DAY, end_user="").requests == 2
    assert DailyTagUsage.objects.get(day=DAY, tag="a", end_user="").cost == Decimal("0.0024691356")
    for day in (DAY, DAY - timedelta(days=3)):
        assert usage_reconcile_day(day=day) == []


def test_incremental_and_whole_day_rollups_give_the_same_rows_and_twice_changes_nothing():
    usage_rollup_recent()
    for hour in range(6):
        make_record(
            created_at=_at(DAY, hour),
            service=f"s{hour % 2}",
            tags=[f"t{hour % 3}"],
            latency_ms=100 * hour,
            input_tokens=hour,
        )
    usage_rollup_recent()
    incremental, tagged = _rows(), _rows(DailyTagUsage)
    assert sum(r[3] for r in incremental) == 6
    usage_rollup_recent()
    assert (_rows(), _rows(DailyTagUsage)) == (incremental, tagged)
    usage_rollup_day(day=DAY)
    assert (_rows(), _rows(DailyTagUsage)) == (incremental, tagged)


@requires_postgres
def test_an_id_committed_after_a_higher_one_was_counted_is_waited_for():
    first = make_record(created_at=_at(DAY, 9))
    usage_rollup_recent()  # the mark starts at `first`
    usage_rollup_day(day=DAY)
    # The next id is skipped, as by an insert still in flight when the rollup runs.
    make_record(created_at=_at(DAY, 11), id=first.id + 2)
    assert usage_rollup_recent() == [DAY]
    assert DailyUsage.objects.get().requests == 2
    assert _cursor().last_id == first.id + 2
    assert list(_cursor().pending) == [str(first.id + 1)]
    assert usage_reconcile_day(day=DAY) == []  # the pending id is not counted yet, not a drift
    late = make_record(created_at=_at(DAY, 10), tags=["x"])  # its insert commits now
    assert late.id == first.id + 1
    usage_rollup_day(day=DAY + timedelta(days=1))  # another day's recomputation catches up too
    assert DailyUsage.objects.get(day=DAY).requests == 3
    assert DailyTagUsage.objects.get(day=DAY, tag="x").requests == 1
    assert _cursor().pending == {}
    assert usage_reconcile_day(day=DAY) == []


def test_an_id_missing_past_the_ttl_is_given_up_and_wide_holes_are_not_waited_for(caplog):
    usage_rollup_recent()
    cursor = _cursor()
    old = (timezone.now() - rollup.PENDING_TTL - timedelta(seconds=1)).isoformat()
    cursor.pending = {"1": old, "2": timezone.now().isoformat()}
    cursor.save()
    usage_rollup_recent()
    assert list(_cursor().pending) == ["2"]
    last = _cursor().last_id
    make_record(created_at=_at(DAY, 9), id=last + rollup.GAP_SPAN_MAX + 10)
    usage_rollup_recent()
    assert list(_cursor().pending) == ["2"]
    assert "not waited for" in caplog.text
    assert DailyUsage.objects.get().requests == 1


def test_pending_ids_are_bounded(monkeypatch):
    monkeypatch.setattr(rollup, "PENDING_MAX", 3)
    usage_rollup_recent()
    last = _cursor().last_id
    make_record(created_at=_at(DAY, 9), id=last + 6)
    usage_rollup_recent()
    assert sorted(map(int, _cursor().pending)) == [last + 3, last + 4, last + 5]


def test_a_tampered_tag_row_is_a_drift_naming_its_tag():
    make_record(created_at=_at(DAY, 9), tags=["feature:search"], end_user="u1")
    usage_rollup_day(day=DAY)
    assert usage_reconcile_day(day=DAY) == []
    DailyTagUsage.objects.update(requests=5)
    [drift] = usage_reconcile_day(day=DAY)
    assert (drift.tag, drift.end_user, drift.metric, drift.expected, drift.actual) == (
        "feature:search",
        "u1",
        "requests",
        1,
        5,
    )
    assert "tag=feature:search" in str(drift)


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_lower_id_committing_after_the_rollup_ran_is_counted_by_the_next_run():
    """Two real transactions: the first takes an id and commits only after a later insert was
    committed and rolled up."""
    make_record(created_at=_at(DAY, 9))  # the mark starts here
    usage_rollup_recent()
    inserted, release = threading.Event(), threading.Event()
    today = business_today()
    noon = datetime(today.year, today.month, today.day, 12, tzinfo=UTC)

    def slow_insert() -> None:
        try:
            with transaction.atomic():
                make_record(created_at=noon, service="slow")
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_insert)
    thread.start()
    assert inserted.wait(10)
    fast = make_record(created_at=noon, service="fast")
    usage_rollup_recent()
    assert set(DailyUsage.objects.filter(day=today).values_list("service", "requests")) == {
        ("fast", 1)
    }
    assert list(_cursor().pending) == [str(fast.id - 1)]
    release.set()
    thread.join(10)
    usage_rollup_recent()
    assert set(DailyUsage.objects.filter(day=today).values_list("service", "requests")) == {
        ("fast", 1),
        ("slow", 1),
    }
    assert _cursor().pending == {}
    assert usage_reconcile_day(day=today) == []


def test_a_backlog_is_worked_off_over_several_runs(monkeypatch):
    monkeypatch.setattr(rollup, "BATCH_MAX", 2)
    make_record(created_at=_at(DAY, 8))
    usage_rollup_recent()
    usage_rollup_day(day=DAY)
    records = [make_record(created_at=_at(DAY, 9 + i)) for i in range(3)]
    usage_rollup_recent()
    assert _cursor().last_id == records[1].id
    assert DailyUsage.objects.get().requests == 3
    usage_rollup_recent()
    assert DailyUsage.objects.get().requests == 4
    assert usage_reconcile_day(day=DAY) == []
