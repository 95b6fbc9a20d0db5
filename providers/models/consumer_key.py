"""Consumer API keys: how programs authenticate to the chat, /v1 and model APIs.

Kept in the providers app (not chat) because the model catalog, budgets and rate limits all
scope by consumer, and apps may only depend downwards (chat -> usage -> providers).
The secret is shown once and stored as a SHA-512 hash by djangorestframework-api-key.
"""

from typing import Any, ClassVar, cast

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager


class ConsumerAPIKeyManager(APIKeyManager):
    def assign_key(self, obj: AbstractAPIKey) -> str:
        """As the library does, but with the public prefix as the primary key: the library's
        default (prefix + hash) would put the hash in admin URLs and in usage rows."""
        key = super().assign_key(obj)
        obj.id = obj.prefix
        return key

    # The library annotates these with its abstract model; this manager's rows are consumer keys.
    def get_from_key(self, key: str) -> "ConsumerAPIKey":
        return cast("ConsumerAPIKey", super().get_from_key(key))

    def create_key(self, **kwargs: Any) -> tuple["ConsumerAPIKey", str]:
        api_key, key = super().create_key(**kwargs)
        return cast("ConsumerAPIKey", api_key), key


class ConsumerAPIKey(AbstractAPIKey):
    objects: ClassVar[ConsumerAPIKeyManager] = ConsumerAPIKeyManager()

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consumer_api_keys",
    )
    allowed_services = models.JSONField(
        default=list, blank=True, help_text="Service names this key may use; empty means all."
    )
    allowed_models = models.JSONField(
        default=list,
        blank=True,
        help_text="Model strings (slug:model) this key may call directly; empty means all.",
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "consumer API key"
        verbose_name_plural = "consumer API keys"
