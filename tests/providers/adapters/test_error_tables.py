"""Error translation has one shape for every adapter: the adapter's table of SDK exception
classes, looked up along the raised exception's MRO, then the mapping's structured fields;
chained causes are scrubbed of the provider's secrets whatever the adapter.

Each table entry is exercised with a real instance of the SDK's class (and of a subclass the
table does not name), through the adapter's public `list_models`, so the base class's path
(translate, scrub, chain) is the one under test."""

import inspect
import json

import anthropic
import httpx2
import openai
import pydantic
import pytest
from google.genai import errors as genai_errors

from providers.adapters import anthropic_mapping, gemini_mapping, openai_mapping
from providers.adapters.anthropic_adapter import AnthropicAdapter
from providers.adapters.azure_openai_adapter import AzureOpenAIAdapter
from providers.adapters.base import ProviderAdapter
from providers.adapters.bedrock_adapter import BedrockAdapter
from providers.adapters.errors import ProviderError
from providers.adapters.gemini_adapter import GeminiAdapter
from providers.adapters.openai_adapter import OpenAIAdapter
from providers.adapters.vertex_adapter import (
    GOOGLE_AUTH_ERRORS,
    VertexAdapter,
    VertexClaudeAdapter,
    VertexGeminiAdapter,
)
from providers.adapters.wire import WireMapping
from providers.credentials import credential_secrets

REQUEST = httpx2.Request("GET", "https://upstream.test/v1/models")
STATUS_BY_NAME = {
    "AuthenticationError": 401,
    "PermissionDeniedError": 403,
    "PaymentRequiredError": 402,
    "NotFoundError": 404,
    "BadRequestError": 400,
    "UnprocessableEntityError": 422,
    "ContentTooLargeError": 413,
    "RequestTimeoutError": 408,
    "GatewayTimeoutError": 504,
    "RateLimitError": 429,
    "InternalServerError": 500,
    "ConflictError": 409,
    "APIStatusError": 409,
    "ClientError": 400,
    "ServerError": 500,
    "APIError": 600,
}


def sdk_exception(cls: type[BaseException], text: str) -> BaseException:
    """A real instance of an SDK exception class, built as its SDK builds it."""
    if issubclass(cls, openai.APIStatusError | anthropic.APIStatusError):
        status = next(
            STATUS_BY_NAME[k.__name__] for k in cls.__mro__ if k.__name__ in STATUS_BY_NAME
        )
        response = httpx2.Response(status, json={"error": {"message": text}}, request=REQUEST)
        return cls(text, response=response, body={"message": text})
    if issubclass(cls, openai.APITimeoutError | anthropic.APITimeoutError):
        return cls(request=REQUEST)
    if issubclass(cls, openai.APIConnectionError | anthropic.APIConnectionError):
        return cls(message=text, request=REQUEST)
    if issubclass(cls, openai.APIResponseValidationError | anthropic.APIResponseValidationError):
        return cls(response=httpx2.Response(200, request=REQUEST), body=None, message=text)
    if issubclass(cls, openai.APIError | anthropic.APIError):
        return cls(text, REQUEST, body=None)
    if issubclass(cls, genai_errors.UnknownApiResponseError):
        return cls(text)
    if issubclass(cls, genai_errors.APIError):
        code = next(STATUS_BY_NAME[k.__name__] for k in cls.__mro__ if k.__name__ in STATUS_BY_NAME)
        return cls(code, {"error": {"code": code, "message": text, "status": "X"}})
    if issubclass(cls, json.JSONDecodeError):
        return cls(text, "{", 0)
    if issubclass(cls, pydantic.ValidationError):
        return cls.from_exception_data(text, [])
    return cls(text)


def raised_through(adapter: ProviderAdapter, exc: BaseException, monkeypatch) -> ProviderError:
    """What the adapter's public operation raises when the SDK call raises `exc`."""

    def fail():
        raise exc

    monkeypatch.setattr(adapter, "_list_models", fail)
    with pytest.raises(ProviderError) as caught:
        adapter.list_models()
    return caught.value


def secret_of(adapter: ProviderAdapter) -> str:
    settings = adapter.settings
    secrets = (settings.api_key, *credential_secrets(settings.kind, settings.credentials))
    return next(s for s in secrets if s and len(s) >= 12)


