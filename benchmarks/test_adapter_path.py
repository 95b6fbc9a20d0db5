"""CPU the OpenAI-wire adapter spends per call: complete, stream and embed, in-process.

The adapter talks to the OpenAI fake (a thread of this process) with an `openai` SDK client:
through its direct path (providers/adapters/openai_direct.py: the head the client would send,
derived once, and the body written through our transport). Two clocks per operation, over
BENCH_ADAPTER_CALLS calls (default 2,000):
- `thread`: CPU of the calling thread only (time.thread_time): the adapter, the transport
  and JSON on our side; the figure to compare before and after a change to the adapter.
- `process`: CPU of the whole process (time.process_time), so it includes the fake server
  answering in its own thread; an upper bound.
Reported, and asserted only against a loose ceiling (BENCH_ADAPTER_MAX_MS, default 1 ms of
thread CPU per call; 0.12-0.2 ms each on a quiet 2-core machine, 0.6-0.75 ms through the
SDK's own request path before the direct path) so that a regression by multiples fails
`make bench`.
"""

import gc
import os
import time
from collections.abc import Callable

import pytest

from providers.adapters.openai_adapter import OpenAIAdapter
from providers.adapters.types import (
    ChatRequest,
    EmbeddingRequest,
    Finish,
    Message,
    TextDelta,
)

CALLS = int(os.environ.get("BENCH_ADAPTER_CALLS", "2000"))
MAX_THREAD_MS = float(os.environ.get("BENCH_ADAPTER_MAX_MS", "1.0"))
REQUEST = ChatRequest(
    model="gpt-4o-mini",
    messages=(
        Message(role="system", content="You are terse."),
        Message(role="user", content="hi there"),
    ),
    temperature=0.2,
    max_tokens=64,
)
EMBED = EmbeddingRequest(model="text-embedding-3-small", inputs=("hello world", "bye"))
# Full-size vectors, as text-embedding-3-small answers by default: the JSON parse dominates.
EMBED_1536 = EmbeddingRequest(
    model="text-embedding-3-small", inputs=("hello world", "bye"), dimensions=1536
)


def cpu_per_call(call: Callable[[], object], calls: int, clear: Callable[[], None]) -> dict:
    for _ in range(50):  # warm the connection pool and lazy imports
        call()
    clear()
    gc.collect()
    wall, process, thread = time.perf_counter(), time.process_time(), time.thread_time()
    for index in range(calls):
        call()
        if index % 500 == 499:
            clear()  # the fake logs every request; keep its list short
    return {
        "thread": (time.thread_time() - thread) * 1000 / calls,
        "process": (time.process_time() - process) * 1000 / calls,
        "wall": (time.perf_counter() - wall) * 1000 / calls,
    }


def report(label: str, figures: dict) -> None:
    print(
        f"{label:<11} thread CPU {figures['thread']:6.3f} ms/call   "
        f"process CPU {figures['process']:6.3f} ms/call   wall {figures['wall']:6.3f} ms/call"
    )


@pytest.fixture
def adapter(openai_fake) -> OpenAIAdapter:
    adapter = OpenAIAdapter(openai_fake.provider_settings())
    yield adapter
    adapter.close()


def test_cpu_per_call_of_the_openai_adapter(adapter, openai_fake):
    openai_fake.reply_text = "one two three four five six seven eight"

    def complete() -> None:
        assert adapter.complete(REQUEST).text == openai_fake.reply_text

    def stream() -> None:
        events = list(adapter.stream(REQUEST))
        assert isinstance(events[-1], Finish)
        assert sum(isinstance(e, TextDelta) for e in events) > 1

    def embed() -> None:
        assert len(adapter.embed(EMBED).vectors) == 2

    def embed_1536() -> None:
        assert len(adapter.embed(EMBED_1536).vectors[1]) == 1536

    print()
    figures = {}
    operations = (
        ("complete", complete),
        ("stream", stream),
        ("embed", embed),
        ("embed 1536", embed_1536),
    )
    for label, call in operations:
        figures[label] = cpu_per_call(call, CALLS, openai_fake.requests.clear)
        report(label, figures[label])

    for label, values in figures.items():
        assert values["thread"] < MAX_THREAD_MS, label
