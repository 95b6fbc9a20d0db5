"""Spend and time under faults: a reservation whose settlement met a database outage is
settled later from the ledger (never at $0) and the reconciliation says budgets and ledger
agree; a trickling stream ends at the call's deadline; a circuit-open 503 says when to come
back; an outage logs a line per refused request and its traceback once per interval."""

import logging
import time
from datetime import timedelta
from decimal import Decimal

import pytest

import chat.runtime.admission as admission
from tests.faults.conftest import database_down, v1_chat
from tests.fixtures import requires_postgres
from usage.budgets import budget_reservations_release_stale
from usage.models import BudgetHold, BudgetPeriod, UsageRecord
from usage.services.reconcile import budget_reconcile
from usage.tasks import usage_reconcile_recent

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def settle_meets_an_outage(monkeypatch):
    """The database goes away exactly while the call settles its budget (after its usage
    record was written): the real settle runs against a PostgreSQL that is not there."""
    settle = admission.budget_settle

    def settle_while_down(**kwargs):
        with database_down():
            settle(**kwargs)

    monkeypatch.setattr(admission, "budget_settle", settle_while_down)


def test_unsettled_reservation_is_settled_from_the_ledger(
    client, deployment, settle_meets_an_outage, caplog
):
    caplog.set_level(logging.ERROR)
    response = v1_chat(client, deployment)
    assert response.status_code == 200, response.content  # the paid call is answered
    record = UsageRecord.objects.get(request_id=response["x-request-id"])
    assert record.cost > 0
    period = BudgetPeriod.objects.get()
    assert period.spent == 0 and period.reserved > 0  # the hold outlived the call
    assert any("release task will settle it" in r.getMessage() for r in caplog.records)
    # While the hold is outstanding the call counts as in flight, not as a drift.
    assert budget_reconcile() == []

    assert budget_reservations_release_stale(older_than=timedelta(0)) == 1
    period.refresh_from_db()
    assert (period.spent, period.reserved) == (record.cost, 0)  # the ledger's cost, not $0
    assert not BudgetHold.objects.exists()
    assert budget_reconcile() == []


def test_reconciliation_reports_a_budget_that_disagrees_with_the_ledger(client, deployment):
    response = v1_chat(client, deployment)
    assert response.status_code == 200
    assert budget_reconcile() == []
    BudgetPeriod.objects.update(spent=Decimal("0"))  # a budget that lost a charge
    (drift,) = budget_reconcile()
    cost = UsageRecord.objects.get().cost
    assert (drift.budget, drift.spent, drift.ledger) == ("org", 0, cost)
    assert "org" in str(drift)
    assert usage_reconcile_recent.apply(kwargs={"days": 1, "repair": False}).get() >= 1


def test_trickling_stream_is_cut_at_the_total_deadline(client, deployment, openai_fake, settings):
    settings.RUNTIME_TOTAL_TIMEOUT_SECONDS = 2.5
    openai_fake.reply_text = "one two three four five six seven eight nine"
    openai_fake.faults.event_interval = 1.0  # about 8 s for the whole answer
    started = time.monotonic()
    response = v1_chat(client, deployment, stream=True)
    body = b"".join(response.streaming_content).decode()
    elapsed = time.monotonic() - started
    assert 2.5 <= elapsed < 4.5, elapsed  # the deadline, plus at most one upstream read
    assert "provider_timeout" in body and "[DONE]" not in body
    record = UsageRecord.objects.get(request_id=response["x-request-id"])
    assert record.outcome == "provider_timeout"
    assert record.usage_estimated and record.cost > 0
    period = BudgetPeriod.objects.get()
    assert (period.spent, period.reserved) == (record.cost, 0)


def test_circuit_open_503_carries_retry_after(client, deployment, openai_fake, settings, caplog):
    settings.CIRCUIT_BREAKER_FAILURES = 1
    settings.CIRCUIT_BREAKER_OPEN_SECONDS = 30.0
    openai_fake.faults.status, openai_fake.faults.times = 503, 1
    assert v1_chat(client, deployment).status_code == 503  # the failure that opens it
    requests_before = len(openai_fake.requests)
    response = v1_chat(client, deployment)
    assert response.status_code == 503, response.content
    assert 25 <= int(response["Retry-After"]) <= 30
    assert len(openai_fake.requests) == requests_before  # skipped, not called
    # Not an outage of ours: Django's own line for the 503 is kept.
    assert any(r.name == "django.request" for r in caplog.records)


def test_outage_logs_one_line_per_request_and_one_traceback(
    client, deployment, redis_outage, caplog
):
    caplog.set_level(logging.WARNING)
    redis_outage.begin()
    for _ in range(4):
        assert v1_chat(client, deployment).status_code == 503
    lines = [r for r in caplog.records if r.name == "config.outages"]
    assert len(lines) == 4
    assert not [r for r in caplog.records if r.name == "django.request"]  # no second line
    assert sum(1 for r in lines if r.exc_info or r.exc_text) == 1


def test_stream_whose_first_chunk_comes_after_the_deadline_is_a_504(
    client, deployment, openai_fake, settings
):
    settings.RUNTIME_TOTAL_TIMEOUT_SECONDS = 1.0
    openai_fake.faults.event_interval = 1.5
    started = time.monotonic()
    response = v1_chat(client, deployment, stream=True)
    assert time.monotonic() - started < 2.5
    assert response.status_code == 504, response.content
    assert response.json()["error"]["code"] == "provider_timeout"
    (record,) = UsageRecord.objects.filter(request_id=response["x-request-id"])
    assert record.outcome == "provider_timeout"
    assert BudgetPeriod.objects.get().reserved == 0
