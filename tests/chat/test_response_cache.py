"""The response cache through the openai SDK against /v1 (and the native API), with the
OpenAI fake, real Redis and PostgreSQL: hit, miss, TTL, bypass, isolation between keys,
streamed replay, nothing cached from a failure, and savings in the ledger and rollups."""

import time
from datetime import date
from decimal import Decimal

import openai
import pytest
from django.utils import timezone

from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set, use_models_grant
from tests.fixtures import requires_redis
from usage.models import DailyUsage, UsageRecord
from usage.selectors import UsageFilter, usage_totals
from usage.services.rollup import usage_rollup_day

pytestmark = [pytest.mark.django_db(transaction=True), requires_redis]

MESSAGES = [{"role": "user", "content": "What is the answer?"}]


@pytest.fixture
def cached_service(openai_fake):
    model = model_create(provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini")
    return selection_set("assistant", model, cache_ttl_seconds=60)


def sdk_for(live_server, name="sdk"):
    _, secret = ConsumerAPIKey.objects.create_key(name=name)
    return openai.OpenAI(
        api_key=secret, base_url=f"{live_server.url}/v1", max_retries=0, timeout=20
    )


@pytest.fixture
def client(live_server):
    with sdk_for(live_server) as sdk:
        yield sdk


def complete(client, **headers):
    reply = client.chat.completions.with_raw_response.create(
        model="assistant", messages=MESSAGES, extra_headers=headers or None
    )
    return reply.headers.get("x-cache"), reply.parse()


def provider_calls(fake):
    return sum(1 for r in fake.requests if r.path == "/v1/chat/completions")


def test_miss_then_hit_records_the_saving(client, cached_service, openai_fake):
    status, first = complete(client)
    assert status == "miss"
    status, second = complete(client)
    assert status == "hit"
    assert provider_calls(openai_fake) == 1
    assert second.choices[0].message.content == first.choices[0].message.content
    assert second.usage.total_tokens == first.usage.total_tokens
    paid, hit = UsageRecord.objects.order_by("id")
    assert not paid.cache_hit and paid.cost > 0 and paid.saved_cost is None
    assert hit.cache_hit and hit.cost == 0 and hit.saved_cost == paid.cost
    assert hit.input_tokens == 0 and hit.model_string == "oa:gpt-4o-mini"
    assert hit.request_id != paid.request_id


def test_other_requests_miss(client, cached_service, openai_fake):
    complete(client)
    reply = client.chat.completions.with_raw_response.create(
        model="assistant", messages=MESSAGES, temperature=0.5
    )
    assert reply.headers["x-cache"] == "miss"
    assert provider_calls(openai_fake) == 2


def test_service_without_cache_has_no_header(client, cached_service, openai_fake):
    cached_service.cache_ttl_seconds = 0
    cached_service.save()  # a change in admin: the next call resolves afresh
    status, _ = complete(client)
    assert status is None
    complete(client)
    assert provider_calls(openai_fake) == 2
    assert not UsageRecord.objects.filter(cache_hit=True).exists()


def test_ttl_expires(client, cached_service, openai_fake):
    cached_service.cache_ttl_seconds = 1
    cached_service.save()
    assert complete(client)[0] == "miss"
    assert complete(client)[0] == "hit"
    time.sleep(1.5)
    assert complete(client)[0] == "miss"
    assert provider_calls(openai_fake) == 2


@pytest.mark.parametrize(
    "headers", [{"x-cache-bypass": "1"}, {"Cache-Control": "no-cache"}], ids=["x-cache", "cc"]
)
def test_bypass_header_calls_the_provider_and_refreshes(
    client, cached_service, openai_fake, headers
):
    complete(client)
    openai_fake.reply_text = "A fresher answer."
    status, fresh = complete(client, **headers)
    assert status == "miss" and fresh.choices[0].message.content == "A fresher answer."
    assert provider_calls(openai_fake) == 2
    # The bypassing call stored its answer: the next plain call replays it.
    status, again = complete(client)
    assert status == "hit" and again.choices[0].message.content == "A fresher answer."


def test_keys_never_share_unless_the_service_says_so(live_server, cached_service, openai_fake):
    with sdk_for(live_server, "a") as first, sdk_for(live_server, "b") as second:
        assert complete(first)[0] == "miss"
        assert complete(second)[0] == "miss"
        assert complete(second)[0] == "hit"
        assert provider_calls(openai_fake) == 2
        cached_service.cache_shared = True
        cached_service.save()
        assert complete(first)[0] == "miss"  # a new selection version
        assert complete(second)[0] == "hit"
        assert provider_calls(openai_fake) == 3


def stream_text(client, **headers):
    reply = client.chat.completions.with_raw_response.create(
        model="assistant",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=headers or None,
    )
    chunks = list(reply.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = next(c.usage for c in chunks if c.usage)
    return reply.headers.get("x-cache"), text, usage, len(chunks)


def test_streams_are_replayed_as_streams(client, cached_service, openai_fake):
    status, text, usage, count = stream_text(client)
    assert status == "miss" and "What is the answer?" in text
    status, replayed, replayed_usage, replayed_count = stream_text(client)
    assert status == "hit"
    assert (replayed, replayed_usage.total_tokens, replayed_count) == (
        text,
        usage.total_tokens,
        count,
    )
    assert provider_calls(openai_fake) == 1
    paid, hit = UsageRecord.objects.order_by("id")
    assert hit.streamed and hit.cache_hit and hit.saved_cost == paid.cost > 0
    # An unstreamed request is a different entry.
    assert complete(client)[0] == "miss"


def test_failed_and_cut_answers_are_never_cached(client, cached_service, openai_fake):
    openai_fake.faults.status = 400
    openai_fake.faults.times = 1
    with pytest.raises(openai.BadRequestError):
        complete(client)
    assert complete(client)[0] == "miss"
    openai_fake.faults.cut_stream_after = 2
    openai_fake.faults.times = 1
    with pytest.raises(openai.APIError):
        stream_text(client)
    status, text, _, _ = stream_text(client)
    assert status == "miss" and text
    assert stream_text(client)[0] == "hit"


def test_savings_in_the_rollups_and_totals(client, cached_service, admin_client):
    complete(client)
    complete(client)
    complete(client)
    paid = UsageRecord.objects.get(cache_hit=False)
    for day in {timezone.localdate(), date.today()}:
        usage_rollup_day(day=day)
    row = DailyUsage.objects.get(service="assistant")
    assert row.requests == 3 and row.cost == paid.cost
    assert row.saved_cost == 2 * paid.cost
    totals = usage_totals(flt=UsageFilter(since=row.day, until=row.day))
    assert totals["saved_cost"] == (2 * paid.cost).quantize(Decimal("1e-10"))
    # The dashboard's data (its totals cards show "Saved by cache").
    data = admin_client.get(
        "/admin/usage/dailyusage/dashboard/data/",
        {"from": row.day.isoformat(), "to": row.day.isoformat()},
    )
    assert data.status_code == 200, data.content
    assert Decimal(data.json()["totals"]["saved_cost"]) == 2 * paid.cost


def test_native_api_conversations_hit_and_bypass(cached_service, openai_fake, staff_user):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_login(use_models_grant(staff_user))

    def post(**headers):
        conversation = api.post("/api/conversations/", {"service": "assistant"}, format="json")
        url = f"/api/conversations/{conversation.json()['id']}/messages/"
        return api.post(url, {"content": "hello"}, format="json", headers=headers)

    assert post()["x-cache"] == "miss"
    assert post()["x-cache"] == "hit"
    assert post(**{"x-cache-bypass": "1"})["x-cache"] == "miss"
    assert provider_calls(openai_fake) == 2
