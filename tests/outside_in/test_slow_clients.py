"""§5 of issue 9: a slow client costs a socket, not a thread.

200 connections send their headers (with a valid consumer key, so that the application would
read the body) and part of a body, then nothing, to the stack as documented (nginx in front of
gunicorn). Straight at gunicorn, 40 of them leave /healthz timing out (2 workers x 16 threads,
measured before choosing nginx). Meanwhile /healthz and a call of another client must
answer in under a second, and gunicorn must never see the stalled requests.
"""

import time

from tests.outside_in.conftest import CHAT_SERVICE
from tests.outside_in.slow import slow_connections

SLOW_CLIENTS = 200
BOUND_SECONDS = 1.0


def timed(send) -> tuple[float, object]:
    started = time.perf_counter()
    response = send()
    return time.perf_counter() - started, response


def test_slow_clients_do_not_delay_health_or_other_clients(stack, hostile):
    body = {"model": CHAT_SERVICE, "messages": [{"role": "user", "content": "ping"}]}
    with stack.client(stack.seeded["keys"]["oi-other"]) as client:
        client.post("/v1/chat/completions", json=body).raise_for_status()  # warm
        before = (
            stack.processes["gunicorn"]
            .log(tail=10**7)
            .count('"POST /v1/chat/completions HTTP/1.1"')
        )
        with slow_connections(stack.url, SLOW_CLIENTS, stack.seeded["keys"]["oi-main"]) as stalled:
            assert len(stalled) == SLOW_CLIENTS
            time.sleep(0.5)  # every stalled request has reached the server by now
            health_time, health = timed(lambda: client.get("/healthz"))
            call_time, call = timed(lambda: client.post("/v1/chat/completions", json=body))
            stream_time, stream_first = timed(
                lambda: _first_event(client, {**body, "stream": True})
            )
            for sock in stalled:  # all still open: nginx holds them, waiting for the body
                assert sock.fileno() != -1
    assert health.status_code == 200, health.text
    assert call.status_code == 200, call.text
    assert call.json()["choices"][0]["message"]["content"]
    assert stream_first.startswith("data: ")
    assert health_time < BOUND_SECONDS, f"/healthz took {health_time:.2f} s"
    assert call_time < BOUND_SECONDS, f"a call took {call_time:.2f} s"
    assert stream_time < BOUND_SECONDS, f"a stream's first event took {stream_time:.2f} s"
    # No stalled request ever reached gunicorn: its access log names only the three calls
    # (the stream's line may come a moment later), although the stalled ones are closed now.
    time.sleep(0.5)
    served = (
        stack.processes["gunicorn"].log(tail=10**7).count('"POST /v1/chat/completions HTTP/1.1"')
    )
    assert 2 <= served - before <= 3


def _first_event(client, body) -> str:
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line:
                return line
    return ""
