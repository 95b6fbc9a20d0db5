"""Gemini errors: each upstream failure maps to one taxonomy class, and no key leaks."""

import json
import socket

import pytest

from providers.adapters.errors import (
    MalformedResponseError,
    ModelNotFoundError,
    ProviderAuthenticationError,
    ProviderBadRequestError,
    ProviderError,
    ProviderPermissionError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitedError,
    StreamInterruptedError,
)
from providers.adapters.gemini_adapter import GeminiAdapter
from providers.adapters.types import ChatRequest, EmbeddingRequest, Message, TextDelta
from tests.fakes.gemini_server import DEFAULT_API_KEY, GeminiFakeServer

REQUEST = ChatRequest(
    model="gemini-2.5-flash", messages=(Message("user", "a fairly long question to stream"),)
)


@pytest.fixture(scope="module")
def shared_adapter(gemini_fake_server: GeminiFakeServer) -> GeminiAdapter:
    return GeminiAdapter(gemini_fake_server.provider_settings(api_key=DEFAULT_API_KEY))


@pytest.fixture
def adapter(gemini_fake: GeminiFakeServer, shared_adapter: GeminiAdapter) -> GeminiAdapter:
    return shared_adapter


def assert_no_key(error: BaseException, key: str) -> None:
    """Neither the error nor the SDK exception chained under it (tracebacks show both)."""
    texts = [str(error), repr(error), getattr(error, "message", "")]
    if isinstance(error, ProviderError):
        texts.append(json.dumps(error.as_dict(), default=str))
    cause = error.__cause__
    if cause is not None:
        texts += [str(cause), repr(cause), json.dumps(getattr(cause, "details", None), default=str)]
    for text in texts:
        assert key not in text


def raised_by(call) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(
    ("status", "error_code", "expected", "retryable"),
    [
        (401, None, ProviderAuthenticationError, False),
        (403, None, ProviderPermissionError, False),
        (404, None, ModelNotFoundError, False),
        (400, None, ProviderBadRequestError, False),
        (400, "API_KEY_INVALID", ProviderAuthenticationError, False),
        (429, None, RateLimitedError, True),
        (500, None, ProviderUnavailableError, True),
        (503, None, ProviderUnavailableError, True),
    ],
)
def test_upstream_status_maps_to_error_class(
    gemini_fake, adapter, status, error_code, expected, retryable
):
    gemini_fake.faults.status = status
    gemini_fake.faults.error_code = error_code

    for call in (
        lambda: adapter.complete(REQUEST),
        lambda: list(adapter.stream(REQUEST)),
        adapter.list_models,
    ):
        error = raised_by(call)
        assert type(error) is expected
        assert error.status_code == status
        assert error.retryable is retryable
        assert error.provider == "gemini-fake"
        assert_no_key(error, gemini_fake.api_key)
    assert len(gemini_fake.requests) == 3  # the SDK's own retries are off


def test_wrong_key_is_an_authentication_error(gemini_fake):
    adapter = GeminiAdapter(gemini_fake.provider_settings(api_key="AIzaWRONG-key-0000000000000000"))

    error = raised_by(lambda: adapter.complete(REQUEST))

    assert type(error) is ProviderAuthenticationError  # Google answers 400 INVALID_ARGUMENT
    assert error.status_code == 400
    assert "INVALID_ARGUMENT" in error.message
    assert_no_key(error, "AIzaWRONG-key-0000000000000000")
    assert adapter.check().ok is False


def test_unknown_model_is_model_not_found(gemini_fake, adapter):
    error = raised_by(
        lambda: adapter.complete(ChatRequest(model="gemini-9", messages=REQUEST.messages))
    )

    assert type(error) is ModelNotFoundError
    assert error.status_code == 404


