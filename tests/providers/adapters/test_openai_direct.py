"""The OpenAI adapter's direct path (providers/adapters/openai_direct.py) against the SDK's
own `post`: the same bytes on the wire, the same exceptions, and the SDK's path kept for the
clients whose heads can change between calls."""

import dataclasses
import gzip
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import httpx2
import openai
import pytest

from config.request_context import request_id_reset, request_id_set
from providers.adapters.azure_openai_adapter import AzureOpenAIAdapter
from providers.adapters.egress import guarded_http_client
from providers.adapters.errors import ProviderError
from providers.adapters.http_wire import header_lines
from providers.adapters.openai_adapter import OpenAIAdapter
from providers.adapters.openai_direct import MAX_SHAPES, DirectPoster, direct_path_refusal
from providers.adapters.types import ChatRequest, EmbeddingRequest, Message, ProviderSettings
from tests.fakes.azure_server import DEFAULT_ENTRA_TOKEN

CHAT = ChatRequest(
    model="gpt-4o-mini",
    messages=(Message(role="system", content="Be terse."), Message(role="user", content="hé")),
    temperature=0.2,
    max_tokens=64,
)
EMBED = EmbeddingRequest(model="text-embedding-3-small", inputs=("a", "b"), dimensions=4)
COMPLETION = {
    "id": "chatcmpl-1",
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
EMBEDDINGS = {
    "data": [{"index": i, "embedding": [0.5] * 4} for i in range(2)],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 2, "total_tokens": 2},
}


def _stream_body() -> bytes:
    chunk = {
        "id": "c",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}],
    }
    return b"data: %b\n\ndata: [DONE]\n\n" % json.dumps(chunk).encode()


class Recorder:
    """A socket server that keeps every request's bytes (head and body, exactly as sent) and
    answers as an OpenAI server would; `gzip` compresses JSON answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests: list[tuple[bytes, bytes]] = []
        self.gzip = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(sock,), daemon=True).start()

    def _connection(self, sock: socket.socket) -> None:
        with sock, suppress(OSError):
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                while len(data) < length:
                    data += sock.recv(65536)
                body, data = data[:length], data[length:]
                self.requests.append((head, body))
                sock.sendall(self._answer(head, json.loads(body)))

    def _answer(self, head: bytes, body: dict[str, Any]) -> bytes:
        if body.get("stream"):
            payload = _stream_body()
            return b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" + (
                b"Content-Length: %d\r\n\r\n%b" % (len(payload), payload)
            )
        answer = EMBEDDINGS if b"/embeddings" in head.split(b"\r\n")[0] else COMPLETION
        payload = json.dumps(answer).encode()
        encoding = b""
        if self.gzip:
            payload, encoding = gzip.compress(payload), b"Content-Encoding: gzip\r\n"
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-request-id: req-up\r\n"
            b"%bContent-Length: %d\r\n\r\n%b" % (encoding, len(payload), payload)
        )

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


@contextmanager
def request_id(value: str) -> Iterator[None]:
    token = request_id_set(value)
    try:
        yield
    finally:
        request_id_reset(token)


def openai_settings(url: str, **overrides: Any) -> ProviderSettings:
    settings = ProviderSettings(
        kind="openai",
        slug="direct",
        api_key="sk-direct-0123456789abcdef",
        base_url=f"{url}/v1",
        organization="org-1",
        project="proj-1",
        extra_headers={"X-Team": "search"},
        timeout=7.5,
        max_retries=0,
        version="1",
    )
    return dataclasses.replace(settings, **overrides)


DEPLOYMENTS = json.dumps({"gpt-4o-mini": "prod", "text-embedding-3-small": "prod"})


def azure_settings(url: str, **credentials: str) -> ProviderSettings:
    return ProviderSettings(
        kind="azure_openai",
        slug="azure-direct",
        api_key="" if credentials else "azure-key-0123456789abcdef",
        base_url=url,
        credentials={"api_version": "2024-10-21", "deployments": DEPLOYMENTS} | credentials,
        timeout=5.0,
        max_retries=0,
        version="1",
    )


def sent_both_ways(adapter: OpenAIAdapter, recorder: Recorder, call: Any) -> list:
    """What the fake received for `call` by the direct path, then by the SDK's `post`."""
    assert adapter.direct is not None
    direct = adapter.direct
    with request_id("req_0123456789abcdef"):
        call(adapter)
        adapter.direct = None
        try:
            call(adapter)
        finally:
            adapter.direct = direct
    assert len(recorder.requests) == 2
    return recorder.requests


