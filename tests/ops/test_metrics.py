"""/metrics after real calls through /v1 (the OpenAI SDK against the OpenAI fake): every count,
token and dollar equals the ledger; the gauges read shared state; only scrapers may read it."""

import uuid
from datetime import date
from decimal import Decimal

import openai
import pytest
from django.db import OperationalError, connection
from prometheus_client import REGISTRY

from chat.runtime.breaker import BreakerSettings, CircuitBreaker
from providers.adapters.types import Usage
from providers.models import ConsumerAPIKey
from providers.selectors import model_selection_resolve
from tests.chat.helpers import openai_chain, selection_set
from tests.fakes.base import Faults
from tests.ops.metrics_helpers import for_service, ledger_for_service, samples
from usage.budgets import budget_period_bounds
from usage.models import Budget, BudgetPeriod, RateLimit
from usage.services.ledger import usage_record_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def service(openai_fake):
    primary, fallback = openai_chain(openai_fake)
    name = f"svc_{uuid.uuid4().hex[:10]}"
    selection_set(name, primary, (fallback,))
    return name


@pytest.fixture
def sdk(live_server):
    _, secret = ConsumerAPIKey.objects.create_key(name="metrics-test")
    with openai.OpenAI(
        api_key=secret, base_url=f"{live_server.url}/v1", max_retries=0, timeout=20
    ) as client:
        yield client


def scrape(client, **headers) -> str:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_counts_tokens_and_cost_equal_the_ledger(sdk, service, openai_fake, client):
    messages = [{"role": "user", "content": "Count me in"}]
    for _ in range(2):
        sdk.chat.completions.create(model=service, messages=messages)
    list(
        sdk.chat.completions.create(
            model=service, messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    # The primary fails twice (its attempt and its retry), the fallback serves.
    openai_fake.faults = Faults(status=500, times=2)
    sdk.chat.completions.create(model=service, messages=messages)

    found = samples(scrape(client))
    ledger = ledger_for_service(service)
    assert sum(ledger["requests"].values()) == 6
    outcomes = {dict(k)["outcome"] for k in ledger["requests"]}
    assert "ok" in outcomes and len(outcomes) == 2  # the failed attempts have their own series
    assert for_service(found["llm_requests_total"], service) == ledger["requests"]
    tokens = for_service(found["llm_tokens_total"], service)
    assert {k: v for k, v in tokens.items() if v} == ledger["tokens"]
    cost = for_service(found["llm_cost_usd_total"], service)
    assert cost.keys() == ledger["cost"].keys()
    for key, value in ledger["cost"].items():
        assert cost[key] == pytest.approx(value, rel=1e-9)
    assert sum(cost.values()) > 0
    durations = for_service(found["llm_request_duration_seconds_count"], service)
    assert sum(durations.values()) == 6
    ttft = for_service(found["llm_time_to_first_token_seconds_count"], service)
    assert sum(ttft.values()) == 1  # the one streamed attempt
    # Django's own request metrics count the /v1 calls by view.
    by_view = {
        (labels["view"], labels["status"]): value
        for labels, value in ((dict(k), v) for k, v in found["django_http_requests_total"].items())
    }
    assert by_view[("v1-chat-completions", "200")] >= 4


def test_rate_limit_refusals_are_counted_by_scope(sdk, service):
    RateLimit.objects.create(scope_type="service", scope_value=service, requests_per_minute=1)
    before = REGISTRY.get_sample_value("llm_rate_limited_total", {"scope": "service"}) or 0
    messages = [{"role": "user", "content": "hi"}]
    sdk.chat.completions.create(model=service, messages=messages)
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model=service, messages=messages)
    after = REGISTRY.get_sample_value("llm_rate_limited_total", {"scope": "service"})
    assert after == before + 1


def test_an_unwritten_usage_record_is_counted(service):
    model = model_selection_resolve(name=service).candidates[0]

    def refuse(execute, sql, params, many, context):
        raise OperationalError("the database went away")

    before = REGISTRY.get_sample_value("llm_ledger_write_failures_total") or 0
    with connection.execute_wrapper(refuse), pytest.raises(OperationalError):
        usage_record_create(request_id="req_x", model=model, usage=Usage(input_tokens=3))
    assert REGISTRY.get_sample_value("llm_ledger_write_failures_total") == before + 1


def test_circuit_and_budget_gauges_read_the_shared_state(client, service):
    breaker = CircuitBreaker(BreakerSettings(failures=1, open_seconds=30))
    breaker.record_failure("primary")
    budget = Budget.objects.create(
        name=f"team-{service}", scope_type="global", period="daily", limit_usd=Decimal("4")
    )
    start, _ = budget_period_bounds(period="daily", at=budget.created_at)
    BudgetPeriod.objects.create(budget=budget, period_start=start, spent=Decimal("1"))
    found = samples(scrape(client))
    assert found["llm_circuit_open"][(("provider", "primary"),)] == 1.0
    assert found["llm_circuit_open"][(("provider", "backup"),)] == 0.0
    assert found["llm_budget_used_ratio"][(("budget", budget.name),)] == 0.25
    assert isinstance(start, date)


def test_scrapers_only(client, settings):
    settings.METRICS_BEARER_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8", "10.1.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    refused = client.get("/metrics", REMOTE_ADDR="192.0.2.7")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    # Through a proxy on this host: loopback, but not a scraper's own connection.
    proxied = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.7")
    assert proxied.status_code == 403

    settings.METRICS_BEARER_TOKEN = "scrape-token-123"
    settings.METRICS_ALLOWED_NETWORKS = []
    anonymous = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="metrics"'
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-12")
    assert wrong.status_code == 401
    assert "scrape-token" not in wrong.content.decode()
    good = client.get(
        "/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION="Bearer scrape-token-123"
    )
    assert good.status_code == 200 and b"llm_requests_total" in good.content
    assert client.post("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123").status_code == 405
