"""Slow clients: connections that send their headers and part of a body, then nothing."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

PARTIAL_BODY = b'{"model": "oi_chat", "messages": [{"role": "user", "content": "'


@contextmanager
def slow_connections(
    url: str, count: int, key: str, path: str = "/v1/chat/completions"
) -> Iterator[list]:
    """`count` open connections to `url`, each stalled in the middle of a request body. With a
    valid consumer `key` the application gets as far as reading the body (a bad key is refused
    before that, which frees the thread)."""
    parts = urlsplit(url)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000\r\n"
        f"Authorization: Bearer {key}\r\nX-Slow-Client: stalled\r\n\r\n"
    ).encode()
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
            sock.sendall(head + PARTIAL_BODY)
            sockets.append(sock)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()
