"""The OpenAI adapter driven through the real `openai` SDK against the local fake."""

import json

import pytest

from providers.adapters.openai_adapter import OpenAIAdapter
from providers.adapters.types import (
    ChatRequest,
    Finish,
    ImagePart,
    Message,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
    UsageEvent,
)
from tests.fakes.openai_server import DEFAULT_API_KEY

SEARCH = Tool(
    name="search",
    description="Search the docs.",
    parameters={"type": "object", "properties": {"query": {"type": "string"}}},
)


def ask(text: str, **kwargs) -> ChatRequest:
    return ChatRequest(
        model="gpt-4o-mini", messages=(Message(role="user", content=text),), **kwargs
    )


@pytest.fixture(scope="module")
def shared_adapter(openai_fake_server) -> OpenAIAdapter:
    """One adapter for the module: building an SDK client costs ~70 ms (its SSL context)."""
    return OpenAIAdapter(openai_fake_server.provider_settings(api_key=DEFAULT_API_KEY))


@pytest.fixture
def adapter(shared_adapter, openai_fake) -> OpenAIAdapter:
    return shared_adapter


def collect(events) -> tuple[str, list[ToolCallDelta], list[Usage], list[Finish]]:
    events = list(events)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    usages = [e.usage for e in events if isinstance(e, UsageEvent)]
    finishes = [e for e in events if isinstance(e, Finish)]
    assert finishes and events[-1] is finishes[-1], "Finish must come last"
    return text, deltas, usages, finishes


def assemble(deltas: list[ToolCallDelta]) -> list[ToolCall]:
    calls: dict[int, dict[str, str]] = {}
    for delta in deltas:
        call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
        call["id"] = delta.id or call["id"]
        call["name"] = delta.name or call["name"]
        call["arguments"] += delta.arguments
    return [ToolCall(**calls[index]) for index in sorted(calls)]


def test_complete_returns_text_usage_model_and_request_id(adapter, openai_fake):
    response = adapter.complete(ask("what is up"))

    assert response.text == "Hello from the OpenAI fake: what is up"
    assert response.finish_reason == "stop"
    assert response.tool_calls == ()
    assert response.model == "gpt-4o-mini"
    assert response.request_id and response.request_id.startswith("req_fake")
    assert response.usage == Usage(input_tokens=3, output_tokens=8)
    assert response.usage.raw["prompt_tokens"] == 3
    request = openai_fake.last_request()
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {openai_fake.api_key}"


def test_model_is_the_one_the_provider_reports(adapter, openai_fake):
    openai_fake.reported_model = "gpt-4o-mini-2024-07-18"

    assert adapter.complete(ask("hi")).model == "gpt-4o-mini-2024-07-18"
    assert collect(adapter.stream(ask("hi")))[3][0].model == "gpt-4o-mini-2024-07-18"


def test_stream_assembles_text_and_the_same_usage_as_complete(adapter, openai_fake):
    openai_fake.reply_text = "one two three four five six"
    completed = adapter.complete(ask("count please"))

    events = list(adapter.stream(ask("count please")))
    text, deltas, usages, finishes = collect(events)

    assert sum(isinstance(e, TextDelta) for e in events) > 1  # really streamed in pieces
    assert text == completed.text == "one two three four five six"
    assert deltas == []
    assert usages[-1] == completed.usage == Usage(input_tokens=2, output_tokens=6)
    assert finishes[0].finish_reason == "stop"
    assert finishes[0].request_id and finishes[0].request_id.startswith("req_fake")
    body = openai_fake.last_request().body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_length_finish_reason(adapter, openai_fake):
    openai_fake.reply_text = "a b c d e f"

    response = adapter.complete(ask("hi", max_tokens=2))

    assert response.finish_reason == "length"
    assert response.text == "a b"
    assert collect(adapter.stream(ask("hi", max_tokens=2)))[3][0].finish_reason == "length"


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        (
            {
                "prompt_tokens_details": {"cached_tokens": 60},
                "completion_tokens_details": {"reasoning_tokens": 25},
            },
            Usage(input_tokens=40, cached_input_tokens=60, output_tokens=5, reasoning_tokens=25),
        ),
        (
            {"prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 30}},
            Usage(input_tokens=10, cached_input_tokens=60, cache_write_tokens=30, output_tokens=30),
        ),
        # OpenAI-compatible servers often send no details, or nulls.
        ({}, Usage(input_tokens=100, output_tokens=30)),
        (
            {
                "prompt_tokens_details": None,
                "completion_tokens_details": {"reasoning_tokens": None},
            },
            Usage(input_tokens=100, output_tokens=30),
        ),
    ],
)
def test_usage_buckets_subtract_cached_and_reasoning_tokens(
    adapter, openai_fake, details, expected
):
    openai_fake.usage = {
        "prompt_tokens": 100,
        "completion_tokens": 30,
        "total_tokens": 130,
        **details,
    }

    completed = adapter.complete(ask("hi")).usage
    streamed = collect(adapter.stream(ask("hi")))[2][-1]

    assert completed == streamed == expected
    assert completed.prompt_tokens == 100  # OpenAI's own totals come back unchanged
    assert completed.completion_tokens == 30
    assert completed.raw["prompt_tokens"] == 100


