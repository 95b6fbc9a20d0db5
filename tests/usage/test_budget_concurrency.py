"""Budgets under real parallelism: threads with their own PostgreSQL connections.

SQLite serialises whole-database writes and has no row locks, so these only run on PostgreSQL.
"""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TypeVar

import pytest
from django.core import mail
from django.db import connection

from tests.fixtures import requires_postgres
from usage.budgets import BudgetExceeded, budget_reserve, budget_settle
from usage.models import Budget, BudgetAlert, BudgetHold, BudgetPeriod
from usage.types import CallScope

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

T = TypeVar("T")
SCOPE = CallScope(service="rag_agent")


def run_in_parallel(count: int, work: Callable[[int], T]) -> list[T]:
    """Run `work(i)` in `count` threads released at once; each closes its own connection."""
    barrier = threading.Barrier(count)

    def call(i: int) -> T:
        try:
            barrier.wait(timeout=30)
            return work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


def test_fifty_simultaneous_calls_against_a_budget_that_affords_ten() -> None:
    budget = Budget.objects.create(
        name="ten-calls", scope_type="global", limit_usd=Decimal("10.00"), hard=True
    )
    max_cost = Decimal("1.00")

    def call(i: int) -> Decimal | None:
        try:
            reservation = budget_reserve(scope=SCOPE, amount=max_cost)
        except BudgetExceeded:
            return None
        actual = Decimal("0.95") + Decimal(i) / 10000  # at most the reserved maximum
        budget_settle(reservation=reservation, actual_cost=actual)
        return actual

    results = run_in_parallel(50, call)
    succeeded = [cost for cost in results if cost is not None]

    # Every success costs at least 0.95 of its 1.00 reservation, so an eleventh can never fit.
    assert len(succeeded) == 10
    period = BudgetPeriod.objects.get(budget=budget)
    assert period.spent == sum(succeeded)
    assert period.spent <= budget.limit_usd
    assert period.reserved == 0
    assert not BudgetHold.objects.exists()


def test_concurrent_settles_of_one_reservation_count_once() -> None:
    budget = Budget.objects.create(name="b", scope_type="global", limit_usd=Decimal("10"))
    reservation = budget_reserve(scope=SCOPE, amount=Decimal("2"))
    run_in_parallel(8, lambda i: budget_settle(reservation=reservation, actual_cost=Decimal("1.5")))
    period = BudgetPeriod.objects.get(budget=budget)
    assert (period.spent, period.reserved) == (Decimal("1.5"), Decimal("0"))


def test_concurrent_first_calls_of_a_period_create_one_period_row() -> None:
    budgets = [
        Budget.objects.create(name=f"b{i}", scope_type="global", limit_usd=Decimal("100"))
        for i in range(3)
    ]
    reservations = run_in_parallel(20, lambda i: budget_reserve(scope=SCOPE, amount=Decimal("1")))
    assert all(r is not None for r in reservations)
    for budget in budgets:
        period = BudgetPeriod.objects.get(budget=budget)
        assert period.reserved == Decimal("20")


def test_concurrent_settles_crossing_a_threshold_create_one_alert(superuser) -> None:
    budget = Budget.objects.create(
        name="soft", scope_type="global", limit_usd=Decimal("10"), hard=False, alert_thresholds=[50]
    )
    reservations = [budget_reserve(scope=SCOPE, amount=Decimal("1")) for _ in range(10)]
    mail.outbox.clear()
    run_in_parallel(
        10, lambda i: budget_settle(reservation=reservations[i], actual_cost=Decimal("1"))
    )
    assert BudgetAlert.objects.filter(budget=budget).count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["admin@example.com"]
