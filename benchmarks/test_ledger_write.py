"""CPU the worker spends writing one usage-ledger row (`usage_record_create`) on PostgreSQL.

A typical attempt (tokens, a cost, a price snapshot, a time to first token, one tag) is
recorded in autocommit, as the call runtime does, over BENCH_LEDGER_CALLS calls per round
(default 1,000), in alternating rounds of the two ways the row can be written:
- `prepared`: the statement prepared once per connection, values bound by the server
  (usage/services/ledger_pg.py), the path every call takes;
- `cursor`: through Django's cursor, psycopg quoting the values into the SQL (the path of a
  caller's transaction, and the only one before ledger_pg).
Both skip the WAL flush (LEDGER_ASYNC_COMMIT). Thread CPU (time.thread_time) per call, the
median of BENCH_LEDGER_ROUNDS rounds (default 6) of each, and wall time, which includes the
server's work. Reported, and asserted only against a loose ceiling (BENCH_LEDGER_MAX_US,
default 400 us of thread CPU per prepared write; about 0.1 ms on a quiet 2-core machine).
"""

import gc
import os
import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from providers.adapters.types import Usage
from providers.resolution import ModelPrices, ResolvedModel
from tests.fixtures import requires_postgres
from usage.models import UsageRecord
from usage.services import ledger_pg
from usage.services.ledger import usage_record_create

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

CALLS = int(os.environ.get("BENCH_LEDGER_CALLS", "1000"))
ROUNDS = int(os.environ.get("BENCH_LEDGER_ROUNDS", "6"))
MAX_US = float(os.environ.get("BENCH_LEDGER_MAX_US", "400"))
MODEL = ResolvedModel(
    model_string="oa:gpt-4o-mini",
    model_id=1,
    model_name="gpt-4o-mini",
    kind="chat",
    provider_slug="oa",
    provider_kind="openai",
    provider_version="v1",
    provider_max_retries=2,
    prices=ModelPrices(
        input=Decimal("0.15"), output=Decimal("0.6"), cached_input=Decimal("0.075"), price_id=9
    ),
)
USAGE = Usage(
    input_tokens=1200,
    output_tokens=240,
    raw={"prompt_tokens": 1200, "completion_tokens": 240, "total_tokens": 1440},
)


def write() -> UsageRecord:
    return usage_record_create(
        request_id="req_0123456789abcdef0123",
        model=MODEL,
        usage=USAGE,
        latency_ms=420,
        time_to_first_token_ms=95,
        streamed=True,
        service="rag_agent",
        tags=("team:search",),
        provider_request_id="chatcmpl-0123456789",
        model_reported="gpt-4o-mini-2024-07-18",
        created_at=datetime.now(UTC),
    )


def one_round() -> tuple[float, float]:
    gc.collect()
    wall, thread = time.perf_counter(), time.thread_time()
    for _ in range(CALLS):
        write()
    return (
        (time.thread_time() - thread) * 1e6 / CALLS,
        (time.perf_counter() - wall) * 1e6 / CALLS,
    )


def test_cpu_per_ledger_write(monkeypatch):
    prepared = ledger_pg.insert

    def through(path: str) -> None:
        monkeypatch.setattr(ledger_pg, "insert", prepared if path == "prepared" else _never)

    figures: dict[str, list[tuple[float, float]]] = {"prepared": [], "cursor": []}
    for path in figures:  # warm both: the statement prepared, the imports done
        through(path)
        for _ in range(200):
            write()
    for index in range(ROUNDS * 2):
        path = ("prepared", "cursor")[(index + index // 2) % 2]  # ABBA, so drift cancels
        through(path)
        figures[path].append(one_round())
    print()
    medians = {}
    for path, rounds in figures.items():
        medians[path] = statistics.median(cpu for cpu, _ in rounds)
        print(
            f"ledger write ({path:<8}) thread CPU {medians[path]:6.1f} us/call   "
            f"wall {statistics.median(w for _, w in rounds):6.1f} us/call   "
            f"rounds {' '.join(f'{cpu:.0f}' for cpu, _ in rounds)}"
        )
    print(f"prepared / cursor: {medians['prepared'] / medians['cursor']:.2f}")
    assert UsageRecord.objects.count() == (2 * 200 + ROUNDS * 2 * CALLS)
    assert medians["prepared"] < MAX_US


def _never(connection, values) -> None:
    return None
