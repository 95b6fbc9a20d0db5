"""HTTP/1.1 messages as bytes for the transport (providers/adapters/transport.py): requests
written whole (a start line and header lines checked as http.client checks them), responses
read through http.client, and failures raised as httpx2's exceptions.

Kept apart from the transport's connections and pools so that each module stays one concern:
what goes on the wire and comes back here, where and over which connection there.
"""

import http.client
import re
import ssl
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import httpcore2
import httpx2
from urllib3.connection import HTTPConnection
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import SSLError as Urllib3SSLError

# The most a streamed read returns at once: whatever has arrived, up to this.
READ_SIZE = 65536


class Pool(Protocol):
    """Where a connection goes back once its response was read to its end."""

    def checkin(self, connection: HTTPConnection) -> None: ...


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


def raise_translated(exc: Exception, stage: str) -> None:
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
        pool: "Pool",
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
            raise_translated(exc, "read")
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


class RawResponse:
    """A response's status and headers as http.client parsed them, its body unread: what
    `send` returns (the OpenAI adapter's direct path reads it as is; `handle_request` makes
    an httpx2.Response of it). Reading the body to its end returns the connection to the
    pool, closing it first closes the connection (ResponseBody)."""

    __slots__ = (
        "_content",
        "headers",
        "http_version",
        "make_request",
        "reason",
        "status_code",
        "stream",
    )

    def __init__(self, response: http.client.HTTPResponse, stream: ResponseBody) -> None:
        self.status_code = response.status
        self.reason = response.reason
        self.http_version = "HTTP/1.1" if response.version == 11 else "HTTP/1.0"
        self.headers = response.msg  # case-insensitive `get`
        self.stream = stream
        # The request as an httpx2.Request, made only if asked for (exceptions carry it).
        self.make_request: Callable[[], httpx2.Request] | None = None
        self._content: bytes | None = None

    @property
    def request(self) -> httpx2.Request | None:
        return self.make_request() if self.make_request is not None else None

    @property
    def extensions(self) -> dict[str, Any]:
        return {"network_stream": self.stream}

    def read(self) -> bytes:
        if self._content is None:
            self._content = b"".join(self.stream)
        return self._content

    @property
    def content(self) -> bytes:
        return self.read()

    def iter_bytes(self) -> Iterator[bytes]:
        return iter(self.stream)

    def close(self) -> None:
        self.stream.close()

    def as_httpx(self, request: httpx2.Request | None = None) -> httpx2.Response:
        """The same response as httpx2's own transports hand it to a client (with the body
        already read, if it was)."""
        # http.client decodes header lines as Latin-1: encoding back gives the bytes received.
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        read = self._content is not None
        response = httpx2.Response(
            status_code=self.status_code,
            headers=headers,
            stream=httpx2.ByteStream(self._content or b"") if read else self.stream,
            request=request,
            extensions={
                "http_version": self.http_version.encode("ascii"),
                "reason_phrase": self.reason.encode("ascii", "replace"),
                "network_stream": self.stream,
            },
        )
        if read:
            response.read()
        return response


# What http.client's putrequest/putheader refuse, checked here since requests are written as
# bytes: a header name with a separator or line break, a line break that is no continuation,
# control characters or spaces in the request target.
_ILLEGAL_NAME = re.compile(rb"^$|[:\s\x00-\x1f\x7f]").search
_ILLEGAL_VALUE = re.compile(rb"\n(?![ \t])|\r(?![ \t\n])|\x00").search
_ILLEGAL_TARGET = re.compile(rb"[\x00-\x20\x7f]").search


def header_lines(pairs: Iterable[tuple[bytes, bytes]]) -> bytes:
    """Header lines as they go on the wire (each ending CRLF); raises ValueError, as
    http.client does, for a name or value that would break the request's framing."""
    lines = []
    for name, value in pairs:
        if _ILLEGAL_NAME(name):
            raise ValueError(f"Invalid header name {name!r}")
        if _ILLEGAL_VALUE(value):
            raise ValueError(f"Invalid header value {value!r}")
        lines.append(b"%b: %b\r\n" % (name, value))
    return b"".join(lines)


def request_line(method: str, target: bytes) -> bytes:
    if _ILLEGAL_TARGET(target) or _ILLEGAL_TARGET(method.encode("ascii")):
        raise http.client.InvalidURL(f"Invalid request {method} {target!r}")
    return b"%b %b HTTP/1.1\r\n" % (method.encode("ascii"), target)


class AddedHeaders:
    """The headers of a prepared request (`DirectRequest`) as ObservedTransport and the tracing
    span see them: whether a name is among them, and item assignment, which appends a line."""

    __slots__ = ("added", "lines", "names")

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names  # lower-case names of the prepared lines
        self.added: list[tuple[bytes, bytes]] = []
        self.lines = b""

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        name = name.lower()
        return name in self.names or any(n.lower() == name.encode() for n, _ in self.added)

    def __setitem__(self, name: str, value: str) -> None:
        pair = (name.encode("ascii"), value.encode("latin-1"))
        self.lines += header_lines((pair,))
        self.added.append(pair)


class DirectRequest:
    """One request whose head was prepared once and is sent as bytes (`send`): the start line
    and header lines, then Content-Length for `body`, then any header added on the way (the
    request id, traceparent). `method` and `url` are there for the tracing span."""

    __slots__ = ("body", "head", "headers", "method", "origin", "timeouts", "url")

    def __init__(
        self,
        *,
        origin: tuple[str, str, int],
        method: str,
        url: httpx2.URL,
        head: bytes,
        names: frozenset[str],
        body: bytes,
        timeouts: dict[str, float | None],
    ) -> None:
        self.origin = origin
        self.method = method
        self.url = url
        self.head = head
        self.headers = AddedHeaders(names)
        self.body = body
        self.timeouts = timeouts

    def message(self) -> bytes:
        return b"%bContent-Length: %d\r\n%b\r\n%b" % (
            self.head,
            len(self.body),
            self.headers.lines,
            self.body,
        )


def origin_of(url: httpx2.URL) -> tuple[str, str, int]:
    scheme = url.scheme
    if scheme not in ("http", "https"):
        raise httpx2.UnsupportedProtocol(f"Request URL has an unsupported protocol {scheme!r}.")
    return (scheme, url.raw_host.decode("ascii"), url.port or (443 if scheme == "https" else 80))
