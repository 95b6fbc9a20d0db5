"""Budgets and the ledger agree: provider budgets are held on every provider a call may reach
and charged only their own provider's attempts; a stale reservation is settled from the usage
records of its call, never released at $0; reconciliation reports any budget that drifts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.usage.records import make_record
from usage.budgets import (
    BudgetExceeded,
    budget_reservations_release_stale,
    budget_reserve,
    budget_settle,
)
from usage.models import Budget, BudgetHold, BudgetPeriod
from usage.services.reconcile import budget_reconcile
from usage.types import CallScope

pytestmark = pytest.mark.django_db

SCOPE = CallScope(service="svc", provider_slug="primary")
PROVIDERS = {"primary": Decimal("0.50"), "backup": Decimal("0.20")}


def budget(name: str, scope_type: str = "provider", limit: str = "1.00") -> Budget:
    value = "" if scope_type == "global" else name
    return Budget.objects.create(
        name=name, scope_type=scope_type, scope_value=value, limit_usd=Decimal(limit)
    )


def state(b: Budget) -> tuple[Decimal, Decimal]:
    period = BudgetPeriod.objects.get(budget=b)
    return period.spent, period.reserved


def test_each_reachable_provider_holds_its_own_maximum():
    primary, backup, other = budget("primary"), budget("backup"), budget("elsewhere")
    overall = budget("all", "global")
    reservation = budget_reserve(
        scope=SCOPE, amount=Decimal("0.50"), provider_amounts=PROVIDERS, reservation_id="req_1"
    )
    assert reservation is not None and reservation.id == "req_1"
    assert state(primary) == (0, Decimal("0.50"))
    assert state(backup) == (0, Decimal("0.20"))
    assert state(overall) == (0, Decimal("0.50"))
    assert not BudgetPeriod.objects.filter(budget=other).exists()

    budget_settle(
        reservation=reservation,
        actual_cost=Decimal("0.15"),
        provider_costs={"backup": Decimal("0.15")},
    )
    assert state(primary) == (0, 0)  # the primary failed and billed nothing
    assert state(backup) == (Decimal("0.15"), 0)  # the fallback served
    assert state(overall) == (Decimal("0.15"), 0)


def test_without_provider_amounts_the_scopes_provider_decides():
    primary, backup = budget("primary"), budget("backup")
    reservation = budget_reserve(scope=SCOPE, amount=Decimal("0.10"))
    assert state(primary) == (0, Decimal("0.10"))
    assert not BudgetPeriod.objects.filter(budget=backup).exists()
    budget_settle(reservation=reservation, actual_cost=Decimal("0.05"))
    assert state(primary) == (Decimal("0.05"), 0)


def test_a_fallback_providers_hard_budget_refuses_when_it_cannot_afford_its_share():
    budget("backup", limit="0.10")
    with pytest.raises(BudgetExceeded):
        budget_reserve(scope=SCOPE, amount=Decimal("0.50"), provider_amounts=PROVIDERS)
    assert not BudgetHold.objects.exists()


def test_negative_provider_amounts_are_refused():
    with pytest.raises(ValueError):
        budget_reserve(scope=SCOPE, amount=Decimal(1), provider_amounts={"x": Decimal(-1)})
    budget("all", "global")
    reservation = budget_reserve(scope=SCOPE, amount=Decimal("0.10"))
    with pytest.raises(ValueError):
        budget_settle(
            reservation=reservation, actual_cost=Decimal(0), provider_costs={"x": Decimal(-1)}
        )


def test_stale_reservation_is_settled_from_its_usage_records():
    primary, backup, overall = budget("primary"), budget("backup"), budget("all", "global")
    budget_reserve(
        scope=SCOPE, amount=Decimal("0.50"), provider_amounts=PROVIDERS, reservation_id="req_a"
    )
    now = timezone.now()
    make_record(created_at=now, request_id="req_a", provider="primary", cost=None)
    make_record(created_at=now, request_id="req_a", provider="backup", cost=Decimal("0.12"))
    make_record(created_at=now, request_id="req_other", provider="backup", cost=Decimal("9"))
    assert budget_reservations_release_stale() == 0  # not stale yet
    assert budget_reservations_release_stale(older_than=timedelta(0)) == 1
    assert state(primary) == (0, 0)
    assert state(backup) == (Decimal("0.12"), 0)
    assert state(overall) == (Decimal("0.12"), 0)
    assert budget_reservations_release_stale(older_than=timedelta(0)) == 0  # safe twice


def test_stale_reservation_of_a_call_with_no_records_settles_at_what_the_ledger_says():
    overall = budget("all", "global")
    budget_reserve(scope=SCOPE, amount=Decimal("0.50"), reservation_id="req_crashed")
    assert budget_reservations_release_stale(older_than=timedelta(0)) == 1
    assert state(overall) == (0, 0)


def test_reconcile_compares_each_budget_with_its_scope_of_the_ledger():
    overall, backup, svc = budget("all", "global"), budget("backup"), budget("svc", "service")
    reservation = budget_reserve(
        scope=SCOPE, amount=Decimal("0.50"), provider_amounts=PROVIDERS, reservation_id="req_b"
    )
    make_record(
        created_at=timezone.now(),
        request_id="req_b",
        provider="backup",
        service="svc",
        cost=Decimal("0.07"),
    )
    assert budget_reconcile() == []  # in flight: its hold is outstanding
    budget_settle(
        reservation=reservation,
        actual_cost=Decimal("0.07"),
        provider_costs={"backup": Decimal("0.07")},
    )
    assert budget_reconcile() == []
    BudgetPeriod.objects.filter(budget=backup).update(spent=Decimal("0.50"))
    (drift,) = budget_reconcile()
    assert (drift.budget, drift.spent, drift.ledger) == ("backup", Decimal("0.5"), Decimal("0.07"))
    assert {p.budget.name for p in BudgetPeriod.objects.select_related("budget")} == {
        overall.name,
        backup.name,
        svc.name,
    }
