"""Parameter translations at the adapter edge, against the fakes: Anthropic prompt caching
(per part, per message, per tool, and the selection's automatic system+tools caching), thinking
budgets and their round trip, tool_choice with parallel_tool_calls; the per-kind table."""

import pytest

from providers.adapters.anthropic_mapping import JSON_INSTRUCTION
from providers.adapters.errors import InvalidRequestError
from providers.adapters.params import params_check, params_ignored, params_set
from providers.adapters.types import (
    ChatRequest,
    Message,
    ReasoningDelta,
    ReasoningPart,
    TextPart,
    ToolCall,
    ToolChoice,
)
from tests.providers.adapters.anthropic_support import MODEL, TIME, WEATHER, ask, sent, user

EPHEMERAL = {"type": "ephemeral"}
SYSTEM = Message(role="system", content="Be brief.")


def test_selection_caching_marks_system_and_last_tool(anthropic_adapter, anthropic_fake):
    anthropic_adapter.complete(
        ask(
            SYSTEM,
            user("hi"),
            tools=(WEATHER, TIME),
            tool_choice=ToolChoice("none"),
            cache_prompt=True,
        )
    )
    body = sent(anthropic_fake)
    assert body["system"] == [{"type": "text", "text": "Be brief.", "cache_control": EPHEMERAL}]
    assert "cache_control" not in body["tools"][0]
    assert body["tools"][1]["cache_control"] == EPHEMERAL
    assert body["messages"][0]["content"] == [{"type": "text", "text": "hi"}]


def test_selection_caching_keeps_a_client_breakpoint_and_the_json_instruction(
    anthropic_adapter, anthropic_fake
):
    hour = {"type": "ephemeral", "ttl": "1h"}
    system = Message(role="system", content=(TextPart("Rules.", cache_control=hour),))
    anthropic_adapter.complete(
        ask(
            system,
            user("hi"),
            tools=(WEATHER,),
            tool_choice=ToolChoice("none"),
            cache_prompt=True,
            json_output=True,
        )
    )
    body = sent(anthropic_fake)
    assert body["system"] == [
        {"type": "text", "text": "Rules.", "cache_control": hour},
        {"type": "text", "text": JSON_INSTRUCTION, "cache_control": EPHEMERAL},
    ]


def test_without_breakpoints_the_system_prompt_stays_a_string(anthropic_adapter, anthropic_fake):
    anthropic_adapter.complete(ask(SYSTEM, user("hi")))
    assert sent(anthropic_fake)["system"] == "Be brief."


def test_message_level_cache_control_marks_its_last_block(anthropic_adapter, anthropic_fake):
    call = ToolCall(id="toolu_1", name="get_weather", arguments='{"city": "Oslo"}')
    anthropic_adapter.complete(
        ask(
            Message(role="system", content="Rules.", cache_control=EPHEMERAL),
            Message(role="user", content="weather?", cache_control=EPHEMERAL),
            Message(role="assistant", tool_calls=(call,)),
            Message(role="tool", content="sunny", tool_call_id="toolu_1", cache_control=EPHEMERAL),
            tools=(WEATHER,),
        )
    )
    body = sent(anthropic_fake)
    assert body["system"][0]["cache_control"] == EPHEMERAL
    assert body["messages"][0]["content"][-1]["cache_control"] == EPHEMERAL
    assert body["messages"][2]["content"][0]["cache_control"] == EPHEMERAL
    assert anthropic_fake.cached_prefixes  # the fake saw a breakpoint and wrote the cache


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        (ToolChoice("required"), {"type": "any", "disable_parallel_tool_use": True}),
        (
            ToolChoice("tool", "get_time"),
            {"type": "tool", "name": "get_time", "disable_parallel_tool_use": True},
        ),
        (ToolChoice("none"), {"type": "none"}),
    ],
)
def test_parallel_tool_calls_false_rides_on_tool_choice(
    anthropic_adapter, anthropic_fake, choice, wire
):
    anthropic_adapter.complete(
        ask(user("hi"), tools=(WEATHER, TIME), tool_choice=choice, parallel_tool_calls=False)
    )
    assert sent(anthropic_fake)["tool_choice"] == wire


