"""Every OpenAI SDK failure, provoked for real against the fake, lands in the right class."""

import socket

import pytest

from providers.adapters.errors import (
    ContextLengthExceededError,
    InvalidRequestError,
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
from providers.adapters.openai_adapter import OpenAIAdapter
from providers.adapters.types import (
    ChatRequest,
    EmbeddingRequest,
    Message,
    TextDelta,
)
from tests.fakes.openai_server import DEFAULT_API_KEY

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(Message(role="user", content="hi"),))


def assert_no_secret(error: BaseException, secret: str) -> None:
    """Neither the error, its details, nor the chained SDK exception show the key."""
    chain = [error, error.__cause__, getattr(error.__cause__, "__cause__", None)]
    for item in filter(None, chain):
        assert secret not in str(item)
        assert secret not in repr(item)
    assert secret not in repr(getattr(error, "details", ""))


@pytest.fixture(scope="module")
def shared_adapter(openai_fake_server) -> OpenAIAdapter:
    """One adapter for the module: building an SDK client costs ~70 ms (its SSL context)."""
    return OpenAIAdapter(openai_fake_server.provider_settings(api_key=DEFAULT_API_KEY))


@pytest.fixture
def adapter(shared_adapter, openai_fake) -> OpenAIAdapter:
    return shared_adapter


@pytest.mark.parametrize(
    ("status", "error_code", "expected", "retryable"),
    [
        (401, None, ProviderAuthenticationError, False),
        (403, None, ProviderPermissionError, False),
        (404, None, ModelNotFoundError, False),
        (400, None, ProviderBadRequestError, False),
        (400, "context_length_exceeded", ContextLengthExceededError, False),
        (422, None, ProviderBadRequestError, False),
        (429, None, RateLimitedError, True),
        (500, None, ProviderUnavailableError, True),
        (502, None, ProviderUnavailableError, True),
        (503, None, ProviderUnavailableError, True),
        (409, None, ProviderError, False),
    ],
)
@pytest.mark.parametrize("operation", ["complete", "stream", "embed", "list_models"])
def test_status_is_mapped_by_exception_type(
    adapter, openai_fake, status, error_code, expected, retryable, operation
):
    openai_fake.faults.status = status
    openai_fake.faults.error_code = error_code
    calls = {
        "complete": lambda: adapter.complete(REQUEST),
        "stream": lambda: list(adapter.stream(REQUEST)),
        "embed": lambda: adapter.embed(EmbeddingRequest(model="m", inputs=("x",))),
        "list_models": adapter.list_models,
    }

    with pytest.raises(ProviderError) as caught:
        calls[operation]()

    error = caught.value
    assert type(error) is expected
    assert error.retryable is retryable
    assert error.status_code == status
    assert error.provider == "openai-fake"
    assert error.details == {"provider": "openai-fake", "upstream_status": status}
    assert f"HTTP {status}" in error.message
    assert_no_secret(error, openai_fake.api_key)


def test_context_length_keeps_the_providers_message(adapter, openai_fake):
    openai_fake.faults.status = 400
    openai_fake.faults.error_code = "context_length_exceeded"

    with pytest.raises(ContextLengthExceededError) as caught:
        adapter.complete(REQUEST)

    assert "maximum context length is 128000 tokens" in caught.value.message
    assert isinstance(caught.value, ProviderBadRequestError)  # still a bad request
    assert caught.value.http_status == 400


@pytest.mark.parametrize("operation", ["complete", "stream"])
def test_rate_limit_keeps_retry_after_and_request_id(adapter, openai_fake, operation):
    openai_fake.faults.status = 429
    openai_fake.faults.retry_after = 7

    with pytest.raises(RateLimitedError) as caught:
        if operation == "complete":
            adapter.complete(REQUEST)
        else:
            list(adapter.stream(REQUEST))

    assert caught.value.retry_after == 7.0
    assert caught.value.headers() == {"Retry-After": "7"}
    assert caught.value.http_status == 429


def test_unavailable_keeps_retry_after(adapter, openai_fake):
    openai_fake.faults.status = 503
    openai_fake.faults.retry_after = 2

    with pytest.raises(ProviderUnavailableError) as caught:
        adapter.complete(REQUEST)

    assert caught.value.retry_after == 2.0