@pytest.fixture(
    params=[
        "openai",
        "openai_compatible",
        "azure_openai",
        "anthropic",
        "bedrock",
        "gemini",
        "vertex_gemini",
        "vertex_claude",
    ]
)
def adapter(request) -> ProviderAdapter:
    def make(fake: str, adapter_class: type[ProviderAdapter], **kw) -> ProviderAdapter:
        return adapter_class(request.getfixturevalue(fake).provider_settings(**kw))

    built = {
        "openai": lambda: make("openai_fake_server", OpenAIAdapter),
        "openai_compatible": lambda: make(
            "openai_fake_server", OpenAIAdapter, kind="openai_compatible"
        ),
        "azure_openai": lambda: make("azure_fake_server", AzureOpenAIAdapter),
        "anthropic": lambda: make("anthropic_fake_server", AnthropicAdapter),
        "bedrock": lambda: make("bedrock_fake_server", BedrockAdapter),
        "gemini": lambda: make("gemini_fake_server", GeminiAdapter),
        "vertex_gemini": lambda: make("vertex_fake_server", VertexGeminiAdapter),
        "vertex_claude": lambda: make("vertex_fake_server", VertexClaudeAdapter),
    }[request.param]()
    yield built
    built.close()


def test_every_table_entry_maps_to_its_class_and_a_subclass_maps_as_its_parent(
    adapter, monkeypatch
):
    assert adapter.errors, "every adapter has an error table"
    for sdk_class, expected in adapter.errors.items():
        subclass = type(f"Custom{sdk_class.__name__}", (sdk_class,), {})
        for cls in (sdk_class, subclass):
            error = raised_through(adapter, sdk_exception(cls, "upstream said no"), monkeypatch)
            assert type(error) is expected, (cls, type(error), expected)
            assert error.provider == adapter.settings.slug
            assert isinstance(error.__cause__, cls)


def test_the_most_specific_entry_wins_whatever_the_table_order(adapter):
    """RateLimitError is an APIStatusError (ProviderError in the table): 429 stays rate limited."""
    table = adapter.errors
    for sdk_class, expected in table.items():
        parents = [k for k in sdk_class.__mro__[1:] if k in table]
        if parents and table[parents[0]] is not expected:
            error = adapter.translate_error(sdk_exception(sdk_class, "x"))
            assert type(error) is adapter.mapping.error_class(
                sdk_exception(sdk_class, "x"), expected
            )


def test_an_exception_outside_the_table_is_not_translated(adapter, monkeypatch):
    def fail():
        raise KeyError("not a provider failure")

    monkeypatch.setattr(adapter, "_list_models", fail)
    with pytest.raises(KeyError):
        adapter.list_models()
    assert adapter.translate_error(KeyError("x")) is None


def test_chained_causes_are_scrubbed_for_every_adapter(adapter, monkeypatch):
    secret = secret_of(adapter)
    sdk_class = next(iter(adapter.errors))
    exc = sdk_exception(sdk_class, f"bad credential {secret}")
    exc.__cause__ = ValueError(f"while sending {secret}")
    exc.__cause__.__context__ = RuntimeError(f"deeper: {secret[2:]}")

    error = raised_through(adapter, exc, monkeypatch)

    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None:
        chain.append(current)
        current = current.__cause__ or current.__context__
    assert len(chain) >= 4  # ours, the SDK's, and both of its causes stay attached
    for item in chain:
        for text in (str(item), repr(item), repr(item.args)):
            assert secret not in text
            assert secret[2:] not in text


def test_vertex_token_failures_are_in_both_sides_tables(vertex_fake_server, monkeypatch):
    adapter = VertexAdapter(vertex_fake_server.provider_settings())
    try:
        assert adapter.errors == GOOGLE_AUTH_ERRORS
        for side in (adapter.gemini, adapter.claude):
            assert GOOGLE_AUTH_ERRORS.items() <= side.errors.items()
        for sdk_class, expected in GOOGLE_AUTH_ERRORS.items():
            error = raised_through(adapter, sdk_class("token endpoint said no"), monkeypatch)
            assert type(error) is expected
    finally:
        adapter.close()


def test_every_mapping_module_exposes_the_same_functions():
    """openai_mapping, anthropic_mapping and gemini_mapping: same names, same signatures."""
    members = {
        name: member
        for name, member in vars(WireMapping).items()
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }
    assert set(members) >= {"ERRORS", "error_class", "error_fields", "request_params"}
    for module in (openai_mapping, anthropic_mapping, gemini_mapping):
        for name, member in members.items():
            value = getattr(module, name)
            if isinstance(member, property):
                assert all(isinstance(k, type) for k in value), (module.__name__, name)
                continue
            expected = inspect.signature(member)
            expected = expected.replace(parameters=list(expected.parameters.values())[1:])
            actual = inspect.signature(value)
            assert [(p.name, p.kind) for p in actual.parameters.values()] == [
                (p.name, p.kind) for p in expected.parameters.values()
            ], (module.__name__, name)
