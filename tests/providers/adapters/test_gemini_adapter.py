"""The Gemini adapter driving the real google-genai SDK against the local Gemini fake."""

import base64
import json

import pytest
from pydantic.alias_generators import to_camel

from providers.adapters.errors import InvalidRequestError
from providers.adapters.gemini_adapter import GeminiAdapter
from providers.adapters.types import (
    ChatRequest,
    EmbeddingRequest,
    Finish,
    ImagePart,
    Message,
    TextDelta,
    TextPart,
    Tool,
    Usage,
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
    """Built once: creating a genai.Client loads the CA bundle, which takes a moment."""
    return GeminiAdapter(gemini_fake_server.provider_settings(api_key=DEFAULT_API_KEY))


@pytest.fixture
def adapter(gemini_fake: GeminiFakeServer, shared_adapter: GeminiAdapter) -> GeminiAdapter:
    return shared_adapter


def chat(*messages: Message, **options) -> ChatRequest:
    return ChatRequest(model=CHAT_MODEL, messages=messages, **options)


def camel(fields: dict) -> dict:
    return {to_camel(key): value for key, value in fields.items()}


def collect(adapter: GeminiAdapter, request: ChatRequest) -> list:
    return list(adapter.stream(request))


def test_client_options_key_header_version_and_timeout(gemini_fake, adapter):
    settings = gemini_fake.provider_settings(extra_headers={"x-team": "search"}, timeout=7.5)
    client = GeminiAdapter(settings).client
    options = client._api_client._http_options
    assert options.timeout == 7500  # the SDK takes milliseconds
    assert options.api_version == "v1beta"
    assert options.retry_options.attempts == 1
    assert client._api_client.vertexai is False

    adapter.complete(chat(Message("user", "hi")))
    adapter.complete(chat(Message("user", "again")))
    first, _ = gemini_fake.requests
    assert first.headers["x-goog-api-key"] == gemini_fake.api_key
    assert "key" not in first.query  # the SDK sends the key in a header, not the URL
    assert first.path == f"/v1beta/models/{CHAT_MODEL}:generateContent"
    GeminiAdapter(settings).complete(chat(Message("user", "hi")))
    assert gemini_fake.last_request().headers["x-team"] == "search"


def test_complete_returns_text_usage_model_and_request_id(gemini_fake, adapter):
    gemini_fake.model_version = "gemini-2.5-flash-001"
    response = adapter.complete(chat(Message("user", "Hello there")))

    assert response.text == "Hello from the Gemini fake: Hello there"
    assert response.tool_calls == ()
    assert response.finish_reason == "stop"
    assert response.model == "gemini-2.5-flash-001"
    assert response.request_id and response.request_id.startswith("fake-resp-")
    assert response.usage == Usage(input_tokens=2, output_tokens=7)
    assert response.usage.raw == {
        "promptTokenCount": 2,
        "candidatesTokenCount": 7,
        "totalTokenCount": 9,
    }


def test_system_instruction_roles_and_generation_config_on_the_wire(gemini_fake, adapter):
    adapter.complete(
        chat(
            Message("system", "Be brief."),
            Message("user", "Hi"),
            Message("assistant", "Hello!"),
            Message("user", "Tell me more"),
            temperature=0.2,
            top_p=0.9,
            max_tokens=64,
            stop=("END",),
        )
    )
    body = gemini_fake.last_request().body

    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert [c["parts"][0]["text"] for c in body["contents"]] == ["Hi", "Hello!", "Tell me more"]
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "maxOutputTokens": 64,
        "stopSequences": ["END"],
    }
    assert "tools" not in body


def test_json_output_with_schema(gemini_fake, adapter):
    schema = {"type": "object", "properties": {"text": {"type": "string"}}}
    response = adapter.complete(chat(Message("user", "hi"), json_output=True, json_schema=schema))

    config = gemini_fake.last_request().body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == schema
    assert json.loads(response.text) == {"text": "Hello from the Gemini fake: hi"}


def test_images_become_inline_data_and_file_data(gemini_fake, adapter):
    png = base64.b64encode(b"\x89PNG fake bytes").decode()
    adapter.complete(
        chat(
            Message(
                "user",
                (
                    TextPart("What is this?"),
                    ImagePart(f"data:image/png;base64,{png}"),
                    ImagePart("https://example.com/cat.jpg"),
                ),
            )
        )
    )
    parts = gemini_fake.last_request().body["contents"][0]["parts"]

    assert parts[0] == {"text": "What is this?"}
    # The SDK writes these blobs' fields in snake_case; the API reads either spelling.
    assert camel(parts[1]["inlineData"]) == {"mimeType": "image/png", "data": png}
    assert camel(parts[2]["fileData"]) == {
        "fileUri": "https://example.com/cat.jpg",
        "mimeType": "image/jpeg",
    }


def test_invalid_image_data_is_refused_before_any_call(gemini_fake, adapter):
    with pytest.raises(InvalidRequestError, match="not valid base64"):
        adapter.complete(chat(Message("user", (ImagePart("data:image/png;base64,@@@"),))))
    assert gemini_fake.requests == []


