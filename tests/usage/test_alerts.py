"""Budget alerts: one entry and one email per budget, period and threshold crossed."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import override_settings

from usage.alerts import budget_alert_send, budget_alerts_record, budget_alerts_send_pending
from usage.budgets import budget_reserve, budget_settle
from usage.models import Budget, BudgetAlert
from usage.types import CallScope

pytestmark = pytest.mark.django_db

SCOPE = CallScope(service="rag_agent")


@pytest.fixture
def spend(django_capture_on_commit_callbacks):
    """Reserve and settle one call, running the after-commit email as a real commit would."""

    def spend(amount: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            reservation = budget_reserve(scope=SCOPE, amount=Decimal(amount))
            budget_settle(reservation=reservation, actual_cost=Decimal(amount))

    return spend


def soft_budget(**fields) -> Budget:
    defaults = {"name": "team", "scope_type": "global", "limit_usd": Decimal("10"), "hard": False}
    return Budget.objects.create(**{**defaults, **fields})


def test_crossing_50_then_80_percent_sends_one_email_each(superuser, spend) -> None:
    budget = soft_budget()
    spend("4")  # 40 %: nothing
    assert mail.outbox == []
    spend("2")  # 60 %: crosses 50
    spend("1")  # 70 %: nothing new
    spend("1.5")  # 85 %: crosses 80
    spend("0.5")  # 90 %: nothing new

    alerts = list(BudgetAlert.objects.filter(budget=budget).order_by("threshold"))
    assert [a.threshold for a in alerts] == [50, 80]
    assert [a.spent for a in alerts] == [Decimal("6"), Decimal("8.5")]
    assert all(a.emailed_at is not None for a in alerts)
    assert alerts[0].recipients == ["admin@example.com"]
    assert len(mail.outbox) == 2
    assert "'team' reached 50%" in mail.outbox[0].subject
    assert "'team' reached 80%" in mail.outbox[1].subject
    assert "6 USD of 10 USD" in mail.outbox[0].body
    assert mail.outbox[0].to == ["admin@example.com"]


def test_one_jump_over_two_thresholds_records_both(superuser, spend) -> None:
    soft_budget()
    spend("10")
    assert sorted(BudgetAlert.objects.values_list("threshold", flat=True)) == [50, 80, 100]
    assert len(mail.outbox) == 3


def test_a_new_period_alerts_again(superuser, django_capture_on_commit_callbacks, monkeypatch):
    budget = soft_budget(period="daily", alert_thresholds=[50])
    for day in (1, 2):
        monkeypatch.setattr(
            "usage.budgets._now", lambda d=day: datetime(2026, 6, d, 12, tzinfo=UTC)
        )
        with django_capture_on_commit_callbacks(execute=True):
            reservation = budget_reserve(scope=SCOPE, amount=Decimal("6"))
            budget_settle(reservation=reservation, actual_cost=Decimal("6"))
    periods = sorted(
        BudgetAlert.objects.filter(budget=budget).values_list("period_start", flat=True)
    )
    assert periods == [date(2026, 6, 1), date(2026, 6, 2)]
    assert len(mail.outbox) == 2


@override_settings(BUDGET_ALERT_EMAILS=["finance@example.com", "ops@example.com"])
def test_configured_recipients_replace_the_superusers(superuser, spend) -> None:
    soft_budget(alert_thresholds=[50])
    spend("5")
    assert mail.outbox[0].to == ["finance@example.com", "ops@example.com"]


def test_released_calls_spend_nothing_and_alert_nothing(
    superuser, django_capture_on_commit_callbacks
):
    soft_budget()
    with django_capture_on_commit_callbacks(execute=True):
        reservation = budget_reserve(scope=SCOPE, amount=Decimal("9"))
        budget_settle(reservation=reservation, actual_cost=None)
    assert not BudgetAlert.objects.exists()
    assert mail.outbox == []


def test_an_alert_is_recorded_once_even_if_the_crossing_is_seen_twice(superuser) -> None:
    budget = soft_budget(alert_thresholds=[50])
    kwargs = {
        "budget": budget,
        "period_start": date(2026, 1, 1),
        "spent_before": Decimal("4"),
        "spent_after": Decimal("6"),
    }
    assert len(budget_alerts_record(**kwargs)) == 1
    assert budget_alerts_record(**kwargs) == []  # e.g. after the limit was edited back


def test_without_recipients_the_alert_waits_and_is_sent_later(django_user_model, spend) -> None:
    soft_budget(alert_thresholds=[50])
    spend("6")
    alert = BudgetAlert.objects.get()
    assert alert.emailed_at is None
    assert mail.outbox == []

    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-12345")
    assert budget_alerts_send_pending() == 1
    assert budget_alerts_send_pending() == 0  # claimed: never sent twice
    assert budget_alert_send(alert_id=alert.id) is False
    assert [m.to for m in mail.outbox] == [["boss@example.com"]]


def test_pending_alerts_older_than_the_retry_horizon_are_left_alone(superuser) -> None:
    budget = soft_budget()
    alert = BudgetAlert.objects.create(
        budget=budget, period_start=date(2026, 1, 1), threshold=50, spent=5, limit_usd=10
    )
    BudgetAlert.objects.filter(pk=alert.pk).update(created_at=datetime.now(UTC) - timedelta(days=5))
    assert budget_alerts_send_pending() == 0


def test_the_pending_alerts_task_sends_what_is_due(django_user_model, spend) -> None:
    from usage.tasks_budget import budget_alerts_send_pending_task

    soft_budget(alert_thresholds=[50])
    spend("6")  # no recipients yet
    django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-boss-12345")
    assert budget_alerts_send_pending_task() == 1
    assert len(mail.outbox) == 1
