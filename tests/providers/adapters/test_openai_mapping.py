"""The pure OpenAI wire mapping: edge cases that a well-behaved fake never sends."""

import pytest
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion

from providers.adapters.errors import MalformedResponseError
from providers.adapters.openai_mapping import (
    finish_reason_from_wire,
    message_to_wire,
    model_kind,
    response_from_wire,
    usage_from_wire,
)
from providers.adapters.types import Message, TextPart, Usage


def test_usage_from_the_sdk_model_and_from_a_dict_agree():
    wire = {
        "prompt_tokens": 50,
        "completion_tokens": 20,
        "total_tokens": 70,
        "prompt_tokens_details": {"cached_tokens": 10},
        "completion_tokens_details": {"reasoning_tokens": 5},
    }
    expected = Usage(input_tokens=40, cached_input_tokens=10, output_tokens=15, reasoning_tokens=5)

    assert usage_from_wire(wire) == expected
    assert usage_from_wire(CompletionUsage.model_validate(wire)) == expected
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


def test_a_completion_without_choices_is_malformed():
    completion = ChatCompletion.model_construct(
        id="x", choices=[], created=0, model="m", object="chat.completion"
    )

    with pytest.raises(MalformedResponseError):
        response_from_wire(completion)


def test_refusal_is_returned_as_text():
    completion = ChatCompletion.model_validate(
        {
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
    )

    response = response_from_wire(completion)

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
