"""The official openai SDK against a live server: completion, streamed completion with usage,
a tool-call round trip and embeddings, with the OpenAI, Anthropic and Gemini fakes served
behind the same service name in turn (only the selection changes)."""

import json

import openai
import pytest

from providers.models import ConsumerAPIKey
from tests.chat.helpers import model_create, provider_create, selection_set
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
    _, secret = ConsumerAPIKey.objects.create_key(name="sdk-test")
    with openai.OpenAI(
        api_key=secret, base_url=f"{live_server.url}/v1", max_retries=0, timeout=20
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


def check_completion(client, expected_model: str) -> None:
    completion = client.chat.completions.with_raw_response.create(
        model="assistant", messages=[{"role": "user", "content": "Say hi"}]
    )
    assert completion.headers["x-served-model"] == expected_model
    assert completion.headers["x-request-id"].startswith("req_")
    body = completion.parse()
    assert body.object == "chat.completion"
    assert body.model == expected_model
    assert body.choices[0].message.role == "assistant"
    assert "Say hi" in body.choices[0].message.content
    assert body.choices[0].finish_reason == "stop"
    assert body.usage.prompt_tokens > 0 and body.usage.completion_tokens > 0
    record = UsageRecord.objects.get(request_id=completion.headers["x-request-id"])
    assert record.model_string == expected_model and record.outcome == "ok"
    assert record.input_tokens + record.cached_input_tokens == body.usage.prompt_tokens


def check_stream(client, expected_model: str) -> None:
    chunks = list(
        client.chat.completions.create(
            model="assistant",
            messages=[{"role": "user", "content": "Stream to me"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Stream to me" in text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage.total_tokens > 0
    assert all(c.model == expected_model for c in chunks)
    record = UsageRecord.objects.filter(streamed=True).latest("id")
    assert record.model_string == expected_model and record.outcome == "ok"
    assert record.input_tokens + record.cached_input_tokens == usage_chunk.usage.prompt_tokens


def check_tool_round_trip(client) -> None:
    messages = [{"role": "user", "content": "find cats"}]
    first = client.chat.completions.create(model="assistant", messages=messages, tools=TOOLS)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.function.name == "lookup"
    assert json.loads(call.function.arguments) == {"query": "find cats"}
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "three cats"})
    second = client.chat.completions.create(model="assistant", messages=messages, tools=TOOLS)
    assert "three cats" in second.choices[0].message.content


def check_streamed_tool_call(client) -> None:
    chunks = list(
        client.chat.completions.create(
            model="assistant",
            messages=[{"role": "user", "content": "find dogs"}],
            tools=TOOLS,
            stream=True,
        )
    )
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].function.name == "lookup" and calls[0].id
    arguments = "".join(tc.function.arguments or "" for tc in calls)
    assert json.loads(arguments) == {"query": "find dogs"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_same_service_served_by_each_provider(client, chat_models):
    for kind, model in chat_models.items():
        selection_set("assistant", model)
        expected = model.model_string
        check_completion(client, expected)
        check_stream(client, expected)
        check_tool_round_trip(client)
        check_streamed_tool_call(client)
        assert UsageRecord.objects.filter(model_string=expected).count() >= 5, kind


def test_embeddings_served_by_openai_then_gemini(client, openai_fake, gemini_fake):
    models = [
        model_create(
            provider_create(openai_fake, slug="oa", kind="openai"),
            "text-embedding-3-small",
            kind="embedding",
        ),
        model_create(
            provider_create(gemini_fake, slug="gm", kind="gemini"),
            "gemini-embedding-001",
            kind="embedding",
        ),
    ]
    for model in models:
        selection_set("embedder", model)
        result = client.embeddings.create(model="embedder", input=["one text", "another"])
        assert len(result.data) == 2
        assert len(result.data[0].embedding) > 0
        assert result.data[0].embedding != result.data[1].embedding
        assert result.model == model.model_string
        assert result.usage.prompt_tokens > 0
        floats = client.embeddings.create(
            model="embedder", input="one text", encoding_format="float"
        )
        assert floats.data[0].embedding == pytest.approx(result.data[0].embedding, abs=1e-6)
    assert UsageRecord.objects.filter(operation="embedding", outcome="ok").count() == 4


def test_models_lists_services_and_models_the_key_may_use(live_server, chat_models):
    selection_set("assistant", chat_models["openai"])
    selection_set("secret", chat_models["anthropic"])
    _, secret = ConsumerAPIKey.objects.create_key(
        name="narrow", allowed_services=["assistant"], allowed_models=["gm:gemini-2.5-flash"]
    )
    client = openai.OpenAI(api_key=secret, base_url=f"{live_server.url}/v1", max_retries=0)
    ids = {model.id for model in client.models.list()}
    assert ids == {"assistant", "gm:gemini-2.5-flash"}
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="secret", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "model_not_found"