SETTINGS = {
    "openai": lambda url: openai_settings(url),
    "openai_compatible": lambda url: openai_settings(
        url, kind="openai_compatible", api_key="", organization="", project=""
    ),
    "azure key": lambda url: azure_settings(url),
    "azure static token": lambda url: azure_settings(url, entra_token=DEFAULT_ENTRA_TOKEN),
}
CALLS = {
    "complete": lambda adapter: adapter.complete(CHAT),
    "stream": lambda adapter: list(adapter.stream(CHAT)),
    "embed": lambda adapter: adapter.embed(EMBED),
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("settings", SETTINGS)
def test_the_direct_path_sends_the_bytes_the_sdk_sends(recorder, settings, call):
    provider = SETTINGS[settings](recorder.url)
    adapter = (AzureOpenAIAdapter if provider.kind == "azure_openai" else OpenAIAdapter)(provider)
    try:
        (direct_head, direct_body), (sdk_head, sdk_body) = sent_both_ways(
            adapter, recorder, CALLS[call]
        )
    finally:
        adapter.close()

    # Every header, in order and with its case; no header differs between two calls.
    assert direct_head.split(b"\r\n") == sdk_head.split(b"\r\n")
    assert direct_body == sdk_body
    assert b"X-Client-Request-Id: req_0123456789abcdef" in direct_head
    assert b"x-stainless-retry-count: 0" in direct_head
    assert b"x-stainless-read-timeout: " in direct_head
    if provider.kind == "azure_openai":
        assert direct_head.startswith(b"POST /openai/deployments/prod/")
        assert b"?api-version=2024-10-21 HTTP/1.1" in direct_head.split(b"\r\n")[0]


def test_an_encoded_answer_is_decoded(recorder):
    recorder.gzip = True
    adapter = OpenAIAdapter(openai_settings(recorder.url))
    try:
        assert adapter.complete(CHAT).text == "ok"
        assert len(adapter.embed(EMBED).vectors) == 2
    finally:
        adapter.close()


def test_shapes_are_kept_per_path_and_model_within_a_bound(recorder):
    adapter = OpenAIAdapter(openai_settings(recorder.url))
    try:
        poster = adapter.direct
        assert poster is not None
        for index in range(MAX_SHAPES + 5):
            poster.shape("/chat/completions", f"model-{index}")
        assert len(poster.shapes) == MAX_SHAPES
        assert ("/chat/completions", f"model-{MAX_SHAPES + 4}") in poster.shapes
        assert ("/chat/completions", "model-0") not in poster.shapes
    finally:
        adapter.close()


# -- which clients take the direct path -----------------------------------------------------
def test_clients_with_fixed_credentials_take_the_direct_path(recorder):
    for provider in (
        openai_settings(recorder.url),
        azure_settings(recorder.url),
        azure_settings(recorder.url, entra_token=DEFAULT_ENTRA_TOKEN),
    ):
        adapter = (OpenAIAdapter if provider.kind == "openai" else AzureOpenAIAdapter)(provider)
        assert direct_path_refusal(adapter.client) is None
        assert isinstance(adapter.direct, DirectPoster)
        adapter.close()


def test_an_entra_token_provider_keeps_the_sdk_path(azure_fake):
    adapter = AzureOpenAIAdapter(
        azure_fake.provider_settings(api_key="", credentials=azure_fake.app_registration())
    )
    try:
        assert adapter.direct is None
        assert "Entra" in (direct_path_refusal(adapter.client) or "")
        assert adapter.complete(
            ChatRequest(model="gpt-4o-mini", messages=(Message(role="user", content="hi"),))
        ).text
    finally:
        adapter.close()


def _client(**kwargs: Any) -> openai.OpenAI:
    options: dict[str, Any] = {
        "api_key": "sk-x",
        "base_url": "http://127.0.0.1:9/v1",
        "http_client": guarded_http_client(allowed=None, timeout=5.0),
        "max_retries": 0,
    }
    return openai.OpenAI(**(options | kwargs))


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"api_key": lambda: "sk-rotating"}, "callable"),
        ({"max_retries": 2}, "retries"),
        ({"http_client": httpx2.Client()}, "transport"),
        ({"base_url": "http://user:secret@127.0.0.1:9/v1"}, "credentials"),
    ],
)
def test_clients_whose_heads_may_change_keep_the_sdk_path(kwargs, reason):
    client = _client(**kwargs)
    try:
        assert reason in (direct_path_refusal(client) or "")
    finally:
        client.close()


