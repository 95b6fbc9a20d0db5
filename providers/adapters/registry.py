"""Which adapter serves which provider kind, and the pool of live adapters.

The pool keeps one adapter (and so one SDK client and its connection pool) per provider slug,
rebuilt only when the provider's settings version changes. It is process-local on purpose: SDK
clients cannot be shared across processes; what must be shared (the settings version) comes
from the database or the shared cache.

The adapter modules are imported on first use, not here: each pulls in its provider SDK
(seconds of CPU together), and every process that loads Django (manage.py, Celery, gunicorn)
imports this module while most never build a client.
"""

import importlib
import threading
from collections.abc import Iterator, Mapping

from providers.adapters.base import ProviderAdapter
from providers.adapters.errors import InvalidRequestError
from providers.adapters.types import ProviderSettings


class LazyAdapterMap(Mapping[str, type[ProviderAdapter]]):
    """Provider kind -> adapter class, importing each adapter module the first time it is asked."""

    def __init__(self, paths: dict[str, str]) -> None:
        self._paths = paths
        self._classes: dict[str, type[ProviderAdapter]] = {}

    def __getitem__(self, kind: str) -> type[ProviderAdapter]:
        adapter_class = self._classes.get(kind)
        if adapter_class is None:
            module_name, _, class_name = self._paths[kind].rpartition(".")  # KeyError: unknown
            adapter_class = getattr(importlib.import_module(module_name), class_name)
            self._classes[kind] = adapter_class
        return adapter_class

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


ADAPTERS: Mapping[str, type[ProviderAdapter]] = LazyAdapterMap(
    {
        "openai": "providers.adapters.openai_adapter.OpenAIAdapter",
        "openai_compatible": "providers.adapters.openai_adapter.OpenAIAdapter",
        "anthropic": "providers.adapters.anthropic_adapter.AnthropicAdapter",
        "gemini": "providers.adapters.gemini_adapter.GeminiAdapter",
        "azure_openai": "providers.adapters.azure_openai_adapter.AzureOpenAIAdapter",
        "vertex": "providers.adapters.vertex_adapter.VertexAdapter",
        "bedrock": "providers.adapters.bedrock_adapter.BedrockAdapter",
    }
)


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