def test_a_fault_for_one_request_only_then_success(adapter, openai_fake):
    openai_fake.faults.status = 500
    openai_fake.faults.times = 1

    with pytest.raises(ProviderUnavailableError):
        adapter.complete(REQUEST)
    assert adapter.complete(REQUEST).text.endswith("hi")


def test_unknown_model_from_the_provider(adapter):
    with pytest.raises(ModelNotFoundError) as caught:
        adapter.complete(ChatRequest(model="gpt-nope", messages=REQUEST.messages))

    assert "gpt-nope" in caught.value.message
    assert caught.value.request_id and caught.value.request_id.startswith("req_fake")


@pytest.mark.parametrize("operation", ["complete", "stream"])
def test_slow_answer_is_a_timeout(openai_fake, operation):
    adapter = OpenAIAdapter(openai_fake.provider_settings(timeout=0.2))
    openai_fake.faults.delay = 0.6

    with pytest.raises(ProviderTimeoutError) as caught:
        if operation == "complete":
            adapter.complete(REQUEST)
        else:
            list(adapter.stream(REQUEST))

    assert caught.value.retryable is True
    assert caught.value.status_code is None


def test_connection_refused_is_unavailable(openai_fake):
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = OpenAIAdapter(openai_fake.provider_settings(base_url=f"http://127.0.0.1:{port}/v1"))

    with pytest.raises(ProviderUnavailableError) as caught:
        adapter.complete(REQUEST)

    assert type(caught.value) is ProviderUnavailableError
    assert caught.value.retryable is True
    assert adapter.check().ok is False


@pytest.mark.parametrize("operation", ["complete", "embed", "list_models"])
def test_malformed_json_is_a_malformed_response(adapter, openai_fake, operation):
    openai_fake.faults.malformed_json = True
    calls = {
        "complete": lambda: adapter.complete(REQUEST),
        "embed": lambda: adapter.embed(EmbeddingRequest(model="m", inputs=("x",))),
        "list_models": adapter.list_models,
    }

    with pytest.raises(MalformedResponseError) as caught:
        calls[operation]()

    assert caught.value.retryable is True


def test_a_stream_without_any_event_is_malformed(adapter, openai_fake):
    openai_fake.faults.malformed_json = True

    with pytest.raises(MalformedResponseError):
        list(adapter.stream(REQUEST))


def test_stream_cut_half_way_is_interrupted_after_partial_output(adapter, openai_fake):
    openai_fake.reply_text = "a reply long enough to need several chunks"
    openai_fake.faults.cut_stream_after = 2
    received = []

    with pytest.raises(StreamInterruptedError) as caught:
        for event in adapter.stream(REQUEST):
            received.append(event)

    assert [type(e) for e in received] == [TextDelta]  # the first piece got out
    assert caught.value.retryable is True
    assert caught.value.request_id and caught.value.request_id.startswith("req_fake")


def test_wrong_key_never_appears_in_errors_even_when_the_provider_echoes_it(openai_fake):
    wrong_key = "sk-proj-wrong-0123456789abcdefghijklmnop"
    adapter = OpenAIAdapter(openai_fake.provider_settings(api_key=wrong_key))

    for call in (
        lambda: adapter.complete(REQUEST),
        lambda: list(adapter.stream(REQUEST)),
        lambda: adapter.embed(EmbeddingRequest(model="m", inputs=("x",))),
        adapter.list_models,
    ):
        with pytest.raises(ProviderAuthenticationError) as caught:
            call()
        assert "Incorrect API key provided" in caught.value.message
        assert_no_secret(caught.value, wrong_key)
        assert wrong_key not in str(caught.value.__cause__.body)
    assert wrong_key not in repr(adapter.settings)


def test_own_validation_refuses_before_any_request(adapter, openai_fake):
    with pytest.raises(InvalidRequestError):
        adapter.complete(ChatRequest(model="gpt-4o-mini", messages=()))
    with pytest.raises(InvalidRequestError):
        adapter.embed(EmbeddingRequest(model="text-embedding-3-small", inputs=()))

    assert openai_fake.requests == []


def test_non_sdk_errors_are_not_translated(adapter):
    assert adapter.translate_error(KeyError("x")) is None
