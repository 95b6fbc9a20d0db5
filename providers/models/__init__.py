"""Models of the providers app, one module per concern."""

from providers.models.consumer_key import ConsumerAPIKey
from providers.models.provider import ProviderConfig, ProviderKind

__all__ = ["ConsumerAPIKey", "ProviderConfig", "ProviderKind"]
