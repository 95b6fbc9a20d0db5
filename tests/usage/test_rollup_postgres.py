"""The rollup on PostgreSQL, where NUMERIC sums are exact: every DailyUsage row must equal the
Decimal sum of its records to the last of the ten decimal places."""

import random
import threading
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings

from providers.models import ConsumerAPIKey
from tests.fixtures import requires_postgres
from tests.usage.records import make_record
from usage.models import DailyUsage, UsageRecord
from usage.models.daily import TOKEN_FIELDS
from usage.services.rollup import GROUP_FIELDS, usage_rollup_day, usage_rollup_range

pytestmark = [requires_postgres, pytest.mark.django_db]

DAYS = [date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11)]
SUMMED = ("requests", "errors", *TOKEN_FIELDS, "cost", "unpriced_calls", "latency_ms_sum")


def _random_records(rng: random.Random, count: int) -> None:
    keys = [ConsumerAPIKey.objects.create_key(name=f"k{i}")[0] for i in range(2)]
    for _ in range(count):
        day = rng.choice(DAYS)
        priced = rng.random() > 0.1
        make_record(
            created_at=datetime(day.year, day.month, day.day, tzinfo=UTC)
            + timedelta(seconds=rng.randrange(86400)),
            provider=rng.choice(["openai", "anthropic"]),
            model_string=rng.choice(["m:a", "m:b", "m:c"]),
            service=rng.choice(["", "rag_agent", "summariser"]),
            api_key=rng.choice([None, *keys]),
            outcome=rng.choice(["ok", "ok", "ok", "timeout"]),
            input_tokens=rng.randrange(0, 200_000),
            cached_input_tokens=rng.randrange(0, 5_000),
            cache_write_tokens=rng.randrange(0, 5_000),
            output_tokens=rng.randrange(0, 8_000),
            reasoning_tokens=rng.randrange(0, 8_000),
            cost=Decimal(rng.randrange(1, 10**12)).scaleb(-10) if priced else None,
            latency_ms=rng.randrange(0, 200_000),
        )


def _expected() -> dict[tuple, dict]:
    """The rollup computed in Python from the records, in exact Decimal arithmetic."""
    totals: dict[tuple, dict] = defaultdict(lambda: dict.fromkeys(SUMMED, 0))
    for record in UsageRecord.objects.all():
        key = (
            record.created_at.date(),
            *(getattr(record, f"{f}_id", None) or getattr(record, f) for f in GROUP_FIELDS),
        )
        row = totals[key]
        row["requests"] += 1
        row["errors"] += record.outcome != "ok"
        for name in TOKEN_FIELDS:
            row[name] += getattr(record, name)
        row["cost"] += record.cost or Decimal(0)
        row["unpriced_calls"] += not record.is_priced
        row["latency_ms_sum"] += record.latency_ms
    return dict(totals)


def _actual() -> dict[tuple, dict]:
    return {
        (row["day"], *(row.get(f"{f}_id", row.get(f)) for f in GROUP_FIELDS)): {
            name: row[name] for name in SUMMED
        }
        for row in DailyUsage.objects.values()
    }


def test_daily_totals_equal_the_records_exactly():
    _random_records(random.Random(20260310), 400)
    usage_rollup_range(since=DAYS[0], until=DAYS[-1])
    actual = _actual()
    assert actual == _expected()
    assert sum(row["cost"] for row in actual.values()) == sum(
        r.cost or 0 for r in UsageRecord.objects.all()
    )
    assert all(isinstance(row["cost"], Decimal) for row in actual.values())


def test_a_second_run_gives_identical_rows():
    _random_records(random.Random(7), 120)
    usage_rollup_range(since=DAYS[0], until=DAYS[-1])
    columns = [f.attname for f in DailyUsage._meta.concrete_fields if f.name not in {"id"}]
    columns.remove("updated_at")
    first = sorted(DailyUsage.objects.values_list(*columns), key=str)
    usage_rollup_range(since=DAYS[0], until=DAYS[-1])
    assert sorted(DailyUsage.objects.values_list(*columns), key=str) == first


def test_a_late_record_for_yesterday_is_picked_up_by_the_next_run():
    make_record(created_at=datetime(2026, 3, 10, 12, tzinfo=UTC), cost=Decimal("0.0000000001"))
    usage_rollup_day(day=date(2026, 3, 10))
    make_record(created_at=datetime(2026, 3, 10, 23, 59, 59, tzinfo=UTC), cost=Decimal("0.3"))
    usage_rollup_day(day=date(2026, 3, 10))
    row = DailyUsage.objects.get()
    assert (row.requests, row.cost) == (2, Decimal("0.3000000001"))


@override_settings(BUSINESS_TIME_ZONE="America/New_York")
def test_day_boundaries_follow_the_business_time_zone_across_dst():
    # 8 March 2026 is the spring-forward day in New York: 05:00 UTC to 04:00 UTC next day.
    just_before = datetime(2026, 3, 8, 4, 59, 59, 999999, tzinfo=UTC)  # 23:59:59 on the 7th
    at_midnight = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # 00:00 EST on the 8th
    last_moment = datetime(2026, 3, 9, 3, 59, 59, tzinfo=UTC)  # 23:59:59 EDT on the 8th
    next_day = datetime(2026, 3, 9, 4, 0, tzinfo=UTC)  # 00:00 EDT on the 9th
    for i, moment in enumerate([just_before, at_midnight, last_moment, next_day]):
        make_record(created_at=moment, output_tokens=10**i)
    usage_rollup_range(since=date(2026, 3, 7), until=date(2026, 3, 9))
    by_day = dict(DailyUsage.objects.values_list("day", "output_tokens"))
    assert by_day == {date(2026, 3, 7): 1, date(2026, 3, 8): 110, date(2026, 3, 9): 1000}


def test_concurrent_rollups_of_one_day_do_not_collide(transactional_db):
    """A beat run and a backfill at once: the advisory lock serialises them."""
    key, _ = ConsumerAPIKey.objects.create_key(name="k")
    for hour in range(6):
        make_record(created_at=datetime(2026, 3, 10, hour, tzinfo=UTC), api_key=key)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(3):
                usage_rollup_day(day=date(2026, 3, 10))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert list(DailyUsage.objects.values_list("requests", flat=True)) == [6]
