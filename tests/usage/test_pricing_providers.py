"""Cost per provider usage shape, end to end through the real SDKs and the fakes: cached
input at the cached price, reasoning counted once, cache writes as cache writes, streamed
equal to unstreamed, later price changes never re-pricing a recorded call."""

from decimal import Decimal

import pytest

from chat.services import chat_completion_run, chat_completion_stream
from providers.adapters.types import ChatRequest, Message
from providers.models import ModelPrice
from tests.chat.conftest import fast_runtime, fresh_resolver  # noqa: F401 - autouse fixtures
from tests.chat.helpers import model_create, provider_create, selection_set
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db
REQUEST = ChatRequest(model="svc", messages=(Message(role="user", content="price me"),))


def serve(fake, kind: str, model: str) -> None:
    selection_set("svc", model_create(provider_create(fake, slug=kind, kind=kind), model))


def both_ways() -> tuple[UsageRecord, UsageRecord]:
    chat_completion_run(request=REQUEST)
    list(chat_completion_stream(request=REQUEST))
    plain, streamed = UsageRecord.objects.order_by("id")
    assert not plain.streamed and streamed.streamed
    return plain, streamed


BUCKETS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)


def buckets(record: UsageRecord) -> tuple[int, ...]:
    return tuple(getattr(record, b) for b in BUCKETS)


# Prices (per million): input 2.50, cached 1.25, cache write 3.75, output 10.
def test_openai_cached_and_reasoning_tokens(openai_fake):
    serve(openai_fake, "openai", "o4-mini")
    openai_fake.usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 300,
        "total_tokens": 1300,
        "prompt_tokens_details": {"cached_tokens": 800},
        "completion_tokens_details": {"reasoning_tokens": 200},
    }
    plain, streamed = both_ways()
    assert buckets(plain) == (200, 800, 0, 100, 200) == buckets(streamed)
    # 200 x 2.50 + 800 x 1.25 + 300 x 10 (reasoning once, at the output price)
    assert plain.cost == Decimal("0.0045000000") == streamed.cost


def test_anthropic_cache_reads_and_writes(anthropic_fake):
    serve(anthropic_fake, "anthropic", "claude-haiku-4-5")
    anthropic_fake.usage = {
        "input_tokens": 100,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 400,
        "output_tokens": 50,
    }
    plain, streamed = both_ways()
    assert buckets(plain) == (100, 1000, 400, 50, 0) == buckets(streamed)
    # 100 x 2.50 + 1000 x 1.25 + 400 x 3.75 + 50 x 10
    assert plain.cost == Decimal("0.0035000000") == streamed.cost


def test_gemini_cached_and_thinking_tokens(gemini_fake):
    serve(gemini_fake, "gemini", "gemini-2.5-flash")
    gemini_fake.usage = {
        "promptTokenCount": 1000,
        "cachedContentTokenCount": 600,
        "candidatesTokenCount": 100,
        "thoughtsTokenCount": 150,
        "totalTokenCount": 1250,
    }
    plain, streamed = both_ways()
    assert buckets(plain) == (400, 600, 0, 100, 150) == buckets(streamed)
    # 400 x 2.50 + 600 x 1.25 + 250 x 10
    assert plain.cost == Decimal("0.0042500000") == streamed.cost


def test_price_change_leaves_recorded_cost_alone(openai_fake, django_capture_on_commit_callbacks):
    serve(openai_fake, "openai", "gpt-4o-mini")
    openai_fake.usage = {"prompt_tokens": 1000, "completion_tokens": 0, "total_tokens": 1000}
    chat_completion_run(request=REQUEST)
    first = UsageRecord.objects.get()
    assert first.cost == Decimal("0.0025000000")
    with django_capture_on_commit_callbacks(execute=True):
        ModelPrice.objects.create(model=first_model(), input=Decimal("100"), output=Decimal("100"))
    chat_completion_run(request=REQUEST)
    first.refresh_from_db()
    second = UsageRecord.objects.exclude(pk=first.pk).get()
    assert first.cost == Decimal("0.0025000000")
    assert first.price_snapshot["input"] == "2.500000"
    assert second.cost == Decimal("0.1000000000")
    assert second.price_snapshot["price_id"] != first.price_snapshot["price_id"]


def first_model():
    from providers.models import ModelConfig

    return ModelConfig.objects.get()


def test_unpriced_model_records_null_cost_and_flag(openai_fake):
    selection_set(
        "svc",
        model_create(
            provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini", prices=None
        ),
    )
    result = chat_completion_run(request=REQUEST)
    record = UsageRecord.objects.get()
    assert record.total_tokens > 0
    assert record.cost is None and not record.is_priced
    assert result.cost is None
