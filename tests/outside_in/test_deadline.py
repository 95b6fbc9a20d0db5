"""Issue 9 §5: the total call deadline holds during streams. An upstream that trickles one
chunk every 2 s, with no end in sight, is cut at RUNTIME_TOTAL_TIMEOUT_SECONDS (20 s in the
stack) with an error event, and the attempt is recorded."""

import time

from tests.outside_in.conftest import CHAT_SERVICE

DEADLINE = 20.0


def test_a_trickling_stream_ends_at_the_deadline(stack, hostile):
    assert float(stack.env["RUNTIME_TOTAL_TIMEOUT_SECONDS"]) == DEADLINE
    hostile.trickle_seconds = 2.0
    hostile.chunk_chars = 2
    hostile.uncapped_reply_chars = 4000
    body = {
        "model": CHAT_SERVICE,
        "messages": [{"role": "user", "content": "take your time"}],
        "stream": True,
    }
    lines = []
    started = time.monotonic()
    with (
        stack.client(stack.seeded["keys"]["oi-main"], timeout=60) as client,
        client.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.status_code == 200
        request_id = response.headers["x-request-id"]
        for line in response.iter_lines():
            if line.startswith("data: "):
                lines.append(line)
            if time.monotonic() - started > DEADLINE + 8:
                break  # the deadline did not hold: stop listening, fail below
    took = time.monotonic() - started
    assert DEADLINE - 3 < took < DEADLINE + 5, f"the stream lasted {took:.1f} s"
    assert any('"error"' in line for line in lines[-2:]), lines[-3:]
    rows = stack.sql(
        "SELECT outcome, output_tokens FROM usage_usagerecord WHERE request_id = %s",
        (request_id,),
    )
    assert len(rows) == 1 and rows[0][0] != "ok", rows
