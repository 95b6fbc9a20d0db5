"""Reads of provider configuration."""

from providers.adapters.base import ProviderAdapter
from providers.adapters.registry import adapter_pool
from providers.models import ProviderConfig


def provider_adapter_get(*, slug: str, version: str | None = None) -> ProviderAdapter:
    """The live adapter for a provider, reading the database only when `version` is unknown here.

    Callers on the hot path pass the version from the cached resolution, so in the steady state
    this is a dict lookup.
    """
    if version:
        adapter = adapter_pool.get(slug, version)
        if adapter is not None:
            return adapter
    config = ProviderConfig.objects.get(slug=slug)
    return adapter_pool.build(config.to_settings())
