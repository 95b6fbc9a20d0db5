"""The OpenAI adapter reads the SDK's raw responses itself: what that must keep doing with
answers a well-behaved fake never gives, and the connection reuse it exists for."""

import json
import time
from collections.abc import Iterable, Iterator

import openai
import pytest

from providers.adapters.errors import MalformedResponseError, StreamInterruptedError
from providers.adapters.openai_adapter import OpenAIAdapter
from providers.adapters.types import (
    ChatRequest,
    Finish,
    Message,
    ReasoningDelta,
    TextDelta,
)
from tests.fakes.base import FakeResponse, RecordedRequest, sse

REQUEST = ChatRequest(model="gpt-4o-mini", messages=(Message(role="user", content="hi"),))


@pytest.fixture
def adapter(openai_fake) -> Iterator[OpenAIAdapter]:
    adapter = OpenAIAdapter(openai_fake.provider_settings())
    yield adapter
    adapter.close()


def answered_with(monkeypatch, fake, change) -> None:
    """Let the fake answer as usual, then change its answer."""
    route = fake.route

    def changed(request: RecordedRequest) -> FakeResponse:
        return change(route(request))

    monkeypatch.setattr(fake, "route", changed)


def host_pools(adapter: OpenAIAdapter) -> list:
    # The transport's per-host pools (providers/adapters/transport.py) behind the SDK's client.
    return list(adapter.client._client._transport.inner.pools.values())


def test_streams_and_completions_reuse_one_connection(adapter):
    for _ in range(3):
        assert isinstance(list(adapter.stream(REQUEST))[-1], Finish)
        adapter.complete(REQUEST)

    [pool] = host_pools(adapter)
    assert (pool.opened, pool.requests, len(pool.idle)) == (1, 6, 1)


def test_a_body_held_open_after_done_does_not_hold_the_stream(adapter, openai_fake, monkeypatch):
    def held(events: Iterable[bytes]) -> Iterator[bytes]:
        yield from events  # ends with [DONE]
        time.sleep(1.5)  # then the body stays open before its end

    def change(response: FakeResponse) -> FakeResponse:
        if response.events is not None:
            response.events = held(response.events)
        return response

    answered_with(monkeypatch, openai_fake, change)
    openai_fake.reply_text = "all of it arrives"

    started = time.monotonic()
    events = list(adapter.stream(REQUEST))

    assert time.monotonic() - started < 1.0
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "all of it arrives"
    assert isinstance(events[-1], Finish) and events[-1].finish_reason == "stop"
    assert adapter.complete(REQUEST).text == "all of it arrives"  # on a new connection


def test_an_error_event_inside_a_stream_interrupts_it_with_the_sdk_error(
    adapter, openai_fake, monkeypatch
):
    def failing(events: Iterable[bytes]) -> Iterator[bytes]:
        iterator = iter(events)
        yield next(iterator)
        yield next(iterator)
        yield sse({"error": {"message": "The engine is overloaded.", "type": "server_error"}})

    def change(response: FakeResponse) -> FakeResponse:
        response.events = failing(response.events or ())
        return response

    answered_with(monkeypatch, openai_fake, change)
    openai_fake.reply_text = "a reply long enough to need several chunks"
    received = []

    with pytest.raises(StreamInterruptedError) as caught:
        for event in adapter.stream(REQUEST):
            received.append(event)

    assert [type(e) for e in received] == [TextDelta]
    assert "The engine is overloaded." in caught.value.message
    assert type(caught.value.__cause__) is openai.APIError
    assert caught.value.__cause__.body == {
        "message": "The engine is overloaded.",
        "type": "server_error",
    }


@pytest.mark.parametrize(
    "body",
    ["<html>Bad gateway</html>", ["a", "list"], {"id": "x", "choices": None}, {"choices": [{}]}],
)
def test_a_completion_that_is_no_chat_completion_is_malformed(
    adapter, openai_fake, monkeypatch, body
):
    answered_with(monkeypatch, openai_fake, lambda response: FakeResponse(body=body))

    with pytest.raises(MalformedResponseError) as caught:
        adapter.complete(REQUEST)

    assert caught.value.retryable is True


@pytest.mark.parametrize(
    "payload", [b"data: [1, 2]\n\n", b"data: not json\n\n", b"event: ping\n\n"]
)
def test_a_stream_chunk_that_is_no_chunk_is_malformed(adapter, openai_fake, monkeypatch, payload):
    def change(response: FakeResponse) -> FakeResponse:
        response.events = [payload, sse("[DONE]")]
        return response

    answered_with(monkeypatch, openai_fake, change)

    with pytest.raises(MalformedResponseError):
        list(adapter.stream(REQUEST))


def test_reasoning_logprobs_and_usage_details_as_sent(adapter, openai_fake):
    openai_fake.reasoning_text = "Let me think."
    openai_fake.reply_text = "two words"
    openai_fake.usage = {
        "prompt_tokens": 10,
        "completion_tokens": 6,
        "total_tokens": 16,
        "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": None},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }
    request = ChatRequest(model="gpt-4o-mini", messages=REQUEST.messages, logprobs=True)

    response = adapter.complete(request)
    events = list(adapter.stream(request))

    assert response.reasoning_text == "Let me think."
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "Let me think."
    assert response.usage.cached_input_tokens == 4 and response.usage.reasoning_tokens == 3
    assert response.usage.raw["prompt_tokens_details"] == {"cached_tokens": 4}
    wire = openai_fake.last_request()
    assert wire.body["logprobs"] is True
    [token] = [entry["token"] for entry in response.logprobs["content"]][:1]
    assert token == "two"
    streamed = [e.logprobs for e in events if isinstance(e, TextDelta) and e.logprobs]
    assert streamed and all("null" not in json.dumps(lp) for lp in streamed)
