"""Redis going away in the middle of a call that routes through a model group or uses the
response cache: both are advisory, so the caller still gets its answer and the ledger its
record; the lost bookkeeping (the member's release, the cached answer) is only logged."""

import pytest

from chat.runtime.response_cache import CachedAnswer, response_cache_get, response_cache_put
from chat.runtime.routing import Router
from chat.services import chat_completion_run
from providers.adapters.types import ChatRequest, Message
from providers.models import ModelGroup, ModelGroupMember
from providers.selectors import model_selection_resolve
from tests.chat.helpers import model_create, provider_create, selection_set
from tests.faults.conftest import provider_hook
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db


def ask(model):
    return chat_completion_run(
        request=ChatRequest(model=model, messages=(Message(role="user", content="hi"),))
    )


@pytest.fixture
def pool(openai_fake):
    east = model_create(provider_create(openai_fake, slug="east", kind="openai"), "gpt-4o-mini")
    west = model_create(provider_create(openai_fake, slug="west", kind="openai"), "gpt-4.1")
    group = ModelGroup.objects.create(name="pool", strategy="least_busy")
    for model in (east, west):
        ModelGroupMember.objects.create(group=group, model_config=model, tpm_limit=10**6)
    return east


def test_group_call_answers_when_redis_goes_mid_call(
    pool, openai_fake, redis_outage, monkeypatch, caplog
):
    provider_hook(openai_fake, monkeypatch, lambda n: redis_outage.begin())
    result = ask("group:pool")
    assert result.response.text.startswith("Hello")
    record = UsageRecord.objects.get(pk=result.usage_record_id)
    assert record.outcome == "ok" and record.route["group"] == "pool"
    assert "routing state of group pool not written" in caplog.text


def test_router_orders_by_static_data_without_redis(pool, redis_outage, caplog):
    group = model_selection_resolve(name="group:pool").group
    redis_outage.begin()
    router = Router(group)
    router.read()
    ordered = router.order(tokens=10)
    assert {m.model.model_string for m, _ in ordered} == {"east:gpt-4o-mini", "west:gpt-4.1"}
    claim = router.claim(ordered[0][0], attempt_id="a", tokens=10)
    router.release(claim, latency_ms=5, actual_tokens=3)  # dropped, never raised
    assert "routing state of group pool not read" in caplog.text


def test_response_cache_is_a_miss_without_redis(pool, openai_fake, redis_outage, caplog):
    selection_set("cached", pool, cache_ttl_seconds=60)
    assert ask("cached").cache == "miss"
    redis_outage.begin()
    answer = CachedAnswer(model_string="east:gpt-4o-mini", cost=None)
    response_cache_put("runtime:response:x", answer, ttl=5)
    assert response_cache_get("runtime:response:x") is None
    assert "response not cached" in caplog.text and "response cache not read" in caplog.text