def test_stream_yields_text_then_usage_equal_to_the_non_streamed_usage(gemini_fake, adapter):
    request = chat(Message("system", "Be nice."), Message("user", "Stream this please"))
    complete = adapter.complete(request)
    events = collect(adapter, request)

    assert gemini_fake.last_request().query == {"alt": ["sse"]}
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1
    assert "".join(d.text for d in deltas) == complete.text
    usage_events = [e for e in events if isinstance(e, UsageEvent)]
    assert len(usage_events) == 1
    assert usage_events[0].usage == complete.usage
    assert usage_events[0].usage.output_tokens == len(complete.text.split())
    assert events[-1] == Finish(
        finish_reason="stop", model=CHAT_MODEL, request_id=events[-1].request_id
    )
    assert events[-1].request_id.startswith("fake-resp-")


def test_usage_buckets_with_cached_thoughts_and_tool_use_tokens(gemini_fake, adapter):
    gemini_fake.usage = {
        "promptTokenCount": 1000,
        "cachedContentTokenCount": 600,
        "toolUsePromptTokenCount": 50,
        "candidatesTokenCount": 120,
        "thoughtsTokenCount": 300,
        "totalTokenCount": 1470,
    }
    request = chat(Message("user", "think hard"))
    usage = adapter.complete(request).usage
    streamed = [e for e in collect(adapter, request) if isinstance(e, UsageEvent)][-1].usage

    expected = Usage(
        input_tokens=450,  # 1000 prompt - 600 cached + 50 tool-use prompt
        cached_input_tokens=600,
        cache_write_tokens=0,
        output_tokens=120,
        reasoning_tokens=300,
    )
    assert usage == expected
    assert streamed == expected
    assert usage.total_tokens == 1470  # the buckets add up to Gemini's own total
    assert usage.raw["cachedContentTokenCount"] == 600


def test_embeddings_use_batch_embed_contents(gemini_fake, adapter):
    response = adapter.embed(
        EmbeddingRequest(model="gemini-embedding-001", inputs=("one", "two", "three"), dimensions=5)
    )

    request = gemini_fake.last_request()
    assert request.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert [r["outputDimensionality"] for r in request.body["requests"]] == [5, 5, 5]
    assert [r["content"]["parts"][0]["text"] for r in request.body["requests"]] == [
        "one",
        "two",
        "three",
    ]
    assert len(response.vectors) == 3
    assert all(len(vector) == 5 for vector in response.vectors)
    assert response.vectors[0] != response.vectors[1]
    assert response.usage == Usage()  # the Gemini API reports no embedding tokens
    assert response.model == "gemini-embedding-001"


def test_multimodal_embedding_model_still_gets_one_vector_per_input(gemini_fake, adapter):
    gemini_fake.models.append("gemini-embedding-2")
    response = adapter.embed(EmbeddingRequest(model="gemini-embedding-2", inputs=("a", "b")))

    assert len(gemini_fake.last_request().body["requests"]) == 2
    assert len(response.vectors) == 2


def test_embedding_usage_is_kept_when_reported(gemini_fake, adapter):
    gemini_fake.usage = {"promptTokenCount": 3, "totalTokenCount": 3}
    response = adapter.embed(EmbeddingRequest(model="gemini-embedding-001", inputs=("a b c",)))

    assert response.usage.input_tokens == 3
    assert response.usage.output_tokens == 0


def test_list_models_follows_pages_and_classifies(gemini_fake, adapter):
    gemini_fake.models = ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-embedding-001", "x-1"]
    models = {model.id: model for model in adapter.list_models()}

    assert list(models) == gemini_fake.models  # two pages of two
    assert len([r for r in gemini_fake.requests if r.path == "/v1beta/models"]) == 2
    assert models["gemini-2.5-flash"].kind == "chat"
    assert models["gemini-2.5-flash"].context_window == 1048576
    assert models["gemini-2.5-flash"].max_output_tokens == 65536
    assert models["gemini-2.5-flash"].display_name == "Gemini 2.5 Flash"
    assert models["gemini-embedding-001"].kind == "embedding"


def test_check_reports_model_count_or_the_mapped_error(gemini_fake, adapter):
    result = adapter.check()
    assert result.ok is True
    assert result.model_count == 3
    assert result.latency_ms >= 0

    gemini_fake.faults.status = 403
    failed = adapter.check()
    assert failed.ok is False
    assert failed.message.startswith("provider_permission_denied")


def test_adapter_is_registered_for_the_gemini_kind(gemini_fake):
    from providers.adapters.registry import ADAPTERS, adapter_pool

    assert ADAPTERS["gemini"] is GeminiAdapter
    assert GeminiAdapter.supports_embeddings is True
    settings = gemini_fake.provider_settings()
    adapter = adapter_pool.build(settings)
    assert adapter_pool.build(settings) is adapter  # one client per settings, reused
