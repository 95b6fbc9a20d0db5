"""Budgets: reserve, settle, release, refusal, scope matching, periods and the cached hot path."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings

from config.api import exception_handler
from usage.budgets import (
    BudgetExceeded,
    budget_period_bounds,
    budget_reservations_release_stale,
    budget_reserve,
    budget_settle,
    budget_status_list,
)
from usage.models import Budget, BudgetHold, BudgetPeriod
from usage.ratelimits import rate_limit_admit
from usage.types import CallScope

pytestmark = pytest.mark.django_db

SCOPE = CallScope(service="rag_agent", provider_slug="openai", api_key_id="key.1", user_id=7)


def make_budget(**fields) -> Budget:
    defaults = {"name": "global", "scope_type": "global", "limit_usd": Decimal("1.00")}
    return Budget.objects.create(**{**defaults, **fields})


def period_of(budget: Budget) -> BudgetPeriod:
    return BudgetPeriod.objects.get(budget=budget)


def test_reserve_holds_then_settle_replaces_hold_by_actual_cost() -> None:
    budget = make_budget()
    reservation = budget_reserve(scope=SCOPE, amount=Decimal("0.30"))
    assert reservation is not None
    assert reservation.amount == Decimal("0.30")
    assert reservation.budget_ids == (budget.id,)
    period = period_of(budget)
    assert (period.reserved, period.spent) == (Decimal("0.30"), Decimal("0"))

    budget_settle(reservation=reservation, actual_cost=Decimal("0.12"))
    period.refresh_from_db()
    assert (period.reserved, period.spent) == (Decimal("0"), Decimal("0.12"))
    assert not BudgetHold.objects.exists()

    budget_settle(reservation=reservation, actual_cost=Decimal("0.12"))  # idempotent
    period.refresh_from_db()
    assert (period.reserved, period.spent) == (Decimal("0"), Decimal("0.12"))


def test_settle_without_cost_releases_the_hold() -> None:
    budget = make_budget()
    reservation = budget_reserve(scope=SCOPE, amount=Decimal("0.50"))
    budget_settle(reservation=reservation, actual_cost=None)
    period = period_of(budget)
    assert (period.reserved, period.spent) == (Decimal("0"), Decimal("0"))
    budget_settle(reservation=None, actual_cost=Decimal("1"))  # no budget applied: a no-op


def test_holds_count_against_hard_budget_before_settlement() -> None:
    make_budget(limit_usd=Decimal("1.00"))
    first = budget_reserve(scope=SCOPE, amount=Decimal("0.60"))
    with pytest.raises(BudgetExceeded):
        budget_reserve(scope=SCOPE, amount=Decimal("0.60"))
    budget_settle(reservation=first, actual_cost=Decimal("0.20"))
    assert budget_reserve(scope=SCOPE, amount=Decimal("0.80")) is not None


def test_hard_budget_refuses_with_429_naming_budget_and_reset() -> None:
    budget = make_budget(name="monthly-cap", limit_usd=Decimal("1.00"))
    budget_settle(
        reservation=budget_reserve(scope=SCOPE, amount=Decimal("0.9")),
        actual_cost=Decimal("0.9"),
    )
    with pytest.raises(BudgetExceeded) as caught:
        budget_reserve(scope=SCOPE, amount=Decimal("0.2"))
    error = caught.value
    _, resets_at = budget_period_bounds(period="monthly", at=datetime.now(UTC))
    assert error.code == "budget_exceeded"
    assert error.http_status == 429
    assert "monthly-cap" in error.message
    assert error.details == {
        "budget": "monthly-cap",
        "resets_at": resets_at.isoformat(),
        "limit": "1.0000",
        "spent": "0.9000000000",
    }
    expected_wait = (resets_at - datetime.now(UTC)).total_seconds()
    assert abs(error.retry_after - expected_wait) < 5
    assert period_of(budget).reserved == Decimal("0")  # a refusal holds nothing

    response = exception_handler(error, {})
    assert response.status_code == 429
    assert response.data["error"]["code"] == "budget_exceeded"
    assert int(response.headers["Retry-After"]) >= int(expected_wait) - 5


def test_soft_budget_never_refuses() -> None:
    budget = make_budget(hard=False, limit_usd=Decimal("1.00"))
    reservation = budget_reserve(scope=SCOPE, amount=Decimal("5"))
    budget_settle(reservation=reservation, actual_cost=Decimal("4"))
    assert budget_reserve(scope=SCOPE, amount=Decimal("5")) is not None
    assert period_of(budget).spent == Decimal("4")


@pytest.mark.parametrize(
    ("scope_type", "scope_value", "matches"),
    [
        ("global", "", True),
        ("service", "rag_agent", True),
        ("service", "other", False),
        ("provider", "openai", True),
        ("provider", "anthropic", False),
        ("consumer_key", "key.1", True),
        ("consumer_key", "key.2", False),
        ("user", "7", True),
        ("user", "8", False),
    ],
)
def test_budget_applies_only_to_its_scope(scope_type: str, scope_value: str, matches: bool) -> None:
    make_budget(scope_type=scope_type, scope_value=scope_value)
    reservation = budget_reserve(scope=SCOPE, amount=Decimal("0.1"))
    assert (reservation is not None) is matches
    anonymous = budget_reserve(scope=CallScope(), amount=Decimal("0.1"))
    assert (anonymous is not None) is (scope_type == "global")


def test_reservation_holds_every_matching_budget_and_the_tightest_refuses() -> None:
    wide = make_budget(name="wide", limit_usd=Decimal("100"))
    narrow = make_budget(
        name="narrow", scope_type="service", scope_value="rag_agent", limit_usd=Decimal("1")
    )
    reservation = budget_reserve(scope=SCOPE, amount=Decimal("0.8"))
    assert set(reservation.budget_ids) == {wide.id, narrow.id}
    with pytest.raises(BudgetExceeded) as caught:
        budget_reserve(scope=SCOPE, amount=Decimal("0.8"))
    assert caught.value.details["budget"] == "narrow"
    assert period_of(wide).reserved == Decimal("0.8")  # the refused call held nothing anywhere
    budget_settle(reservation=reservation, actual_cost=Decimal("0.5"))
    assert period_of(wide).spent == period_of(narrow).spent == Decimal("0.5")


def test_no_matching_budget_and_no_rate_limit_costs_zero_queries(
    django_assert_num_queries,
) -> None:
    make_budget(name="other", scope_type="service", scope_value="other")
    assert budget_reserve(scope=SCOPE, amount=Decimal("1")) is None  # warms the cache
    rate_limit_admit(scope=SCOPE, estimated_tokens=100)
    with django_assert_num_queries(0):
        assert budget_reserve(scope=SCOPE, amount=Decimal("1")) is None
        budget_settle(reservation=None, actual_cost=Decimal("1"))
        rate_limit_admit(scope=SCOPE, estimated_tokens=100)


def test_budget_changes_reach_the_cached_hot_path(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        budget = make_budget(limit_usd=Decimal("1"))
    with pytest.raises(BudgetExceeded):
        budget_reserve(scope=SCOPE, amount=Decimal("5"))
    with django_capture_on_commit_callbacks(execute=True):
        budget.limit_usd = Decimal("10")
        budget.save()
    assert budget_reserve(scope=SCOPE, amount=Decimal("5")) is not None
    with django_capture_on_commit_callbacks(execute=True):
        budget.delete()
    assert budget_reserve(scope=SCOPE, amount=Decimal("5")) is None


def test_budget_deleted_behind_a_stale_cache_is_skipped() -> None:
    budget = make_budget()
    assert budget_reserve(scope=SCOPE, amount=Decimal("0.1")) is not None
    Budget.objects.filter(pk=budget.pk).delete()  # no on_commit here: the cache still lists it
    assert budget_reserve(scope=SCOPE, amount=Decimal("0.1")) is None


@override_settings(BUSINESS_TIME_ZONE="America/New_York")
def test_period_bounds_follow_the_business_time_zone() -> None:
    at = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)  # still Feb 28, 22:00 in New York
    start, resets = budget_period_bounds(period="monthly", at=at)
    assert start == date(2026, 2, 1)
    assert resets.isoformat() == "2026-03-01T00:00:00-05:00"
    start, resets = budget_period_bounds(period="daily", at=at)
    assert start == date(2026, 2, 28)
    assert resets == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    start, resets = budget_period_bounds(period="monthly", at=datetime(2026, 12, 15, tzinfo=UTC))
    assert (start, resets.date()) == (date(2026, 12, 1), date(2027, 1, 1))


def test_daily_budget_rolls_over_at_local_midnight(monkeypatch) -> None:
    budget = make_budget(period="daily", limit_usd=Decimal("1"))
    before = datetime(2026, 5, 3, 23, 59, tzinfo=UTC)
    monkeypatch.setattr("usage.budgets._now", lambda: before)
    late = budget_reserve(scope=SCOPE, amount=Decimal("0.9"))
    with pytest.raises(BudgetExceeded) as caught:
        budget_reserve(scope=SCOPE, amount=Decimal("0.9"))
    assert caught.value.details["resets_at"] == "2026-05-04T00:00:00+00:00"
    assert 59 <= caught.value.retry_after <= 61

    monkeypatch.setattr("usage.budgets._now", lambda: before + timedelta(minutes=2))
    fresh = budget_reserve(scope=SCOPE, amount=Decimal("0.9"))  # a new day, a new allowance
    assert fresh is not None
    budget_settle(reservation=late, actual_cost=Decimal("0.7"))  # lands in the day it reserved
    budget_settle(reservation=fresh, actual_cost=Decimal("0.4"))
    spent = dict(BudgetPeriod.objects.filter(budget=budget).values_list("period_start", "spent"))
    assert spent == {date(2026, 5, 3): Decimal("0.7"), date(2026, 5, 4): Decimal("0.4")}


def test_stale_reservations_are_released() -> None:
    budget = make_budget()
    stale = budget_reserve(scope=SCOPE, amount=Decimal("0.4"))
    recent = budget_reserve(scope=SCOPE, amount=Decimal("0.3"))
    BudgetHold.objects.filter(reservation_id=stale.id).update(
        created_at=datetime.now(UTC) - timedelta(hours=1)
    )
    assert budget_reservations_release_stale(older_than=timedelta(minutes=15)) == 1
    assert period_of(budget).reserved == Decimal("0.3")
    budget_settle(reservation=stale, actual_cost=Decimal("0.4"))  # too late: nothing to settle
    budget_settle(reservation=recent, actual_cost=Decimal("0.1"))
    period = period_of(budget)
    assert (period.reserved, period.spent) == (Decimal("0"), Decimal("0.1"))


def test_negative_amounts_are_programming_errors() -> None:
    make_budget()
    with pytest.raises(ValueError):
        budget_reserve(scope=SCOPE, amount=Decimal("-1"))
    reservation = budget_reserve(scope=SCOPE, amount=Decimal("1"))
    with pytest.raises(ValueError):
        budget_settle(reservation=reservation, actual_cost=Decimal("-1"))


def test_budget_status_list_reports_the_current_period() -> None:
    make_budget(name="b-soft", hard=False, limit_usd=Decimal("4"), period="daily")
    make_budget(name="a-hard", limit_usd=Decimal("10"))
    make_budget(name="inactive", active=False)
    reservation = budget_reserve(scope=SCOPE, amount=Decimal("2"))
    budget_settle(reservation=reservation, actual_cost=Decimal("1"))
    budget_reserve(scope=SCOPE, amount=Decimal("0.5"))

    rows = budget_status_list()
    assert [row["name"] for row in rows] == ["a-hard", "b-soft"]
    hard, soft = rows
    assert hard["scope"] == "global"
    assert (hard["limit"], hard["spent"], hard["reserved"]) == (
        Decimal("10"),
        Decimal("1"),
        Decimal("0.5"),
    )
    assert hard["percent"] == 10.0
    assert hard["hard"] is True and soft["hard"] is False
    assert soft["percent"] == 25.0
    assert soft["period"] == "daily"
    assert datetime.fromisoformat(soft["resets_at"]) > datetime.now(UTC)
    assert set(hard) == {
        "id",
        "name",
        "scope",
        "scope_type",
        "scope_value",
        "period",
        "limit",
        "spent",
        "reserved",
        "percent",
        "resets_at",
        "hard",
    }


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
)
def test_a_cache_outage_falls_back_to_the_database() -> None:
    budget = make_budget(limit_usd=Decimal("1"))
    reservation = budget_reserve(scope=SCOPE, amount=Decimal("0.6"))
    assert reservation is not None
    with pytest.raises(BudgetExceeded):
        budget_reserve(scope=SCOPE, amount=Decimal("0.6"))
    budget_settle(reservation=reservation, actual_cost=Decimal("0.5"))
    assert period_of(budget).spent == Decimal("0.5")


def test_the_cleanup_task_releases_stale_holds() -> None:
    from usage.tasks_budget import budget_reservations_release_stale_task

    budget = make_budget()
    reservation = budget_reserve(scope=SCOPE, amount=Decimal("0.4"))
    BudgetHold.objects.filter(reservation_id=reservation.id).update(
        created_at=datetime.now(UTC) - timedelta(minutes=30)
    )
    assert budget_reservations_release_stale_task(older_than_minutes=60) == 0
    assert budget_reservations_release_stale_task(older_than_minutes=15) == 1
    assert budget_reservations_release_stale_task() == 0
    assert period_of(budget).reserved == Decimal("0")
