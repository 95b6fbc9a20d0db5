"""The Bedrock adapter through the real `anthropic.AnthropicBedrock` client against the Bedrock
fake, which verifies every request's SigV4 signature with the test credentials."""

import json
import time

import pytest

from providers.adapters.bedrock_adapter import BedrockAdapter
from providers.adapters.errors import (
    ModelNotFoundError,
    ProviderAuthenticationError,
    ProviderBadRequestError,
    ProviderError,
    ProviderPermissionError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RateLimitedError,
    StreamInterruptedError,
    UnsupportedOperationError,
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
from tests.fakes.bedrock_server import SECRET_ACCESS_KEY

MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
SEARCH = Tool(
    name="search",
    description="Search the docs.",
    parameters={"type": "object", "properties": {"query": {"type": "string"}}},
)


def ask(text: str, model: str = MODEL, **kwargs) -> ChatRequest:
    return ChatRequest(model=model, messages=(Message(role="user", content=text),), **kwargs)


@pytest.fixture(scope="module")
def shared_adapter(bedrock_fake_server) -> BedrockAdapter:
    return BedrockAdapter(bedrock_fake_server.provider_settings())


@pytest.fixture
def adapter(shared_adapter, bedrock_fake) -> BedrockAdapter:
    return shared_adapter


def test_registry_serves_the_kind():
    assert adapter_class_for("bedrock") is BedrockAdapter


def test_complete_is_signed_and_names_the_model_in_the_path(adapter, bedrock_fake):
    response = adapter.complete(ask("hello there", max_tokens=30))

    assert response.text == "Hello from the Anthropic fake: hello there"
    assert response.model == MODEL
    sent = bedrock_fake.last_request()
    assert sent.path == f"/model/{MODEL}/invoke"
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIA")
    assert "model" not in sent.body and sent.body["anthropic_version"]
    assert sent.body["max_tokens"] == 30
    assert bedrock_fake.signatures_checked == 1


def test_a_session_token_is_signed_too(bedrock_fake):
    bedrock_fake.session_token = "FwoGZXIvYXdzEFAKE-session-token-0123456789"
    adapter = BedrockAdapter(bedrock_fake.provider_settings())

    assert adapter.complete(ask("hi")).text.endswith("hi")
    assert bedrock_fake.last_request().headers["x-amz-security-token"].startswith("FwoG")


def test_a_wrong_secret_fails_the_signature_check_without_showing_it(bedrock_fake):
    settings = bedrock_fake.provider_settings()
    wrong = "wrong/Secret+0123456789abcdefghijklmnop"
    adapter = BedrockAdapter(
        bedrock_fake.provider_settings(
            credentials={**settings.credentials, "aws_secret_access_key": wrong}
        )
    )

    with pytest.raises(ProviderPermissionError) as caught:
        adapter.complete(ask("hi"))

    assert caught.value.status_code == 403
    assert bedrock_fake.signatures_checked == 1
    assert wrong not in repr(caught.value) and wrong not in repr(caught.value.__cause__)


def test_stream_event_stream_frames_text_usage_and_finish(adapter, bedrock_fake):
    events = list(adapter.stream(ask("one two three")))

    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "Hello from the Anthropic fake: one two three"
    usages = [e.usage for e in events if isinstance(e, UsageEvent)]
    assert usages[-1].output_tokens > 0
    assert isinstance(events[-1], Finish) and events[-1].finish_reason == "stop"
    assert bedrock_fake.last_request().path == f"/model/{MODEL}/invoke-with-response-stream"


def test_tools_complete_and_stream(adapter, bedrock_fake):
    bedrock_fake.claude.tool_arguments = {"query": "refunds"}
    response = adapter.complete(ask("find refunds", tools=(SEARCH,)))
    assert response.finish_reason == "tool_calls"
    assert json.loads(response.tool_calls[0].arguments) == {"query": "refunds"}

    events = list(adapter.stream(ask("find refunds", tools=(SEARCH,))))
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert deltas[0].name == "search"
    assert json.loads("".join(d.arguments for d in deltas)) == {"query": "refunds"}
    assert events[-1].finish_reason == "tool_calls"


def test_usage_buckets(adapter, bedrock_fake):
    bedrock_fake.claude.usage = {
        "input_tokens": 10,
        "cache_read_input_tokens": 30,
        "cache_creation_input_tokens": 7,
        "output_tokens": 12,
    }
    assert adapter.complete(ask("hi")).usage == Usage(
        input_tokens=10, cached_input_tokens=30, cache_write_tokens=7, output_tokens=12
    )


def test_list_models_from_the_control_plane_and_check(adapter, bedrock_fake):
    ids = [m.id for m in adapter.list_models()]
    assert MODEL in ids
    sent = bedrock_fake.last_request()
    assert sent.path == "/foundation-models" and sent.raw_query == "byProvider=Anthropic"
    assert adapter.check().ok


def test_no_embeddings(adapter):
    with pytest.raises(UnsupportedOperationError):
        adapter.embed(EmbeddingRequest(model=MODEL, inputs=("x",)))


def test_an_invalid_model_id_is_a_bad_request(adapter):
    with pytest.raises(ProviderBadRequestError):
        adapter.complete(ask("hi", model="anthropic.claude-nope-v1:0"))


def test_no_region_refuses_to_build(bedrock_fake):
    with pytest.raises(ProviderAuthenticationError):
        BedrockAdapter(bedrock_fake.provider_settings(credentials={}))


@pytest.mark.parametrize(
    ("status", "expected", "retryable"),
    [
        (400, ProviderBadRequestError, False),
        (403, ProviderPermissionError, False),
        (404, ModelNotFoundError, False),
        (408, ProviderTimeoutError, True),
        (424, ProviderError, False),
        (429, RateLimitedError, True),
        (500, ProviderUnavailableError, True),
        (503, ProviderUnavailableError, True),
    ],
)
@pytest.mark.parametrize("operation", ["complete", "stream", "list_models"])
def test_every_status_is_mapped(adapter, bedrock_fake, status, expected, retryable, operation):
    bedrock_fake.faults.status = status
    bedrock_fake.faults.retry_after = 5 if status == 429 else None
    calls = {
        "complete": lambda: adapter.complete(ask("hi")),
        "stream": lambda: list(adapter.stream(ask("hi"))),
        "list_models": adapter.list_models,
    }

    with pytest.raises(ProviderError) as caught:
        calls[operation]()

    assert type(caught.value) is expected
    assert caught.value.retryable is retryable
    assert caught.value.status_code == status
    if status == 429:
        assert caught.value.retry_after == 5.0
    assert SECRET_ACCESS_KEY not in repr(caught.value.__cause__)


def test_timeout_and_cut_stream(bedrock_fake):
    adapter = BedrockAdapter(bedrock_fake.provider_settings(timeout=0.3))
    bedrock_fake.faults.delay = 0.8
    bedrock_fake.faults.times = 1
    with pytest.raises(ProviderTimeoutError):
        adapter.complete(ask("hi"))
    # The fake answers the abandoned request after its delay: let it finish here, so its
    # signature check is not counted by the next test.
    time.sleep(0.7)

    bedrock_fake.faults.delay = 0.0
    bedrock_fake.faults.cut_stream_after = 2
    bedrock_fake.faults.times = 1
    with pytest.raises(StreamInterruptedError):
        list(adapter.stream(ask("a b c d e f g h")))


def test_egress_policy_applies_to_calls_and_the_model_list(bedrock_fake):
    from providers.adapters.errors import ProviderDestinationRefusedError

    adapter = BedrockAdapter(bedrock_fake.provider_settings(allowed_networks=("10.0.0.0/8",)))
    with pytest.raises(ProviderDestinationRefusedError):
        adapter.complete(ask("hi"))
    with pytest.raises(ProviderDestinationRefusedError):
        adapter.list_models()
    assert bedrock_fake.requests == []


@pytest.fixture
def aws_environment(monkeypatch, tmp_path):
    """botocore's default chain sees only what a test puts in the environment."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    return monkeypatch


def test_without_keys_the_default_chain_signs(bedrock_fake, aws_environment):
    aws_environment.setenv("AWS_ACCESS_KEY_ID", bedrock_fake.access_key_id)
    aws_environment.setenv("AWS_SECRET_ACCESS_KEY", bedrock_fake.secret_access_key)
    adapter = BedrockAdapter(bedrock_fake.provider_settings(credentials={"region": "us-east-1"}))

    assert adapter.complete(ask("hi")).text.endswith("hi")
    assert MODEL in [m.id for m in adapter.list_models()]
    assert bedrock_fake.signatures_checked == 2


def test_without_keys_or_a_role_the_provider_says_so(bedrock_fake, aws_environment):
    with pytest.raises(ProviderAuthenticationError, match="instance role"):
        BedrockAdapter(bedrock_fake.provider_settings(credentials={"region": "us-east-1"}))
