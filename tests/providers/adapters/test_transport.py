"""The urllib3 transport under the SDK clients (providers/adapters/transport.py), against tiny
socket servers of this test that answer exactly the bytes each case needs."""

import gzip
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import httpx2
import pytest

from providers.adapters.egress import DestinationRefused, guarded_http_client, permitted_addresses
from providers.adapters.transport import GuardedURLLib3Transport
from tests.tls import self_signed

LOOPBACK = ("127.0.0.0/8",)

Handler = Callable[[socket.socket, "Server"], None]


class Server:
    """Accepts connections on 127.0.0.1 and runs `handler` on each, in a thread of its own."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.heads: list[bytes] = []
        self.threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._run, args=(sock,), daemon=True)
            self.threads.append(thread)  # before it runs: a test that joins them sees it
            thread.start()

    def _run(self, sock: socket.socket) -> None:
        with sock, suppress(OSError):
            self.handler(sock, self)

    def read_request(self, sock: socket.socket) -> bytes | None:
        """One request's head (its body is read and dropped), or None when the client left."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            body += sock.recv(65536)
        self.heads.append(head)
        return head


@contextmanager
def serving(handler: Handler) -> Iterator[Server]:
    server = Server(handler)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.listener.close()


@contextmanager
def client(timeout: float = 5.0, **kwargs: Any) -> Iterator[httpx2.Client]:
    transport = GuardedURLLib3Transport(
        resolve=lambda host, port: permitted_addresses(host, port, LOOPBACK), **kwargs
    )
    with httpx2.Client(transport=transport, timeout=timeout) as http:
        yield http


def keep_alive(body: bytes = b"hello", content_type: bytes = b"text/plain") -> Handler:
    """Answers every request of a connection with `body`, keeping the connection open."""

    def handler(sock: socket.socket, server: Server) -> None:
        while server.read_request(sock) is not None:
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: %b\r\nContent-Length: %d\r\n\r\n%b"
                % (content_type, len(body), body)
            )

    return handler


def pool_of(http: httpx2.Client) -> Any:
    [pool] = http._transport.pools.values()  # type: ignore[attr-defined]
    return pool


def test_a_connection_is_kept_alive_and_reused():
    with serving(keep_alive()) as server, client() as http:
        for _ in range(3):
            assert http.get(server.url + "/a").text == "hello"

    assert server.connections == 1
    pool = pool_of(http)
    assert (pool.opened, pool.requests) == (1, 3)


def test_a_streamed_body_read_to_its_end_gives_its_connection_back():
    with serving(keep_alive(b"x" * 200_000, b"text/event-stream")) as server, client() as http:
        with http.stream("GET", server.url) as response:
            assert sum(len(chunk) for chunk in response.iter_raw()) == 200_000
        assert len(pool_of(http).idle) == 1
        assert http.get(server.url).content == b"x" * 200_000

    assert server.connections == 1


def test_a_body_closed_before_its_end_closes_its_connection():
    # An event stream is read as it arrives (any other body with a length is read at once).
    with serving(keep_alive(b"x" * 500_000, b"text/event-stream")) as server, client() as http:
        with http.stream("GET", server.url) as response:
            next(response.iter_raw())
        assert pool_of(http).idle == []
        assert len(http.get(server.url).content) == 500_000

    assert server.connections == 2


def test_chunked_chunks_arrive_as_they_are_sent():
    sent_first = threading.Event()
    read_first = threading.Event()

    def handler(sock: socket.socket, server: Server) -> None:
        server.read_request(sock)
        sock.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + b"7\r\ndata: 1\r\n"
        )
        sent_first.set()
        assert read_first.wait(5)  # the client has the first chunk before the second is sent
        sock.sendall(b"7\r\ndata: 2\r\n0\r\n\r\n")
        server.read_request(sock)

    with serving(handler) as server, client() as http:
        with http.stream("GET", server.url) as response:
            chunks = response.iter_raw()
            assert next(chunks) == b"data: 1"
            read_first.set()
            assert b"".join(chunks) == b"data: 2"
        assert len(pool_of(http).idle) == 1  # the chunked body ended cleanly


def test_content_encoding_is_left_to_httpx2():
    body = gzip.compress(b'{"ok": true}')

    def handler(sock: socket.socket, server: Server) -> None:
        server.read_request(sock)
        sock.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%b"
            % (len(body), body)
        )

    with serving(handler) as server, client() as http:
        response = http.get(server.url)
    assert response.json() == {"ok": True}
    assert response.headers["content-encoding"] == "gzip"


def test_headers_are_sent_as_httpx2_set_them_and_no_others():
    with serving(keep_alive()) as server, client() as http:
        request = httpx2.Request(
            "POST",
            server.url + "/v1/x?q=1",
            headers=[("X-Trace", "a"), ("X-Trace", "b"), ("Authorization", "Bearer k")],
            content=b"{}",
        )
        http._transport.handle_request(request).read()  # below the client's default headers

    [head] = server.heads
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/x?q=1 HTTP/1.1"
    assert sorted(lines[1:]) == sorted(
        [
            b"Host: 127.0.0.1:%d" % server.port,
            b"X-Trace: a",
            b"X-Trace: b",
            b"Authorization: Bearer k",
            b"Content-Length: 2",
        ]
    )


