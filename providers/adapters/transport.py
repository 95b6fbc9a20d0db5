"""The bytes-on-the-wire part under every provider SDK's client: httpx2's transport interface
over urllib3's connections.

Why: the SDKs build requests and read responses through httpx2, but httpx2's own connection
layer (httpcore2 over h11) costs more CPU per call than urllib3's connections (http.client
underneath); on the OpenAI adapter's path the switch saves some 15% of the calling thread's
CPU per call (benchmarks/test_adapter_path.py: complete, stream and embed alike). The SDKs
still see httpx2 requests, responses and exceptions, so their own errors (APIConnectionError,
APITimeoutError) and the adapters' error tables are unchanged.

How a request goes out (`GuardedURLLib3Transport.send`): its head and body are written as
bytes in one write (one system call, one segment for small requests, instead of urllib3's
line-by-line head and a second write for the body); header names and values are checked as
http.client would check them, and exactly the headers given are sent (no User-Agent,
Accept-Encoding, Host or framing header of our own). `handle_request` does this for every
httpx2 request whose body is in memory; the OpenAI adapter's direct path
(providers/adapters/openai_direct.py) for heads it prepared once; a streamed request body is
written by urllib3's `request` as httpx2 framed it. The answer's head is parsed by http.client
and its body handed back raw (httpx2 decodes any Content-Encoding itself): see http_wire.py.

What it does, and does not:
- every new connection goes through `resolve` (egress.py's address policy): it returns the
  addresses the host may be reached at, or raises (DestinationRefused); the socket connects to
  one of those very addresses, and TLS still sends the host name (SNI) and verifies it;
- keeps up to `max_keepalive` idle connections per host, never reuses one whose response body
  was not read to its end (or whose server said it will close), and never waits for a free
  connection (no pool limit to time out);
- no proxies, no redirects, no retries: the SDK client and the runtime own those decisions;
- timeouts: httpx2's connect, write and read timeouts each bound their phase; there is no pool
  timeout since nothing waits for a connection; failures are raised as httpx2's exceptions.
"""

import http.client
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from typing import Any, cast

import httpx2
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.util import SKIP_HEADER
from urllib3.util.connection import create_connection

from providers.adapters.http_wire import (
    DirectRequest,
    RawResponse,
    ResponseBody,
    header_lines,
    origin_of,
    raise_translated,
    request_line,
)

# (host, port) -> the addresses a connection may be opened to; raises to refuse the host.
Resolver = Callable[[str, int], list[str]]


def _guarded_socket(connection: "GuardedHTTPConnection | GuardedHTTPSConnection") -> socket.socket:
    """A socket to one of the addresses `resolve` permits for the connection's host."""
    host, port = connection.host, connection.port
    error: Exception | None = None
    for address in connection.resolve(host, port):
        try:
            return create_connection(
                (address, port),
                connection.timeout,
                source_address=connection.source_address,
                socket_options=connection.socket_options,
            )
        except TimeoutError as exc:
            error = httpx2.ConnectTimeout(f"Connection to {host} timed out.")
            error.__cause__ = exc
        except OSError as exc:
            error = httpx2.ConnectError(f"Could not connect to {host}: {exc}")
            error.__cause__ = exc
    if error is None:
        raise httpx2.ConnectError(f"{host} resolved to no address.")
    raise error


