"""The live model list of a provider, cached in the shared cache for a few minutes.

Asking a provider for its models is slow and rate limited; staff browsing the API should not
pay for it on every page. The cache key carries the provider's settings version, so a new key
or base URL is asked afresh at once.
"""

from dataclasses import asdict
from typing import Any

from django.core.cache import cache

from config.errors import Conflict
from providers.adapters.registry import adapter_pool
from providers.models import ProviderConfig

LIVE_MODELS_TTL_SECONDS = 300


def provider_live_models_list(*, provider: ProviderConfig) -> list[dict[str, Any]]:
    """The provider's models as plain dicts; raises the adapter's ProviderError on failure."""
    try:
        settings = provider.to_settings()
    except ValueError as exc:  # stored extra headers that no longer parse
        raise Conflict(f"The provider's configuration is invalid: {exc}") from None
    cache_key = f"providers:live-models:{provider.slug}:{settings.version}"
    cached = cache.get(cache_key)
    if cached is not None:
        return cached
    adapter = adapter_pool.build(settings)
    models = sorted((asdict(model) for model in adapter.list_models()), key=lambda m: m["id"])
    cache.set(cache_key, models, timeout=LIVE_MODELS_TTL_SECONDS)
    return models
