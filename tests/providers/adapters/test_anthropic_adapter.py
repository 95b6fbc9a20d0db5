"""The Anthropic adapter against the fake Anthropic server, through the real anthropic SDK."""

import json

import pytest

from providers.adapters.anthropic_adapter import AnthropicAdapter
from providers.adapters.anthropic_mapping import DEFAULT_MAX_TOKENS
from providers.adapters.errors import InvalidRequestError
from providers.adapters.types import (
    Finish,
    Message,
    ToolCall,
    ToolChoice,
    Usage,
    UsageEvent,
)
from tests.providers.adapters.anthropic_support import (
    MODEL,
    TIME,
    WEATHER,
    ask,
    collect,
    sent,
    user,
)


@pytest.fixture
def adapter(anthropic_adapter) -> AnthropicAdapter:
    return anthropic_adapter


# -- complete and stream -------------------------------------------------------------------------
def test_complete_returns_text_usage_model_and_request_id(adapter, anthropic_fake):
    response = adapter.complete(ask(user("What is up")))

    assert response.text == "Hello from the Anthropic fake: What is up"
    assert response.finish_reason == "stop"
    assert response.tool_calls == ()
    assert response.model == MODEL
    assert response.request_id.startswith("req_fake_")
    # Fake counts words: 3 prompt words, 8 reply words.
    assert response.usage == Usage(input_tokens=3, output_tokens=8)
    assert response.usage.raw["input_tokens"] == 3


def test_system_prompts_go_to_system_and_max_tokens_is_always_set(adapter, anthropic_fake):
    adapter.complete(
        ask(
            Message(role="system", content="You are terse."),
            user("Hi"),
            Message(role="system", content="Answer in French."),
        )
    )

    body = sent(anthropic_fake)
    assert body["system"] == "You are terse.\n\nAnswer in French."
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS
    headers = anthropic_fake.last_request().headers
    assert "anthropic-version" in headers

    adapter.complete(ask(user("Hi"), max_tokens=50))
    assert sent(anthropic_fake)["max_tokens"] == 50
    assert "system" not in sent(anthropic_fake)


def test_stream_assembles_text_and_usage_equal_to_complete(adapter, anthropic_fake):
    request = ask(Message(role="system", content="Be kind."), user("Tell me a story"))
    completed = adapter.complete(request)

    streamed = collect(adapter, request)

    assert len(streamed["text_deltas"]) > 1
    assert "".join(streamed["text_deltas"]) == completed.text
    assert streamed["usage"] == completed.usage
    finish = streamed["finish"]
    assert isinstance(finish, Finish)
    assert finish.finish_reason == "stop"
    assert finish.model == MODEL
    assert finish.request_id.startswith("req_fake_")
    assert sent(anthropic_fake)["stream"] is True
    assert sent(anthropic_fake)["max_tokens"] == DEFAULT_MAX_TOKENS


def test_stream_usage_is_cumulative_from_message_start_and_message_delta(adapter, anthropic_fake):
    anthropic_fake.usage = {"input_tokens": 20, "cache_read_input_tokens": 5, "output_tokens": 9}

    usages = [e.usage for e in adapter.stream(ask(user("Hi"))) if isinstance(e, UsageEvent)]

    # message_start knows the input side (the output count there is a placeholder) ...
    assert (usages[0].input_tokens, usages[0].cached_input_tokens) == (20, 5)
    # ... and message_delta completes it; nothing is added twice.
    assert usages[-1] == Usage(input_tokens=20, cached_input_tokens=5, output_tokens=9)


# -- tools ----------------------------------------------------------------------------------------
def test_tool_call_round_trip(adapter, anthropic_fake):
    anthropic_fake.tool_arguments = {"city": "Paris"}
    question = user("Weather in Paris?")

    first = adapter.complete(ask(question, tools=(WEATHER, TIME)))

    assert first.finish_reason == "tool_calls"
    assert len(first.tool_calls) == 1
    call = first.tool_calls[0]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert sent(anthropic_fake)["tools"][0] == {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "input_schema": WEATHER.parameters,
    }
    assert "description" not in sent(anthropic_fake)["tools"][1]

    second = adapter.complete(
        ask(
            question,
            Message(role="assistant", content="", tool_calls=first.tool_calls),
            Message(role="tool", content="18C and sunny", tool_call_id=call.id),
            tools=(WEATHER, TIME),
        )
    )

    assert second.text == "Tool result: 18C and sunny"
    assert second.finish_reason == "stop"
    messages = sent(anthropic_fake)["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": call.id, "name": "get_weather", "input": {"city": "Paris"}}
        ],
    }
    assert messages[2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18C and sunny"}],
    }