def test_rate_limit_keeps_retry_after_from_the_header(gemini_fake, adapter):
    gemini_fake.faults.status = 429
    gemini_fake.faults.retry_after = 7

    error = raised_by(lambda: adapter.complete(REQUEST))

    assert type(error) is RateLimitedError
    assert error.retry_after == 7.0
    assert error.headers() == {"Retry-After": "7"}


def test_rate_limit_reads_retry_info_when_there_is_no_header(gemini_fake, adapter):
    gemini_fake.faults.status = 429
    gemini_fake.retry_delay = "12s"

    error = raised_by(lambda: adapter.complete(REQUEST))

    assert type(error) is RateLimitedError
    assert error.retry_after == 12.0


def test_rate_limit_without_any_hint_has_no_retry_after(gemini_fake, adapter):
    gemini_fake.faults.status = 429

    assert raised_by(lambda: adapter.complete(REQUEST)).retry_after is None


def test_slow_answer_is_a_timeout(gemini_fake):
    adapter = GeminiAdapter(gemini_fake.provider_settings(timeout=0.3))
    gemini_fake.faults.delay = 1.0

    error = raised_by(lambda: adapter.complete(REQUEST))

    assert type(error) is ProviderTimeoutError
    assert error.retryable is True
    assert len(gemini_fake.requests) == 1


def test_connection_refused_is_unavailable(gemini_fake):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = GeminiAdapter(gemini_fake.provider_settings(base_url=f"http://127.0.0.1:{port}"))

    for call in (lambda: adapter.complete(REQUEST), lambda: list(adapter.stream(REQUEST))):
        error = raised_by(call)
        assert type(error) is ProviderUnavailableError
        assert error.retryable is True
        assert_no_key(error, gemini_fake.api_key)


@pytest.mark.parametrize(
    "call",
    [
        lambda a: a.complete(REQUEST),
        lambda a: list(a.stream(REQUEST)),
        lambda a: a.embed(EmbeddingRequest(model="gemini-embedding-001", inputs=("x",))),
        lambda a: a.list_models(),
    ],
    ids=["complete", "stream", "embed", "list_models"],
)
def test_malformed_json_is_a_malformed_response(gemini_fake, adapter, call):
    gemini_fake.faults.malformed_json = True

    error = raised_by(lambda: call(adapter))

    assert type(error) is MalformedResponseError
    assert error.retryable is True


def test_stream_cut_half_way_is_interrupted_after_the_first_deltas(gemini_fake, adapter):
    gemini_fake.faults.cut_stream_after = 1
    received = []

    with pytest.raises(StreamInterruptedError) as caught:
        for event in adapter.stream(REQUEST):
            received.append(event)

    assert [type(e) for e in received] == [TextDelta]
    assert caught.value.retryable is True
    assert caught.value.request_id and caught.value.request_id.startswith("fake-resp-")


def test_fault_for_one_request_only(gemini_fake, adapter):
    gemini_fake.faults.status = 503
    gemini_fake.faults.times = 1

    with pytest.raises(ProviderUnavailableError):
        adapter.complete(REQUEST)
    assert adapter.complete(REQUEST).text.startswith("Hello from the Gemini fake")


def test_key_in_the_url_is_scrubbed_from_errors(gemini_fake):
    """Google messages may echo the request URL; with ?key= in it, the key must not leak."""
    key = gemini_fake.api_key
    adapter = GeminiAdapter(gemini_fake.provider_settings(base_url=f"{gemini_fake.url}?key={key}"))
    gemini_fake.faults.status = 400

    error = raised_by(lambda: adapter.complete(REQUEST))

    assert gemini_fake.last_request().query["key"] == [key]  # the key did travel in the URL
    assert type(error) is ProviderBadRequestError
    assert "fake error 400" in error.message  # the upstream message is kept, scrubbed
    assert_no_key(error, key)


def test_no_key_configured_is_refused_clearly(gemini_fake):
    with pytest.raises(ProviderAuthenticationError, match="No API key"):
        GeminiAdapter(gemini_fake.provider_settings(api_key=""))
