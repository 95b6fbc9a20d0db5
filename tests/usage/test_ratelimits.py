"""Rate limits: per-minute requests and tokens, refusals with Retry-After, Redis across processes.

The tests that do not say requires_redis run on whichever counter the settings select (Redis
in CI, the Django cache locally).
"""

import multiprocessing
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from config.api import exception_handler
from tests.fixtures import requires_redis
from usage.limits_cache import active_rate_limits
from usage.models import RateLimit
from usage.ratelimits import (
    WINDOW_SECONDS,
    RateLimiterUnavailable,
    RateLimitExceeded,
    rate_limit_admit,
    rate_limit_settle,
)
from usage.types import CallScope

SERVICE = CallScope(service="rag_agent", api_key_id="key.1")


def wait_for_a_fresh_window_unless(seconds_left: float) -> None:
    """Counters reset on the minute: start counting only with `seconds_left` of the window."""
    remaining = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if remaining < seconds_left:
        time.sleep(remaining + 0.05)


@pytest.fixture(autouse=True)
def inside_one_window() -> Iterator[None]:
    wait_for_a_fresh_window_unless(3)
    yield


@pytest.fixture(params=["configured", "django-cache"])
def each_counter(request) -> Iterator[None]:
    """Run a test on the configured counter (Redis in CI) and on the Django-cache fallback."""
    if request.param == "configured":
        yield
    else:
        with override_settings(REDIS_URL=""):
            yield


def limit(**fields) -> RateLimit:
    return RateLimit.objects.create(
        **{"scope_type": "service", "scope_value": "rag_agent", **fields}
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("each_counter")
def test_requests_per_minute_refuse_the_call_after_the_limit() -> None:
    limit(requests_per_minute=3)
    for _ in range(3):
        rate_limit_admit(scope=SERVICE, estimated_tokens=10)
    with pytest.raises(RateLimitExceeded) as caught:
        rate_limit_admit(scope=SERVICE, estimated_tokens=10)
    error = caught.value
    assert error.code == "rate_limited"
    assert error.http_status == 429
    assert 0 < error.retry_after <= WINDOW_SECONDS
    assert error.details["limit_type"] == "requests_per_minute"
    assert error.details["limit"] == 3
    response = exception_handler(error, {})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= WINDOW_SECONDS
    # Other scopes are not affected.
    rate_limit_admit(scope=CallScope(service="other"), estimated_tokens=10)


@pytest.mark.django_db
@pytest.mark.usefixtures("each_counter")
def test_tokens_per_minute_count_estimates_and_settle_corrects_them() -> None:
    limit(tokens_per_minute=100)
    rate_limit_admit(scope=SERVICE, estimated_tokens=60)
    with pytest.raises(RateLimitExceeded) as caught:
        rate_limit_admit(scope=SERVICE, estimated_tokens=60)
    assert caught.value.details["limit_type"] == "tokens_per_minute"
    rate_limit_settle(scope=SERVICE, estimated_tokens=60, actual_tokens=20)  # 20 used, not 60
    rate_limit_admit(scope=SERVICE, estimated_tokens=60)  # 20 + 60 <= 100
    rate_limit_settle(scope=SERVICE, estimated_tokens=60, actual_tokens=75)  # 95 used
    with pytest.raises(RateLimitExceeded):
        rate_limit_admit(scope=SERVICE, estimated_tokens=10)


@pytest.mark.django_db
@pytest.mark.usefixtures("each_counter")
def test_a_request_larger_than_the_token_limit_is_refused_without_retry_after() -> None:
    limit(tokens_per_minute=100)
    with pytest.raises(RateLimitExceeded) as caught:
        rate_limit_admit(scope=SERVICE, estimated_tokens=101)
    assert caught.value.retry_after is None
    assert "Retry-After" not in exception_handler(caught.value, {}).headers
    rate_limit_admit(scope=SERVICE, estimated_tokens=100)  # nothing was counted


@pytest.mark.django_db
@pytest.mark.usefixtures("each_counter")
def test_a_refused_call_is_counted_in_no_limit() -> None:
    limit(requests_per_minute=2)
    RateLimit.objects.create(scope_type="consumer_key", scope_value="key.1", tokens_per_minute=50)
    rate_limit_admit(scope=SERVICE, estimated_tokens=40)
    with pytest.raises(RateLimitExceeded) as caught:
        rate_limit_admit(scope=SERVICE, estimated_tokens=40)  # the key's tokens are full
    assert caught.value.details["scope_type"] == "consumer_key"
    # The refused call took no request from the service limit: one more still fits.
    rate_limit_admit(scope=CallScope(service="rag_agent"), estimated_tokens=40)
    with pytest.raises(RateLimitExceeded) as caught:
        rate_limit_admit(scope=CallScope(service="rag_agent"), estimated_tokens=1)
    assert caught.value.details["limit_type"] == "requests_per_minute"


@pytest.mark.django_db
@pytest.mark.usefixtures("each_counter")
def test_inactive_limits_do_not_apply() -> None:
    limit(requests_per_minute=1, active=False)
    for _ in range(3):
        rate_limit_admit(scope=SERVICE, estimated_tokens=10)


@pytest.mark.django_db
@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_an_unreachable_redis_refuses_with_503_instead_of_admitting() -> None:
    limit(requests_per_minute=100)
    with pytest.raises(RateLimiterUnavailable) as caught:
        rate_limit_admit(scope=SERVICE, estimated_tokens=10)
    assert caught.value.http_status == 503
    assert caught.value.code == "rate_limiter_unavailable"
    assert "127.0.0.1" not in caught.value.message
    # A correction after a call that already happened is dropped, not raised.
    rate_limit_settle(scope=SERVICE, estimated_tokens=10, actual_tokens=30)


def admit_many(count: int, ready: Any, start: Any, results: Any) -> None:
    """In a child process: report ready, wait for the start, try `count` admissions."""
    admitted, waits = 0, []
    ready.put(os.getpid())
    start.wait(timeout=30)
    for _ in range(count):
        try:
            rate_limit_admit(scope=SERVICE, estimated_tokens=10)
            admitted += 1
        except RateLimitExceeded as e:
            waits.append(e.retry_after)
    results.put((admitted, waits))


@requires_redis
@pytest.mark.django_db(transaction=True)
def test_two_processes_share_one_limit() -> None:
    limit(requests_per_minute=20)
    active_rate_limits()  # in the shared cache: the children never need the database
    connection.close()  # and inherit no connection of ours
    # Forked children are whole processes with their own Redis connections (redis-py rebuilds
    # its pool after a fork), without paying for a second Django start-up.
    context = multiprocessing.get_context("fork")
    ready, start, results = context.Queue(), context.Event(), context.Queue()
    args = (20, ready, start, results)
    children = [context.Process(target=admit_many, args=args) for _ in range(2)]
    for child in children:
        child.start()
    for _ in children:
        ready.get(timeout=60)
    wait_for_a_fresh_window_unless(10)
    start.set()
    outcomes = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(timeout=30)
        assert child.exitcode == 0

    assert sum(admitted for admitted, _ in outcomes) == 20
    waits = [wait for _, process_waits in outcomes for wait in process_waits]
    assert len(waits) == 20
    assert all(0 < wait <= WINDOW_SECONDS for wait in waits)
    with pytest.raises(RateLimitExceeded):  # and this process sees the same counter
        rate_limit_admit(scope=SERVICE, estimated_tokens=10)
