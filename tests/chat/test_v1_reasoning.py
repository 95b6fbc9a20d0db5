"""Reasoning through /v1 with the official openai SDK: rendered as `reasoning_content` (and
Anthropic's signed `thinking_blocks`), sent back on the assistant turn so a tool-use
conversation with thinking continues; logprobs rendered back from OpenAI; Anthropic prompt
caching priced as cache writes, then reads."""

import json
from decimal import Decimal

import openai
import pytest

from providers.models import ConsumerAPIKey
from tests.chat.helpers import PRICES, model_create, provider_create, selection_set
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]


@pytest.fixture
def client(live_server):
    _, secret = ConsumerAPIKey.objects.create_key(name="reasoning-test")
    with openai.OpenAI(
        api_key=secret, base_url=f"{live_server.url}/v1", max_retries=0, timeout=20
    ) as sdk:
        yield sdk


def serve(fake, kind: str, name: str):
    selection_set("assistant", model_create(provider_create(fake, slug="p", kind=kind), name))


def test_anthropic_thinking_round_trips_through_a_tool_call(client, anthropic_fake):
    serve(anthropic_fake, "anthropic", "claude-haiku-4-5")
    anthropic_fake.redacted_thinking = True
    messages = [{"role": "user", "content": "find cats"}]
    first = client.chat.completions.create(
        model="assistant", messages=messages, tools=TOOLS, reasoning_effort="medium"
    )
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert message.reasoning_content.startswith("Thinking about it")
    thinking, redacted = message.thinking_blocks
    assert thinking["type"] == "thinking" and thinking["signature"].startswith("sig-")
    assert thinking["thinking"] == message.reasoning_content
    assert redacted == {"type": "redacted_thinking", "data": "ZmFrZS1yZWRhY3RlZA=="}

    # The assistant turn goes back as the SDK dumps it: its thinking blocks come with it.
    messages.append(message.model_dump(exclude_none=True))
    call = message.tool_calls[0]
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "three cats"})
    second = client.chat.completions.create(
        model="assistant", messages=messages, tools=TOOLS, reasoning_effort="medium"
    )
    assert "three cats" in second.choices[0].message.content
    sent = anthropic_fake.last_request().body["messages"][1]["content"]
    assert [block["type"] for block in sent] == ["thinking", "redacted_thinking", "tool_use"]
    assert sent[0]["signature"] == thinking["signature"]

    # Without the thinking blocks Anthropic (and the fake) refuses the turn.
    bare = dict(messages[1])
    bare.pop("thinking_blocks")
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="assistant",
            messages=[messages[0], bare, messages[2]],
            tools=TOOLS,
            reasoning_effort="medium",
        )


def test_anthropic_thinking_streams_as_reasoning_content(client, anthropic_fake):
    serve(anthropic_fake, "anthropic", "claude-haiku-4-5")
    chunks = list(
        client.chat.completions.create(
            model="assistant",
            messages=[{"role": "user", "content": "Stream to me"}],
            reasoning_effort="high",
            stream=True,
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join(getattr(d, "reasoning_content", None) or "" for d in deltas)
    assert reasoning == "Thinking about it with 4095 tokens."  # high, cut below max_tokens
    [blocks] = [d.thinking_blocks for d in deltas if getattr(d, "thinking_blocks", None)]
    assert blocks[0]["thinking"] == reasoning and blocks[0]["signature"].startswith("sig-")
    assert "Stream to me" in "".join(d.content or "" for d in deltas)


def test_reasoning_effort_with_too_small_max_tokens_on_anthropic(client, anthropic_fake):
    serve(anthropic_fake, "anthropic", "claude-haiku-4-5")
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="assistant",
            messages=[{"role": "user", "content": "hi"}],
            reasoning_effort="low",
            max_tokens=800,
        )
    assert caught.value.body["param"] == "reasoning_effort"
    assert anthropic_fake.requests == []


def test_compatible_server_reasoning_in_and_out(client, openai_fake):
    serve(openai_fake, "openai_compatible", "gpt-4o-mini")
    openai_fake.reasoning_text = "Let me think."
    first = client.chat.completions.create(
        model="assistant", messages=[{"role": "user", "content": "hi"}]
    )
    assert first.choices[0].message.reasoning_content == "Let me think."
    chunks = list(
        client.chat.completions.create(
            model="assistant", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    streamed = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices
    )
    assert streamed == "Let me think."
    client.chat.completions.create(
        model="assistant",
        messages=[
            {"role": "user", "content": "hi"},
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "user", "content": "and then?"},
        ],
    )
    assert openai_fake.last_request().body["messages"][1]["reasoning_content"] == "Let me think."


def test_openai_itself_gets_no_reasoning_content(client, openai_fake):
    serve(openai_fake, "openai", "gpt-4o-mini")
    client.chat.completions.create(
        model="assistant",
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello", "reasoning_content": "hidden"},
            {"role": "user", "content": "and then?"},
        ],
    )
    assert "reasoning_content" not in openai_fake.last_request().body["messages"][1]


