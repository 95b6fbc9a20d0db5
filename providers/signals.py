"""Invalidate cached resolutions and live adapters when provider configuration changes."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from providers.adapters.registry import adapter_pool
from providers.cache import catalog_generation_bump
from providers.models import (
    ModelConfig,
    ModelGroup,
    ModelGroupMember,
    ModelPrice,
    ModelSelection,
    ProviderConfig,
    SelectionFallback,
)


@receiver(post_save, sender=ProviderConfig)
@receiver(post_delete, sender=ProviderConfig)
def provider_config_changed(sender: type, instance: ProviderConfig, **kwargs: Any) -> None:
    adapter_pool.discard(instance.slug)
    transaction.on_commit(catalog_generation_bump)


@receiver(post_save, sender=ModelConfig)
@receiver(post_delete, sender=ModelConfig)
@receiver(post_save, sender=ModelPrice)
@receiver(post_delete, sender=ModelPrice)
@receiver(post_save, sender=ModelSelection)
@receiver(post_delete, sender=ModelSelection)
@receiver(post_save, sender=SelectionFallback)
@receiver(post_delete, sender=SelectionFallback)
@receiver(post_save, sender=ModelGroup)
@receiver(post_delete, sender=ModelGroup)
@receiver(post_save, sender=ModelGroupMember)
@receiver(post_delete, sender=ModelGroupMember)
def catalog_changed(sender: type, **kwargs: Any) -> None:
    """A model, price, selection or group changed: cached resolutions are stale after the commit."""
    transaction.on_commit(catalog_generation_bump)
