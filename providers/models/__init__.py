"""Models of the providers app, one module per concern."""

from providers.models.catalog import Capability, ModelConfig, ModelKind, ModelPrice, Origin
from providers.models.consumer_key import ConsumerAPIKey
from providers.models.group import ModelGroup, ModelGroupMember, RoutingStrategy
from providers.models.provider import ProviderConfig, ProviderKind
from providers.models.selection import (
    ModelSelection,
    SelectionChange,
    SelectionFallback,
)

__all__ = [
    "Capability",
    "ConsumerAPIKey",
    "ModelConfig",
    "ModelGroup",
    "ModelGroupMember",
    "ModelKind",
    "ModelPrice",
    "ModelSelection",
    "Origin",
    "ProviderConfig",
    "ProviderKind",
    "RoutingStrategy",
    "SelectionChange",
    "SelectionFallback",
]
