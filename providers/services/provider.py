"""Creating and changing providers: the one write path of admin, API and commands.

The rules that keep a key where it was entered:
- Changing the base URL or the kind (where requests go) needs the key, and the extra headers
  if any are stored, entered again in the same save: otherwise a user allowed to change a
  provider could point it at an address they control and receive the stored key. Entered
  credentials are bound to the destination (ProviderConfig.credentials_binding); the model
  withholds credentials whose binding no longer matches, so even a direct ORM edit of the base
  URL cannot redirect them.
- The kind's own credential fields (providers.credentials) follow the same rule: a change of
  a destination field (Bedrock's region, Vertex's project or location) is a move, and every
  stored secret of the kind (AWS keys, Entra token, service account) must be entered again.
  `data["credentials"]` holds only the fields entered: secrets left out keep their stored
  value, "" removes one.
- The kind cannot change while models or selections depend on the provider: their model ids,
  prices and capabilities belong to the old kind. Create a new provider instead. The same
  holds for the preset once one is set (its catalog brought the models and prices); setting a
  preset on a provider that had none is allowed.
- A preset fills what is left blank: the kind, and the base URL (providers/presets.py).
"""

import json
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db import transaction

from providers.credentials import credential_spec, credentials_merge, credentials_split
from providers.models import ModelConfig, ModelSelection, ProviderConfig
from providers.models.provider import credentials_json_dict, normalized_base_url
from providers.presets import preset_defaults
from providers.services.catalog import CatalogLoadSummary, model_catalog_load

EDITABLE_FIELDS = (
    "slug",
    "preset",
    "kind",
    "name",
    "base_url",
    "organization",
    "project",
    "timeout_seconds",
    "max_retries",
    "is_active",
)
SECRET_FIELDS = ("api_key", "extra_headers")

KEY_AGAIN = (
    "Changing the base URL or the kind requires entering the API key again in the same save: "
    "a stored key is only ever sent to the address it was entered for."
)
HEADERS_AGAIN = (
    "Changing the base URL or the kind requires entering the extra headers again (or removing "
    "them) in the same save: they may carry credentials, which are only ever sent to the "
    "address they were entered for."
)
CREDENTIALS_AGAIN = (
    "Changing where requests go (the base URL, the kind, {where}) requires entering {names} "
    "again in the same save: stored credentials are only ever sent where they were entered for."
)
SLUG_FIXED = (
    "A provider's slug cannot change: it is the prefix of every model string programs use. "
    "Create a new provider instead."
)

User = AbstractBaseUser | AnonymousUser | None


def provider_dependents(*, provider: ProviderConfig) -> tuple[int, int]:
    """(models, selections) that depend on the provider."""
    models = ModelConfig.objects.filter(provider=provider).count()
    selections = (
        ModelSelection.objects.filter(primary__provider=provider).count()
        + ModelSelection.objects.filter(fallback_models__provider=provider)
        .exclude(primary__provider=provider)
        .distinct()
        .count()
    )
    return models, selections


