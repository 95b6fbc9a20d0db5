"""`make bench`: what the control plane adds to a provider call, and whether memory stays flat.

The same chat request goes to the OpenAI fake three ways: straight through the adapter (the
floor), through the in-process runtime (`chat_completion_run`: resolve, admit, call, record,
settle), and through the OpenAI-compatible /v1 endpoint with a consumer key. The difference
between the first two is the overhead per call; the /v1 line adds Django's request handling.
Targets (from the project brief) are checked here, never in the unit suite:
- runtime overhead per call under BENCH_MAX_OVERHEAD_MS (default 2 ms),
- memory growth over the last half of the calls under BENCH_MAX_GROWTH_KB (default 512 KiB).
Run against PostgreSQL and Redis by setting DATABASE_URL and REDIS_URL, as in production.
"""

import gc
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chat.services import chat_completion_run
from providers.adapters.types import ChatRequest, Message
from providers.consumers import consumer_key_create
from providers.selectors import model_selection_resolve, provider_adapter_get
from tests.chat.helpers import model_create, provider_create, selection_set

CALLS = int(os.environ.get("BENCH_CALLS", "400"))
MAX_OVERHEAD_MS = float(os.environ.get("BENCH_MAX_OVERHEAD_MS", "2.0"))
MAX_GROWTH_KB = float(os.environ.get("BENCH_MAX_GROWTH_KB", "512"))

pytestmark = pytest.mark.django_db(transaction=True)
_CACHE_OPS = ("get", "get_many", "set", "set_many", "add", "incr", "delete", "delete_many")


def timed(call: Callable[[], object], calls: int) -> list[float]:
    for _ in range(20):  # warm caches, pools and connections
        call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def round_trips(call: Callable[[], object]) -> tuple[int, int]:
    """Cache operations and SQL queries of one call, in the steady state."""
    ops = 0
    originals = {name: getattr(cache, name) for name in _CACHE_OPS}

    def counted(name: str) -> Callable[..., object]:
        def op(*args: object, **kwargs: object) -> object:
            nonlocal ops
            ops += 1
            return originals[name](*args, **kwargs)

        return op

    for name in _CACHE_OPS:
        setattr(cache, name, counted(name))
    try:
        with CaptureQueriesContext(connection) as queries:
            call()
    finally:
        for name in _CACHE_OPS:
            delattr(cache, name)
    return ops, len(queries.captured_queries)


def report(label: str, samples: list[float]) -> float:
    median = statistics.median(samples)
    p95 = statistics.quantiles(samples, n=20)[18]
    print(f"{label:<34} median {median:7.3f} ms   p95 {p95:7.3f} ms   {1000 / median:8.0f}/s")
    return median


def test_overhead_per_call_and_flat_memory(openai_fake):
    provider = provider_create(openai_fake, slug="bench", kind="openai", timeout=5.0)
    model = model_create(provider, "gpt-4o-mini")
    selection_set("bench_service", model)
    request = ChatRequest(model="bench_service", messages=(Message(role="user", content="hi"),))
    direct_request = ChatRequest(model="gpt-4o-mini", messages=request.messages)
    resolved = model_selection_resolve(name="bench_service").candidates[0]
    adapter = provider_adapter_get(slug="bench", version=resolved.provider_version)
    _, secret = consumer_key_create(name="bench")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = {"model": "bench_service", "messages": [{"role": "user", "content": "hi"}]}

    def via_v1() -> None:
        response = client.post("/v1/chat/completions", body, content_type="application/json")
        assert response.status_code == 200, response.content

    print()
    direct = report("adapter only (floor)", timed(lambda: adapter.complete(direct_request), CALLS))
    runtime = report(
        "chat_completion_run", timed(lambda: chat_completion_run(request=request), CALLS)
    )
    report("POST /v1/chat/completions", timed(via_v1, CALLS))
    overhead = runtime - direct
    print(f"{'runtime overhead per call':<34} {overhead:7.3f} ms (target < {MAX_OVERHEAD_MS} ms)")
    cache_ops, queries = round_trips(lambda: chat_completion_run(request=request))
    print(f"{'per call: cache ops, SQL queries':<34} {cache_ops}, {queries}")
    v1_cache_ops, v1_queries = round_trips(via_v1)
    print(f"{'per /v1 call: cache ops, SQL':<34} {v1_cache_ops}, {v1_queries}")

    # The fake keeps every request it saw; drop that log so only our memory is measured.
    openai_fake.requests.clear()
    gc.collect()
    tracemalloc.start()
    for _ in range(CALLS // 2):
        chat_completion_run(request=request)
    openai_fake.requests.clear()
    gc.collect()
    baseline = tracemalloc.get_traced_memory()[0]
    for _ in range(CALLS // 2):
        chat_completion_run(request=request)
    openai_fake.requests.clear()
    gc.collect()
    growth_kb = (tracemalloc.get_traced_memory()[0] - baseline) / 1024
    tracemalloc.stop()
    print(
        f"{'memory growth, 2nd half of calls':<34} {growth_kb:7.1f} KiB (target < {MAX_GROWTH_KB})"
    )

    assert overhead < MAX_OVERHEAD_MS
    assert growth_kb < MAX_GROWTH_KB


def test_model_group_and_response_cache_paths(openai_fake):
    """What routing through a model group adds to a call (reading the members' state,
    claiming and releasing one: three pipelined Redis round trips), and what a response
    cache hit costs (no provider call). Reported, not asserted: the targets above hold for
    the plain path, which these features leave as it was."""
    from providers.models import ModelGroup, ModelGroupMember

    east = model_create(provider_create(openai_fake, slug="east", kind="openai"), "gpt-4o-mini")
    west = model_create(provider_create(openai_fake, slug="west", kind="openai"), "gpt-4.1")
    plain = selection_set("plain_service", east)
    group = ModelGroup.objects.create(name="pool", strategy="least_busy")
    for model in (east, west):
        ModelGroupMember.objects.create(group=group, model_config=model, rpm_limit=10**9)
    selection_set("cached_service", east, cache_ttl_seconds=600)
    messages = (Message(role="user", content="hi"),)

    def call(model: str) -> Callable[[], object]:
        return lambda: chat_completion_run(request=ChatRequest(model=model, messages=messages))

    print()
    base = report("plain service", timed(call(plain.service), CALLS))
    routed = report("model group (least_busy)", timed(call("group:pool"), CALLS))
    print(f"{'model group overhead per call':<34} {routed - base:7.3f} ms")
    report("response cache hit", timed(call("cached_service"), CALLS))
