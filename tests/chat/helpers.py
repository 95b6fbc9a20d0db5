"""Building providers, models, prices and selections that point at the fakes."""

from decimal import Decimal
from typing import Any

from providers.models import ModelConfig, ModelGroup, ModelPrice, ModelSelection, ProviderConfig
from providers.models.selection import SelectionFallback

ALL_CAPABILITIES = ["tools", "vision", "json_output", "streaming"]
PRICES = {
    "input": Decimal("2.50"),
    "output": Decimal("10.00"),
    "cached_input": Decimal("1.25"),
    "cache_write": Decimal("3.75"),
}

# Tests retry without waiting and time out quickly (applied by tests/chat/conftest.py).
FAST_RUNTIME = {
    "RUNTIME_RETRY_BASE_SECONDS": 0.0,
    "RUNTIME_RETRY_MAX_SECONDS": 0.0,
    "RUNTIME_TOTAL_TIMEOUT_SECONDS": 10.0,
    "CIRCUIT_BREAKER_FAILURES": 100,
    "CIRCUIT_BREAKER_OPEN_SECONDS": 30.0,
}


def base_url_for(fake: Any) -> str:
    return f"{fake.url}/v1" if fake.name.startswith("openai") else fake.url


def provider_create(
    fake: Any, *, slug: str, kind: str, timeout: float = 2.0, max_retries: int = 1
) -> ProviderConfig:
    return ProviderConfig.objects.create(
        slug=slug,
        kind=kind,
        name=slug,
        api_key=fake.api_key,
        base_url=base_url_for(fake),
        timeout_seconds=timeout,
        max_retries=max_retries,
    )


def model_create(
    provider: ProviderConfig,
    name: str,
    *,
    kind: str = "chat",
    capabilities: list[str] | None = None,
    context_window: int | None = 128_000,
    max_output_tokens: int | None = 4096,
    prices: dict[str, Decimal | None] | None = PRICES,
) -> ModelConfig:
    model = ModelConfig.objects.create(
        provider=provider,
        name=name,
        kind=kind,
        enabled=True,
        capabilities=list(ALL_CAPABILITIES if capabilities is None else capabilities),
        context_window=context_window,
        max_output_tokens=max_output_tokens,
    )
    if prices is not None:
        ModelPrice.objects.create(model=model, **prices)
    return model


def selection_set(
    service: str,
    primary: ModelConfig,
    fallbacks: tuple[ModelConfig | ModelGroup, ...] = (),
    **overrides: Any,
) -> ModelSelection:
    """Create or repoint a service (straight on the models: tests may build chains the
    selection validation would refuse, such as a fallback with a smaller context window)."""
    selection, _ = ModelSelection.objects.update_or_create(
        service=service, defaults={"primary": primary, **overrides}
    )
    SelectionFallback.objects.filter(selection=selection).delete()
    for position, entry in enumerate(fallbacks):
        target = "group" if isinstance(entry, ModelGroup) else "model"
        SelectionFallback.objects.create(selection=selection, position=position, **{target: entry})
    return selection


def openai_chain(openai_fake: Any, **kwargs: Any) -> tuple[ModelConfig, ModelConfig]:
    """Two OpenAI-fake providers (a primary and a fallback), each with gpt-4o-mini."""
    primary = model_create(
        provider_create(openai_fake, slug="primary", kind="openai", **kwargs), "gpt-4o-mini"
    )
    fallback = model_create(
        provider_create(openai_fake, slug="backup", kind="openai", **kwargs), "gpt-4.1"
    )
    return primary, fallback


def use_models_grant(user):
    """Give a user the permission to spend (chat.use_models); returns a fresh copy."""
    from django.contrib.auth.models import Permission

    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="chat", codename="use_models")
    )
    return type(user).objects.get(pk=user.pk)