def test_parallel_tool_calls_true_sends_nothing(anthropic_adapter, anthropic_fake):
    anthropic_adapter.complete(ask(user("hi"), tools=(WEATHER,), parallel_tool_calls=True))
    assert "tool_choice" not in sent(anthropic_fake)


@pytest.mark.parametrize(
    ("effort", "max_tokens", "thinking", "wire_max"),
    [
        ("none", None, {"type": "disabled"}, 4096),
        ("medium", None, {"type": "enabled", "budget_tokens": 8192}, 8192 + 4096),
        ("xhigh", 5000, {"type": "enabled", "budget_tokens": 4999}, 5000),
    ],
)
def test_reasoning_effort_budgets(
    anthropic_adapter, anthropic_fake, effort, max_tokens, thinking, wire_max
):
    anthropic_adapter.complete(ask(user("hi"), reasoning_effort=effort, max_tokens=max_tokens))
    body = sent(anthropic_fake)
    assert body["thinking"] == thinking and body["max_tokens"] == wire_max


@pytest.mark.parametrize("choice", [ToolChoice("required"), ToolChoice("tool", "get_time")])
def test_thinking_with_a_forced_tool_is_refused(anthropic_adapter, anthropic_fake, choice):
    with pytest.raises(InvalidRequestError) as caught:
        anthropic_adapter.complete(
            ask(user("hi"), tools=(WEATHER, TIME), tool_choice=choice, reasoning_effort="low")
        )
    assert caught.value.public_details["param"] == "tool_choice"
    assert anthropic_fake.requests == []


def test_thinking_streams_then_arrives_whole_with_its_signature(anthropic_adapter, anthropic_fake):
    anthropic_fake.redacted_thinking = True
    events = list(anthropic_adapter.stream(ask(user("hi"), reasoning_effort="low")))
    reasoning = [e for e in events if isinstance(e, ReasoningDelta)]
    text = "".join(e.text for e in reasoning)
    parts = [e.part for e in reasoning if e.part is not None]
    assert text == "Thinking about it with 2048 tokens."
    assert parts[0] == ReasoningPart(text=text, signature=parts[0].signature)
    assert parts[0].signature.startswith("sig-")
    assert parts[1] == ReasoningPart(redacted="ZmFrZS1yZWRhY3RlZA==")


def test_unsigned_reasoning_is_not_sent_to_anthropic(anthropic_adapter, anthropic_fake):
    anthropic_adapter.complete(
        ask(
            user("hi"),
            Message(role="assistant", content="hello", reasoning=(ReasoningPart(text="from gpt"),)),
            user("again"),
        )
    )
    assert sent(anthropic_fake)["messages"][1]["content"] == [{"type": "text", "text": "hello"}]


def test_refused_parameters_name_themselves_before_any_call(anthropic_adapter, anthropic_fake):
    with pytest.raises(InvalidRequestError) as caught:
        anthropic_adapter.complete(ask(user("hi"), logprobs=True))
    assert caught.value.public_details["param"] == "logprobs"
    assert anthropic_fake.requests == []


def test_the_table_per_kind():
    request = ChatRequest(
        model=MODEL,
        messages=(user("hi"),),
        temperature=0.2,
        seed=1,
        user="u",
        service_tier="priority",
        metadata={"a": "b"},
    )
    assert params_set(request) == ["temperature", "seed", "user", "metadata", "service_tier"]
    assert params_ignored(request, "openai") == []
    assert params_ignored(request, "openai_compatible") == []
    assert params_ignored(request, "anthropic") == [
        "temperature",
        "seed",
        "metadata",
        "service_tier",
    ]
    assert params_ignored(request, "gemini") == ["user", "metadata", "service_tier"]
    params_check(request, kind="gemini")  # nothing refused


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"frequency_penalty": 2.5}, "frequency_penalty"),
        ({"reasoning_effort": "max"}, "reasoning_effort"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ],
)
def test_out_of_range_values_are_refused_by_every_adapter(openai_fake, changes, param):
    from providers.adapters.openai_adapter import OpenAIAdapter

    adapter = OpenAIAdapter(openai_fake.provider_settings())
    with pytest.raises(InvalidRequestError) as caught:
        adapter.complete(ChatRequest(model="gpt-4o-mini", messages=(user("hi"),), **changes))
    assert caught.value.public_details["param"] == param
    assert openai_fake.requests == []
