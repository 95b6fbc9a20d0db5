"""Anthropic request shapes, parameters, stop reasons, models and check, against the fake."""

import pytest

from providers.adapters.anthropic_adapter import AnthropicAdapter
from providers.adapters.anthropic_mapping import JSON_INSTRUCTION
from providers.adapters.errors import InvalidRequestError, UnsupportedOperationError
from providers.adapters.types import (
    EmbeddingRequest,
    ImagePart,
    Message,
    TextPart,
)
from tests.providers.adapters.anthropic_support import (
    MODEL,
    ask,
    collect,
    sent,
    user,
)


@pytest.fixture
def adapter(anthropic_adapter) -> AnthropicAdapter:
    return anthropic_adapter


# -- parameters and content ---------------------------------------------------------------------
def test_image_parts_become_base64_and_url_image_blocks(adapter, anthropic_fake):
    content = (
        TextPart("What is in these?"),
        ImagePart("data:image/png;base64,iVBORw0KGgo="),
        ImagePart("https://example.com/cat.jpg"),
    )

    adapter.complete(ask(Message(role="user", content=content)))

    assert sent(anthropic_fake)["messages"][0]["content"] == [
        {"type": "text", "text": "What is in these?"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_an_image_that_is_not_an_http_or_data_url_is_refused(adapter, anthropic_fake):
    with pytest.raises(InvalidRequestError, match="image"):
        adapter.complete(ask(Message(role="user", content=(ImagePart("file:///etc/passwd"),))))
    assert anthropic_fake.requests == []


def test_stop_sequences_are_sent_and_sampling_parameters_dropped(adapter, anthropic_fake):
    anthropic_fake.reply_text = "one two STOP three"

    response = adapter.complete(ask(user("Hi"), temperature=1.5, top_p=0.9, stop=("STOP",)))

    body = sent(anthropic_fake)
    assert body["stop_sequences"] == ["STOP"]
    # The installed SDK's Messages API has no temperature/top_p: they are not sent.
    assert "temperature" not in body
    assert "top_p" not in body
    assert response.text == "one two "
    assert response.finish_reason == "stop"


def test_json_output_with_a_schema_uses_structured_outputs(adapter, anthropic_fake):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}

    adapter.complete(ask(user("Hi"), json_output=True, json_schema=schema))

    body = sent(anthropic_fake)
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "system" not in body


def test_json_output_without_a_schema_is_steered_by_the_system_prompt(adapter, anthropic_fake):
    adapter.complete(ask(Message(role="system", content="Be terse."), user("Hi"), json_output=True))

    body = sent(anthropic_fake)
    assert body["system"] == f"Be terse.\n\n{JSON_INSTRUCTION}"
    assert "output_config" not in body


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("stop_sequence", "stop"),
    ],
)
def test_stop_reasons_are_normalised(adapter, anthropic_fake, stop_reason, finish):
    anthropic_fake.stop_reason = stop_reason

    assert adapter.complete(ask(user("Hi"))).finish_reason == finish
    assert collect(adapter, ask(user("Hi")))["finish"].finish_reason == finish


def test_a_reply_cut_by_max_tokens_finishes_with_length(adapter):
    response = adapter.complete(ask(user("Hi"), max_tokens=2))

    assert response.finish_reason == "length"
    assert response.text == "Hello from"


def test_extra_headers_are_sent_and_the_client_is_reused(anthropic_fake):
    adapter = AnthropicAdapter(anthropic_fake.provider_settings(extra_headers={"x-team": "ml"}))
    client = adapter.client

    adapter.complete(ask(user("Hi")))
    adapter.list_models()

    assert anthropic_fake.last_request().headers["x-team"] == "ml"
    assert adapter.client is client
    assert client.max_retries == 0


# -- models, check, embeddings -----------------------------------------------------------------
def test_list_models(adapter, anthropic_fake):
    models = adapter.list_models()

    assert [m.id for m in models] == anthropic_fake.models
    assert models[0].display_name == "Claude Sonnet 4.6"
    assert {m.kind for m in models} == {"chat"}
    assert models[0].context_window == 200_000
    assert models[0].max_output_tokens == 64_000


def test_list_models_follows_pages(anthropic_fake):
    anthropic_fake.models = [f"claude-test-{n}" for n in range(5)]
    adapter = AnthropicAdapter(anthropic_fake.provider_settings())
    adapter.models_page_size = 2

    models = adapter.list_models()

    assert [m.id for m in models] == anthropic_fake.models
    assert [r.query.get("after_id") for r in anthropic_fake.requests] == [
        None,
        ["claude-test-1"],
        ["claude-test-3"],
    ]


def test_check_reports_model_count_and_latency(adapter):
    result = adapter.check()

    assert result.ok is True
    assert result.model_count == 3
    assert result.latency_ms >= 0


def test_check_with_a_wrong_key_fails_cleanly(anthropic_fake):
    wrong = "sk-ant-wrong-key-9999999999"
    result = AnthropicAdapter(anthropic_fake.provider_settings(api_key=wrong)).check()

    assert result.ok is False
    assert result.message.startswith("provider_authentication_failed")
    assert wrong not in result.message


def test_embed_is_unsupported(adapter, anthropic_fake):
    with pytest.raises(UnsupportedOperationError):
        adapter.embed(EmbeddingRequest(model=MODEL, inputs=("hello",)))
    assert anthropic_fake.requests == []


def test_count_tokens_sends_the_prompt_without_output_settings(adapter, anthropic_fake):
    request = ask(
        Message(role="system", content="be kind"),
        user("hello there"),
        max_tokens=50,
        stop=("END",),
    )
    assert adapter.supports_token_count
    assert adapter.count_tokens(request) == 4  # the fake counts words
    body = sent(anthropic_fake)
    assert anthropic_fake.last_request().path == "/v1/messages/count_tokens"
    assert body["system"] == "be kind" and body["model"] == MODEL
    assert "max_tokens" not in body and "stop_sequences" not in body


def test_count_tokens_errors_are_translated(adapter, anthropic_fake):
    from providers.adapters.errors import ProviderUnavailableError

    anthropic_fake.faults.status = 529
    with pytest.raises(ProviderUnavailableError):
        adapter.count_tokens(ask(user("hi")))
