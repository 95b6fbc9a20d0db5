"""The official anthropic SDK against /anthropic: create, stream, a tool-use round trip (plain
and streamed), count_tokens and the model list, with the OpenAI, Anthropic and Gemini fakes
serving the same service name in turn (only the selection changes). Each answered call leaves
one UsageRecord whose cost is the rendered usage at the model's prices."""

import json
from decimal import ROUND_HALF_UP, Decimal

import anthropic
import pytest

from providers.models import ConsumerAPIKey
from tests.chat.helpers import PRICES, model_create, provider_create, selection_set
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)

TOOLS = [
    {
        "name": "lookup",
        "description": "Look something up.",
        "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
    }
]


@pytest.fixture
def secret(db):
    return ConsumerAPIKey.objects.create_key(name="anthropic-sdk")[1]


@pytest.fixture
def client(live_server, secret):
    with anthropic.Anthropic(
        api_key=secret, base_url=f"{live_server.url}/anthropic", max_retries=0, timeout=20
    ) as sdk:  # closing its connections ends the live server's request threads
        yield sdk


@pytest.fixture
def chat_models(openai_fake, anthropic_fake, gemini_fake):
    return {
        "openai": model_create(
            provider_create(openai_fake, slug="oa", kind="openai"), "gpt-4o-mini"
        ),
        "anthropic": model_create(
            provider_create(anthropic_fake, slug="an", kind="anthropic"), "claude-haiku-4-5"
        ),
        "gemini": model_create(
            provider_create(gemini_fake, slug="gm", kind="gemini"), "gemini-2.5-flash"
        ),
    }


def expected_cost(usage) -> Decimal:
    """The cost of Anthropic-shaped usage at the test prices (reasoning is inside output)."""
    total = (
        usage.input_tokens * PRICES["input"]
        + (usage.cache_read_input_tokens or 0) * PRICES["cached_input"]
        + (usage.cache_creation_input_tokens or 0) * PRICES["cache_write"]
        + usage.output_tokens * PRICES["output"]
    )
    return (total / Decimal(1_000_000)).quantize(Decimal("0.00000001"), rounding=ROUND_HALF_UP)


def check_record(request_id: str, usage, model_string: str) -> None:
    [record] = UsageRecord.objects.filter(request_id=request_id)
    assert record.model_string == model_string and record.outcome == "ok"
    assert record.service == "assistant"
    assert record.input_tokens == usage.input_tokens
    assert record.output_tokens + record.reasoning_tokens == usage.output_tokens
    assert record.cost == expected_cost(usage) > 0


def check_create(client, model_string: str) -> None:
    raw = client.messages.with_raw_response.create(
        model="assistant",
        max_tokens=256,
        system="Be brief.",
        messages=[{"role": "user", "content": "Say hi"}],
    )
    assert raw.headers["x-served-model"] == model_string
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.model == "assistant"  # echoed as asked, like Anthropic
    [block] = message.content
    assert block.type == "text" and "Say hi" in block.text
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    check_record(raw.headers["x-request-id"], message.usage, model_string)


def check_stream(client, model_string: str) -> None:
    with client.messages.stream(
        model="assistant",
        max_tokens=256,
        messages=[{"role": "user", "content": [{"type": "text", "text": "Stream to me"}]}],
    ) as stream:
        kinds = [event.type for event in stream]
        text = "".join(stream.text_stream)  # already consumed: empty, the events hold it
        final = stream.get_final_message()
        request_id = stream.response.headers["x-request-id"]
    assert text == ""
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_start" in kinds and "content_block_stop" in kinds
    assert kinds[-2] == "message_delta"
    assert "Stream to me" in final.content[0].text
    assert final.stop_reason == "end_turn" and final.model == "assistant"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0
    check_record(request_id, final.usage, model_string)
    assert UsageRecord.objects.get(request_id=request_id).streamed


def check_tool_round_trip(client) -> None:
    messages = [{"role": "user", "content": "find cats"}]
    first = client.messages.create(
        model="assistant", max_tokens=256, messages=messages, tools=TOOLS
    )
    assert first.stop_reason == "tool_use"
    [call] = [block for block in first.content if block.type == "tool_use"]
    assert call.name == "lookup" and call.id
    assert call.input == {"query": "find cats"}
    messages.append({"role": "assistant", "content": [b.model_dump() for b in first.content]})
    messages.append(
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "three cats"}],
        }
    )
    second = client.messages.create(
        model="assistant", max_tokens=256, messages=messages, tools=TOOLS
    )
    assert second.stop_reason == "end_turn"
    assert "three cats" in second.content[0].text


def check_streamed_tool_use(client) -> None:
    with client.messages.stream(
        model="assistant",
        max_tokens=256,
        messages=[{"role": "user", "content": "find dogs"}],
        tools=TOOLS,
        tool_choice={"type": "tool", "name": "lookup"},
    ) as stream:
        partial = [e.partial_json for e in stream if e.type == "input_json"]
        final = stream.get_final_message()
    assert json.loads("".join(partial)) == {"query": "find dogs"}
    [call] = [block for block in final.content if block.type == "tool_use"]
    assert call.name == "lookup" and call.input == {"query": "find dogs"}
    assert final.stop_reason == "tool_use"


def check_count_tokens(client, kind: str) -> None:
    raw = client.messages.with_raw_response.count_tokens(
        model="assistant", messages=[{"role": "user", "content": "hi"}]
    )
    # An Anthropic provider counts; the others are estimated by the gateway.
    assert raw.headers["x-token-count"] == ("provider" if kind == "anthropic" else "estimate")
    short = raw.parse()
    long = client.messages.count_tokens(
        model="assistant",
        system="You are a careful assistant. " * 20,
        messages=[{"role": "user", "content": "hi " * 400}],
        tools=TOOLS,
    )
    assert 0 < short.input_tokens < long.input_tokens
    assert 300 <= long.input_tokens <= 1000  # ~4 characters (the fake: 1 word) a token


def test_same_service_served_by_each_provider(client, chat_models):
    for kind, model in chat_models.items():
        selection_set("assistant", model)
        before = UsageRecord.objects.count()
        check_create(client, model.model_string)
        check_stream(client, model.model_string)
        check_tool_round_trip(client)
        check_streamed_tool_use(client)
        check_count_tokens(client, kind)
        # One record per answered call (count_tokens calls no provider): 5, all this model.
        new = UsageRecord.objects.order_by("id")[before:]
        assert [r.model_string for r in new] == [model.model_string] * 5, kind


def test_model_string_and_model_list(client, chat_models, secret):
    selection_set("assistant", chat_models["gemini"])
    message = client.messages.create(
        model="an:claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "yo"}]
    )
    assert message.model == "an:claude-haiku-4-5"
    assert "yo" in message.content[0].text
    ids = [model.id for model in client.models.list()]
    assert ids[0] == "assistant"
    assert {"oa:gpt-4o-mini", "an:claude-haiku-4-5", "gm:gemini-2.5-flash"} <= set(ids)
    info = client.models.retrieve("an:claude-haiku-4-5")
    assert info.id == "an:claude-haiku-4-5" and info.type == "model"
