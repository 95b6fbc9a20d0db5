"""Fixtures of the providers API tests: clients for each kind of caller, and a small catalog."""

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from providers.consumers import consumer_key_create
from providers.models import ModelConfig, ModelPrice, ModelSelection, ProviderConfig
from providers.services.selection import model_selection_upsert

OPENAI_KEY = "sk-test-openai-0123456789abcdef"  # what the fakes accept
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"


def grant(user, *codenames: str):
    """Give `user` model permissions ("view_providerconfig", ...) and return it reloaded."""
    for codename in codenames:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="providers", codename=codename)
        )
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def staff_client_with(staff_user) -> Callable[..., APIClient]:
    """A session-authenticated staff client holding exactly the given permissions."""

    def make(*codenames: str) -> APIClient:
        user = grant(staff_user, *codenames)
        client = APIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def admin_client_api(superuser) -> APIClient:
    client = APIClient()
    client.force_login(superuser)
    return client


@pytest.fixture
def consumer_key(db) -> str:
    _, secret = consumer_key_create(name="unrestricted")
    return secret


@pytest.fixture
def consumer_client(consumer_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {consumer_key}")
    return client


def consumer_client_for(**scope) -> APIClient:
    _, secret = consumer_key_create(name="scoped", **scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def openai_provider(db, openai_fake) -> ProviderConfig:
    return ProviderConfig.objects.create(
        slug="openai",
        kind="openai",
        name="OpenAI (fake)",
        api_key=OPENAI_KEY,
        base_url=f"{openai_fake.url}/v1",
        timeout_seconds=5,
        max_retries=0,
    )


@pytest.fixture
def anthropic_provider(db, anthropic_fake) -> ProviderConfig:
    return ProviderConfig.objects.create(
        slug="anthropic",
        kind="anthropic",
        name="Anthropic (fake)",
        api_key=ANTHROPIC_KEY,
        base_url=anthropic_fake.url,
        timeout_seconds=5,
        max_retries=0,
    )


def make_model(provider: ProviderConfig, name: str, **fields) -> ModelConfig:
    prices = fields.pop("prices", None)
    fields.setdefault("enabled", True)
    fields.setdefault("capabilities", ["tools", "streaming"])
    fields.setdefault("context_window", 128_000)
    model = ModelConfig.objects.create(provider=provider, name=name, **fields)
    if prices:
        ModelPrice.objects.create(model=model, source="catalog", **prices)
    return model


@pytest.fixture
def catalog(openai_provider, anthropic_provider) -> dict[str, ModelConfig]:
    """Enabled chat models on two providers, one embedding model, one disabled model."""
    return {
        "gpt": make_model(
            openai_provider,
            "gpt-4.1",
            prices={"input": Decimal("2.00"), "output": Decimal("8.00")},
            capabilities=["tools", "streaming", "vision"],
            context_window=1_047_576,
        ),
        "mini": make_model(openai_provider, "gpt-4o-mini"),
        "embed": make_model(
            openai_provider,
            "text-embedding-3-small",
            kind="embedding",
            capabilities=[],
            context_window=8191,
            prices={"input": Decimal("0.02")},
        ),
        "claude": make_model(
            anthropic_provider,
            "claude-sonnet-4-5",
            prices={
                "input": Decimal("3"),
                "output": Decimal("15"),
                "cached_input": Decimal("0.30"),
                "cache_write": Decimal("3.75"),
            },
            context_window=200_000,
        ),
        "old": make_model(openai_provider, "gpt-3.5-turbo", enabled=False),
    }


@pytest.fixture
def selections(catalog) -> dict[str, ModelSelection]:
    return {
        "rag_agent": model_selection_upsert(
            service="rag_agent",
            primary="anthropic:claude-sonnet-4-5",
            fallbacks=["openai:gpt-4.1"],
            overrides={"temperature": 0.2},
            required_capabilities=["tools"],
            source="test",
        ),
        "embeddings": model_selection_upsert(
            service="embeddings", primary="openai:text-embedding-3-small", source="test"
        ),
    }


def error_of(response) -> dict:
    """The one error shape, asserted."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]
