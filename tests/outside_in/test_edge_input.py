"""Issue 9, "no 5xx from any input", from outside: each input class of the issue's Why sent to
the production stack (through nginx) answers a 4xx in the error shape, never a 5xx or HTML.
Bad framing (NUL in the path, a bad Host, a body over the limit) is refused by nginx itself
with the same JSON shape (deploy/nginx/control-plane-proxy.conf); chunked bodies reach the
application whole."""

import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.outside_in.conftest import CHAT_SERVICE


def raw_request(url: str, request: bytes) -> tuple[int, bytes, bytes]:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) == 0:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


def assert_error_shape(status: int, head: bytes, body: bytes) -> None:
    assert 400 <= status < 500, (status, body[:300])
    assert b"application/json" in head.lower(), head
    assert b'"error"' in body and b'"code"' in body, body[:300]


@pytest.mark.parametrize(
    "request_line",
    [b"GET /api/models/%00 HTTP/1.1", b"GET /v1/mo\x00dels HTTP/1.1"],
    ids=["percent-encoded NUL", "raw NUL"],
)
def test_nul_in_path_is_a_json_4xx(stack, request_line):
    status, head, body = raw_request(stack.url, request_line + b"\r\nHost: 127.0.0.1\r\n\r\n")
    assert_error_shape(status, head, body)


@pytest.mark.parametrize("host", [b"bad host", b"a/b"])
def test_bad_host_is_a_json_4xx(stack, host):
    request = b"GET /v1/models HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"
    status, head, body = raw_request(stack.url, request)
    assert_error_shape(status, head, body)


def test_body_over_the_limit_is_a_json_413(stack):
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 3000000\r\n\r\n"
    )
    status, head, body = raw_request(stack.url, head)
    assert status == 413
    assert_error_shape(status, head, body)


def test_chunked_body_reaches_the_application_whole(stack, hostile):
    body = (
        b'{"model": "' + CHAT_SERVICE.encode() + b'", "messages": '
        b'[{"role": "user", "content": "chunked hello"}], "max_tokens": 30}'
    )
    pieces = [body[:20], body[20:]]

    def chunks():
        for piece in pieces:
            time.sleep(0.1)
            yield piece

    with stack.client(stack.seeded["keys"]["oi-main"]) as client:
        response = client.post(
            "/v1/chat/completions", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 200, response.text
    sent = hostile.last_request().body
    assert sent["messages"][-1]["content"] == "chunked hello"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


CHAT = '{"model": "oi_chat", "messages": [{"role": "user", "content": "hi"}]'
BODIES = {
    "deep nesting": CHAT + ', "metadata": ' + nested(5000) + "}",
    "NUL in the model": CHAT.replace('"oi_chat"', '"oi\\u0000chat"') + "}",
    "NUL in content": CHAT.replace('"hi"', '"h\\u0000i"') + "}",
    "unpaired surrogate": CHAT.replace('"hi"', '"h\\ud800i"') + "}",
    "max_tokens 1e20": CHAT + ', "max_tokens": 1e20}',
    "max_tokens beyond bigint": CHAT + ', "max_tokens": 99999999999999999999999}',
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_hostile_chat_bodies_are_a_json_4xx(stack, hostile, body):
    with stack.client(stack.seeded["keys"]["oi-main"]) as client:
        response = client.post(
            "/v1/chat/completions", content=body, headers={"Content-Type": "application/json"}
        )
    assert 400 <= response.status_code < 500, response.text[:300]
    assert response.json()["error"]["code"]
    assert not hostile.requests  # refused before any provider was asked


def test_sixty_thousand_messages_are_refused_quickly(stack, hostile):
    body = {"model": "oi_chat", "messages": [{"role": "user", "content": "x"}] * 60_000}
    with stack.client(stack.seeded["keys"]["oi-main"], timeout=30) as client:
        started = time.monotonic()
        response = client.post("/v1/chat/completions", json=body)
        took = time.monotonic() - started
    assert 400 <= response.status_code < 500, response.text[:300]
    assert took < 2.0, f"refusing it took {took:.1f} s"
    assert not hostile.requests


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/usage/daily/?from=%00"),
        ("GET", "/api/models/?limit=99999999999999999999999"),
        ("GET", "/api/selections/?limit=-1&offset=99999999999999999999999"),
        ("OPTIONS", "/api/usage/daily.csv"),
    ],
)
def test_hostile_staff_requests_are_never_a_5xx(stack, method, path):
    with stack.client() as staff:
        staff.headers["Authorization"] = f"Token {stack.seeded['tokens']['oi-admin']}"
        response = staff.request(method, path)
    assert response.status_code < 500, response.text[:300]
    if response.status_code >= 400:
        assert response.json()["error"]["code"]


def test_an_unknown_host_is_a_json_4xx(stack):
    request = b"GET /v1/models HTTP/1.1\r\nHost: evil.example.com\r\nConnection: close\r\n\r\n"
    status, head, body = raw_request(stack.url, request)
    assert_error_shape(status, head, body)
