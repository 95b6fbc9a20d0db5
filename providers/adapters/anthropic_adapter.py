"""anthropic adapter: being written (issue 2)."""

from providers.adapters.base import ProviderAdapter


class AnthropicAdapter(ProviderAdapter):
    pass
