"""A small threaded HTTP server that fake providers build on.

Each fake (openai_server, anthropic_server, gemini_server) subclasses FakeServer, answers its
provider's wire format in `route`, and shapes errors in `error_body`. Tests switch failures on
with `server.faults` (an upstream status with Retry-After, a slow answer, malformed JSON, a
stream cut half-way, a stream that trickles one event per `event_interval` seconds),
optionally for only the next N requests, and read what was sent from
`server.requests`. Servers bind 127.0.0.1 on a random port; nothing leaves the machine.
"""

import json
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Faults:
    status: int | None = None  # answer this HTTP status with the provider's error body
    retry_after: float | None = None  # sent as Retry-After with a 429/503
    delay: float = 0.0  # seconds to wait before answering (for timeouts)
    malformed_json: bool = False  # answer 200 with a body that is not JSON
    cut_stream_after: int | None = None  # close a stream after this many events
    event_interval: float = 0.0  # seconds between stream events (a trickling upstream)
    times: int | None = None  # apply to the next N requests only (None: until reset)
    error_code: str | None = None  # provider-specific error code/type to put in the body

    def consume(self) -> "Faults | None":
        """The faults for this request (None once `times` requests have had them)."""
        if self.times is not None:
            if self.times <= 0:
                return None
            self.times -= 1
        return Faults(**{k: v for k, v in self.__dict__.items() if k != "times"})


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    raw: bytes = b""  # the body as sent (for signature checks)
    raw_query: str = ""


@dataclass
class FakeResponse:
    status: int = 200
    body: Any = None  # JSON-serialisable
    headers: dict[str, str] = field(default_factory=dict)
    events: Iterable[bytes] | None = None  # raw SSE chunks for a streamed answer


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event; `data` is JSON-encoded unless it is already a string."""
    payload = data if isinstance(data, str) else json.dumps(data)
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {payload}\n\n".encode()


class FakeServer:
    name = "fake"

    def __init__(self) -> None:
        self.faults = Faults()
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- subclass API --------------------------------------------------------------------
    def route(self, request: RecordedRequest) -> FakeResponse:
        raise NotImplementedError

    def error_body(self, status: int, code: str | None) -> Any:
        return {"error": {"message": f"fake error {status}", "code": code}}

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeServer":
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True, name=self.name).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def reset(self) -> None:
        with self._lock:
            self.faults = Faults()
            self.requests.clear()

    def last_request(self) -> RecordedRequest:
        return self.requests[-1]

    def _next_faults(self, request: RecordedRequest) -> Faults | None:
        with self._lock:
            self.requests.append(request)
            return self.faults.consume()


class _QuietServer(ThreadingHTTPServer):
    """Clients that give up (timeouts, cut streams) are expected: do not print their tracebacks."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY each keep-alive
    # response would wait ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode(errors="replace")
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            raw=raw,
            raw_query=parts.query,
        )
        faults = self.fake._next_faults(request)
        if faults and faults.delay:
            time.sleep(faults.delay)
        if faults and faults.status:
            headers = {}
            if faults.retry_after is not None:
                headers["Retry-After"] = str(faults.retry_after)
            self._send_json(
                faults.status, self.fake.error_body(faults.status, faults.error_code), headers
            )
            return
        response = self.fake.route(request)
        if faults and faults.malformed_json:
            self._send_raw(200, b'{"this is": not json', {"Content-Type": "application/json"})
            return
        if response.events is not None:
            self._send_stream(
                response,
                faults.cut_stream_after if faults else None,
                faults.event_interval if faults else 0.0,
            )
        else:
            self._send_json(response.status, response.body, response.headers)

    def _send_json(self, status: int, body: Any, headers: dict[str, str]) -> None:
        self._send_raw(
            status, json.dumps(body).encode(), {"Content-Type": "application/json", **headers}
        )

    def _send_raw(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_stream(
        self, response: FakeResponse, cut_after: int | None, interval: float = 0.0
    ) -> None:
        self.send_response(response.status)
        headers = {"Content-Type": "text/event-stream", **response.headers}
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        events: Iterator[bytes] = iter(response.events or ())
        for count, chunk in enumerate(events):
            if cut_after is not None and count >= cut_after:
                # Drop the connection mid-stream, without the terminating chunk.
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if interval and count:
                time.sleep(interval)
            try:
                self.wfile.write(f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            except OSError:  # the client hung up (a trickle cut at its deadline)
                self.close_connection = True
                return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