def test_gemini_thoughts_are_reasoning_content(client, gemini_fake):
    serve(gemini_fake, "gemini", "gemini-2.5-flash")
    completion = client.chat.completions.create(
        model="assistant", messages=[{"role": "user", "content": "hi"}], reasoning_effort="high"
    )
    message = completion.choices[0].message
    assert message.reasoning_content == "Thinking with a budget of 24576."
    assert "Thinking" not in message.content and "hi" in message.content
    chunks = list(
        client.chat.completions.create(
            model="assistant",
            messages=[{"role": "user", "content": "hi"}],
            reasoning_effort="none",
            stream=True,
        )
    )
    assert not any(getattr(c.choices[0].delta, "reasoning_content", None) for c in chunks)
    config = gemini_fake.last_request().body["generationConfig"]["thinkingConfig"]
    assert config == {"thinking_budget": 0, "include_thoughts": False}


def test_openai_logprobs_come_back(client, openai_fake):
    serve(openai_fake, "openai", "gpt-4o-mini")
    openai_fake.reply_text = "two words"
    completion = client.chat.completions.create(
        model="assistant",
        messages=[{"role": "user", "content": "hi"}],
        logprobs=True,
        top_logprobs=1,
    )
    content = completion.choices[0].logprobs.content
    assert [entry.token for entry in content] == ["two", "words"]
    assert content[0].top_logprobs[0].token == "two"
    chunks = list(
        client.chat.completions.create(
            model="assistant",
            messages=[{"role": "user", "content": "hi"}],
            logprobs=True,
            stream=True,
        )
    )
    tokens = [
        entry.token
        for c in chunks
        if c.choices and c.choices[0].logprobs
        for entry in c.choices[0].logprobs.content
    ]
    assert "".join(tokens).replace(" ", "") == "twowords"


def test_anthropic_cache_control_priced_as_write_then_read(client, anthropic_fake):
    serve(anthropic_fake, "anthropic", "claude-haiku-4-5")
    cached = {"type": "ephemeral", "ttl": "1h"}
    messages = [
        {
            "role": "system",
            "content": [{"type": "text", "text": "A long policy. " * 20, "cache_control": cached}],
        },
        {"role": "user", "content": "hi"},
    ]
    tools = [{**TOOLS[0], "cache_control": {"type": "ephemeral"}}]
    records = []
    for _ in range(2):
        raw = client.chat.completions.with_raw_response.create(
            model="assistant", messages=messages, tools=tools, tool_choice="none"
        )
        assert "x-ignored-params" not in raw.headers
        body = anthropic_fake.last_request().body
        assert body["system"][0]["cache_control"] == cached
        assert body["tools"][0]["cache_control"] == {"type": "ephemeral"}
        records.append(UsageRecord.objects.get(request_id=raw.headers["x-request-id"]))
    write, read = records
    assert write.cache_write_tokens > 0 and write.cached_input_tokens == 0
    assert read.cached_input_tokens == write.cache_write_tokens and read.cache_write_tokens == 0
    million = Decimal(1_000_000)
    assert (
        write.cost
        == (
            write.input_tokens * PRICES["input"]
            + write.cache_write_tokens * PRICES["cache_write"]
            + write.output_tokens * PRICES["output"]
        )
        / million
    )
    assert (
        read.cost
        == (
            read.input_tokens * PRICES["input"]
            + read.cached_input_tokens * PRICES["cached_input"]
            + read.output_tokens * PRICES["output"]
        )
        / million
    )
    completion = raw.parse()
    assert completion.usage.prompt_tokens_details.cached_tokens == read.cached_input_tokens


def test_assistant_thinking_blocks_parse_into_the_request():
    from chat.v1.parsing import chat_request_parse

    request, _, _ = chat_request_parse(
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": "",
                    "reasoning_content": "plain",
                    "thinking_blocks": [
                        {"type": "thinking", "thinking": "a", "signature": "s"},
                        {"type": "redacted_thinking", "data": "d"},
                    ],
                },
            ],
        }
    )
    parts = request.messages[1].reasoning
    assert [(p.text, p.signature, p.redacted) for p in parts] == [
        ("a", "s", None),
        ("", None, "d"),
    ]
    assert json.dumps([p.signed for p in parts]) == "[true, true]"
