"""Issue 9, "spend bounded by construction", from outside: hard daily budgets hold under
30-50 concurrent calls against an upstream that counts one token per character and answers as
long as it is allowed to. The README states the bound for text prompts: $0 over the limit.

Each test has a service and a budget of its own (created once for the module), so their
spending never meets.
"""

import json
import threading
from decimal import Decimal

import pytest
from psycopg.rows import dict_row

from tests.fakes.hostile_server import HostileServer
from tests.outside_in.conftest import CHAT_SERVICE
from tests.outside_in.seed import SEED, openai_provider

CONCURRENT = 40
LIMIT = Decimal("0.05")
# $/M tokens. Uncapped replies (2,000 characters) would cost $0.20 each at this output price.
EXPENSIVE_OUTPUT = {"input": "1.00", "output": "100.00", "max_output_tokens": 100}
EXPENSIVE_INPUT = {"input": "100.00", "output": "1.00", "max_output_tokens": 10}
PROMPTS = {
    "english": "Summarise the quarterly report in three short sentences please. " * 2,
    "cjk": "请用三句话总结本季度报告的主要内容并给出建议。" * 4,
    "emoji": "🙂🚀📈🧾✅" * 16,
    "code": "def f(x):\n    return {k: v for k, v in x.items() if v}\n" * 2,
}


@pytest.fixture(scope="module")
def broken_upstream():
    server = HostileServer().start()
    server.faults.status = 503  # every request: the primary of the fallback service is down
    yield server
    server.stop()


@pytest.fixture(scope="module")
def spend(production_stack, hostile_upstream, broken_upstream):
    production_stack.django(
        SEED,
        args={
            "providers": [
                openai_provider("spend", hostile_upstream),
                openai_provider("fb-primary", broken_upstream),
                openai_provider("fb-backup", hostile_upstream),
            ],
            "models": [
                {"provider": "spend", "name": "gpt-4o-mini", **EXPENSIVE_OUTPUT},
                {"provider": "spend", "name": "gpt-4.1", **EXPENSIVE_INPUT},
                {"provider": "fb-primary", "name": "gpt-4o-mini", **EXPENSIVE_OUTPUT},
                {"provider": "fb-backup", "name": "gpt-4o-mini", **EXPENSIVE_OUTPUT},
            ],
            "selections": [
                {"service": "oi_uncapped", "primary": "spend:gpt-4o-mini"},
                {"service": "oi_scripts", "primary": "spend:gpt-4.1"},
                {
                    "service": "oi_fallback",
                    "primary": "fb-primary:gpt-4o-mini",
                    "fallbacks": ["fb-backup:gpt-4o-mini"],
                },
            ],
            "budgets": [
                {
                    "name": "uncapped",
                    "scope_type": "service",
                    "scope_value": "oi_uncapped",
                    "limit_usd": str(LIMIT),
                },
                {
                    "name": "scripts",
                    "scope_type": "service",
                    "scope_value": "oi_scripts",
                    "limit_usd": str(LIMIT),
                },
                {
                    "name": "backup",
                    "scope_type": "provider",
                    "scope_value": "fb-backup",
                    "limit_usd": str(LIMIT),
                },
            ],
        },
    )
    return production_stack


def burst(stack, service: str, prompts: list[str], **extra) -> list[int]:
    """`len(prompts)` calls at once; their statuses."""
    key = stack.seeded["keys"]["oi-main"]
    statuses: list[int] = []
    start = threading.Barrier(len(prompts), timeout=60)

    def call(prompt: str) -> None:
        with stack.client(key, timeout=60) as client:
            start.wait()
            body = {"model": service, "messages": [{"role": "user", "content": prompt}], **extra}
            statuses.append(client.post("/v1/chat/completions", json=body).status_code)

    threads = [threading.Thread(target=call, args=(p,)) for p in prompts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def spent(stack, where: str, value: str) -> Decimal:
    rows = stack.sql(
        f"SELECT coalesce(sum(cost), 0) FROM usage_usagerecord WHERE {where} = %s", (value,)
    )
    return rows[0][0]


def test_uncapped_calls_stay_within_a_hard_budget(spend, hostile):
    statuses = burst(spend, "oi_uncapped", ["go on, write as much as you like"] * CONCURRENT)
    assert set(statuses) <= {200, 429}, statuses
    assert 200 in statuses and 429 in statuses, statuses
    assert spent(spend, "service", "oi_uncapped") <= LIMIT
    # The runtime sent the output cap it reserved for: the model's max_output_tokens.
    for request in hostile.requests:
        body = request.body
        cap = body.get("max_completion_tokens") or body.get("max_tokens")
        assert cap is not None and cap <= EXPENSIVE_OUTPUT["max_output_tokens"], body


def test_prompts_in_any_script_stay_within_a_hard_budget(spend, hostile):
    prompts = [list(PROMPTS.values())[i % len(PROMPTS)] for i in range(CONCURRENT)]
    statuses = burst(spend, "oi_scripts", prompts, max_tokens=5)
    assert set(statuses) <= {200, 429}, statuses
    assert 200 in statuses, statuses
    assert spent(spend, "service", "oi_scripts") <= LIMIT


def test_a_fallbacks_spend_lands_on_its_own_providers_budget(spend, hostile):
    statuses = burst(spend, "oi_fallback", ["fall back"] * 30, max_tokens=100)
    assert set(statuses) <= {200, 429}, statuses
    assert 200 in statuses and 429 in statuses, statuses
    assert spent(spend, "provider", "fb-backup") <= LIMIT


def test_an_interrupted_stream_records_what_was_delivered(spend, hostile):
    hostile.drop_after_chunks = 5
    hostile.chunk_chars = 10  # 50 characters, one token each, reach the client
    key = spend.seeded["keys"]["oi-main"]
    body = {"model": CHAT_SERVICE, "messages": [{"role": "user", "content": "hi"}]}
    delivered = ""
    with (
        spend.client(key, timeout=60) as client,
        client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response,
    ):
        assert response.status_code == 200, response.read()
        request_id = response.headers["x-request-id"]
        for line in response.iter_lines():
            if line.startswith("data: {") and '"content"' in line:
                choices = json.loads(line[6:]).get("choices") or [{}]
                delivered += choices[0].get("delta", {}).get("content") or ""
    assert len(delivered) == 50
    with spend.db() as connection:
        connection.row_factory = dict_row
        rows = connection.execute(
            "SELECT * FROM usage_usagerecord WHERE request_id = %s", (request_id,)
        ).fetchall()
    assert len(rows) == 1
    record = rows[0]
    assert record["output_tokens"] >= 50
    assert record["cost"] > 0
    assert record["usage_estimated"] is True
