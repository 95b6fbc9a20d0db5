"""The bytes-on-the-wire part under every provider SDK's client: httpx2's transport interface
over urllib3's connections.

Why: the SDKs build requests and read responses through httpx2, but httpx2's own connection
layer (httpcore2 over h11) costs more CPU per call than urllib3's connections (http.client
underneath); on the OpenAI adapter's path the switch saves some 15% of the calling thread's
CPU per call (benchmarks/test_adapter_path.py: complete, stream and embed alike). The SDKs
still see httpx2 requests, responses and exceptions, so their own errors (APIConnectionError,
APITimeoutError) and the adapters' error tables are unchanged.

What it does, and does not:
- every new connection goes through `resolve` (egress.py's address policy): it returns the
  addresses the host may be reached at, or raises (DestinationRefused); the socket connects to
  one of those very addresses, and TLS still sends the host name (SNI) and verifies it;
- keeps up to `max_keepalive` idle connections per host, never reuses one whose response body
  was not read to its end, and never waits for a free connection (no pool limit to time out);
- sends the request's headers as httpx2 set them (urllib3 adds no User-Agent,
  Accept-Encoding, Host or framing header of its own) and hands back the raw body (httpx2
  decodes any Content-Encoding itself);
- no proxies, no redirects, no retries: the SDK client and the runtime own those decisions;
- timeouts: httpx2's connect, write and read timeouts each bound their phase; there is no pool
  timeout since nothing waits for a connection.
"""

import http.client
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from typing import Any, cast

import httpcore2
import httpx2
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.util import SKIP_HEADER
from urllib3.util.connection import create_connection

# (host, port) -> the addresses a connection may be opened to; raises to refuse the host.
Resolver = Callable[[str, int], list[str]]

# The most a streamed read returns at once: whatever has arrived, up to this.
READ_SIZE = 65536


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


_TIMEOUTS: dict[str, type[httpx2.TimeoutException]] = {
    "connect": httpx2.ConnectTimeout,
    "write": httpx2.WriteTimeout,
    "read": httpx2.ReadTimeout,
}
_FAILURES: dict[str, type[httpx2.TransportError]] = {
    "connect": httpx2.ConnectError,
    "write": httpx2.WriteError,
    "read": httpx2.ReadError,
}


def translated(exc: Exception, stage: str) -> Exception:
    """The httpx2 exception for a failure while `stage` (connect, write, read) was under way,
    as httpx2's own transport would raise it; anything else is returned unchanged."""
    if isinstance(exc, httpx2.TransportError):
        return exc
    if isinstance(exc, httpcore2.ConnectError):  # the policy's DestinationRefused among them
        error: type[httpx2.TransportError] = httpx2.ConnectError
    elif isinstance(exc, http.client.HTTPException):
        error = httpx2.RemoteProtocolError  # a malformed answer, or one cut short
    elif isinstance(exc, ssl.SSLError | ssl.CertificateError | Urllib3SSLError):
        error = httpx2.ConnectError if stage == "connect" else httpx2.ReadError
    elif isinstance(exc, TimeoutError):
        error = _TIMEOUTS[stage]
    elif isinstance(exc, OSError | Urllib3Error):
        error = _FAILURES[stage]
    else:
        return exc
    return error(str(exc) or type(exc).__name__)


def _raise_translated(exc: Exception, stage: str) -> None:
    mapped = translated(exc, stage)
    if mapped is exc:
        raise exc
    raise mapped from exc


