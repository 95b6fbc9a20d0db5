"""Admission before any spend: a hard budget or a rate limit refuses with 429 before the
provider is called; an admitted call settles its budget at the actual recorded cost."""

import json
from decimal import Decimal

import pytest

from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set
from usage.models import UsageRecord
from usage.models.budget import Budget, BudgetHold, BudgetPeriod
from usage.models.ratelimit import RateLimit

pytestmark = pytest.mark.django_db
BODY = json.dumps({"model": "svc", "messages": [{"role": "user", "content": "hello"}]})


@pytest.fixture
def key(openai_fake):
    selection_set(
        "svc", model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    )
    return ConsumerAPIKey.objects.create_key(name="admission")[1]


def call(client, key, body=BODY):
    return client.post(
        "/v1/chat/completions",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def test_hard_budget_refuses_before_the_provider_is_called(client, key, openai_fake):
    Budget.objects.create(
        name="tiny",
        scope_type="service",
        scope_value="svc",
        period="daily",
        limit_usd=Decimal("0.000001"),
        hard=True,
    )
    response = call(client, key)
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"]
    assert openai_fake.requests == []
    assert not UsageRecord.objects.exists()


def test_admitted_call_settles_the_budget_at_its_actual_cost(client, key):
    Budget.objects.create(
        name="roomy",
        scope_type="service",
        scope_value="svc",
        period="daily",
        limit_usd=Decimal("100"),
        hard=True,
    )
    assert call(client, key).status_code == 200
    record = UsageRecord.objects.get()
    period = BudgetPeriod.objects.get()
    assert period.spent == record.cost > 0
    assert period.reserved == 0
    assert not BudgetHold.objects.exists()


def test_failed_call_releases_its_reservation(client, key, openai_fake):
    Budget.objects.create(
        name="roomy",
        scope_type="service",
        scope_value="svc",
        period="daily",
        limit_usd=Decimal("100"),
        hard=True,
    )
    openai_fake.faults.status = 500
    assert call(client, key).status_code == 503
    period = BudgetPeriod.objects.get()
    assert period.spent == 0 and period.reserved == 0


def test_rate_limit_refuses_with_retry_after(client, key, openai_fake):
    RateLimit.objects.create(scope_type="service", scope_value="svc", requests_per_minute=1)
    assert call(client, key).status_code == 200
    refused = call(client, key)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert len(openai_fake.requests) == 1