def test_http_client_hooks_keep_the_sdk_path():
    client = _client()
    client._client.event_hooks["request"].append(lambda request: None)
    assert "hooks" in (direct_path_refusal(client) or "")
    client.close()


# -- the same exceptions ----------------------------------------------------------------------
def _raised_both_ways(adapter: OpenAIAdapter, call: Any) -> list[ProviderError]:
    errors = []
    direct = adapter.direct
    for path in (direct, None):
        adapter.direct = path
        with pytest.raises(ProviderError) as caught:
            call(adapter)
        errors.append(caught.value)
    adapter.direct = direct
    return errors


def _same(first: ProviderError, second: ProviderError) -> None:
    assert type(first) is type(second)
    assert first.message == second.message
    assert (first.status_code, first.retry_after, first.request_id) == (
        second.status_code,
        second.retry_after,
        second.request_id,
    )
    cause, other = first.__cause__, second.__cause__
    assert type(cause) is type(other)
    assert str(cause) == str(other)
    assert type(cause.__cause__) is type(other.__cause__)
    if isinstance(cause, openai.APIStatusError):
        assert isinstance(other, openai.APIStatusError)
        assert cause.body == other.body
        assert cause.request_id == other.request_id
        assert cause.response.headers["retry-after"] == other.response.headers["retry-after"]
    assert cause.request.url == other.request.url
    assert cause.request.headers["authorization"] == other.request.headers["authorization"]


@pytest.mark.parametrize("call", CALLS)
def test_an_error_status_raises_what_the_sdk_raises(openai_fake, call):
    openai_fake.faults.status, openai_fake.faults.retry_after = 429, 2
    adapter = OpenAIAdapter(openai_fake.provider_settings())
    try:
        _same(*_raised_both_ways(adapter, CALLS[call]))
    finally:
        adapter.close()


def test_a_timeout_raises_what_the_sdk_raises(openai_fake):
    openai_fake.faults.delay = 0.4
    adapter = OpenAIAdapter(openai_fake.provider_settings(timeout=0.1))
    try:
        first, second = _raised_both_ways(adapter, CALLS["complete"])
        assert isinstance(first.__cause__, openai.APITimeoutError)
        _same(first, second)
    finally:
        adapter.close()


def test_a_refused_connection_raises_what_the_sdk_raises():
    with socket.create_server(("127.0.0.1", 0)) as unused:
        port = unused.getsockname()[1]
    adapter = OpenAIAdapter(openai_settings(f"http://127.0.0.1:{port}"))
    try:
        first, second = _raised_both_ways(adapter, CALLS["embed"])
        assert isinstance(first.__cause__, openai.APIConnectionError)
        _same(first, second)
    finally:
        adapter.close()


def test_a_header_that_would_break_the_request_is_refused_before_sending(recorder):
    adapter = OpenAIAdapter(openai_settings(recorder.url))
    try:
        with request_id("req_1\r\nX-Injected: yes"), pytest.raises(ValueError, match="header"):
            adapter.complete(CHAT)
        with pytest.raises(ValueError, match="header"):
            header_lines([(b"X-Ok", b"a\nb")])
        with pytest.raises(ValueError, match="header"):
            header_lines([(b"X Bad", b"a")])
    finally:
        adapter.close()
    assert recorder.requests == []
