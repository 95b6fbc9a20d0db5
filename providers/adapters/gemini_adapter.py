"""gemini adapter: being written (issue 2)."""

from providers.adapters.base import ProviderAdapter


class GeminiAdapter(ProviderAdapter):
    pass
