"""Every error class the Anthropic adapter raises, driven from the fake's real HTTP answers."""

import json
import socket

import anthropic
import httpx2
import pytest

from providers.adapters.anthropic_adapter import AnthropicAdapter
from providers.adapters.errors import (
    ContextLengthExceededError,
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
from providers.adapters.types import ChatRequest, Message, TextDelta

REQUEST = ChatRequest(model="claude-sonnet-4-6", messages=(Message(role="user", content="Hi"),))


@pytest.fixture
def adapter(anthropic_adapter) -> AnthropicAdapter:
    return anthropic_adapter


def complete(adapter: AnthropicAdapter) -> None:
    adapter.complete(REQUEST)


def stream(adapter: AnthropicAdapter) -> None:
    list(adapter.stream(REQUEST))


def assert_no_secret(error: ProviderError, secret: str) -> None:
    for text in (str(error), repr(error), error.message, json.dumps(error.details, default=str)):
        assert secret not in text


@pytest.mark.parametrize("call", [complete, stream], ids=["complete", "stream"])
@pytest.mark.parametrize(
    ("status", "error_class", "retryable"),
    [
        (400, ProviderBadRequestError, False),
        (401, ProviderAuthenticationError, False),
        (403, ProviderPermissionError, False),
        (404, ModelNotFoundError, False),
        (413, ProviderBadRequestError, False),
        (500, ProviderUnavailableError, True),
        (503, ProviderUnavailableError, True),
        (529, ProviderUnavailableError, True),
    ],
)
def test_upstream_statuses_map_to_the_taxonomy(
    adapter, anthropic_fake, call, status, error_class, retryable
):
    anthropic_fake.faults.status = status

    with pytest.raises(error_class) as caught:
        call(adapter)

    error = caught.value
    assert type(error) is error_class
    assert error.retryable is retryable
    assert error.status_code == status
    assert error.provider == "anthropic-fake"
    assert f"fake error {status}" in error.message
    assert isinstance(error.__cause__, anthropic.APIStatusError)
    assert_no_secret(error, anthropic_fake.api_key)


def test_overloaded_529_keeps_anthropics_error_type(adapter, anthropic_fake):
    anthropic_fake.faults.status = 529

    with pytest.raises(ProviderUnavailableError) as caught:
        complete(adapter)

    assert caught.value.details["upstream_type"] == "overloaded_error"


@pytest.mark.parametrize("call", [complete, stream], ids=["complete", "stream"])
def test_rate_limit_carries_retry_after(adapter, anthropic_fake, call):
    anthropic_fake.faults.status = 429
    anthropic_fake.faults.retry_after = 7

    with pytest.raises(RateLimitedError) as caught:
        call(adapter)

    error = caught.value
    assert error.retryable is True
    assert error.retry_after == 7.0
    assert error.headers() == {"Retry-After": "7"}
    assert error.details["upstream_type"] == "rate_limit_error"
    assert_no_secret(error, anthropic_fake.api_key)


def test_context_length_only_from_a_structured_error_code(adapter, anthropic_fake):
    anthropic_fake.faults.status = 400
    anthropic_fake.faults.error_code = "prompt_too_long"

    with pytest.raises(ContextLengthExceededError) as caught:
        complete(adapter)
    assert caught.value.details["upstream_code"] == "prompt_too_long"

    # A 400 with no structured code stays a plain bad request, whatever its message says.
    anthropic_fake.faults.error_code = None
    with pytest.raises(ProviderBadRequestError) as caught:
        complete(adapter)
    assert type(caught.value) is ProviderBadRequestError


def test_a_wrong_key_is_refused_by_the_fake_and_never_echoed(anthropic_fake):
    wrong = "sk-ant-wrong-key-0000000000"
    adapter = AnthropicAdapter(anthropic_fake.provider_settings(api_key=wrong))

    with pytest.raises(ProviderAuthenticationError) as caught:
        complete(adapter)

    assert caught.value.status_code == 401
    assert caught.value.request_id.startswith("req_fake_")
    assert_no_secret(caught.value, wrong)


def test_a_key_in_the_providers_message_is_scrubbed(adapter, anthropic_fake):
    key = anthropic_fake.api_key
    response = httpx2.Response(
        400,
        json={"type": "error", "error": {"type": "invalid_request_error", "message": f"bad {key}"}},
        request=httpx2.Request("POST", f"{anthropic_fake.url}/v1/messages"),
    )
    sdk_error = anthropic.BadRequestError(
        "Error code: 400", response=response, body=response.json()
    )

    error = adapter.translate_error(sdk_error)

    assert isinstance(error, ProviderBadRequestError)
    assert "[REDACTED]" in error.message
    assert_no_secret(error, key)


@pytest.mark.parametrize("call", [complete, stream], ids=["complete", "stream"])
def test_a_slow_answer_times_out(anthropic_fake, call):
    adapter = AnthropicAdapter(anthropic_fake.provider_settings(timeout=0.2))
    anthropic_fake.faults.delay = 0.6

    with pytest.raises(ProviderTimeoutError) as caught:
        call(adapter)

    assert caught.value.retryable is True


def test_connection_refused_is_unavailable(anthropic_fake):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = AnthropicAdapter(
        anthropic_fake.provider_settings(base_url=f"http://127.0.0.1:{port}")
    )

    with pytest.raises(ProviderUnavailableError) as caught:
        complete(adapter)

    assert type(caught.value) is ProviderUnavailableError
    assert caught.value.retryable is True


@pytest.mark.parametrize("call", [complete, stream], ids=["complete", "stream"])
def test_malformed_json_is_a_malformed_response(adapter, anthropic_fake, call):
    anthropic_fake.faults.malformed_json = True

    with pytest.raises(MalformedResponseError) as caught:
        call(adapter)

    assert caught.value.retryable is True


def test_a_stream_cut_half_way_is_interrupted_after_the_events_so_far(adapter, anthropic_fake):
    anthropic_fake.faults.cut_stream_after = 5  # message_start, block start, ping, 2 deltas
    received = []

    with pytest.raises(StreamInterruptedError) as caught:
        for event in adapter.stream(REQUEST):
            received.append(event)

    assert [e.text for e in received if isinstance(e, TextDelta)] == ["Hello ", "from "]
    assert caught.value.retryable is True
    assert_no_secret(caught.value, anthropic_fake.api_key)


def test_an_error_event_mid_stream_is_interrupted(adapter, anthropic_fake):
    anthropic_fake.stream_error = "overloaded_error"
    received = []

    with pytest.raises(StreamInterruptedError) as caught:
        for event in adapter.stream(REQUEST):
            received.append(event)

    assert any(isinstance(e, TextDelta) for e in received)
    assert "overloaded_error" in caught.value.message
    assert caught.value.request_id.startswith("req_fake_")
