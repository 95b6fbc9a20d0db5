"""Reconciliation of DailyUsage against the ledger: the service, the command and the task."""

import logging
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from providers.models import ConsumerAPIKey
from tests.usage.records import make_record
from usage.models import DailyUsage
from usage.services.reconcile import usage_reconcile_day, usage_reconcile_range
from usage.services.rollup import usage_rollup_day
from usage.tasks import usage_reconcile_recent

pytestmark = pytest.mark.django_db

DAY = date(2026, 3, 10)


def _at(hour: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def rolled_up():
    make_record(created_at=_at(1), cost=Decimal("0.25"))
    make_record(created_at=_at(2), provider="anthropic", model_string="anthropic:claude-x")
    make_record(created_at=_at(3), outcome="timeout", cost=None)
    usage_rollup_day(day=DAY)


def test_a_fresh_rollup_has_no_drift(rolled_up):
    assert usage_reconcile_day(day=DAY) == []


def test_a_tampered_row_is_reported_metric_by_metric(rolled_up):
    DailyUsage.objects.filter(provider="openai").update(
        requests=5, output_tokens=999, cost=Decimal("1")
    )
    drifts = usage_reconcile_day(day=DAY)
    by_metric = {d.metric: d for d in drifts}
    assert set(by_metric) == {"requests", "output_tokens", "cost"}
    assert (by_metric["requests"].expected, by_metric["requests"].actual) == (2, 5)
    assert by_metric["cost"].expected == Decimal("0.2500000000")
    assert by_metric["cost"].actual == Decimal("1.0000000000")
    assert all(d.provider == "openai" and d.day == DAY for d in drifts)
    assert "requests: records=2 daily=5" in str(by_metric["requests"])


def test_missing_and_extra_groups_are_drift(rolled_up):
    DailyUsage.objects.filter(provider="anthropic").delete()
    make_record(created_at=_at(4), service="late")  # a record the rollup has not seen
    drifts = usage_reconcile_day(day=DAY)
    groups = {(d.provider, d.service) for d in drifts if d.metric == "requests"}
    assert groups == {("anthropic", "rag_agent"), ("openai", "late")}


def test_a_deleted_consumer_key_causes_no_drift():
    key, _ = ConsumerAPIKey.objects.create_key(name="old")
    make_record(created_at=_at(1))
    make_record(created_at=_at(2), api_key=key)
    usage_rollup_day(day=DAY)
    key.delete()  # both tables set the key to NULL: two key-less rows for one group
    assert DailyUsage.objects.filter(day=DAY, api_key=None).count() == 2
    assert usage_reconcile_day(day=DAY) == []


def test_repair_recomputes_drifted_days(rolled_up, caplog):
    DailyUsage.objects.update(input_tokens=1)
    with caplog.at_level(logging.WARNING, logger="usage.services.reconcile"):
        drifts = usage_reconcile_range(since=DAY, until=DAY, repair=True)
    assert drifts
    assert len([r for r in caplog.records if "drift" in r.getMessage()]) == len(drifts)
    assert usage_reconcile_day(day=DAY) == []


def test_command_prints_drift_and_fails(rolled_up, capsys):
    call_command("reconcile_usage", "--since", "2026-03-09", "--until", "2026-03-11")
    assert "No drift" in capsys.readouterr().out
    DailyUsage.objects.filter(provider="anthropic").update(errors=3)
    with pytest.raises(CommandError, match="1 drifts"):
        call_command("reconcile_usage", "--since", "2026-03-10", "--until", "2026-03-10")
    assert "errors: records=0 daily=3" in capsys.readouterr().out


def test_command_rejects_bad_dates():
    with pytest.raises(CommandError, match="not a date"):
        call_command("reconcile_usage", "--since", "10/03/2026")
    with pytest.raises(CommandError, match="after"):
        call_command("reconcile_usage", "--since", "2026-03-11", "--until", "2026-03-10")


def test_task_logs_a_warning_per_drift_and_repairs(rolled_up, caplog):
    DailyUsage.objects.filter(provider="openai").update(requests=7, cache_write_tokens=2)
    with caplog.at_level(logging.WARNING):
        found = usage_reconcile_recent.apply(kwargs={"days": 2, "until": "2026-03-11"}).get()
    assert found == 2
    warnings = [r.getMessage() for r in caplog.records if r.name == "usage.services.reconcile"]
    assert len(warnings) == 2
    assert usage_reconcile_day(day=DAY) == []  # repaired
