"""Small builders for catalog and selection tests (plain functions: explicit at each use)."""

from decimal import Decimal
from typing import Any

from providers.models import ModelConfig, ModelPrice, Origin, ProviderConfig


def provider_create(slug: str = "openai", kind: str = "openai", **fields: Any) -> ProviderConfig:
    fields.setdefault("name", slug.title())
    fields.setdefault("api_key", f"sk-test-{slug}-0123456789")
    if kind == "openai_compatible":
        fields.setdefault("base_url", "http://127.0.0.1:9/v1")
    return ProviderConfig.objects.create(slug=slug, kind=kind, **fields)


def model_create(
    provider: ProviderConfig,
    name: str,
    *,
    price: tuple[str, str] | None = ("1.00", "2.00"),
    **fields: Any,
) -> ModelConfig:
    fields.setdefault("kind", "chat")
    fields.setdefault("enabled", True)
    fields.setdefault("context_window", 128000)
    fields.setdefault("capabilities", ["tools", "streaming", "vision"])
    model = ModelConfig.objects.create(provider=provider, name=name, **fields)
    if price is not None:
        ModelPrice.objects.create(
            model=model, input=Decimal(price[0]), output=Decimal(price[1]), source=Origin.CATALOG
        )
    return model
