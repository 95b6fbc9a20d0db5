"""Redis going away in the middle of a call, after admission (the breaker's bookkeeping, the
rate limiter's token correction and the settlement all come after the provider answers): the
caller still gets its answer, every attempt is in the ledger, and no budget reservation stays
behind. Redis is really taken away (pointed at a closed port) by a hook in the fake provider,
while the runtime waits for the provider."""

import json
from decimal import Decimal

import pytest

from chat.services import chat_completion_run, chat_completion_stream, embedding_run
from config.errors import ServiceUnavailable
from providers.adapters.errors import StreamInterruptedError
from providers.adapters.types import ChatRequest, EmbeddingRequest, Message, TextDelta
from tests.chat.helpers import model_create, provider_create, selection_set
from tests.faults.conftest import (
    assert_settled,
    provider_hook,
    records,
    upstream_503,
    v1_chat,
)
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db

REQUEST = ChatRequest(model="svc", messages=(Message(role="user", content="hi"),))


def sse_events(body: bytes) -> list[str]:
    return [line.removeprefix("data: ") for line in body.decode().split("\n\n") if line]


def test_redis_lost_while_the_retry_runs(
    client, deployment, openai_fake, redis_outage, monkeypatch
):
    """Attempt 1 fails (counted in the breaker), Redis goes during attempt 2, which answers:
    closing the breaker can no longer be written, and must not cost the answer or its record."""
    openai_fake.faults.status, openai_fake.faults.times = 500, 1
    provider_hook(openai_fake, monkeypatch, lambda n: redis_outage.begin())
    response = v1_chat(client, deployment)
    assert response.status_code == 200, response.content
    assert response.json()["choices"][0]["message"]["content"].startswith("Hello")
    failed, answered = records(response["x-request-id"])
    assert (failed.attempt, failed.outcome) == (1, "provider_unavailable")
    assert (answered.attempt, answered.outcome) == (2, "ok")
    assert answered.cost > 0
    redis_outage.end()
    assert_settled(answered.cost)


def test_redis_lost_while_an_attempt_fails(
    client, deployment, openai_fake, redis_outage, monkeypatch, caplog
):
    """Redis goes while attempt 1 is failing: its failure cannot be counted in the breaker, and
    the call still retries, answers and records both attempts."""
    provider_hook(
        openai_fake,
        monkeypatch,
        lambda n: (redis_outage.begin(), upstream_503(openai_fake))[1] if n == 1 else None,
    )
    response = v1_chat(client, deployment)
    assert response.status_code == 200, response.content
    failed, answered = records(response["x-request-id"])
    assert (failed.outcome, answered.outcome) == ("provider_unavailable", "ok")
    assert any("circuit breaker of oa" in r.getMessage() for r in caplog.records)
    assert any("token count not corrected" in r.getMessage() for r in caplog.records)
    redis_outage.end()
    assert_settled(answered.cost)


def test_redis_lost_mid_stream_still_ends_the_stream_cleanly(
    client, deployment, openai_fake, redis_outage
):
    openai_fake.faults.status, openai_fake.faults.times = 500, 1
    response = v1_chat(client, deployment, stream=True)
    assert response.status_code == 200
    chunks = iter(response.streaming_content)
    first = next(chunks)
    redis_outage.begin()  # after the first chunk went out, before the stream's bookkeeping
    events = sse_events(first + b"".join(chunks))
    assert events[-1] == "[DONE]"
    assert not any('"error"' in event for event in events)
    text = "".join((json.loads(e)["choices"][0]["delta"].get("content") or "") for e in events[:-1])
    assert text.startswith("Hello")
    failed, answered = records(response["x-request-id"])
    assert failed.outcome == "provider_unavailable"
    assert (answered.outcome, answered.streamed) == ("ok", True)
    redis_outage.end()
    assert_settled(answered.cost)


def test_stream_cut_while_redis_is_gone_ends_with_the_providers_error_event(
    client, deployment, openai_fake, redis_outage
):
    openai_fake.faults.cut_stream_after = 2
    response = v1_chat(client, deployment, stream=True)
    chunks = iter(response.streaming_content)
    first = next(chunks)
    redis_outage.begin()
    events = sse_events(first + b"".join(chunks))
    assert events[-1] != "[DONE]"
    error = json.loads(events[-1])["error"]
    assert error["code"] == StreamInterruptedError.code
    (record,) = records(response["x-request-id"])
    assert record.outcome == StreamInterruptedError.code  # not "cancelled", not lost
    redis_outage.end()
    assert_settled(record.cost or Decimal(0))


def test_service_api_answers_through_a_mid_call_outage(
    deployment, openai_fake, redis_outage, monkeypatch
):
    openai_fake.faults.status, openai_fake.faults.times = 500, 1
    provider_hook(openai_fake, monkeypatch, lambda n: redis_outage.begin())
    result = chat_completion_run(request=REQUEST)
    assert result.response.text.startswith("Hello")
    assert [r.outcome for r in records(result.request_id)] == ["provider_unavailable", "ok"]
    redis_outage.end()
    assert_settled(result.cost)


@pytest.mark.parametrize("call", ["chat", "stream", "embedding"])
def test_service_api_raises_service_unavailable_not_a_redis_error(
    deployment, openai_fake, redis_outage, call
):
    selection_set(
        "emb",
        model_create(
            provider_create(openai_fake, slug="oe", kind="openai"),
            "text-embedding-3-small",
            kind="embedding",
        ),
    )
    redis_outage.begin()
    with pytest.raises(ServiceUnavailable) as caught:
        if call == "chat":
            chat_completion_run(request=REQUEST)
        elif call == "stream":
            chat_completion_stream(request=REQUEST)
        else:
            embedding_run(request=EmbeddingRequest(model="emb", inputs=("text",)))
    assert caught.value.code == "service_unavailable"
    assert type(caught.value.__cause__).__module__.startswith("redis")
    assert not UsageRecord.objects.exists()


def test_service_api_stream_survives_redis_going_after_the_first_chunk(
    deployment, openai_fake, redis_outage
):
    openai_fake.faults.status, openai_fake.faults.times = 500, 1
    stream = chat_completion_stream(request=REQUEST)
    events = iter(stream)
    first = next(events)
    redis_outage.begin()
    rest = list(events)
    text = "".join(e.text for e in (first, *rest) if isinstance(e, TextDelta))
    assert text.startswith("Hello")
    assert [r.outcome for r in records(stream.request_id)] == ["provider_unavailable", "ok"]
    redis_outage.end()
    assert_settled(stream.cost)
