"""A Redis that stops answering (no refusal, just silence) must not hold a request: every Redis
client the project builds has connect and read timeouts, and a call against a silent Redis
fails within them with a 503 (or ServiceUnavailable in process)."""

import time

import pytest
from django.conf import settings
from django.test import override_settings

from chat.services import chat_completion_run
from config.errors import ServiceUnavailable
from providers.adapters.types import ChatRequest, Message
from tests.faults.conftest import redis_caches, v1_chat
from tests.fixtures import requires_redis
from usage.models import UsageRecord

TIMEOUT = 0.5  # seconds, connect and read: short, so the suite stays fast


def test_redis_timeouts_default_to_one_and_two_seconds(monkeypatch):
    monkeypatch.delenv("REDIS_CONNECT_TIMEOUT_SECONDS", raising=False)
    monkeypatch.delenv("REDIS_SOCKET_TIMEOUT_SECONDS", raising=False)
    options = redis_caches("redis://127.0.0.1:6379/0")["default"]["OPTIONS"]
    assert options["socket_connect_timeout"] == 1.0
    assert options["socket_timeout"] == 2.0


def test_redis_timeouts_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("REDIS_CONNECT_TIMEOUT_SECONDS", "0.25")
    monkeypatch.setenv("REDIS_SOCKET_TIMEOUT_SECONDS", "3.5")
    options = redis_caches("redis://127.0.0.1:6379/0")["default"]["OPTIONS"]
    assert (options["socket_connect_timeout"], options["socket_timeout"]) == (0.25, 3.5)


@requires_redis
def test_the_celery_broker_does_not_wait_forever_either():
    from config.celery import app

    options = app.conf.broker_transport_options
    assert (
        options["socket_connect_timeout"]
        == settings.CACHES["default"]["OPTIONS"]["socket_connect_timeout"]
    )
    # Bounded, and above kombu's 1 s server-side BRPOP wait so an idle worker never trips it.
    assert 1 < options["socket_timeout"] <= 30


@pytest.fixture
def silent_redis(blackhole):
    caches = redis_caches(blackhole, connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    with override_settings(CACHES=caches, REDIS_URL=blackhole):
        yield


@pytest.mark.django_db
@pytest.mark.parametrize("stream", [False, True])
def test_v1_call_against_a_silent_redis_is_a_quick_503(client, deployment, silent_redis, stream):
    started = time.monotonic()
    response = v1_chat(client, deployment, stream=stream)
    elapsed = time.monotonic() - started
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "1"
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("server_error", "service_unavailable")
    assert "127.0.0.1" not in error["message"]
    # The read timeout, once: not a refusal (instant), not one timeout per lookup.
    assert TIMEOUT * 0.8 <= elapsed < TIMEOUT * 3, elapsed
    assert not UsageRecord.objects.exists()  # refused before any provider call


@pytest.mark.django_db
def test_service_api_against_a_silent_redis_raises_service_unavailable(deployment, silent_redis):
    request = ChatRequest(model="svc", messages=(Message(role="user", content="hi"),))
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        chat_completion_run(request=request)
    assert time.monotonic() - started < TIMEOUT * 3
    assert caught.value.http_status == 503
    assert "Timeout" in type(caught.value.__cause__).__name__  # redis' TimeoutError, chained