class ResponseBody(httpx2.SyncByteStream):
    """A response's body as it arrives; its connection goes back to the pool once the body was
    read to its end, and is closed if the body is closed before that.

    Read through http.client's response directly (urllib3's response wrapper would only add
    CPU: the body is handed over undecoded). Also httpcore's `network_stream` interface
    (`read(max_bytes, timeout)`): the OpenAI adapter bounds the reads that drain a stream's
    end after [DONE] by replacing `read`."""

    def __init__(
        self,
        pool: HostPool,
        connection: HTTPConnection,
        response: http.client.HTTPResponse,
        whole: bool,
    ) -> None:
        self.pool = pool
        self.connection: HTTPConnection | None = connection
        self.response = response
        self.whole = whole  # a Content-Length body that is not an event stream: one read

    def read(self, max_bytes: int | None, timeout: float | None = None) -> bytes:
        """The next bytes as soon as any have arrived, all of the body if `max_bytes` is None
        (b"" at the end); `timeout` bounds this read only."""
        connection = self.connection
        if connection is None:
            return b""
        sock = connection.sock if timeout is not None else None
        if sock is not None:
            previous = sock.gettimeout()
            sock.settimeout(timeout)
        response = self.response
        try:
            data = response.read1(max_bytes) if max_bytes else response.read()
            if not data and response.length:  # http.client's read1 ends quietly when cut
                raise http.client.IncompleteRead(b"", response.length)
        except Exception as exc:
            self.close()
            _raise_translated(exc, "read")
            raise  # unreachable: for the type checker
        finally:
            if sock is not None and connection.sock is not None:
                sock.settimeout(previous)
        if response.length == 0 or response.isclosed():  # the body's end
            self._release()
        return data

    def __iter__(self) -> Iterator[bytes]:
        if self.whole:
            data = self.read(None)
            if data:
                yield data
        while self.connection is not None:
            chunk = self.read(READ_SIZE)
            if not chunk:
                break
            yield chunk

    def _release(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            self.response.close()  # the body only (http.client leaves a counted body open)
            self.pool.checkin(connection)

    def close(self) -> None:
        if self.connection is None:
            return
        if self.response.length == 0 or self.response.isclosed():
            self._release()
            return
        connection, self.connection = self.connection, None
        self.response.close()
        connection.close()  # part of the body is unread: the connection cannot serve again


class GuardedURLLib3Transport(httpx2.BaseTransport):
    """An httpx2 transport sending over urllib3 connections that pass the address policy."""

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

    def _pool(self, url: httpx2.URL) -> HostPool:
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx2.UnsupportedProtocol(f"Request URL has an unsupported protocol {scheme!r}.")
        key = (scheme, url.raw_host.decode("ascii"), url.port or (443 if scheme == "https" else 80))
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
        pool = self._pool(request.url)
        timeouts = request.extensions.get("timeout") or {}
        try:
            body: Any = request.content or None
        except httpx2.RequestNotRead:
            body = cast(Iterable[bytes], request.stream)  # sent as httpx2 framed it
        connection = pool.checkout()
        stage = "connect"
        try:
            if connection.is_closed:
                connection.timeout = timeouts.get("connect")
                connection.connect()
            stage = "write"
            connection.timeout = timeouts.get("write")
            # A server may answer (413, 401...) and close before reading the whole body.
            with suppress(BrokenPipeError, ConnectionResetError):
                connection.request(
                    request.method,
                    request.url.raw_path.decode("ascii"),
                    body=body,
                    headers=cast(Any, _header_lines(request.headers)),
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
            _raise_translated(exc, stage)
            raise  # unreachable: for the type checker
        except BaseException:
            connection.close()
            raise
        pool.requests += 1
        # http.client decodes header lines as Latin-1: encoding back gives the bytes received.
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.msg.items()]
        content_type = response.msg.get("content-type") or ""
        whole = response.length is not None and "event-stream" not in content_type
        stream = ResponseBody(pool, connection, response, whole)
        return httpx2.Response(
            status_code=response.status,
            headers=headers,
            stream=stream,
            extensions={
                "http_version": b"HTTP/1.1" if response.version == 11 else b"HTTP/1.0",
                "reason_phrase": response.reason.encode("ascii", "replace"),
                "network_stream": stream,
            },
        )

    def close(self) -> None:
        for pool in list(self.pools.values()):
            pool.close()
