"""§8 of issue 12: the production stack's life as an operator sees it.

Calls go in through nginx; beat (on a 2 s schedule instead of 5 minutes) has the worker roll
them up, and the staff usage API shows the same figures as the ledger. Then gunicorn gets
SIGTERM (a deploy) while streams are in flight: each stream finishes, and every attempt is
recorded.
"""

import signal
import threading
import time
from decimal import Decimal

from tests.ledger_wait import ledger_read_until
from tests.outside_in.conftest import CHAT_SERVICE

ROLLUP_WAIT_SECONDS = 45
STREAMS = 4


def chat(content: str, **extra) -> dict:
    return {"model": CHAT_SERVICE, "messages": [{"role": "user", "content": content}], **extra}


def ledger(stack, request_ids: list[str]) -> list[tuple]:
    """The calls' rows, once there is one per call (written just after each answer)."""
    return ledger_read_until(
        lambda: stack.sql(
            "SELECT request_id, outcome, input_tokens, output_tokens, cost, streamed "
            "FROM usage_usagerecord WHERE request_id = ANY(%s)",
            (request_ids,),
        ),
        lambda rows: len({row[0] for row in rows}) >= len(set(request_ids)),
    )


def test_calls_are_rolled_up_by_beat_and_shown_to_staff(stack, hostile):
    request_ids = []
    with stack.client(stack.seeded["keys"]["oi-main"]) as client:
        for index in range(3):
            response = client.post("/v1/chat/completions", json=chat(f"roll {index}"))
            assert response.status_code == 200, response.text
            request_ids.append(response.headers["x-request-id"])
        with client.stream("POST", "/v1/chat/completions", json=chat("s", stream=True)) as r:
            assert r.status_code == 200
            assert "data: [DONE]" in r.read().decode()
            request_ids.append(r.headers["x-request-id"])
    rows = ledger(stack, request_ids)
    assert len(rows) == 4 and {row[1] for row in rows} == {"ok"}

    # Everything the ledger holds for today, as the rollup must show it.
    expected = stack.sql(
        "SELECT count(*), coalesce(sum(cost), 0), coalesce(sum(output_tokens), 0) "
        "FROM usage_usagerecord"
    )[0]
    token = stack.seeded["tokens"]["oi-admin"]
    deadline = time.monotonic() + ROLLUP_WAIT_SECONDS
    with stack.client() as staff:
        staff.headers["Authorization"] = f"Token {token}"
        while True:
            summary = staff.get("/api/usage/summary/")
            assert summary.status_code == 200, summary.text
            today = summary.json()["today"]
            if today["requests"] == expected[0]:
                break
            assert time.monotonic() < deadline, (
                f"beat did not roll up {expected[0]} calls in {ROLLUP_WAIT_SECONDS} s: {today}"
                f"\n{stack.logs()}"
            )
            time.sleep(1)
    assert Decimal(str(today["cost"])) == expected[1] > 0
    assert today["output_tokens"] == expected[2]
    assert summary.json()["rolled_up_at"]
    daily = stack.sql("SELECT sum(requests), sum(cost) FROM usage_dailyusage")[0]
    assert daily == (expected[0], expected[1])

    # /metrics (through nginx, with the bearer token) adds up both gunicorn workers' series and
    # equals the ledger.
    with stack.client() as scraper:
        scraper.headers["Authorization"] = f"Bearer {stack.metrics_token}"
        scraped = scraper.get("/metrics")
    assert scraped.status_code == 200, scraped.text
    series = metric_sums(scraped.text)
    assert series["llm_requests_total"] == expected[0]
    assert abs(Decimal(str(series["llm_cost_usd_total"])) - expected[1]) < Decimal("1e-9")
    assert series["llm_tokens_total"] > 0


def metric_sums(exposition: str) -> dict[str, float]:
    """Each sample name's total over its label sets, from the Prometheus text format."""
    from prometheus_client.parser import text_string_to_metric_families

    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def test_sigterm_lets_streams_in_flight_finish_and_records_every_attempt(stack, hostile):
    streams = STREAMS
    hostile.trickle_seconds = 0.4  # ~12 chunks: each stream lasts about 5 s
    hostile.chunk_chars = 10
    started = threading.Barrier(streams + 1, timeout=30)
    results: list[dict] = []
    key = stack.seeded["keys"]["oi-main"]

    def stream(index: int) -> None:
        outcome: dict = {"events": 0, "text": ""}
        try:
            with (
                stack.client(key, timeout=60) as client,
                client.stream(
                    "POST",
                    "/v1/chat/completions",
                    json=chat(f"stream {index}", stream=True, max_tokens=120),
                ) as response,
            ):
                outcome["status"] = response.status_code
                outcome["request_id"] = response.headers.get("x-request-id")
                signalled = False
                for line in response.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    outcome["events"] += 1
                    outcome["last"] = line
                    if '"content"' in line and not signalled:
                        signalled = True
                        started.wait()
        except Exception as exc:  # reported by the test's assertions below
            outcome["error"] = repr(exc)
        results.append(outcome)

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(streams)]
    for thread in threads:
        thread.start()
    started.wait()  # every stream has delivered text: they are in flight
    gunicorn = stack.processes["gunicorn"]
    gunicorn.send(signal.SIGTERM)
    signalled_at = time.monotonic()
    for thread in threads:
        thread.join(timeout=60)
    code = gunicorn.wait(timeout=60)
    took = time.monotonic() - signalled_at

    assert code == 0, gunicorn.log()
    assert len(results) == streams
    for outcome in results:
        assert "error" not in outcome, outcome
        assert outcome["status"] == 200
        assert outcome["last"] == "data: [DONE]", outcome
        assert outcome["events"] > 10
    assert took < 30, f"shutdown took {took:.1f} s"
    rows = ledger(stack, [outcome["request_id"] for outcome in results])
    assert len(rows) == streams, rows
    for _, outcome, _input_tokens, output_tokens, cost, streamed in rows:
        assert (outcome, output_tokens, streamed) == ("ok", 120, True)
        assert cost > 0
