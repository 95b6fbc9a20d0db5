"""The official openai SDK's `responses` against a live server, the service `assistant` served
by the OpenAI, Anthropic and Gemini fakes in turn (only the selection changes): a plain
response, a streamed one (raw events and the SDK's stream helper), a function call answered
through previous_response_id, a text conversation continued, structured output, retrieve and
delete, and one UsageRecord per attempt priced from the model's prices."""

import json
from decimal import Decimal

import pytest

from chat.models import StoredResponse
from tests.chat.helpers import PRICES, selection_set
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)

TOOLS = [
    {
        "type": "function",
        "name": "lookup",
        "description": "Look something up.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        "strict": False,
    }
]
MILLION = Decimal(1_000_000)


def expected_cost(record: UsageRecord) -> Decimal:
    return (
        record.input_tokens * PRICES["input"]
        + record.cached_input_tokens * PRICES["cached_input"]
        + record.cache_write_tokens * PRICES["cache_write"]
        + (record.output_tokens + record.reasoning_tokens) * PRICES["output"]
    ) / MILLION


def the_record(request_id: str, model_string: str) -> UsageRecord:
    """The one attempt of a request, served by `model_string` at the price of its tokens."""
    [record] = UsageRecord.objects.filter(request_id=request_id)
    assert record.model_string == model_string and record.outcome == "ok"
    assert record.cost == expected_cost(record) and record.cost > 0
    return record


def check_plain(sdk, model_string: str) -> None:
    raw = sdk.responses.with_raw_response.create(
        model="assistant", input="Say hi", instructions="You are terse."
    )
    assert raw.headers["x-served-model"] == model_string
    response = raw.parse()
    assert response.id.startswith("resp_") and response.object == "response"
    assert response.status == "completed" and response.model == model_string
    assert "Say hi" in response.output_text
    [message] = response.output
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "output_text"
    assert response.instructions == "You are terse."
    usage = response.usage
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    assert usage.output_tokens_details.reasoning_tokens == 0
    record = the_record(raw.headers["x-request-id"], model_string)
    assert record.input_tokens + record.cached_input_tokens == usage.input_tokens
    assert record.output_tokens == usage.output_tokens
    stored = StoredResponse.objects.get(pk=response.id)
    assert stored.usage_record_id == record.pk
    assert [turn["role"] for turn in stored.conversation] == ["user", "assistant"]


def check_streamed(sdk, model_string: str) -> None:
    events = list(sdk.responses.create(model="assistant", input="Stream to me", stream=True))
    kinds = [event.type for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert "Stream to me" in deltas
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == deltas
    final = events[-1].response
    assert final.id == events[0].response.id and final.status == "completed"
    assert final.output_text == deltas and final.model == model_string
    assert final.usage.total_tokens > 0
    record = UsageRecord.objects.filter(streamed=True).latest("id")
    assert record.model_string == model_string and record.outcome == "ok"
    assert record.cost == expected_cost(record)
    assert sdk.responses.retrieve(final.id).output_text == deltas


def check_function_call_round_trip(sdk, model_string: str) -> None:
    first = sdk.responses.create(model="assistant", input="find cats", tools=TOOLS)
    [call] = first.output
    assert call.type == "function_call" and call.name == "lookup" and call.call_id
    assert json.loads(call.arguments) == {"query": "find cats"}
    second = sdk.responses.create(
        model="assistant",
        previous_response_id=first.id,
        tools=TOOLS,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "three cats"}],
    )
    assert second.previous_response_id == first.id
    assert "three cats" in second.output_text
    assert second.model == model_string


def check_streamed_function_call(sdk) -> None:
    with sdk.responses.stream(model="assistant", input="find dogs", tools=TOOLS) as stream:
        events = list(stream)
        final = stream.get_final_response()
    arguments = "".join(
        e.delta for e in events if e.type == "response.function_call_arguments.delta"
    )
    assert json.loads(arguments) == {"query": "find dogs"}
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert done.arguments == arguments
    [call] = final.output
    assert call.type == "function_call" and call.arguments == arguments
    answer = sdk.responses.create(
        model="assistant",
        previous_response_id=final.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "two dogs"}],
    )
    assert "two dogs" in answer.output_text


