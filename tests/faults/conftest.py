"""Backing services taken away for real, never mocked: Redis pointed at a port where nothing
listens (refused) or where nothing answers (a blackhole), PostgreSQL's connection killed and
its port closed. A hook in the fake provider takes a service away in the middle of a call,
after admission, while the runtime waits for the provider's answer."""

import itertools
import json
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.test import override_settings

from config.settings.base import cache_config
from providers.models import ConsumerAPIKey
from tests.chat.helpers import FAST_RUNTIME, model_create, provider_create, selection_set
from tests.fakes.base import FakeResponse
from usage.models import Budget, BudgetHold, BudgetPeriod, RateLimit, UsageRecord

HELLO = [{"role": "user", "content": "hello through an outage"}]


@pytest.fixture(autouse=True)
def fast_runtime(settings):
    for name, value in FAST_RUNTIME.items():
        setattr(settings, name, value)


@pytest.fixture(autouse=True)
def fresh_local_copies():
    """No process-local resolution or key lookup from another test."""
    from providers.consumers import consumer_identity_local_clear
    from providers.selectors import resolution_local_clear

    resolution_local_clear()
    consumer_identity_local_clear()
    yield
    resolution_local_clear()
    consumer_identity_local_clear()


def closed_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_caches(url: str, **timeouts: float) -> dict:
    """CACHES as the settings build them for a Redis at `url` (with the real timeouts)."""
    return cache_config(url, Path(tempfile.gettempdir()), key_prefix="faults", **timeouts)


class RedisOutage:
    """Redis taken away, from any thread (the fake provider's, mid-call): the shared cache and
    the rate limiter now point at a port where nothing listens, until the test ends."""

    def __init__(self) -> None:
        self.url = f"redis://127.0.0.1:{closed_port()}/0"
        self._override: Any = None
        self._lock = threading.Lock()

    def begin(self) -> None:
        with self._lock:
            if self._override is None:
                self._override = override_settings(
                    CACHES=redis_caches(self.url), REDIS_URL=self.url
                )
                self._override.enable()

    def end(self) -> None:
        with self._lock:
            if self._override is not None:
                self._override.disable()
                self._override = None


@pytest.fixture
def redis_outage() -> Iterator[RedisOutage]:
    outage = RedisOutage()
    yield outage
    outage.end()


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A Redis URL whose server accepts connections (the kernel completes the handshake) and
    never answers: what a partitioned or frozen Redis looks like to a client."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        server.close()


def provider_hook(
    fake: Any, monkeypatch: pytest.MonkeyPatch, hook: Callable[[int], FakeResponse | None]
) -> None:
    """Run `hook(n)` in the fake's thread before it answers its n-th routed request (from 1);
    a response the hook returns is sent instead of the fake's own."""
    route = fake.route
    count = itertools.count(1)

    def hooked(request: Any) -> FakeResponse:
        answer = hook(next(count))
        return answer if answer is not None else route(request)

    monkeypatch.setattr(fake, "route", hooked)


def upstream_503(fake: Any) -> FakeResponse:
    return FakeResponse(status=503, body=fake.error_body(503, None))


@pytest.fixture
def deployment(db, openai_fake) -> str:
    """Service `svc` on the OpenAI fake (one retry), a consumer key under a per-minute token
    limit and a hard global budget, so every call reserves, counts and settles. Returns the
    consumer key's secret."""
    provider = provider_create(openai_fake, slug="oa", kind="openai", max_retries=1)
    selection_set("svc", model_create(provider, "gpt-4o-mini"))
    key, secret = ConsumerAPIKey.objects.create_key(name="program")
    Budget.objects.create(name="org", scope_type="global", limit_usd=Decimal("100"))
    RateLimit.objects.create(
        scope_type="consumer_key",
        scope_value=str(key.id),
        requests_per_minute=1000,
        tokens_per_minute=1_000_000,
    )
    return secret


def v1_chat(client: Any, secret: str, **extra: Any) -> Any:
    return client.post(
        "/v1/chat/completions",
        data=json.dumps({"model": "svc", "messages": HELLO, **extra}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def records(request_id: str) -> list[UsageRecord]:
    return list(UsageRecord.objects.filter(request_id=request_id).order_by("attempt"))


def assert_settled(expected_spend: Decimal) -> None:
    """No reservation left behind; the budget spent exactly what the ledger recorded."""
    assert not BudgetHold.objects.exists()
    period = BudgetPeriod.objects.get()
    assert period.reserved == 0
    assert period.spent == expected_spend


@contextmanager
def database_down(pool: dict[str, Any] | None = None) -> Iterator[None]:
    """This thread's default connection closed and its port pointed where nothing listens;
    the next query fails to connect, as when PostgreSQL is down. Restored on exit. With
    `pool` (psycopg_pool options), connections come from a pool made for the dead port, as
    gunicorn's workers take theirs (DATABASE_POOL)."""
    connection = connections["default"]
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = str(closed_port())
    if pool is not None:  # as config/settings/base.py sets the pool up
        connection.settings_dict["OPTIONS"] = {**saved["OPTIONS"], "pool": pool}
        connection.settings_dict["CONN_MAX_AGE"] = 0
        connection.settings_dict["CONN_HEALTH_CHECKS"] = False
    try:
        yield
    finally:
        connection.close()
        if pool is not None:
            connection.close_pool()
        connection.settings_dict.update(saved)
