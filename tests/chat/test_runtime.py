"""The call runtime against the fakes: retries, failover, non-retryable errors, the ledger."""

import time
from decimal import Decimal

import pytest

from chat.services import chat_completion_run, chat_completion_stream, embedding_run
from chat.types import CallContext
from providers.adapters.errors import (
    ProviderAuthenticationError,
    ProviderUnavailableError,
    StreamInterruptedError,
)
from providers.adapters.types import (
    ChatRequest,
    EmbeddingRequest,
    Finish,
    Message,
    TextDelta,
    Tool,
)
from tests.chat.helpers import (
    model_create,
    provider_create,
    selection_set,
)
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db

HELLO = (Message(role="user", content="Say hello to the runtime"),)


@pytest.fixture
def chain(openai_fake, anthropic_fake):
    """Service `svc`: the OpenAI fake first (one retry), the Anthropic fake as fallback."""
    primary = model_create(
        provider_create(openai_fake, slug="oa", kind="openai", timeout=0.5), "gpt-4o-mini"
    )
    fallback = model_create(
        provider_create(anthropic_fake, slug="an", kind="anthropic"), "claude-haiku-4-5"
    )
    selection_set("svc", primary, (fallback,))
    return primary, fallback


def records() -> list[UsageRecord]:
    return list(UsageRecord.objects.order_by("attempt"))


def test_completion_records_one_priced_attempt(chain, openai_fake):
    openai_fake.usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 200,
        "total_tokens": 1200,
        "prompt_tokens_details": {"cached_tokens": 400},
        "completion_tokens_details": {"reasoning_tokens": 50},
    }
    result = chat_completion_run(
        request=ChatRequest(model="svc", messages=HELLO),
        context=CallContext(conversation_id=7),
    )
    assert result.response.text.startswith("Hello from the OpenAI fake")
    assert result.served_by.model_string == "oa:gpt-4o-mini"
    assert not result.is_fallback
    [record] = records()
    assert record.outcome == "ok"
    assert (record.input_tokens, record.cached_input_tokens) == (600, 400)
    assert (record.output_tokens, record.reasoning_tokens) == (150, 50)
    # 600 x 2.50 + 400 x 1.25 + (150 + 50) x 10.00, per million
    assert record.cost == Decimal("0.0040000000")
    assert result.cost == record.cost
    assert record.price_snapshot["input"] == "2.500000"
    assert record.raw_usage["prompt_tokens"] == 1000
    assert record.request_id == result.request_id
    assert record.service == "svc" and record.provider == "oa"
    assert record.conversation_id == 7
    assert record.attempt == 1 and not record.is_fallback and not record.streamed


def test_server_error_is_retried_then_fails_over(chain, openai_fake, anthropic_fake):
    openai_fake.faults.status = 500
    result = chat_completion_run(request=ChatRequest(model="svc", messages=HELLO))
    assert result.served_by.model_string == "an:claude-haiku-4-5"
    assert result.is_fallback
    assert len(openai_fake.requests) == 2  # max_retries=1: two attempts
    assert [(r.provider, r.outcome, r.attempt, r.is_fallback) for r in records()] == [
        ("oa", "provider_unavailable", 1, False),
        ("oa", "provider_unavailable", 2, False),
        ("an", "ok", 3, True),
    ]
    failed = records()[0]
    assert failed.total_tokens == 0 and failed.cost == 0
    assert result.attempts == 3


def test_rate_limit_waits_for_retry_after_and_retries_same_model(chain, openai_fake):
    openai_fake.faults.status = 429
    openai_fake.faults.retry_after = 0.3
    openai_fake.faults.times = 1
    started = time.monotonic()
    result = chat_completion_run(request=ChatRequest(model="svc", messages=HELLO))
    assert time.monotonic() - started >= 0.3
    assert result.served_by.provider_slug == "oa"
    assert [r.outcome for r in records()] == ["provider_rate_limited", "ok"]


def test_retry_after_beyond_the_time_budget_fails_over_at_once(chain, openai_fake, settings):
    settings.RUNTIME_TOTAL_TIMEOUT_SECONDS = 2.0
    openai_fake.faults.status = 429
    openai_fake.faults.retry_after = 30
    started = time.monotonic()
    result = chat_completion_run(request=ChatRequest(model="svc", messages=HELLO))
    assert time.monotonic() - started < 2
    assert result.served_by.provider_slug == "an"
    assert [r.outcome for r in records()] == ["provider_rate_limited", "ok"]


def test_timeout_is_retried_then_fails_over(chain, openai_fake):
    openai_fake.faults.delay = 1.0  # the provider's timeout is 0.5 s
    result = chat_completion_run(request=ChatRequest(model="svc", messages=HELLO))
    assert result.served_by.provider_slug == "an"
    assert [r.outcome for r in records()] == ["provider_timeout", "provider_timeout", "ok"]


def test_authentication_error_is_neither_retried_nor_failed_over(
    chain, openai_fake, anthropic_fake
):
    openai_fake.api_key = "sk-another-key-that-the-provider-expects-0000"
    with pytest.raises(ProviderAuthenticationError) as caught:
        chat_completion_run(request=ChatRequest(model="svc", messages=HELLO))
    assert len(openai_fake.requests) == 1
    assert anthropic_fake.requests == []
    assert "sk-test-openai" not in str(caught.value) and "sk-another" not in str(caught.value)
    [record] = records()
    assert record.outcome == "provider_authentication_failed"
    assert "sk-test-openai" not in record.error_message


