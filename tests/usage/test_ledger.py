"""The ledger write: one INSERT per attempt, cost and price snapshot kept, secrets redacted."""

from decimal import Decimal

import pytest

from providers.adapters.types import Usage
from providers.resolution import ModelPrices, ResolvedModel
from usage.models import UsageRecord
from usage.services.ledger import usage_record_create

pytestmark = pytest.mark.django_db

MODEL = ResolvedModel(
    model_string="oa:gpt-4o-mini",
    model_id=1,
    model_name="gpt-4o-mini",
    kind="chat",
    provider_slug="oa",
    provider_kind="openai",
    provider_version="v1",
    provider_max_retries=2,
    prices=ModelPrices(input=Decimal("1"), output=Decimal("2"), price_id=9),
)


def test_record_is_a_single_insert(django_assert_num_queries):
    with django_assert_num_queries(1):
        record = usage_record_create(
            request_id="req_1",
            model=MODEL,
            usage=Usage(input_tokens=10, output_tokens=5, raw={"prompt_tokens": 10}),
            attempt=2,
            is_fallback=True,
            streamed=True,
            latency_ms=120,
            time_to_first_token_ms=30,
            service="svc",
        )
    stored = UsageRecord.objects.get(pk=record.pk)
    assert stored.cost == Decimal("0.0000200000") and stored.is_priced
    assert stored.price_snapshot["price_id"] == 9
    assert stored.raw_usage == {"prompt_tokens": 10}
    assert (stored.attempt, stored.is_fallback, stored.streamed) == (2, True, True)
    assert (stored.latency_ms, stored.time_to_first_token_ms) == (120, 30)


def test_failed_attempt_has_zero_tokens_and_its_outcome():
    record = usage_record_create(
        request_id="req_2",
        model=MODEL,
        outcome="provider_unavailable",
        error_message="upstream said: Incorrect API key provided: sk-abcdefghijklmnop1234",
    )
    assert record.total_tokens == 0 and record.cost == 0
    assert record.outcome == "provider_unavailable"
    assert "abcdefghijklmnop" not in record.error_message


def test_no_save_receiver_listens_to_the_ledger():
    """The one-statement INSERT is only used when no pre/post_save receiver could see a
    difference from Model.save(): the audit trail listens to its tracked models only."""
    from django.db.models.signals import post_save, pre_save

    assert not pre_save.has_listeners(UsageRecord)
    assert not post_save.has_listeners(UsageRecord)


def test_inside_a_transaction_the_insert_commits_with_it(django_assert_num_queries):
    """Within a caller's transaction (as in this test) the statement is the plain INSERT."""
    with django_assert_num_queries(1) as captured:
        usage_record_create(request_id="req_tx", model=MODEL)
    assert captured.captured_queries[0]["sql"].startswith("INSERT INTO")


def _stored_row(pk: int) -> tuple:
    """Every column but the id, as the database returns it (JSON columns decoded)."""
    from django.db import connection

    meta = UsageRecord._meta
    columns = [f.column for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(meta.db_table)} "
            f"WHERE {quote(meta.pk.column)} = %s",
            [pk],
        )
        return cursor.fetchone()


AUTOCOMMIT = [
    pytest.param(True, marks=pytest.mark.django_db(transaction=True), id="autocommit"),
    pytest.param(False, id="in-a-transaction"),
]


@pytest.mark.parametrize("autocommit", AUTOCOMMIT)
@pytest.mark.parametrize(
    ("raw", "cache_hit"),
    [
        ({"prompt_tokens": 10, "details": {"cached": [1, 2.5, None, True]}, "note": 'é ✓ "q"'}, 0),
        ({1: "a key that is not a string: json.dumps's path"}, 0),
        ({}, 1),
        ({"tiny": 1e-7, "exponent": 1e16, "neg": -0.0, "nul": "\\u0000 escaped"}, 0),
        ({"beyond 64 bits": 2**70}, 1),
    ],
)
def test_the_insert_writes_what_model_save_writes(raw, cache_hit, autocommit):
    """The one-statement INSERT builds its parameters without the fields' save methods where
    the value's type is known (in autocommit on PostgreSQL, as text bound by the server); the
    row must be the one `Model.save()` writes, column by column, and so must the record."""
    from datetime import UTC, datetime, timedelta, timezone

    from django.contrib.auth import get_user_model
    from django.db import connection

    from tests.usage.records import make_api_key

    assert connection.in_atomic_block is not autocommit
    user = get_user_model().objects.create(username="ledger-eq")
    odd_zone = timezone(timedelta(hours=5, minutes=30, seconds=15))
    record = usage_record_create(
        request_id="req_eq",
        model=MODEL,
        usage=Usage(input_tokens=1234, output_tokens=56, reasoning_tokens=7, raw=raw),
        usage_estimated=True,
        outcome="provider_error",
        error_message="failed: ünïcode 'quoted' \\ back\\slash\n",
        attempt=3,
        is_fallback=True,
        streamed=True,
        operation="chat",
        latency_ms=321,
        time_to_first_token_ms=45,
        service="svc",
        user_id=user.pk,
        api_key_id=make_api_key().pk,
        conversation_id=2**40,
        end_user="eu",
        tags=("team:a", "x"),
        provider_request_id="chatcmpl-1",
        model_reported="gpt-4o-mini-2024",
        created_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=odd_zone if cache_hit else UTC),
        route={"group": "g", "rank": 1, "why": ["a", 0.5]},
        cache_hit=bool(cache_hit),
        saved_cost=Decimal("0.000123456789012345"),
    )
    values = {
        f.attname: getattr(record, f.attname)
        for f in UsageRecord._meta.concrete_fields
        if not f.primary_key
    }
    saved = UsageRecord(**values)
    # The record returned is what the model's constructor makes of the same values.
    assert {k: v for k, v in vars(record).items() if k != "_state"} == {
        **{k: v for k, v in vars(saved).items() if k != "_state"},
        "id": record.pk,
    }
    assert (record._state.adding, record._state.db) == (False, "default")
    saved.save(force_insert=True)
    assert record.pk != saved.pk
    fast, slow = _stored_row(record.pk), _stored_row(saved.pk)
    assert fast == slow
    assert [type(v) for v in fast] == [type(v) for v in slow]
    stored = UsageRecord.objects.get(pk=record.pk)
    assert stored.raw_usage == {str(k): v for k, v in raw.items()}
    if cache_hit:
        assert (stored.cost, stored.saved_cost) == (0, Decimal("0.0001234568"))
    else:
        assert stored.cost == Decimal("0.0013600000") and stored.saved_cost is None
