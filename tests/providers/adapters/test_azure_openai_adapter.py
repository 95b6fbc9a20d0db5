"""The Azure OpenAI adapter through the real `openai.AzureOpenAI` client against the Azure fake:
deployment paths, `api-version`, key or Entra ID token, and every mapped error."""

import json

import pytest

from providers.adapters.azure_openai_adapter import AzureOpenAIAdapter
from providers.adapters.errors import (
    ContextLengthExceededError,
    ModelNotFoundError,
    ProviderAuthenticationError,
    ProviderBadRequestError,
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
from tests.fakes.azure_server import DEFAULT_AZURE_KEY, DEFAULT_ENTRA_TOKEN

SEARCH = Tool(
    name="search",
    description="Search the docs.",
    parameters={"type": "object", "properties": {"query": {"type": "string"}}},
)


def ask(text: str, model: str = "gpt-4o-mini", **kwargs) -> ChatRequest:
    return ChatRequest(model=model, messages=(Message(role="user", content=text),), **kwargs)


@pytest.fixture(scope="module")
def shared_adapter(azure_fake_server) -> AzureOpenAIAdapter:
    return AzureOpenAIAdapter(azure_fake_server.provider_settings(api_key=DEFAULT_AZURE_KEY))


@pytest.fixture
def adapter(shared_adapter, azure_fake) -> AzureOpenAIAdapter:
    return shared_adapter


def test_registry_serves_the_kind_with_the_azure_adapter():
    assert adapter_class_for("azure_openai") is AzureOpenAIAdapter


def test_complete_goes_to_the_deployment_with_the_api_version_and_key(adapter, azure_fake):
    response = adapter.complete(ask("hello there", max_tokens=50))

    assert response.text == "Hello from the OpenAI fake: hello there"
    assert response.finish_reason == "stop"
    assert response.model == "gpt-4o-mini"
    sent = azure_fake.last_request()
    assert sent.path == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert sent.query["api-version"] == ["2024-10-21"]
    assert sent.headers["api-key"] == DEFAULT_AZURE_KEY
    assert "authorization" not in sent.headers
    assert sent.body["max_completion_tokens"] == 50
    assert "max_tokens" not in sent.body


def test_a_model_is_mapped_to_its_deployment(azure_fake):
    settings = azure_fake.provider_settings(
        credentials={
            "api_version": "2025-01-01-preview",
            "deployments": '{"gpt-4.1": "prod-gpt4o"}',
        }
    )
    adapter = AzureOpenAIAdapter(settings)

    response = adapter.complete(ask("hi", model="gpt-4.1"))

    assert response.model == "gpt-4.1"  # the model the deployment serves
    sent = azure_fake.last_request()
    assert sent.path == "/openai/deployments/prod-gpt4o/chat/completions"
    assert sent.query["api-version"] == ["2025-01-01-preview"]


def test_entra_id_token_is_sent_as_bearer_instead_of_the_key(azure_fake):
    settings = azure_fake.provider_settings(
        api_key="", credentials={"api_version": "2024-10-21", "entra_token": DEFAULT_ENTRA_TOKEN}
    )
    adapter = AzureOpenAIAdapter(settings)

    assert adapter.complete(ask("hi")).text.endswith("hi")
    sent = azure_fake.last_request()
    assert sent.headers["authorization"] == f"Bearer {DEFAULT_ENTRA_TOKEN}"
    assert "api-key" not in sent.headers


def test_no_credentials_refuses_to_build(azure_fake, monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "from-the-environment-0123456789")
    with pytest.raises(ProviderAuthenticationError):
        AzureOpenAIAdapter(azure_fake.provider_settings(api_key=""))
    with pytest.raises(ProviderAuthenticationError):
        AzureOpenAIAdapter(azure_fake.provider_settings(credentials={}))


def test_stream_text_usage_and_finish(adapter, azure_fake):
    events = list(adapter.stream(ask("one two three")))

    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "Hello from the OpenAI fake: one two three"
    usages = [e.usage for e in events if isinstance(e, UsageEvent)]
    assert usages and usages[-1].output_tokens > 0
    assert isinstance(events[-1], Finish) and events[-1].finish_reason == "stop"
    sent = azure_fake.last_request()
    assert sent.path == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert sent.body["stream"] is True


def test_tools_complete_and_stream(adapter, azure_fake):
    azure_fake.tool_arguments = {"query": "refunds"}
    response = adapter.complete(ask("find refunds", tools=(SEARCH,)))
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls[0].name == "search"
    assert json.loads(response.tool_calls[0].arguments) == {"query": "refunds"}

    events = list(adapter.stream(ask("find refunds", tools=(SEARCH,))))
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[0].name == "search"
    assert json.loads("".join(d.arguments for d in deltas)) == {"query": "refunds"}
    assert events[-1].finish_reason == "tool_calls"


def test_usage_buckets_subtract_cached_and_reasoning(adapter, azure_fake):
    azure_fake.usage = {
        "prompt_tokens": 100,
        "completion_tokens": 40,
        "total_tokens": 140,
        "prompt_tokens_details": {"cached_tokens": 30},
        "completion_tokens_details": {"reasoning_tokens": 10},
    }

    usage = adapter.complete(ask("hi")).usage

    assert usage == Usage(
        input_tokens=70, cached_input_tokens=30, output_tokens=30, reasoning_tokens=10
    )


def test_embeddings_go_to_the_embedding_deployment(adapter, azure_fake):
    response = adapter.embed(EmbeddingRequest(model="embed-small", inputs=("a b", "c")))

    assert len(response.vectors) == 2
    assert response.usage.input_tokens == 3
    assert response.model == "text-embedding-3-small"
    sent = azure_fake.last_request()
    assert sent.path == "/openai/deployments/embed-small/embeddings"
    assert sent.query["api-version"] == ["2024-10-21"]


def test_list_models_and_check(adapter, azure_fake):
    assert {m.id for m in adapter.list_models()} >= {"gpt-4o-mini"}
    assert azure_fake.last_request().path == "/openai/models"
    assert adapter.check().ok


def test_unknown_deployment_is_model_not_found(adapter):
    with pytest.raises(ModelNotFoundError) as caught:
        adapter.complete(ask("hi", model="no-such-deployment"))
    assert caught.value.status_code == 404


def test_wrong_key_is_an_authentication_error_without_the_key(azure_fake):
    adapter = AzureOpenAIAdapter(azure_fake.provider_settings(api_key="wrong-key-0123456789abcd"))

    with pytest.raises(ProviderAuthenticationError) as caught:
        adapter.complete(ask("hi"))

    assert "wrong-key-0123456789abcd" not in str(caught.value)


def test_unsupported_api_version_is_not_found(azure_fake):
    adapter = AzureOpenAIAdapter(
        azure_fake.provider_settings(credentials={"api_version": "2023-01-01"})
    )
    with pytest.raises(ModelNotFoundError):
        adapter.complete(ask("hi"))


@pytest.mark.parametrize(
    ("status", "error_code", "expected", "retryable"),
    [
        (401, None, ProviderAuthenticationError, False),
        (403, None, ProviderPermissionError, False),
        (404, None, ModelNotFoundError, False),
        (400, None, ProviderBadRequestError, False),
        (400, "context_length_exceeded", ContextLengthExceededError, False),
        (400, "content_filter", ProviderBadRequestError, False),
        (422, None, ProviderBadRequestError, False),
        (429, None, RateLimitedError, True),
        (500, None, ProviderUnavailableError, True),
        (503, None, ProviderUnavailableError, True),
        (409, None, ProviderError, False),
    ],
)
@pytest.mark.parametrize("operation", ["complete", "stream", "embed", "list_models"])
def test_every_status_is_mapped(
    adapter, azure_fake, status, error_code, expected, retryable, operation
):
    azure_fake.faults.status = status
    azure_fake.faults.error_code = error_code
    azure_fake.faults.retry_after = 3 if status == 429 else None
    calls = {
        "complete": lambda: adapter.complete(ask("hi")),
        "stream": lambda: list(adapter.stream(ask("hi"))),
        "embed": lambda: adapter.embed(EmbeddingRequest(model="embed-small", inputs=("x",))),
        "list_models": adapter.list_models,
    }

    with pytest.raises(ProviderError) as caught:
        calls[operation]()

    assert type(caught.value) is expected
    assert caught.value.retryable is retryable
    assert caught.value.status_code == status
    if status == 429:
        assert caught.value.retry_after == 3.0
    assert DEFAULT_AZURE_KEY not in repr(caught.value.__cause__)


def test_timeout_and_cut_stream(azure_fake):
    adapter = AzureOpenAIAdapter(azure_fake.provider_settings(timeout=0.2))
    azure_fake.faults.delay = 0.6
    azure_fake.faults.times = 1
    with pytest.raises(ProviderTimeoutError):
        adapter.complete(ask("hi"))

    azure_fake.faults.cut_stream_after = 2
    azure_fake.faults.times = 1
    with pytest.raises(StreamInterruptedError):
        list(AzureOpenAIAdapter(azure_fake.provider_settings()).stream(ask("a b c d e f")))


def test_egress_policy_applies(azure_fake):
    from providers.adapters.errors import ProviderDestinationRefusedError

    adapter = AzureOpenAIAdapter(azure_fake.provider_settings(allowed_networks=("10.0.0.0/8",)))
    with pytest.raises(ProviderDestinationRefusedError):
        adapter.complete(ask("hi"))
    assert azure_fake.requests == []
