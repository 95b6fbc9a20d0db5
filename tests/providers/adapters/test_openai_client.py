"""The OpenAI adapter's client: settings, the keyless compatible kind, embeddings, models,
check, and the adapter pool, through the real `openai` SDK against the local fake."""

import pytest

from providers.adapters.openai_adapter import KEYLESS_PLACEHOLDER, OpenAIAdapter
from providers.adapters.registry import adapter_pool
from providers.adapters.types import (
    ChatRequest,
    EmbeddingRequest,
    Message,
    TextDelta,
    Usage,
    UsageEvent,
)
from tests.fakes.openai_server import DEFAULT_API_KEY, fake_embedding


def ask(text: str, **kwargs) -> ChatRequest:
    return ChatRequest(
        model="gpt-4o-mini", messages=(Message(role="user", content=text),), **kwargs
    )


@pytest.fixture(scope="module")
def shared_adapter(openai_fake_server) -> OpenAIAdapter:
    """One adapter for the module: building an SDK client costs ~70 ms (its SSL context)."""
    return OpenAIAdapter(openai_fake_server.provider_settings(api_key=DEFAULT_API_KEY))


@pytest.fixture
def adapter(shared_adapter, openai_fake) -> OpenAIAdapter:
    return shared_adapter


def test_settings_reach_the_wire_and_the_environment_does_not(openai_fake, monkeypatch):
    monkeypatch.setenv("OPENAI_ORG_ID", "org-from-environment")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-from-environment")
    plain = OpenAIAdapter(openai_fake.provider_settings())
    plain.complete(ask("hi"))
    headers = openai_fake.last_request().headers
    assert "openai-organization" not in headers
    assert "openai-project" not in headers

    configured = OpenAIAdapter(
        openai_fake.provider_settings(
            organization="org-123", project="proj-456", extra_headers={"X-Team": "search"}
        )
    )
    configured.complete(ask("hi"))
    headers = openai_fake.last_request().headers
    assert headers["openai-organization"] == "org-123"
    assert headers["openai-project"] == "proj-456"
    assert headers["x-team"] == "search"
    assert configured.client.max_retries == 0  # the call runtime retries, not the SDK


def test_openai_compatible_kind_with_a_base_url_and_no_key(openai_fake):
    openai_fake.api_key = None  # like Ollama or vLLM: no key needed
    adapter = OpenAIAdapter(openai_fake.provider_settings(kind="openai_compatible", api_key=""))

    response = adapter.complete(ask("hello local", max_tokens=20))
    events = list(adapter.stream(ask("hello local")))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    usages = [e.usage for e in events if isinstance(e, UsageEvent)]

    assert response.text == text == "Hello from the OpenAI fake: hello local"
    assert usages[-1] == response.usage
    body = openai_fake.requests[0].body
    assert body["max_tokens"] == 20  # compatible servers know only max_tokens
    assert "max_completion_tokens" not in body
    assert openai_fake.requests[0].headers["authorization"] == f"Bearer {KEYLESS_PLACEHOLDER}"


def test_embeddings(adapter, openai_fake):
    response = adapter.embed(
        EmbeddingRequest(model="text-embedding-3-small", inputs=("hello world", "bye"))
    )

    assert response.vectors == (
        tuple(fake_embedding("hello world", 8)),
        tuple(fake_embedding("bye", 8)),
    )
    assert response.usage == Usage(input_tokens=3)
    assert response.model == "text-embedding-3-small"
    assert response.request_id and response.request_id.startswith("req_fake")
    body = openai_fake.last_request().body
    assert body["input"] == ["hello world", "bye"]
    assert body["encoding_format"] == "float"

    sized = adapter.embed(
        EmbeddingRequest(model="text-embedding-3-small", inputs=("hello",), dimensions=4)
    )
    assert openai_fake.last_request().body["dimensions"] == 4
    assert len(sized.vectors[0]) == 4


def test_list_models_and_check(adapter, openai_fake):
    openai_fake.models = ["gpt-4o-mini", "text-embedding-3-large", "o3", "whisper-1"]

    models = {model.id: model.kind for model in adapter.list_models()}
    result = adapter.check()

    assert models == {
        "gpt-4o-mini": "chat",
        "text-embedding-3-large": "embedding",
        "o3": "chat",
        "whisper-1": "unknown",
    }
    assert result.ok is True
    assert result.model_count == 4
    assert result.latency_ms >= 0
    assert openai_fake.last_request().path == "/v1/models"


def test_check_reports_a_rejected_key_without_showing_it(openai_fake):
    wrong_key = "sk-wrong-key-that-must-stay-secret-123"
    result = OpenAIAdapter(openai_fake.provider_settings(api_key=wrong_key)).check()

    assert result.ok is False
    assert result.message.startswith("provider_authentication_failed:")
    assert wrong_key not in result.message


def test_pool_reuses_one_adapter_and_client_per_settings_version(openai_fake):
    settings = openai_fake.provider_settings(version="v1")
    first = adapter_pool.build(settings)
    first.complete(ask("one"))

    again = adapter_pool.get(settings.slug, "v1")
    assert again is first
    assert adapter_pool.build(settings) is first
    assert again.client is first.client
    again.complete(ask("two"))

    assert adapter_pool.get(settings.slug, "v2") is None
    rebuilt = adapter_pool.build(openai_fake.provider_settings(version="v2", timeout=3.0))
    assert rebuilt is not first
    assert rebuilt.client is not first.client
    assert rebuilt.client.timeout == 3.0
    assert adapter_pool.get(settings.slug, "v2") is rebuilt
    assert adapter_pool.get(settings.slug, "v1") is None
    assert rebuilt.complete(ask("three")).text.endswith("three")