def test_tool_call_round_trip_streamed(adapter, anthropic_fake):
    anthropic_fake.tool_arguments = {"city": "Oslo"}
    anthropic_fake.tool_preamble = "Let me check."
    question = user("Weather in Oslo?")

    streamed = collect(adapter, ask(question, tools=(WEATHER,)))

    assert "".join(streamed["text_deltas"]) == "Let me check."
    # The tool_use is content block 1, but the first tool call: index 0.
    assert {d.index for d in streamed["tool_deltas"]} == {0}
    assert len([d for d in streamed["tool_deltas"] if d.arguments]) == 2  # two JSON fragments
    call = streamed["calls"][0]
    assert call["name"] == "get_weather"
    assert call["id"].startswith("toolu_")
    assert json.loads(call["arguments"]) == {"city": "Oslo"}
    assert streamed["finish"].finish_reason == "tool_calls"

    answer = collect(
        adapter,
        ask(
            question,
            Message(
                role="assistant",
                content="Let me check.",
                tool_calls=(
                    ToolCall(id=call["id"], name=call["name"], arguments=call["arguments"]),
                ),
            ),
            Message(role="tool", content="-3C", tool_call_id=call["id"]),
            tools=(WEATHER,),
        ),
    )

    assert "".join(answer["text_deltas"]) == "Tool result: -3C"
    assert answer["finish"].finish_reason == "stop"
    assistant = sent(anthropic_fake)["messages"][1]
    assert [block["type"] for block in assistant["content"]] == ["text", "tool_use"]


def test_consecutive_tool_results_share_one_user_turn(adapter, anthropic_fake):
    calls = (
        ToolCall(id="toolu_a", name="get_weather", arguments='{"city": "Rome"}'),
        ToolCall(id="toolu_b", name="get_time", arguments=""),
    )
    adapter.complete(
        ask(
            user("Weather and time in Rome?"),
            user("Please be quick."),
            Message(role="assistant", tool_calls=calls),
            Message(role="tool", content="25C", tool_call_id="toolu_a"),
            Message(role="tool", content="14:00", tool_call_id="toolu_b"),
            user("Thanks"),
            tools=(WEATHER, TIME),
        )
    )

    messages = sent(anthropic_fake)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert [b["text"] for b in messages[0]["content"]] == [
        "Weather and time in Rome?",
        "Please be quick.",
    ]
    assert messages[1]["content"][1]["input"] == {}
    assert [b["type"] for b in messages[2]["content"]] == ["tool_result", "tool_result", "text"]
    assert [b.get("tool_use_id") for b in messages[2]["content"][:2]] == ["toolu_a", "toolu_b"]


@pytest.mark.parametrize(
    ("choice", "wire", "tool_called"),
    [
        (ToolChoice("auto"), {"type": "auto"}, "get_weather"),
        (ToolChoice("required"), {"type": "any"}, "get_weather"),
        (ToolChoice("tool", "get_time"), {"type": "tool", "name": "get_time"}, "get_time"),
        (ToolChoice("none"), {"type": "none"}, None),
    ],
)
def test_tool_choice_mapping(adapter, anthropic_fake, choice, wire, tool_called):
    response = adapter.complete(ask(user("Hi"), tools=(WEATHER, TIME), tool_choice=choice))

    assert sent(anthropic_fake)["tool_choice"] == wire
    assert [c.name for c in response.tool_calls] == ([tool_called] if tool_called else [])


def test_tool_arguments_that_are_not_a_json_object_are_refused(adapter, anthropic_fake):
    bad = Message(
        role="assistant", tool_calls=(ToolCall(id="t1", name="get_time", arguments="[1]"),)
    )

    with pytest.raises(InvalidRequestError, match=r"tool_calls\[0\]\.arguments"):
        adapter.complete(ask(user("Hi"), bad, Message(role="tool", content="x", tool_call_id="t1")))
    assert anthropic_fake.requests == []


# -- usage buckets ------------------------------------------------------------------------------
def test_usage_buckets_with_cache_read_and_cache_write(adapter, anthropic_fake):
    anthropic_fake.usage = {
        "input_tokens": 12,
        "cache_read_input_tokens": 3000,
        "cache_creation_input_tokens": 400,
        "output_tokens": 25,
    }
    expected = Usage(
        input_tokens=12, cached_input_tokens=3000, cache_write_tokens=400, output_tokens=25
    )

    completed = adapter.complete(ask(user("Hi")))
    streamed = collect(adapter, ask(user("Hi")))

    assert completed.usage == expected
    assert streamed["usage"] == expected
    # Anthropic's input_tokens excludes the cache, so the prompt is the sum of the three.
    assert completed.usage.prompt_tokens == 3412
    assert completed.usage.total_tokens == 3437


def test_thinking_tokens_move_to_reasoning_when_broken_out(adapter, anthropic_fake):
    anthropic_fake.usage = {
        "input_tokens": 10,
        "output_tokens": 90,
        "output_tokens_details": {"thinking_tokens": 60},
    }

    usage = adapter.complete(ask(user("Think"))).usage

    assert (usage.output_tokens, usage.reasoning_tokens) == (30, 60)
    assert usage.completion_tokens == 90
