"""The daily rollup on whatever database the suite runs on (SQLite locally, PostgreSQL in CI)."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Count, Sum
from django.test import override_settings

from tests.usage.records import make_api_key, make_record
from usage.business_days import business_day_bounds
from usage.models import DailyUsage, UsageRecord
from usage.models.daily import LATENCY_BUCKET_FIELDS
from usage.services.rollup import usage_rollup_day, usage_rollup_range

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 10)


def _at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def _rows() -> list[dict]:
    return list(DailyUsage.objects.order_by("day", "provider", "model_string", "id").values())


def test_rollup_groups_and_sums_one_day():
    key = make_api_key()
    make_record(created_at=_at(1), input_tokens=10, output_tokens=5, latency_ms=90)
    make_record(
        created_at=_at(2),
        input_tokens=7,
        cached_input_tokens=3,
        cache_write_tokens=2,
        output_tokens=1,
        reasoning_tokens=4,
        cost=Decimal("0.5000000001"),
        latency_ms=1500,
    )
    make_record(created_at=_at(3), outcome="rate_limited", cost=None, latency_ms=200_000)
    make_record(created_at=_at(4), api_key=key, model_string="openai:gpt-4o-mini")
    make_record(created_at=_at(5), provider="anthropic", model_string="anthropic:claude-x")
    make_record(created_at=_at(0, 0, date(2026, 3, 11)))  # the next day: not counted

    written = usage_rollup_day(day=DAY)

    assert written == 3
    main = DailyUsage.objects.get(day=DAY, model_string="openai:gpt-4o", api_key=None)
    assert main.requests == 3
    assert main.errors == 1
    assert main.unpriced_calls == 1
    assert (main.input_tokens, main.cached_input_tokens, main.cache_write_tokens) == (117, 3, 2)
    assert (main.output_tokens, main.reasoning_tokens) == (26, 4)
    assert main.cost == Decimal("0.0012345678") + Decimal("0.5000000001")
    assert main.latency_ms_sum == 90 + 1500 + 200_000
    histogram = dict(zip(LATENCY_BUCKET_FIELDS, main.latency_histogram, strict=True))
    assert histogram["latency_le_100ms"] == 1
    assert histogram["latency_le_2000ms"] == 1
    assert histogram["latency_gt_max"] == 1
    assert sum(main.latency_histogram) == main.requests
    keyed = DailyUsage.objects.get(day=DAY, api_key=key)
    assert keyed.requests == 1 and keyed.model_string == "openai:gpt-4o-mini"
    assert DailyUsage.objects.get(day=DAY, provider="anthropic").requests == 1


def test_totals_equal_the_raw_records_and_a_second_run_changes_nothing():
    for i in range(12):
        make_record(
            created_at=_at(i),
            service=["rag_agent", "summariser", ""][i % 3],
            input_tokens=1000 + i,
            output_tokens=i,
            cost=Decimal("0.0000012345") * (i + 1),
        )
    usage_rollup_day(day=DAY)
    first = _rows()
    usage_rollup_day(day=DAY)
    second = _rows()

    strip = [{k: v for k, v in row.items() if k not in {"id", "updated_at"}} for row in first]
    assert strip == [{k: v for k, v in r.items() if k not in {"id", "updated_at"}} for r in second]
    raw = UsageRecord.objects.aggregate(n=Count("id"), tokens=Sum("input_tokens"), cost=Sum("cost"))
    daily = DailyUsage.objects.aggregate(n=Sum("requests"), tokens=Sum("input_tokens"))
    assert (daily["n"], daily["tokens"]) == (raw["n"], raw["tokens"])
    assert sum(row["cost"] for row in second) == raw["cost"]


def test_a_late_record_is_picked_up_by_the_next_run():
    make_record(created_at=_at(10))
    usage_rollup_day(day=DAY)
    make_record(created_at=_at(23, 59), output_tokens=1)  # arrives after the first rollup
    usage_rollup_day(day=DAY)
    row = DailyUsage.objects.get(day=DAY)
    assert row.requests == 2
    assert row.output_tokens == 21


def test_a_day_without_records_is_emptied():
    make_record(created_at=_at(10))
    usage_rollup_day(day=DAY)
    UsageRecord.objects.all().delete()
    assert usage_rollup_day(day=DAY) == 0
    assert not DailyUsage.objects.exists()


@override_settings(BUSINESS_TIME_ZONE="America/New_York")
def test_day_boundaries_follow_the_business_time_zone():
    # 2026-03-10 in New York (EDT since 8 March) is 04:00 UTC on the 10th to 04:00 on the 11th.
    make_record(created_at=datetime(2026, 3, 10, 3, 59, 59, tzinfo=UTC), output_tokens=1)
    make_record(created_at=datetime(2026, 3, 10, 4, 0, 0, tzinfo=UTC), output_tokens=2)
    make_record(created_at=datetime(2026, 3, 11, 3, 59, 59, tzinfo=UTC), output_tokens=4)
    make_record(created_at=datetime(2026, 3, 11, 4, 0, 0, tzinfo=UTC), output_tokens=8)

    usage_rollup_range(since=date(2026, 3, 9), until=date(2026, 3, 11))

    by_day = dict(DailyUsage.objects.values_list("day", "output_tokens"))
    assert by_day == {date(2026, 3, 9): 1, date(2026, 3, 10): 6, date(2026, 3, 11): 8}


@override_settings(BUSINESS_TIME_ZONE="America/New_York")
def test_daylight_saving_days_are_23_and_25_hours_long():
    spring = business_day_bounds(date(2026, 3, 8))
    autumn = business_day_bounds(date(2026, 11, 1))
    assert (spring[1] - spring[0]).total_seconds() == 23 * 3600
    assert (autumn[1] - autumn[0]).total_seconds() == 25 * 3600
    # 24.5 hours after local midnight is still 1 November there (it would not be in UTC).
    make_record(created_at=autumn[0] + timedelta(hours=24, minutes=30))
    usage_rollup_day(day=date(2026, 11, 1))
    assert DailyUsage.objects.get().day == date(2026, 11, 1)


def test_latency_percentile_comes_from_the_histogram():
    from usage.selectors import UsageFilter, usage_totals

    for latency in [50] * 90 + [3000] * 9 + [500_000]:
        make_record(created_at=_at(12), latency_ms=latency)
    usage_rollup_day(day=DAY)
    totals = usage_totals(flt=UsageFilter(since=DAY, until=DAY))
    assert totals["latency_ms_p95"] == 4000  # the bucket (2 s, 4 s] holds the 95th call
    assert totals["latency_ms_mean"] == round((90 * 50 + 9 * 3000 + 500_000) / 100)
    empty = usage_totals(flt=UsageFilter(since=date(2026, 1, 1), until=date(2026, 1, 1)))
    assert empty["latency_ms_p95"] is None and empty["requests"] == 0
