"""Who is calling: consumer API keys turned into a cached, plain ConsumerIdentity.

`consumer_identity_from_key` runs on every program call, so in the steady state it reads one
number from the shared cache (the generation, often already read with the call's other state)
and nothing from the database. Entries are keyed by an HMAC of the presented key (never the
key itself) in a GenerationCache (config.generation_cache): shared, plus a process copy for
the current generation only. Any save or delete of a key bumps the generation after commit, so
a revoked key stops working on its next request in every process. Reading the generation
before the database means an entry built from a pre-revocation read is stored under the old
generation and never read again.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.crypto import salted_hmac

from config.errors import InvalidInput
from config.generation_cache import CacheGeneration, GenerationCache
from providers.models import ConsumerAPIKey
from providers.models.provider import slug_validator
from providers.models.selection import service_validator

logger = logging.getLogger(__name__)

# Public so a request can read it together with its other cache state (chat.v1.views).
keys_generation = CacheGeneration("consumers:generation")
ENTRY_TTL_SECONDS = 300
LAST_USED_INTERVAL_SECONDS = 60
_INVALID = "invalid"  # cached marker for unknown, revoked or expired keys
MAX_KEY_LENGTH = 200  # longer "keys" are refused without hashing or querying

_recent_touches: dict[str, float] = {}  # key id -> monotonic time of the last touch here


@dataclass(frozen=True, slots=True)
class ConsumerIdentity:
    """A program authenticated by a consumer API key; empty allow-lists mean "everything"."""

    key_id: str
    name: str
    prefix: str
    owner_id: int | None
    allowed_services: tuple[str, ...] = ()
    allowed_models: tuple[str, ...] = ()

    @property
    def restricted(self) -> bool:
        """Whether either allow-list is set: then only what the lists name is visible."""
        return bool(self.allowed_services or self.allowed_models)

    def may_use(self, name: str) -> bool:
        """Whether this key may call `name`: a service name or a `slug:model` string.

        A key with no allow-list may call everything; a key restricted in either list may
        call only what its lists name (a service-only key cannot reach raw model strings).
        """
        if not self.allowed_services and not self.allowed_models:
            return True
        allowed = self.allowed_models if ":" in name else self.allowed_services
        return name in allowed


def consumer_identity_from_key(raw_key: str) -> ConsumerIdentity | None:
    """The identity behind a presented key, or None if it is unknown, revoked or expired."""
    if not raw_key or len(raw_key) > MAX_KEY_LENGTH or "." not in raw_key:
        return None
    entry = _entries.get(raw_key)
    if isinstance(entry, str):  # _INVALID
        return None
    identity, expires_at = entry
    if expires_at is not None and expires_at <= timezone.now():
        return None
    _touch_last_used(identity.key_id)
    return identity


def consumer_identity_for(api_key: ConsumerAPIKey) -> ConsumerIdentity:
    """The identity of a key row (for admin, commands and tests)."""
    return ConsumerIdentity(
        key_id=str(api_key.pk),
        name=api_key.name,
        prefix=api_key.prefix,
        owner_id=api_key.owner_id,
        allowed_services=tuple(str(s) for s in api_key.allowed_services or ()),
        allowed_models=tuple(str(m) for m in api_key.allowed_models or ()),
    )


def consumer_identity_local_clear() -> None:
    """Forget this process's copies of key lookups (tests: "another process")."""
    _entries.local_clear()


def consumer_keys_generation_bump() -> None:
    """Forget every cached key lookup (called after any key is saved or deleted)."""
    keys_generation.bump()


@receiver(post_save, sender=ConsumerAPIKey)
@receiver(post_delete, sender=ConsumerAPIKey)
def consumer_key_changed(sender: type, instance: ConsumerAPIKey, **kwargs: Any) -> None:
    transaction.on_commit(consumer_keys_generation_bump)


def _generation() -> int:
    return keys_generation.current()


def _key_digest(raw_key: str) -> str:
    """A keyed hash of the presented key: what the cache stores instead of the key."""
    return salted_hmac("providers.consumers", raw_key, algorithm="sha256").hexdigest()


def _entry_from_database(raw_key: str) -> tuple[ConsumerIdentity, datetime | None] | str:
    try:
        api_key = ConsumerAPIKey.objects.get_from_key(raw_key)
    except ConsumerAPIKey.DoesNotExist:
        return _INVALID
    if api_key.has_expired:
        return _INVALID
    return consumer_identity_for(api_key), api_key.expiry_date