class GuardedHTTPConnection(HTTPConnection):
    """urllib3's plain-HTTP connection, connecting only where `resolve` permits."""

    def __init__(self, host: str, port: int, *, resolve: Resolver, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self.resolve = resolve

    def _new_conn(self) -> socket.socket:
        return _guarded_socket(self)


class GuardedHTTPSConnection(HTTPSConnection):
    """urllib3's TLS connection, connecting only where `resolve` permits; the TLS handshake
    still sends and verifies the host name, not the address."""

    def __init__(self, host: str, port: int, *, resolve: Resolver, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self.resolve = resolve

    def _new_conn(self) -> socket.socket:
        return _guarded_socket(self)


class HostPool:
    """The idle keep-alive connections to one scheme://host:port, most recently used first."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        *,
        resolve: Resolver,
        ssl_context: ssl.SSLContext,
        max_keepalive: int,
    ) -> None:
        self.scheme, self.host, self.port = scheme, host, port
        self.resolve = resolve
        self.ssl_context = ssl_context
        self.max_keepalive = max_keepalive
        self.idle: list[HTTPConnection] = []
        self.opened = 0  # connections made, for tests and diagnostics
        self.requests = 0  # requests sent
        self.closed = False

    def checkout(self) -> HTTPConnection:
        """An idle connection the server has not closed, or a new unconnected one."""
        while True:
            try:
                connection = self.idle.pop()
            except IndexError:
                break
            if connection.is_connected:  # also false when the server sent anything unasked
                return connection
            connection.close()
        self.opened += 1
        if self.scheme == "https":
            return GuardedHTTPSConnection(
                self.host, self.port, resolve=self.resolve, ssl_context=self.ssl_context
            )
        return GuardedHTTPConnection(self.host, self.port, resolve=self.resolve)

    def checkin(self, connection: HTTPConnection) -> None:
        """Keep a connection whose last response was read to its end (if there is room)."""
        if self.closed or connection.is_closed or len(self.idle) >= self.max_keepalive:
            connection.close()
        else:
            self.idle.append(connection)

    def close(self) -> None:
        self.closed = True
        while self.idle:
            self.idle.pop().close()


class _HeaderLines:
    """The request's header lines as urllib3's `request` reads a header mapping (names, then
    items), duplicates and order kept."""

    __slots__ = ("lines",)

    def __init__(self, lines: list[tuple[bytes, bytes]]) -> None:
        self.lines = lines

    def __iter__(self) -> Iterator[bytes]:
        return (name for name, _ in self.lines)

    def items(self) -> list[tuple[bytes, bytes]]:
        return self.lines


def _header_lines(headers: httpx2.Headers) -> _HeaderLines:
    lines: list[Any] = list(headers.raw)
    # http.client and urllib3 add these when absent; SKIP_HEADER tells them not to.
    if "user-agent" not in headers:
        lines.append(("User-Agent", SKIP_HEADER))
    if "accept-encoding" not in headers:
        lines.append(("Accept-Encoding", SKIP_HEADER))
    return _HeaderLines(lines)


class GuardedURLLib3Transport(httpx2.BaseTransport):
    """An httpx2 transport sending over urllib3 connections that pass the address policy.

    `send` is the one way a request goes out: a whole request as bytes in one write (what
    `handle_request` does for httpx2 requests whose body is in memory, and the OpenAI
    adapter's direct path for prepared requests), or, for a streamed request body, urllib3's
    `request` writing it as httpx2 framed it."""

    def __init__(
        self,
        *,
        resolve: Resolver,
        ssl_context: ssl.SSLContext | None = None,
        max_keepalive: int = 100,
    ) -> None:
        self.resolve = resolve
        self.ssl_context = ssl_context or httpx2.create_ssl_context(trust_env=False)
        self.max_keepalive = max_keepalive
        self.pools: dict[tuple[str, str, int], HostPool] = {}

    def _pool(self, key: tuple[str, str, int]) -> HostPool:
        pool = self.pools.get(key)
        if pool is None:
            pool = self.pools.setdefault(
                key,
                HostPool(
                    *key,
                    resolve=self.resolve,
                    ssl_context=self.ssl_context,
                    max_keepalive=self.max_keepalive,
                ),
            )
        return pool

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        origin = origin_of(request.url)
        timeouts = request.extensions.get("timeout") or {}
        target = request.url.raw_path
        try:
            content = request.content
        except httpx2.RequestNotRead:  # a streamed body: urllib3 writes it as httpx2 framed it
            raw = self.send(
                origin,
                request.method,
                timeouts,
                streamed=(target, cast(Iterable[bytes], request.stream), request.headers),
            )
        else:
            head = request_line(request.method, target) + header_lines(request.headers.raw)
            raw = self.send(origin, request.method, timeouts, head + b"\r\n" + content)
        return raw.as_httpx()

    def send_direct(self, request: DirectRequest) -> RawResponse:
        return self.send(request.origin, request.method, request.timeouts, request.message())

    def send(
        self,
        origin: tuple[str, str, int],
        method: str,
        timeouts: dict[str, float | None],
        message: bytes = b"",
        *,
        streamed: tuple[bytes, Iterable[bytes], httpx2.Headers] | None = None,
    ) -> RawResponse:
        """Send `message` (a whole request: head, blank line, body) over a pooled connection
        to `origin` and read the answer's head; or, given `streamed` (target, body, headers),
        the request with urllib3. Failures are raised as httpx2's exceptions."""
        pool = self._pool(origin)
        connection = pool.checkout()
        stage = "connect"
        try:
            if connection.is_closed:
                connection.timeout = timeouts.get("connect")
                connection.connect()
            stage = "write"
            if streamed is None:
                sock = cast(socket.socket, connection.sock)
                sock.settimeout(timeouts.get("write"))
                # A server may answer (413, 401...) and close before reading the whole body.
                with suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(message)
                stage = "read"
                sock.settimeout(timeouts.get("read"))
                response = http.client.HTTPResponse(sock, method=method)
                response.begin()
                if response.will_close:
                    connection.close()  # the response keeps reading its own file
            else:
                target, body, headers = streamed
                connection.timeout = timeouts.get("write")
                with suppress(BrokenPipeError, ConnectionResetError):
                    connection.request(
                        method,
                        target.decode("ascii"),
                        body=body,
                        headers=cast(Any, _header_lines(headers)),
                        preload_content=False,
                        decode_content=False,
                    )
                stage = "read"
                if connection.sock is not None:
                    connection.sock.settimeout(timeouts.get("read"))
                # http.client's own response: urllib3's wrapper around it would only add CPU.
                response = http.client.HTTPConnection.getresponse(connection)
        except Exception as exc:
            connection.close()
            raise_translated(exc, stage)
            raise  # unreachable: for the type checker
        except BaseException:
            connection.close()
            raise
        pool.requests += 1
        content_type = response.msg.get("content-type") or ""
        whole = response.length is not None and "event-stream" not in content_type
        return RawResponse(response, ResponseBody(pool, connection, response, whole))

    def close(self) -> None:
        for pool in list(self.pools.values()):
            pool.close()
