"""The pure OpenAI wire mapping: edge cases that a well-behaved fake never sends."""

import pytest

from providers.adapters.errors import MalformedResponseError
from providers.adapters.openai_mapping import (
    chunk_events,
    embeddings_from_wire,
    finish_reason_from_wire,
    message_to_wire,
    model_kind,
    response_from_wire,
    sse_data,
    usage_from_wire,
)
from providers.adapters.types import (
    Message,
    ReasoningDelta,
    TextDelta,
    TextPart,
    ToolCallDelta,
    Usage,
    UsageEvent,
)


def test_usage_from_the_wire_keeps_the_raw_object_without_nulls():
    wire = {
        "prompt_tokens": 50,
        "completion_tokens": 20,
        "total_tokens": 70,
        "prompt_tokens_details": {"cached_tokens": 10, "audio_tokens": None},
        "completion_tokens_details": {"reasoning_tokens": 5},
        "cost": None,
    }
    expected = Usage(input_tokens=40, cached_input_tokens=10, output_tokens=15, reasoning_tokens=5)

    usage = usage_from_wire(wire)

    assert usage == expected
    assert usage.raw == {
        "prompt_tokens": 50,
        "completion_tokens": 20,
        "total_tokens": 70,
        "prompt_tokens_details": {"cached_tokens": 10},
        "completion_tokens_details": {"reasoning_tokens": 5},
    }
    assert usage_from_wire(None) == Usage()


def test_usage_details_larger_than_their_totals_are_clamped():
    usage = usage_from_wire(
        {
            "prompt_tokens": 10,
            "completion_tokens": 3,
            "prompt_tokens_details": {"cached_tokens": 25, "cache_write_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 9},
        }
    )

    assert usage == Usage(cached_input_tokens=10, reasoning_tokens=3)
    assert usage.prompt_tokens == 10 and usage.completion_tokens == 3


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
        ("content_filter", "content_filter"),
        (None, "stop"),
        ("eos", "stop"),  # an unknown reason from a compatible server
    ],
)
def test_finish_reasons_are_normalised(wire, expected):
    assert finish_reason_from_wire(wire) == expected


@pytest.mark.parametrize(
    "completion",
    [
        {"id": "x", "choices": [], "created": 0, "model": "m", "object": "chat.completion"},
        {"id": "x", "model": "m"},
        {"choices": [{"index": 0, "finish_reason": "stop"}]},
        {"choices": ["not an object"]},
        ["not", "an", "object"],
        "text",
        None,
    ],
)
def test_a_completion_without_choices_is_malformed(completion):
    with pytest.raises(MalformedResponseError):
        response_from_wire(completion)


def test_refusal_is_returned_as_text():
    completion = {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "finish_reason": "content_filter",
                "message": {"role": "assistant", "content": None, "refusal": "I can't."},
            }
        ],
    }

    response = response_from_wire(completion, request_id="req_1")

    assert response.request_id == "req_1"
    assert response.text == "I can't."
    assert response.finish_reason == "content_filter"
    assert response.usage == Usage()


def test_system_parts_are_joined_and_empty_assistant_text_is_kept_a_string():
    system = Message(role="system", content=(TextPart("Be "), TextPart("brief.")))

    assert message_to_wire(system) == {"role": "system", "content": "Be brief."}
    assert message_to_wire(Message(role="assistant")) == {"role": "assistant", "content": ""}


@pytest.mark.parametrize(
    ("model_id", "kind"),
    [
        ("gpt-4o-mini", "chat"),
        ("o3-mini", "chat"),
        ("chatgpt-4o-latest", "chat"),
        ("meta-llama/Llama-3.1-8B-Instruct", "chat"),
        ("qwen2.5:7b", "chat"),
        ("text-embedding-3-small", "embedding"),
        ("nomic-embed-text", "embedding"),
        ("gpt-image-1", "unknown"),
        ("gpt-4o-transcribe", "unknown"),
        ("tts-1", "unknown"),
        ("davinci-002", "unknown"),
    ],
)
def test_model_kind_from_the_id(model_id, kind):
    assert model_kind(model_id) == kind


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        # one event per chunk, LF
        ([b'data: {"a":1}\n\n', b"data: [DONE]\n\n"], [b'{"a":1}', b"[DONE]"]),
        # CRLF and CR line ends, one chunk
        ([b"data: 1\r\n\r\ndata: 2\r\rdata:3\n\n"], [b"1", b"2", b"3"]),
        # events and lines split anywhere, a CRLF split between two chunks
        ([b"da", b"ta: 1", b"\r", b"\n", b"\r\nda", b"ta: 2\n", b"\n"], [b"1", b"2"]),
        # comments, unknown fields and an `event` name skipped; data lines joined
        (
            [b": keep-alive\n\nevent: x\nfoo: bar\ndata: a\ndata\ndata: b\n\n"],
            [b"a\n\nb"],
        ),
        # an event with a name but no data still ends at its blank line (data "")
        ([b"event: ping\n\n"], [b""]),
        # an unterminated last event is dropped, as a body that is no SSE at all
        ([b"data: 1\n\ndata: 2"], [b"1"]),
        ([b'{"this is": not json'], []),
    ],
)
def test_sse_data_reads_events_like_the_sdk(chunks, expected):
    assert list(sse_data(chunks)) == expected


def test_chunk_events_of_text_reasoning_tool_calls_and_usage():
    chunk = {
        "model": "m-1",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "reasoning_content": "think",
                    "content": "hi",
                    "tool_calls": [
                        {"index": 1, "id": "call_1", "function": {"name": "f", "arguments": "{"}}
                    ],
                },
                "logprobs": {"content": [{"token": "hi", "logprob": -0.5, "bytes": None}]},
                "finish_reason": "tool_calls",
            },
            {"index": 1, "delta": {"content": "other choice"}},
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
    }

    events, finish_reason, model = chunk_events(chunk)

    assert events == [
        ReasoningDelta(text="think"),
        TextDelta(text="hi", logprobs={"content": [{"token": "hi", "logprob": -0.5}]}),
        ToolCallDelta(index=1, id="call_1", name="f", arguments="{"),
        UsageEvent(usage=Usage(input_tokens=3, output_tokens=2)),
    ]
    assert (finish_reason, model) == ("tool_calls", "m-1")
    assert chunk_events({"choices": [], "usage": None}) == ([], None, "")
    with pytest.raises(MalformedResponseError):
        chunk_events(["not", "an", "object"])


def test_embeddings_in_input_order_and_malformed_answers():
    answer = {
        "data": [
            {"index": 1, "embedding": [3, 4.5]},
            {"index": 0, "embedding": [1.0, 2.0]},
        ],
        "model": "emb-1",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }

    response = embeddings_from_wire(answer, inputs=2, model="asked", request_id="r", provider="p")

    assert response.vectors == ((1.0, 2.0), (3.0, 4.5))
    assert response.usage == Usage(input_tokens=4)
    assert (response.model, response.request_id) == ("emb-1", "r")
    for broken in (
        {"data": answer["data"][:1]},
        {"data": [{"index": 0, "embedding": "AAAA"}, {"index": 1, "embedding": None}]},
        {"data": "x"},
        [],
    ):
        with pytest.raises(MalformedResponseError):
            embeddings_from_wire(broken, inputs=2, model="m", request_id=None, provider="p")
