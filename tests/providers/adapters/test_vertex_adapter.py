"""The Vertex AI adapter through the real SDKs (google-genai in Vertex mode for Gemini,
`anthropic.AnthropicVertex` for Claude) against the Vertex fake: publisher paths, OAuth
tokens from a service-account key whose JWT the fake verifies, and every mapped error."""

import json

import pytest

from providers.adapters.errors import (
    ModelNotFoundError,
    ProviderAuthenticationError,
    ProviderBadRequestError,
    ProviderDestinationRefusedError,
    ProviderError,
    ProviderPermissionError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitedError,
    StreamInterruptedError,
)
from providers.adapters.registry import adapter_class_for
from providers.adapters.types import (
    ChatRequest,
    EmbeddingRequest,
    Finish,
    Message,
    TextDelta,
    Tool,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from providers.adapters.vertex_adapter import VertexAdapter, vertex_host

GEMINI = "gemini-2.5-flash"
CLAUDE = "claude-sonnet-4-5@20250929"
SEARCH = Tool(
    name="search",
    description="Search the docs.",
    parameters={"type": "object", "properties": {"query": {"type": "string"}}},
)


def ask(text: str, model: str, **kwargs) -> ChatRequest:
    return ChatRequest(model=model, messages=(Message(role="user", content=text),), **kwargs)


@pytest.fixture
def adapter(vertex_fake) -> VertexAdapter:
    adapter = VertexAdapter(vertex_fake.provider_settings())
    yield adapter
    adapter.close()


def prefix(fake) -> str:
    return f"/v1/projects/{fake.project}/locations/{fake.location}/publishers"


def test_registry_and_default_hosts(vertex_fake):
    assert adapter_class_for("vertex") is VertexAdapter
    settings = vertex_fake.provider_settings(base_url=None)
    assert vertex_host(settings) == "https://us-central1-aiplatform.googleapis.com"
    settings = vertex_fake.provider_settings(
        base_url=None, credentials={**settings.credentials, "location": "global"}
    )
    assert vertex_host(settings) == "https://aiplatform.googleapis.com"


@pytest.mark.parametrize("model", [GEMINI, CLAUDE])
def test_complete_with_an_oauth_token_from_the_service_account(adapter, vertex_fake, model):
    response = adapter.complete(ask("hello there", model))

    assert response.text.endswith("fake: hello there")
    assert response.finish_reason == "stop"
    token_calls = [r for r in vertex_fake.requests if r.path == "/token"]
    assert len(token_calls) == 1  # the fake verified the JWT before issuing
    sent = vertex_fake.last_request()
    assert sent.headers["authorization"] == f"Bearer {vertex_fake.issued[0]}"
    publisher = "anthropic" if model == CLAUDE else "google"
    method = "rawPredict" if model == CLAUDE else "generateContent"
    assert sent.path == f"{prefix(vertex_fake)}/{publisher}/models/{model}:{method}"


def test_the_token_is_reused_until_it_expires(adapter, vertex_fake):
    adapter.complete(ask("a", GEMINI))
    adapter.complete(ask("b", GEMINI))
    assert vertex_fake.token_requests == 1


def test_claude_body_names_the_version_not_the_model(adapter, vertex_fake):
    adapter.complete(ask("hi", CLAUDE, max_tokens=20))
    body = vertex_fake.last_request().body
    assert "model" not in body
    assert body["anthropic_version"]
    assert body["max_tokens"] == 20


@pytest.mark.parametrize(
    ("model", "method"), [(GEMINI, "streamGenerateContent"), (CLAUDE, "streamRawPredict")]
)
def test_stream_text_usage_and_finish(adapter, vertex_fake, model, method):
    events = list(adapter.stream(ask("one two three", model)))

    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.endswith("fake: one two three")
    usages = [e.usage for e in events if isinstance(e, UsageEvent)]
    assert usages and usages[-1].output_tokens > 0
    assert isinstance(events[-1], Finish) and events[-1].finish_reason == "stop"
    assert vertex_fake.last_request().path.endswith(f"/models/{model}:{method}")


@pytest.mark.parametrize("model", [GEMINI, CLAUDE])
def test_tools_complete_and_stream(adapter, vertex_fake, model):
    vertex_fake.gemini.tool_arguments = {"query": "refunds"}
    vertex_fake.claude.tool_arguments = {"query": "refunds"}

    response = adapter.complete(ask("find refunds", model, tools=(SEARCH,)))
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls[0].name == "search"
    assert json.loads(response.tool_calls[0].arguments) == {"query": "refunds"}

    events = list(adapter.stream(ask("find refunds", model, tools=(SEARCH,))))
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[0].name == "search"
    assert json.loads("".join(d.arguments for d in deltas)) == {"query": "refunds"}
    assert events[-1].finish_reason == "tool_calls"


def test_usage_buckets_of_both_publishers(adapter, vertex_fake):
    vertex_fake.gemini.usage = {
        "promptTokenCount": 100,
        "cachedContentTokenCount": 40,
        "candidatesTokenCount": 20,
        "thoughtsTokenCount": 5,
        "totalTokenCount": 125,
    }
    assert adapter.complete(ask("hi", GEMINI)).usage == Usage(
        input_tokens=60, cached_input_tokens=40, output_tokens=20, reasoning_tokens=5
    )
    vertex_fake.claude.usage = {
        "input_tokens": 10,
        "cache_read_input_tokens": 30,
        "cache_creation_input_tokens": 7,
        "output_tokens": 12,
    }
    assert adapter.complete(ask("hi", CLAUDE)).usage == Usage(
        input_tokens=10, cached_input_tokens=30, cache_write_tokens=7, output_tokens=12
    )


@pytest.mark.parametrize(
    ("model", "method", "tokens"),
    [("text-embedding-005", "predict", 3), ("gemini-embedding-001", "batchEmbedContents", 0)],
)
def test_embeddings(adapter, vertex_fake, model, method, tokens):
    response = adapter.embed(EmbeddingRequest(model=model, inputs=("a b", "c")))

    assert len(response.vectors) == 2 and response.vectors[0] != response.vectors[1]
    assert response.usage.input_tokens == tokens
    assert (
        vertex_fake.last_request().path == f"{prefix(vertex_fake)}/google/models/{model}:{method}"
    )


def test_list_models_and_check(adapter, vertex_fake):
    ids = {m.id for m in adapter.list_models()}
    assert {"gemini-2.5-flash", "text-embedding-005"} <= ids
    assert adapter.check().ok


def test_a_key_the_token_endpoint_refuses_is_an_authentication_error(vertex_fake):
    other = vertex_fake.service_account_json(
        client_email="intruder@example.iam.gserviceaccount.com"
    )
    settings = vertex_fake.provider_settings()
    adapter = VertexAdapter(
        vertex_fake.provider_settings(
            credentials={**settings.credentials, "service_account_json": other}
        )
    )
    for model in (GEMINI, CLAUDE):
        with pytest.raises(ProviderAuthenticationError) as caught:
            adapter.complete(ask("hi", model))
        assert vertex_fake.private_key_pem().splitlines()[1] not in str(caught.value)


def test_a_token_endpoint_on_a_refused_address_is_refused(vertex_fake):
    settings = vertex_fake.provider_settings(allowed_networks=("10.0.0.0/8",))
    adapter = VertexAdapter(settings)
    with pytest.raises(ProviderDestinationRefusedError):
        adapter.complete(ask("hi", GEMINI))
    assert vertex_fake.requests == []


def test_missing_credentials_refuse_to_build(vertex_fake):
    with pytest.raises(ProviderAuthenticationError):
        VertexAdapter(vertex_fake.provider_settings(credentials={}))
    settings = vertex_fake.provider_settings()
    with pytest.raises(ProviderAuthenticationError):
        VertexAdapter(
            vertex_fake.provider_settings(
                credentials={**settings.credentials, "service_account_json": "{}"}
            )
        )


def test_unknown_models_and_a_wrong_project(adapter, vertex_fake):
    for model in ("gemini-0-nope", "claude-nope@1"):
        with pytest.raises(ModelNotFoundError):
            adapter.complete(ask("hi", model))
    vertex_fake.project = "another-project-1"
    with pytest.raises(ModelNotFoundError):
        adapter.complete(ask("hi", GEMINI))


@pytest.mark.parametrize(
    ("status", "expected", "retryable"),
    [
        (400, ProviderBadRequestError, False),
        (401, ProviderAuthenticationError, False),
        (403, ProviderPermissionError, False),
        (404, ModelNotFoundError, False),
        (429, RateLimitedError, True),
        (500, ProviderUnavailableError, True),
        (503, ProviderUnavailableError, True),
    ],
)
@pytest.mark.parametrize(
    "operation", ["gemini", "gemini-stream", "claude", "claude-stream", "embed", "list"]
)
def test_every_status_is_mapped(adapter, vertex_fake, status, expected, retryable, operation):
    adapter.complete(ask("warm the token", GEMINI))
    vertex_fake.faults.status = status
    vertex_fake.faults.retry_after = 4 if status == 429 else None
    calls = {
        "gemini": lambda: adapter.complete(ask("hi", GEMINI)),
        "gemini-stream": lambda: list(adapter.stream(ask("hi", GEMINI))),
        "claude": lambda: adapter.complete(ask("hi", CLAUDE)),
        "claude-stream": lambda: list(adapter.stream(ask("hi", CLAUDE))),
        "embed": lambda: adapter.embed(EmbeddingRequest(model="text-embedding-005", inputs=("x",))),
        "list": adapter.list_models,
    }

    with pytest.raises(ProviderError) as caught:
        calls[operation]()

    assert type(caught.value) is expected
    assert caught.value.retryable is retryable
    assert caught.value.status_code == status
    if status == 429:
        assert caught.value.retry_after == 4.0


@pytest.mark.parametrize("model", [GEMINI, CLAUDE])
def test_timeout_and_cut_stream(vertex_fake, model):
    adapter = VertexAdapter(vertex_fake.provider_settings(timeout=0.3))
    adapter.complete(ask("warm", GEMINI))
    vertex_fake.faults.delay = 0.8
    vertex_fake.faults.times = 1
    with pytest.raises(ProviderTimeoutError):
        adapter.complete(ask("hi", model))

    vertex_fake.faults.delay = 0.0
    vertex_fake.faults.cut_stream_after = 2
    vertex_fake.faults.times = 1
    with pytest.raises(StreamInterruptedError):
        list(adapter.stream(ask("a b c d e f g h", model)))