def test_model_not_found_fails_over(chain, openai_fake):
    openai_fake.faults.status = 404
    result = chat_completion_run(request=ChatRequest(model="svc", messages=HELLO))
    assert result.served_by.provider_slug == "an"
    assert [r.outcome for r in records()] == ["upstream_model_not_found", "ok"]


def test_context_length_exceeded_fails_over_only_to_a_larger_window(openai_fake, anthropic_fake):
    primary = model_create(
        provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini", context_window=8000
    )
    same = model_create(
        provider_create(anthropic_fake, slug="an", kind="anthropic"),
        "claude-haiku-4-5",
        context_window=8000,
    )
    larger = model_create(same.provider, "claude-opus-4-1", context_window=200_000)
    selection_set("svc", primary, (same, larger))
    openai_fake.faults.status = 400
    openai_fake.faults.error_code = "context_length_exceeded"
    result = chat_completion_run(request=ChatRequest(model="svc", messages=HELLO))
    assert result.served_by.model_string == "an:claude-opus-4-1"
    assert [r.outcome for r in records()] == ["context_length_exceeded", "ok"]


def test_bad_request_ends_the_call(chain, openai_fake, anthropic_fake):
    openai_fake.faults.status = 400
    with pytest.raises(Exception) as caught:
        chat_completion_run(request=ChatRequest(model="svc", messages=HELLO))
    assert caught.value.http_status == 400
    assert anthropic_fake.requests == []
    assert len(records()) == 1


def test_candidates_lacking_a_capability_or_window_are_skipped(openai_fake, anthropic_fake):
    no_tools = model_create(
        provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini", capabilities=[]
    )
    small = model_create(
        provider_create(anthropic_fake, slug="an", kind="anthropic"),
        "claude-haiku-4-5",
        context_window=50,
    )
    good = model_create(small.provider, "claude-opus-4-1")
    selection_set("svc", no_tools, (small, good))
    request = ChatRequest(
        model="svc",
        messages=(Message(role="user", content="x " * 200),),
        tools=(Tool(name="search"),),
    )
    result = chat_completion_run(request=request)
    assert result.served_by.model_string == "an:claude-opus-4-1"
    assert result.response.tool_calls[0].name == "search"
    assert openai_fake.requests == []
    [record] = records()
    assert record.model_string == "an:claude-opus-4-1" and record.is_fallback


def test_every_candidate_failing_raises_the_last_error(chain, openai_fake, anthropic_fake):
    openai_fake.faults.status = 503
    anthropic_fake.faults.status = 500
    with pytest.raises(ProviderUnavailableError):
        chat_completion_run(request=ChatRequest(model="svc", messages=HELLO))
    assert len(records()) == 4
    assert all(r.outcome == "provider_unavailable" for r in records())


def test_stream_records_same_tokens_and_cost_as_unstreamed(chain):
    request = ChatRequest(model="svc", messages=HELLO)
    plain = chat_completion_run(request=request)
    stream = chat_completion_stream(request=request)
    events = list(stream)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == plain.response.text
    assert isinstance(events[-1], Finish) or any(isinstance(e, Finish) for e in events)
    first, second = records_by_id()
    assert second.streamed and not first.streamed
    fields = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens", "cost")
    assert [getattr(first, f) for f in fields] == [getattr(second, f) for f in fields]
    assert second.cost > 0
    assert second.time_to_first_token_ms is not None
    assert stream.cost == second.cost and stream.usage_record_id == second.pk


def records_by_id() -> list[UsageRecord]:
    return list(UsageRecord.objects.order_by("id"))


def test_stream_failing_before_first_chunk_fails_over(chain, openai_fake):
    openai_fake.faults.cut_stream_after = 0
    stream = chat_completion_stream(request=ChatRequest(model="svc", messages=HELLO))
    assert stream.served_by.provider_slug == "an"
    text = "".join(e.text for e in stream if isinstance(e, TextDelta))
    assert text
    assert [r.outcome for r in records()] == [
        "provider_stream_interrupted",
        "provider_stream_interrupted",
        "ok",
    ]


def test_stream_cut_after_first_chunk_ends_with_an_error(chain, openai_fake, anthropic_fake):
    openai_fake.faults.cut_stream_after = 3
    stream = chat_completion_stream(request=ChatRequest(model="svc", messages=HELLO))
    seen = []
    with pytest.raises(StreamInterruptedError):
        for event in stream:
            seen.append(event)
    assert any(isinstance(e, TextDelta) for e in seen)
    assert anthropic_fake.requests == []
    [record] = records()
    assert record.outcome == "provider_stream_interrupted" and record.streamed


def test_abandoned_stream_is_recorded_as_cancelled(chain):
    stream = chat_completion_stream(request=ChatRequest(model="svc", messages=HELLO))
    iterator = iter(stream)
    next(iterator)
    iterator.close()
    [record] = records()
    assert record.outcome == "cancelled"


def test_embedding_fails_over_between_providers(openai_fake, gemini_fake):
    primary = model_create(
        provider_create(openai_fake, slug="oa", kind="openai"),
        "text-embedding-3-small",
        kind="embedding",
    )
    fallback = model_create(
        provider_create(gemini_fake, slug="gm", kind="gemini"),
        "gemini-embedding-001",
        kind="embedding",
    )
    selection_set("embed", primary, (fallback,))
    openai_fake.faults.status = 500
    result = embedding_run(request=EmbeddingRequest(model="embed", inputs=("a b", "c")))
    assert result.served_by.provider_slug == "gm"
    assert len(result.response.vectors) == 2
    assert [(r.outcome, r.operation) for r in records()] == [
        ("provider_unavailable", "embedding"),
        ("provider_unavailable", "embedding"),
        ("ok", "embedding"),
    ]
    assert records()[-1].input_tokens > 0
