"""Gemini tool calling: function declarations, tool choice, call ids and thought signatures."""

import base64
import json

import pytest

from providers.adapters.errors import InvalidRequestError
from providers.adapters.gemini_adapter import GeminiAdapter
from providers.adapters.types import (
    ChatRequest,
    Message,
    TextDelta,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    UsageEvent,
)
from tests.fakes.gemini_server import DEFAULT_API_KEY, GeminiFakeServer

CHAT_MODEL = "gemini-2.5-flash"
LOOKUP = Tool(
    name="lookup",
    description="Look something up.",
    parameters={"type": "object", "properties": {"query": {"type": "string"}}},
)


@pytest.fixture(scope="module")
def shared_adapter(gemini_fake_server: GeminiFakeServer) -> GeminiAdapter:
    return GeminiAdapter(gemini_fake_server.provider_settings(api_key=DEFAULT_API_KEY))


@pytest.fixture
def adapter(gemini_fake: GeminiFakeServer, shared_adapter: GeminiAdapter) -> GeminiAdapter:
    return shared_adapter


def chat(*messages: Message, **options) -> ChatRequest:
    return ChatRequest(model=CHAT_MODEL, messages=messages, **options)


def collect(adapter: GeminiAdapter, request: ChatRequest) -> list:
    return list(adapter.stream(request))


def test_tool_call_round_trip(gemini_fake, adapter):
    gemini_fake.tool_arguments = {"query": "weather in Paris", "days": 2}
    first = adapter.complete(chat(Message("user", "What's the weather?"), tools=(LOOKUP,)))

    assert first.finish_reason == "tool_calls"
    assert first.text == ""
    (call,) = first.tool_calls
    assert call.id == "call_0"  # Gemini sent no id: a stable one is generated
    assert call.name == "lookup"
    assert json.loads(call.arguments) == {"query": "weather in Paris", "days": 2}
    declaration = gemini_fake.last_request().body["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "lookup"
    assert declaration["description"] == "Look something up."

    second = adapter.complete(
        chat(
            Message("user", "What's the weather?"),
            Message("assistant", "", tool_calls=first.tool_calls),
            Message("tool", '{"forecast": "sunny"}', tool_call_id=call.id),  # no name given
            tools=(LOOKUP,),
        )
    )

    contents = gemini_fake.last_request().body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[1]["parts"] == [
        {
            "functionCall": {
                "id": "call_0",
                "name": "lookup",
                "args": {"query": "weather in Paris", "days": 2},
            }
        }
    ]
    assert contents[2]["parts"] == [
        {"functionResponse": {"id": "call_0", "name": "lookup", "response": {"forecast": "sunny"}}}
    ]
    assert second.text == 'Tool result: {"forecast": "sunny"}'
    assert second.finish_reason == "stop"


def test_parallel_tool_results_share_one_turn_and_plain_text_is_wrapped(gemini_fake, adapter):
    calls = (
        ToolCall(id="call_0", name="lookup", arguments='{"query": "a"}'),
        ToolCall(id="call_1", name="other", arguments="{}"),
    )
    response = adapter.complete(
        chat(
            Message("user", "Do both"),
            Message("assistant", "On it.", tool_calls=calls),
            Message("tool", "result a", tool_call_id="call_0"),
            Message("tool", "result b", tool_call_id="call_1", name="other"),
            tools=(LOOKUP, Tool(name="other")),
        )
    )

    contents = gemini_fake.last_request().body["contents"]
    assert len(contents) == 3
    assert contents[1]["parts"][0] == {"text": "On it."}
    assert [p["functionCall"]["name"] for p in contents[1]["parts"][1:]] == ["lookup", "other"]
    responses = [p["functionResponse"] for p in contents[2]["parts"]]
    assert [(r["name"], r["response"]) for r in responses] == [
        ("lookup", {"output": "result a"}),
        ("other", {"output": "result b"}),
    ]
    assert response.text == "Tool result: result a"


def test_tool_result_without_a_known_call_or_name_is_refused(gemini_fake, adapter):
    with pytest.raises(InvalidRequestError, match="function name"):
        adapter.complete(chat(Message("user", "hi"), Message("tool", "42", tool_call_id="call_9")))
    assert gemini_fake.requests == []


def test_streamed_tool_call_arrives_whole(gemini_fake, adapter):
    events = collect(adapter, chat(Message("user", "Find cats"), tools=(LOOKUP,)))

    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas == [
        ToolCallDelta(index=0, id="call_0", name="lookup", arguments='{"query": "Find cats"}')
    ]
    assert not [e for e in events if isinstance(e, TextDelta)]
    assert isinstance(events[-2], UsageEvent)
    assert events[-1].finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("choice", "mode", "allowed"),
    [
        (ToolChoice("auto"), "AUTO", None),
        (ToolChoice("required"), "ANY", None),
        (ToolChoice("tool", "other"), "ANY", ["other"]),
    ],
)
def test_tool_choice_maps_to_function_calling_config(gemini_fake, adapter, choice, mode, allowed):
    response = adapter.complete(
        chat(Message("user", "go"), tools=(LOOKUP, Tool(name="other")), tool_choice=choice)
    )

    config = gemini_fake.last_request().body["toolConfig"]["functionCallingConfig"]
    assert config["mode"] == mode
    assert config.get("allowedFunctionNames") == allowed
    assert response.tool_calls[0].name == (allowed or ["lookup"])[0]


def test_tool_choice_none_gets_text(gemini_fake, adapter):
    response = adapter.complete(
        chat(Message("user", "just talk"), tools=(LOOKUP,), tool_choice=ToolChoice("none"))
    )

    assert gemini_fake.last_request().body["toolConfig"]["functionCallingConfig"]["mode"] == "NONE"
    assert response.tool_calls == ()
    assert response.finish_reason == "stop"


def test_thought_signature_survives_the_round_trip_inside_the_id(gemini_fake, adapter):
    signature = base64.b64encode(b"opaque-signature-bytes").decode()
    gemini_fake.thought_signature = signature
    first = adapter.complete(chat(Message("user", "look it up"), tools=(LOOKUP,)))
    streamed = collect(adapter, chat(Message("user", "look it up"), tools=(LOOKUP,)))
    (call,) = first.tool_calls
    assert call.id.startswith("call_0")
    assert streamed[0].id == call.id  # the same id streamed or not

    adapter.complete(
        chat(
            Message("user", "look it up"),
            Message("assistant", tool_calls=first.tool_calls),
            Message("tool", "found", tool_call_id=call.id),
            tools=(LOOKUP,),
        )
    )
    parts = [p for c in gemini_fake.last_request().body["contents"] for p in c["parts"]]
    assert parts[1]["thoughtSignature"] == signature
    assert parts[1]["functionCall"]["id"] == "call_0"
    assert parts[2]["functionResponse"]["id"] == "call_0"