def test_tool_call_round_trip(adapter, openai_fake):
    openai_fake.tool_arguments = {"query": "refund policy", "limit": 3}
    first = adapter.complete(ask("find the refund policy", tools=(SEARCH,)))

    assert first.finish_reason == "tool_calls"
    assert first.text == ""
    [call] = first.tool_calls
    assert call.name == "search"
    assert json.loads(call.arguments) == {"query": "refund policy", "limit": 3}
    assert openai_fake.last_request().body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "search",
                "description": "Search the docs.",
                "parameters": SEARCH.parameters,
            },
        }
    ]

    follow_up = ChatRequest(
        model="gpt-4o-mini",
        messages=(
            Message(role="user", content="find the refund policy"),
            Message(role="assistant", tool_calls=first.tool_calls),
            Message(role="tool", content="30 days", tool_call_id=call.id, name="search"),
        ),
        tools=(SEARCH,),
    )
    final = adapter.complete(follow_up)

    assert final.text == "Tool result: 30 days"
    assert final.finish_reason == "stop"
    sent = openai_fake.last_request().body["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": "search", "arguments": call.arguments},
            }
        ],
    }
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "30 days"}


def test_streamed_tool_call_round_trip(adapter, openai_fake):
    text, deltas, usages, finishes = collect(
        adapter.stream(ask("weather in Paris", tools=(SEARCH,)))
    )

    assert text == ""
    assert finishes[0].finish_reason == "tool_calls"
    assert len([d for d in deltas if d.arguments]) == 2  # arguments arrive in fragments
    [call] = assemble(deltas)
    assert call.name == "search" and call.id.startswith("call_")
    assert json.loads(call.arguments) == {"query": "weather in Paris"}
    assert usages[-1].output_tokens > 0

    follow_up = ChatRequest(
        model="gpt-4o-mini",
        messages=(
            Message(role="user", content="weather in Paris"),
            Message(role="assistant", tool_calls=(call,)),
            Message(role="tool", content="sunny, 21C", tool_call_id=call.id),
        ),
        tools=(SEARCH,),
    )
    text, deltas, _, finishes = collect(adapter.stream(follow_up))

    assert text == "Tool result: sunny, 21C"
    assert deltas == []
    assert finishes[0].finish_reason == "stop"


def test_request_mapping_of_system_image_tool_choice_stop_and_sampling(adapter, openai_fake):
    lookup = Tool(name="lookup")
    request = ChatRequest(
        model="gpt-4o-mini",
        messages=(
            Message(role="system", content="Be brief."),
            Message(
                role="user",
                content=(
                    TextPart("What is in this picture?"),
                    ImagePart("data:image/png;base64,iVBORw0KGgo=", detail="low"),
                    ImagePart("https://example.com/cat.jpg"),
                ),
            ),
        ),
        tools=(SEARCH, lookup),
        tool_choice=ToolChoice(mode="tool", name="lookup"),
        temperature=0.2,
        top_p=0.9,
        max_tokens=64,
        stop=("END", "STOP"),
    )

    response = adapter.complete(request)

    body = openai_fake.last_request().body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this picture?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
                },
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ],
        },
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert body["tools"][1]["function"] == {"name": "lookup", "parameters": lookup.parameters}
    assert response.tool_calls[0].name == "lookup"  # the fake honours the forced tool
    assert body["temperature"] == 0.2
    assert body["top_p"] == 0.9
    assert body["stop"] == ["END", "STOP"]
    assert body["max_completion_tokens"] == 64  # OpenAI itself: max_tokens is deprecated
    assert "max_tokens" not in body
    assert "response_format" not in body


@pytest.mark.parametrize("mode", ["auto", "none", "required"])
def test_tool_choice_modes_are_sent_as_strings(adapter, openai_fake, mode):
    response = adapter.complete(ask("hello", tools=(SEARCH,), tool_choice=ToolChoice(mode=mode)))

    assert openai_fake.last_request().body["tool_choice"] == mode
    assert (response.finish_reason == "tool_calls") is (mode != "none")


def test_json_mode_and_json_schema(adapter, openai_fake):
    response = adapter.complete(ask("give json", json_output=True))

    assert openai_fake.last_request().body["response_format"] == {"type": "json_object"}
    assert json.loads(response.text) == {"answer": "give json"}

    schema = {"title": "answer", "type": "object", "properties": {"a": {"type": "string"}}}
    adapter.complete(ask("give json", json_schema=schema))
    assert openai_fake.last_request().body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema},
    }

    wrapped = {"name": "reply", "schema": schema, "strict": True}
    adapter.complete(ask("give json", json_schema=wrapped))
    assert openai_fake.last_request().body["response_format"] == {
        "type": "json_schema",
        "json_schema": wrapped,
    }


def test_count_tokens_is_unsupported(adapter, openai_fake):
    from providers.adapters.errors import UnsupportedOperationError
    from providers.adapters.types import ChatRequest, Message

    assert not adapter.supports_token_count
    with pytest.raises(UnsupportedOperationError):
        adapter.count_tokens(ChatRequest(model="m", messages=(Message(role="user", content="x"),)))
    assert openai_fake.requests == []
