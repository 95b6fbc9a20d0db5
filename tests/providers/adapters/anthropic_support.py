"""Helpers shared by the Anthropic adapter tests: request builders and stream assembly."""

from providers.adapters.anthropic_adapter import AnthropicAdapter
from providers.adapters.types import (
    ChatRequest,
    Message,
    TextDelta,
    Tool,
    ToolCallDelta,
    UsageEvent,
)

MODEL = "claude-sonnet-4-6"
WEATHER = Tool(
    name="get_weather",
    description="Current weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}},
)
TIME = Tool(name="get_time", parameters={"type": "object", "properties": {}})


def ask(*messages: Message, **options) -> ChatRequest:
    return ChatRequest(model=MODEL, messages=messages, **options)


def user(text: str) -> Message:
    return Message(role="user", content=text)


def sent(fake) -> dict:
    """The JSON body of the last request the fake received."""
    return fake.last_request().body


def collect(adapter: AnthropicAdapter, request: ChatRequest) -> dict:
    """A stream's events, and what they add up to."""
    events = list(adapter.stream(request))
    calls: dict[int, dict] = {}
    for event in events:
        if isinstance(event, ToolCallDelta):
            call = calls.setdefault(event.index, {"id": None, "name": None, "arguments": ""})
            call["id"] = event.id or call["id"]
            call["name"] = event.name or call["name"]
            call["arguments"] += event.arguments
    return {
        "events": events,
        "text_deltas": [e.text for e in events if isinstance(e, TextDelta)],
        "tool_deltas": [e for e in events if isinstance(e, ToolCallDelta)],
        "calls": calls,
        "usage": [e.usage for e in events if isinstance(e, UsageEvent)][-1],
        "finish": events[-1],
    }
