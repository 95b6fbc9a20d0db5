"""The circuit breaker: opens after N consecutive failures, skips the provider, lets one
probe through after the open period, and closes again on success."""

import time

import pytest

from chat.runtime.breaker import BreakerSettings, CircuitBreaker
from chat.services import chat_completion_run
from providers.adapters.types import ChatRequest, Message
from tests.chat.helpers import model_create, provider_create, selection_set
from usage.models import UsageRecord

HELLO = (Message(role="user", content="hi"),)


def test_breaker_opens_then_admits_exactly_one_probe():
    breaker = CircuitBreaker(BreakerSettings(failures=2, open_seconds=0.3))
    assert breaker.allow("p")
    breaker.record_failure("p")
    assert breaker.allow("p")
    breaker.record_failure("p")
    assert not breaker.allow("p")
    time.sleep(0.35)
    assert breaker.allow("p")  # the probe
    assert not breaker.allow("p")  # everyone else keeps skipping while it runs
    breaker.record_failure("p")  # the probe failed: open again
    assert not breaker.allow("p")
    time.sleep(0.35)
    assert breaker.allow("p")
    breaker.record_success("p")
    assert breaker.allow("p") and breaker.allow("p")


def test_success_resets_the_consecutive_count():
    breaker = CircuitBreaker(BreakerSettings(failures=2, open_seconds=10))
    breaker.record_failure("p")
    breaker.record_success("p")
    breaker.record_failure("p")
    assert breaker.allow("p")


@pytest.mark.django_db
def test_open_circuit_skips_the_provider_until_the_probe(openai_fake, anthropic_fake, settings):
    settings.CIRCUIT_BREAKER_FAILURES = 2
    settings.CIRCUIT_BREAKER_OPEN_SECONDS = 0.5
    primary = model_create(
        provider_create(openai_fake, slug="oa", kind="openai", max_retries=1), "gpt-4o-mini"
    )
    fallback = model_create(
        provider_create(anthropic_fake, slug="an", kind="anthropic"), "claude-haiku-4-5"
    )
    selection_set("svc", primary, (fallback,))
    request = ChatRequest(model="svc", messages=HELLO)

    openai_fake.faults.status = 503
    first = chat_completion_run(request=request)  # two failures open the circuit
    assert first.served_by.provider_slug == "an"
    assert len(openai_fake.requests) == 2

    second = chat_completion_run(request=request)  # skipped: no request reaches it
    assert second.served_by.provider_slug == "an" and second.is_fallback
    assert len(openai_fake.requests) == 2
    assert UsageRecord.objects.filter(provider="oa").count() == 2

    openai_fake.reset()
    time.sleep(0.55)
    third = chat_completion_run(request=request)  # the probe succeeds and closes it
    assert third.served_by.provider_slug == "oa"
    assert len(openai_fake.requests) == 1
    fourth = chat_completion_run(request=request)
    assert fourth.served_by.provider_slug == "oa"