def _entry_timeout(entry: tuple[ConsumerIdentity, datetime | None] | str) -> int:
    if isinstance(entry, str):  # _INVALID
        return 30  # short: bounds database reads from a flood of bad keys
    _, expires_at = entry
    if expires_at is None:
        return ENTRY_TTL_SECONDS
    remaining = (expires_at - timezone.now()).total_seconds()
    return max(1, min(ENTRY_TTL_SECONDS, int(remaining) + 1))


def _touch_last_used(key_id: str) -> None:
    """Record use at most once a minute per key; a plain UPDATE so no signal bumps the cache.

    A process-local clock skips even the shared-cache guard between touches, so the steady
    state costs no extra round trip.
    """
    now = time.monotonic()
    if now - _recent_touches.get(key_id, -LAST_USED_INTERVAL_SECONDS) < LAST_USED_INTERVAL_SECONDS:
        return
    if len(_recent_touches) > 10_000:
        _recent_touches.clear()
    _recent_touches[key_id] = now
    if not cache.add(f"consumers:used:{key_id}", 1, timeout=LAST_USED_INTERVAL_SECONDS):
        return
    try:
        ConsumerAPIKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())
    except Exception:  # bookkeeping must never fail a call
        logger.warning("Could not record last use of a consumer key", exc_info=True)


# -- writes ---------------------------------------------------------------------------------
def consumer_key_create(
    *,
    name: str,
    owner: Any = None,
    allowed_services: Sequence[str] = (),
    allowed_models: Sequence[str] = (),
    expiry_date: datetime | None = None,
) -> tuple[ConsumerAPIKey, str]:
    """A new key and its secret: the only time the secret exists outside the caller's hands.

    Raises InvalidInput (details {"fields": ...}) for a bad name, service name or model string.
    """
    errors = consumer_key_scope_errors(
        allowed_services=allowed_services, allowed_models=allowed_models
    )
    if not name or not name.strip() or len(name.strip()) > 50:
        errors["name"] = ["Give the key a name of 1 to 50 characters."]
    if expiry_date is not None and expiry_date <= timezone.now():
        errors["expiry_date"] = ["The expiry date must be in the future."]
    if errors:
        first, messages = next(iter(errors.items()))
        raise InvalidInput(f"{first}: {messages[0]}", details={"fields": errors})
    key, secret = ConsumerAPIKey.objects.create_key(
        name=name.strip(),
        owner=owner,
        allowed_services=list(dict.fromkeys(allowed_services)),
        allowed_models=list(dict.fromkeys(allowed_models)),
        expiry_date=expiry_date,
    )
    return key, secret


def consumer_key_scope_errors(
    *, allowed_services: Sequence[str], allowed_models: Sequence[str]
) -> dict[str, list[str]]:
    """Field errors of an allow-list: service names must be slugs, models `slug:name`."""
    errors: dict[str, list[str]] = {}
    for service in allowed_services:
        if not re.fullmatch(service_validator.regex, service):
            errors.setdefault("allowed_services", []).append(
                f"{service[:100]!r} is not a service name (lowercase letters, digits, _ and -)."
            )
    for model in allowed_models:
        slug, sep, model_name = model.partition(":")
        if not sep or not model_name.strip() or not re.fullmatch(slug_validator.regex, slug):
            errors.setdefault("allowed_models", []).append(
                f"{model[:100]!r} is not a model string; use provider:model, e.g. openai:gpt-4.1."
            )
    return errors


def consumer_key_revoke(*, api_key: ConsumerAPIKey) -> None:
    """Revoke for good; every process refuses the key from its next request."""
    if not api_key.revoked:
        api_key.revoked = True
        api_key.save(update_fields=["revoked"])


# Keyed by an HMAC of the presented key; unknown keys stay out of the process copy, so a flood
# of bad keys cannot evict the good ones.
_entries: GenerationCache[tuple[ConsumerIdentity, datetime | None] | str] = GenerationCache(
    "consumers:key",
    _entry_from_database,
    generation=keys_generation,
    timeout=_entry_timeout,
    digest=_key_digest,
    keep_local=lambda entry: entry != _INVALID,
)