def provider_changes_check(*, provider: ProviderConfig, changes: Mapping[str, Any]) -> None:
    """Raise ValidationError (by field) for changes to a saved provider the rules refuse.

    `changes` holds the fields being saved; `api_key`/`extra_headers` are present only when
    entered ("" removes them).
    """
    errors: dict[str, str] = {}
    if "slug" in changes and changes["slug"] != provider.slug:
        errors["slug"] = SLUG_FIXED
    preset, kind, base_url = preset_defaults(
        preset=changes.get("preset", provider.preset) or "",
        kind=changes.get("kind", provider.kind) or "",
        base_url=changes.get("base_url", provider.base_url) or "",
    )
    if provider.preset and preset != provider.preset and kind == provider.kind:
        models, selections = provider_dependents(provider=provider)
        if models or selections:
            errors["preset"] = (
                f"The preset cannot change while {models} model(s) and {selections} "
                "selection(s) depend on this provider: their ids and prices came from the "
                "old preset's catalog. Create a new provider with the new preset instead."
            )
    if kind != provider.kind:
        models, selections = provider_dependents(provider=provider)
        if models or selections:
            errors["kind"] = (
                f"The kind cannot change while {models} model(s) and {selections} "
                "selection(s) depend on this provider: their ids, prices and capabilities "
                "belong to the old kind. Create a new provider of the new kind instead."
            )
    stored = _stored_values(provider)
    entered = changes.get("credentials") or {}
    new_values = credentials_merge(kind, stored, entered)
    moved = (
        kind != provider.kind
        or normalized_base_url(base_url) != normalized_base_url(provider.base_url)
        or credentials_split(kind, new_values)[1] != credentials_split(provider.kind, stored)[1]
    )
    if moved:
        if provider.api_key and "api_key" not in changes:
            errors["api_key"] = KEY_AGAIN
        if provider.extra_headers and "extra_headers" not in changes:
            errors["extra_headers"] = HEADERS_AGAIN
        spec = credential_spec(provider.kind)
        kept = [
            item.label
            for item in spec.fields
            if item.secret and stored.get(item.name) and item.name not in entered
        ]
        if kept:
            where = ", ".join(credential_spec(kind).destination_names or ("endpoint",))
            errors["credentials"] = CREDENTIALS_AGAIN.format(where=where, names=", ".join(kept))
    if errors:
        raise ValidationError(errors)


def _stored_values(provider: ProviderConfig) -> dict[str, str]:
    try:
        return credentials_json_dict(provider.credentials)
    except ValueError:
        return {}


def _apply(provider: ProviderConfig, data: Mapping[str, Any]) -> bool:
    """Set the given fields; True when credentials were entered (to be bound)."""
    old_kind = provider.kind
    for name in EDITABLE_FIELDS:
        if name in data:
            setattr(provider, name, data[name] if data[name] is not None else "")
    provider.preset, provider.kind, provider.base_url = preset_defaults(
        preset=provider.preset or "", kind=provider.kind or "", base_url=provider.base_url or ""
    )
    entered = False
    for name in SECRET_FIELDS:
        if name in data:
            setattr(provider, name, data[name] or "")
            entered = True
    typed: Mapping[str, Any] = data.get("credentials") or {}
    if typed or provider.kind != old_kind:
        values = credentials_merge(provider.kind, _stored_values(provider), typed)
        provider.credentials = json.dumps(values, sort_keys=True) if values else ""
        secrets = credential_spec(provider.kind).secret_names
        entered = entered or any(name in typed for name in secrets)
    return entered


def _user(user: User) -> Any:
    return user if user is not None and getattr(user, "pk", None) else None


@transaction.atomic
def provider_create(
    *, data: Mapping[str, Any], user: User = None
) -> tuple[ProviderConfig, CatalogLoadSummary]:
    """Validate and save a new provider, its credentials bound to its destination, and give
    it the catalog's models of its preset (none for a server of one's own)."""
    provider = ProviderConfig()
    _apply(provider, data)
    provider.created_by = provider.updated_by = _user(user)
    provider.full_clean(exclude=["created_by", "updated_by", "credentials_binding"])
    provider.credentials_bind()
    provider.save()
    return provider, model_catalog_load(provider=provider)


@transaction.atomic
def provider_update(
    *, provider: ProviderConfig, data: Mapping[str, Any], user: User = None
) -> ProviderConfig:
    """Validate and save changes; credentials entered now are bound to the new destination.

    `provider` is the saved state (it is re-read under a row lock, so concurrent saves are
    judged one after the other)."""
    current = ProviderConfig.objects.select_for_update().get(pk=provider.pk)
    provider_changes_check(provider=current, changes=data)
    entered = _apply(current, data)
    current.updated_by = _user(user)
    current.full_clean(exclude=["created_by", "updated_by", "credentials_binding"])
    if entered:
        current.credentials_bind()
    current.save()
    return current
