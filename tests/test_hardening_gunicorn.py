"""The hardening layer through a real gunicorn worker (the shipped config): chunked request
bodies (which Django's test client cannot send) are read up to the size limit, and a bad Host
answers in the API's JSON shape. Production settings when PostgreSQL and Redis are configured,
as in CI; the benchmark's settings otherwise."""

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from benchmarks.test_http_path import Gunicorn, database_url
from providers.consumers import consumer_key_create
from tests.chat.helpers import model_create, provider_create, selection_set

pytestmark = pytest.mark.django_db(transaction=True)
BODY = {"model": "edge_service", "messages": [{"role": "user", "content": "hi"}]}
LIMIT = 64 * 1024  # the server's MAX_REQUEST_BYTES here, so an oversized body stays small


@pytest.fixture
def server(tmp_path: Path, openai_fake, monkeypatch) -> Iterator[tuple[Gunicorn, str]]:
    monkeypatch.setenv("MAX_REQUEST_BYTES", str(LIMIT))
    provider = provider_create(openai_fake, slug="edge", kind="openai", timeout=5.0)
    selection_set("edge_service", model_create(provider, "gpt-4o-mini"))
    _, secret = consumer_key_create(name="edge-http")
    gunicorn = Gunicorn(tmp_path, database_url(tmp_path))
    try:
        with httpx2.Client(base_url=gunicorn.url, timeout=10) as client:
            gunicorn.wait_ready(client)
        yield gunicorn, secret
    finally:
        gunicorn.stop()


def raw_request(port: int, head: str, body: bytes = b"") -> tuple[int, dict]:
    """Send bytes as written; (status, JSON body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    header, _, payload = answer.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in header.lower():
        payload = dechunk(payload)
    return status, json.loads(payload)


def dechunk(payload: bytes) -> bytes:
    out = b""
    while payload:
        size_line, _, rest = payload.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        payload = rest[size + 2 :]
    return out


def chunked(data: bytes, size: int = 7) -> bytes:
    parts = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n"


def head(port: int, secret: str, *, host: str | None = None, chunked_body: bool = True) -> str:
    lines = [
        "POST /v1/chat/completions HTTP/1.1",
        f"Host: {host or f'127.0.0.1:{port}'}",
        f"Authorization: Bearer {secret}",
        "X-Forwarded-Proto: https",  # the TLS proxy production settings expect
        "Content-Type: application/json",
        "Connection: close",
    ]
    if chunked_body:
        lines.append("Transfer-Encoding: chunked")
    return "\r\n".join(lines) + "\r\n\r\n"


def test_chunked_bodies_are_read_and_bounded_by_the_size_limit(server):
    gunicorn, secret = server
    status, body = raw_request(
        gunicorn.port, head(gunicorn.port, secret), chunked(json.dumps(BODY).encode())
    )
    assert status == 200, body
    assert body["choices"][0]["message"]["content"]

    # Over MAX_REQUEST_BYTES (DATA_UPLOAD_MAX_MEMORY_SIZE): refused, never read as empty.
    oversized = json.dumps({**BODY, "user": "x" * LIMIT}).encode()
    status, body = raw_request(
        gunicorn.port, head(gunicorn.port, secret), chunked(oversized, len(oversized))
    )
    assert status == 413 and body["error"]["code"] == "payload_too_large"

    deep = b'{"model": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    status, body = raw_request(gunicorn.port, head(gunicorn.port, secret), chunked(deep, 512))
    assert status == 400 and body["error"]["code"] == "request_too_complex"


def test_a_bad_host_answers_in_the_api_shape(server):
    gunicorn, secret = server
    body = json.dumps(BODY).encode()
    request = head(gunicorn.port, secret, host="evil.example", chunked_body=False)
    request = request.replace("\r\n\r\n", f"\r\nContent-Length: {len(body)}\r\n\r\n")
    status, answer = raw_request(gunicorn.port, request, body)
    assert status == 400
    assert answer["error"]["code"] == "invalid_host"
    assert set(answer["error"]) == {"message", "type", "param", "code"}