def check_conversation_continued(sdk) -> None:
    first = sdk.responses.create(model="assistant", input="remember: blue")
    second = sdk.responses.create(
        model="assistant", previous_response_id=first.id, input="what colour?"
    )
    stored = StoredResponse.objects.get(pk=second.id)
    texts = [turn["content"] for turn in stored.conversation]
    assert texts[0] == "remember: blue" and texts[2] == "what colour?"
    assert [turn["role"] for turn in stored.conversation] == [
        "user",
        "assistant",
        "user",
        "assistant",
    ]


def test_each_provider_serves_the_responses_api(sdk, chat_models):
    for kind, model in chat_models.items():
        selection_set("assistant", model)
        expected = model.model_string
        check_plain(sdk, expected)
        check_streamed(sdk, expected)
        check_function_call_round_trip(sdk, expected)
        check_streamed_function_call(sdk)
        check_conversation_continued(sdk)
        records = UsageRecord.objects.filter(model_string=expected)
        assert records.count() == 8, kind  # one attempt per call above
        assert all(r.outcome == "ok" and r.cost == expected_cost(r) for r in records), kind


def test_retrieve_and_delete(sdk, chat_models):
    selection_set("assistant", chat_models["openai"])
    created = sdk.responses.create(model="assistant", input="keep me")
    fetched = sdk.responses.retrieve(created.id)
    assert fetched.id == created.id and fetched.output_text == created.output_text
    assert fetched.usage.total_tokens == created.usage.total_tokens
    sdk.responses.delete(created.id)
    assert not StoredResponse.objects.filter(pk=created.id).exists()


def test_structured_output(sdk, chat_models, openai_fake):
    selection_set("assistant", chat_models["openai"])
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    response = sdk.responses.create(
        model="assistant",
        input="capital of France",
        text={"format": {"type": "json_schema", "name": "answer", "schema": schema}},
    )
    assert json.loads(response.output_text) == {"answer": "capital of France"}
    assert response.text.format.type == "json_schema"
    sent = openai_fake.requests[-1].body["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == schema
    plain_json = sdk.responses.create(
        model="assistant", input="x", text={"format": {"type": "json_object"}}
    )
    assert json.loads(plain_json.output_text) == {"answer": "x"}


def test_cached_tokens_are_reported_and_priced(sdk, chat_models, openai_fake):
    selection_set("assistant", chat_models["openai"])
    openai_fake.usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 50,
        "total_tokens": 1050,
        "prompt_tokens_details": {"cached_tokens": 800},
        "completion_tokens_details": {"reasoning_tokens": 20},
    }
    raw = sdk.responses.with_raw_response.create(model="assistant", input="cache me")
    usage = raw.parse().usage
    assert usage.input_tokens == 1000 and usage.input_tokens_details.cached_tokens == 800
    assert usage.output_tokens == 50 and usage.output_tokens_details.reasoning_tokens == 20
    assert usage.total_tokens == 1050
    record = the_record(raw.headers["x-request-id"], "oa:gpt-4o-mini")
    assert (record.input_tokens, record.cached_input_tokens) == (200, 800)
    assert (
        record.cost
        == (200 * PRICES["input"] + 800 * PRICES["cached_input"]) / MILLION
        + (50 * PRICES["output"]) / MILLION
    )


def test_max_output_tokens_makes_an_incomplete_response(sdk, chat_models):
    selection_set("assistant", chat_models["openai"])
    response = sdk.responses.create(
        model="assistant", input="a long answer please", max_output_tokens=2
    )
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.max_output_tokens == 2
    events = list(
        sdk.responses.create(
            model="assistant", input="a long answer please", max_output_tokens=2, stream=True
        )
    )
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"


def test_store_false_keeps_nothing(sdk, chat_models):
    selection_set("assistant", chat_models["anthropic"])
    response = sdk.responses.create(model="assistant", input="forget me", store=False)
    streamed = list(
        sdk.responses.create(model="assistant", input="me too", store=False, stream=True)
    )
    assert response.store is False and streamed[-1].response.store is False
    assert StoredResponse.objects.count() == 0
    assert UsageRecord.objects.filter(outcome="ok").count() == 2  # still on the ledger