def test_a_server_closing_mid_body_is_a_remote_protocol_error():
    def handler(sock: socket.socket, server: Server) -> None:
        server.read_request(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")

    with (
        serving(handler) as server,
        client() as http,
        pytest.raises(httpx2.RemoteProtocolError) as raised,
    ):
        http.get(server.url)
    assert raised.value.__cause__ is not None


def test_a_chunked_body_cut_short_is_a_remote_protocol_error():
    def handler(sock: socket.socket, server: Server) -> None:
        server.read_request(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")

    with (
        serving(handler) as server,
        client() as http,
        http.stream("GET", server.url) as response,
        pytest.raises(httpx2.RemoteProtocolError),
    ):
        response.read()


def test_a_server_closing_without_an_answer_is_a_remote_protocol_error():
    def handler(sock: socket.socket, server: Server) -> None:
        server.read_request(sock)

    with serving(handler) as server, client() as http, pytest.raises(httpx2.RemoteProtocolError):
        http.get(server.url)


def test_a_silent_server_is_a_read_timeout_with_its_cause():
    release = threading.Event()

    def handler(sock: socket.socket, server: Server) -> None:
        server.read_request(sock)
        release.wait(5)

    with serving(handler) as server, client(timeout=0.2) as http:
        with pytest.raises(httpx2.ReadTimeout) as raised:
            http.get(server.url)
        release.set()
    assert isinstance(raised.value.__cause__, TimeoutError)


def test_a_body_that_stalls_is_a_read_timeout():
    release = threading.Event()

    def handler(sock: socket.socket, server: Server) -> None:
        server.read_request(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        release.wait(5)

    with serving(handler) as server, client(timeout=0.2) as http:
        with pytest.raises(httpx2.ReadTimeout):
            http.get(server.url)
        release.set()


def test_the_request_timeouts_bound_each_phase():
    release = threading.Event()

    def handler(sock: socket.socket, server: Server) -> None:
        server.read_request(sock)
        release.wait(5)

    timeout = httpx2.Timeout(connect=5.0, read=0.2, write=5.0, pool=5.0)
    with serving(handler) as server, client() as http:
        with pytest.raises(httpx2.ReadTimeout):
            http.get(server.url, timeout=timeout)
        release.set()


def test_a_closed_port_is_a_connect_error():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with client() as http, pytest.raises(httpx2.ConnectError) as raised:
        http.get(f"http://127.0.0.1:{port}")
    assert isinstance(raised.value.__cause__, OSError)


def test_a_refused_destination_is_a_connect_error_caused_by_destination_refused():
    with serving(keep_alive()) as server:
        http = guarded_http_client(allowed=(), timeout=5.0)  # loopback not allowed
        with pytest.raises(httpx2.ConnectError) as raised:
            http.get(server.url)
        http.close()
    assert isinstance(raised.value.__cause__, DestinationRefused)
    assert server.connections == 0  # refused before connecting


def test_a_metadata_host_name_is_refused_before_resolving():
    http = guarded_http_client(allowed=LOOPBACK, timeout=5.0)
    with pytest.raises(httpx2.ConnectError) as raised:
        http.get("http://metadata.google.internal/computeMetadata/v1/")
    http.close()
    assert isinstance(raised.value.__cause__, DestinationRefused)


def test_a_connection_the_server_closed_while_idle_is_not_reused():
    def handler(sock: socket.socket, server: Server) -> None:
        server.read_request(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        # then closes the connection without saying so

    with serving(handler) as server, client() as http:
        assert http.get(server.url).text == "ok"
        for thread in server.threads:
            thread.join(5)
        assert http.get(server.url).text == "ok"
    assert server.connections == 2


def test_no_redirect_is_followed():
    def handler(sock: socket.socket, server: Server) -> None:
        server.read_request(sock)
        sock.sendall(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")

    with serving(handler) as server:
        http = guarded_http_client(allowed=LOOPBACK, timeout=5.0)
        assert http.get(server.url).status_code == 302
        http.close()
    assert len(server.heads) == 1


@contextmanager
def tls_serving(cert: tuple[str, str], names: list[str | None]) -> Iterator[Server]:
    """An HTTPS keep-alive server; `names` receives the SNI name of each handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    context.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment]
    answer = keep_alive()

    def handler(sock: socket.socket, server: Server) -> None:
        with context.wrap_socket(sock, server_side=True) as tls:
            answer(tls, server)

    with serving(handler) as server:
        yield server


def test_tls_connects_to_the_checked_address_and_verifies_the_host_name(tmp_path):
    cert = self_signed("localhost", tmp_path)
    names: list[str | None] = []
    trusting = ssl.create_default_context(cafile=cert[0])
    with tls_serving(cert, names) as server, client(ssl_context=trusting) as http:
        url = f"https://localhost:{server.port}/"
        assert [http.get(url).text for _ in range(2)] == ["hello", "hello"]
    assert names == ["localhost"]  # SNI sent, one handshake for both requests
    assert server.connections == 1


def test_tls_refuses_a_certificate_for_another_name(tmp_path):
    cert = self_signed("provider.example", tmp_path)
    trusting = ssl.create_default_context(cafile=cert[0])
    with (
        tls_serving(cert, []) as server,
        client(ssl_context=trusting) as http,
        pytest.raises(httpx2.ConnectError) as raised,
    ):
        http.get(f"https://localhost:{server.port}/")
    assert isinstance(raised.value.__cause__, ssl.SSLCertVerificationError)
