"""Which adapter serves which provider kind, and the pool of live adapters.

The pool keeps one adapter (and so one SDK client and its connection pool) per provider slug,
rebuilt only when the provider's settings version changes. It is process-local on purpose: SDK
clients cannot be shared across processes; what must be shared (the settings version) comes
from the database or the shared cache.
"""

import threading

from providers.adapters.anthropic_adapter import AnthropicAdapter
from providers.adapters.base import ProviderAdapter
from providers.adapters.errors import InvalidRequestError
from providers.adapters.gemini_adapter import GeminiAdapter
from providers.adapters.openai_adapter import OpenAIAdapter
from providers.adapters.types import ProviderSettings

ADAPTERS: dict[str, type[ProviderAdapter]] = {
    "openai": OpenAIAdapter,
    "openai_compatible": OpenAIAdapter,
    "anthropic": AnthropicAdapter,
    "gemini": GeminiAdapter,
}


def adapter_class_for(kind: str) -> type[ProviderAdapter]:
    try:
        return ADAPTERS[kind]
    except KeyError:
        raise InvalidRequestError(
            f"Unknown provider kind {kind!r}; known kinds: {', '.join(sorted(ADAPTERS))}."
        ) from None


class AdapterPool:
    def __init__(self) -> None:
        self._adapters: dict[str, ProviderAdapter] = {}
        self._lock = threading.Lock()

    def get(self, slug: str, version: str) -> ProviderAdapter | None:
        """The live adapter for `slug` if it was built from settings `version`."""
        adapter = self._adapters.get(slug)
        if adapter is not None and adapter.settings.version == version:
            return adapter
        return None

    def build(self, settings: ProviderSettings) -> ProviderAdapter:
        """Build (or reuse, if another thread just did) the adapter for these settings."""
        with self._lock:
            current = self._adapters.get(settings.slug)
            if current is not None and current.settings == settings:
                return current
            adapter = adapter_class_for(settings.kind)(settings)
            self._adapters[settings.slug] = adapter
            return adapter

    def discard(self, slug: str) -> None:
        with self._lock:
            self._adapters.pop(slug, None)

    def clear(self) -> None:
        with self._lock:
            self._adapters.clear()


adapter_pool = AdapterPool()
