"""Writes of the model catalog: loading the shipped catalog, syncing live lists, staff edits.

Two rules hold everywhere here: a field named in `ModelConfig.staff_edited_fields` is never
overwritten by a load or a sync, and prices are append-only (a change adds a ModelPrice row),
with a staff-set price never replaced by a catalog or synced one.
"""

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from config.errors import InvalidInput
from providers.adapters.errors import ProviderError
from providers.adapters.types import RemoteModel
from providers.catalog import Catalog, CatalogModel, catalog_read
from providers.models import (
    ModelConfig,
    ModelKind,
    ModelPrice,
    Origin,
    ProviderConfig,
    ProviderKind,
)
from providers.presets import PRESETS
from providers.selectors import provider_adapter_get

logger = logging.getLogger(__name__)


# -- the shipped catalog -----------------------------------------------------------------------
@dataclass
class CatalogLoadSummary:
    as_of: str = ""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    prices_added: list[str] = field(default_factory=list)
    kept_staff: list[str] = field(default_factory=list)  # "model: field" left as staff set it
    presets_without_provider: list[str] = field(default_factory=list)


def model_catalog_load(
    *, catalog: Catalog | None = None, provider: ProviderConfig | None = None
) -> CatalogLoadSummary:
    """Create or update a ModelConfig for every catalog entry and every provider of its preset.

    Keyed by preset, never by kind: a provider with no preset (an OpenAI-compatible server of
    its own) gets nothing, and one preset's models never land on another's provider.
    Idempotent: a second run changes nothing. Staff-edited fields are kept; a price row is
    added only when the catalog price differs from the current one and that one is not
    staff-set. Presets with no registered provider are skipped (and reported). `provider`
    limits the load to that provider (e.g. right after staff register it).
    """
    catalog = catalog or catalog_read()
    summary = CatalogLoadSummary(as_of=catalog.as_of)
    now = timezone.now()
    with transaction.atomic():
        for preset in catalog.presets:
            providers = ProviderConfig.objects.filter(preset=preset)
            if provider is not None:
                providers = providers.filter(pk=provider.pk)
            if provider is None and not providers.exists():
                summary.presets_without_provider.append(preset)
                continue
            for config in providers:
                for entry in catalog.for_preset(preset):
                    _load_entry(config, entry, now, summary)
    return summary


def _load_entry(
    provider: ProviderConfig, entry: CatalogModel, now: datetime, summary: CatalogLoadSummary
) -> None:
    wanted = {
        "display_name": entry.display_name,
        "kind": entry.kind,
        "enabled": entry.enabled,
        "context_window": entry.context_window,
        "max_output_tokens": entry.max_output_tokens,
        "capabilities": list(entry.capabilities),
    }
    model = ModelConfig.objects.filter(provider=provider, name=entry.name).first()
    label = f"{provider.slug}:{entry.name}"
    if model is None:
        model = ModelConfig.objects.create(
            provider=provider, name=entry.name, origin=Origin.CATALOG, **wanted
        )
        summary.created.append(label)
    else:
        changed = []
        for name, value in wanted.items():
            if getattr(model, name) == value:
                continue
            if name in (model.staff_edited_fields or []):
                summary.kept_staff.append(f"{label}: {name}")
                continue
            setattr(model, name, value)
            changed.append(name)
        if changed:
            model.save(update_fields=[*changed, "updated_at"])
            summary.updated.append(label)
        else:
            summary.unchanged.append(label)
    if entry.price is None:
        return
    current = model.current_price
    if current is not None and current.source == Origin.STAFF:
        if current.amounts() != entry.price.amounts():
            summary.kept_staff.append(f"{label}: price")
        return
    if current is None or current.amounts() != entry.price.amounts():
        ModelPrice.objects.create(
            model=model,
            effective_from=now,
            input=entry.price.input,
            output=entry.price.output,
            cached_input=entry.price.cached_input,
            cache_write=entry.price.cache_write,
            source=Origin.CATALOG,
            source_url=entry.price.source[:500],
            note=f"catalog of {summary.as_of}; figure as of {entry.price.as_of}",
        )
        summary.prices_added.append(label)


# -- live model lists ---------------------------------------------------------------------------
@dataclass
class ProviderSyncResult:
    provider: str
    added: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)  # no longer listed: available=False
    restored: list[str] = field(default_factory=list)  # listed again: available=True
    unchanged: int = 0
    error: str = ""


@dataclass
class SyncSummary:
    results: list[ProviderSyncResult] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(len(r.added) for r in self.results)

    @property
    def flagged(self) -> int:
        return sum(len(r.flagged) for r in self.results)

    @property
    def unchanged(self) -> int:
        return sum(r.unchanged for r in self.results)

    @property
    def errors(self) -> dict[str, str]:
        return {r.provider: r.error for r in self.results if r.error}


def models_sync(*, provider: ProviderConfig | None = None) -> SyncSummary:
    """Compare each active provider's live model list (or the one given) with the catalog.

    New models arrive disabled; models no longer listed are flagged unavailable (and restored
    when they return); nothing staff set is overwritten. A provider that fails is reported in
    its result's `error` and the others still sync.
    """
    providers = [provider] if provider else ProviderConfig.objects.filter(is_active=True)
    summary = SyncSummary()
    for config in providers:
        result = ProviderSyncResult(provider=config.slug)
        summary.results.append(result)
        try:
            remote = provider_adapter_get(slug=config.slug).list_models()
        except ProviderError as exc:
            result.error = exc.staff_summary()  # never the provider's answer itself
            continue
        except Exception as exc:  # a broken configuration must not stop the other providers
            logger.warning("model sync of %s failed: %s", config.slug, type(exc).__name__)
            result.error = f"{type(exc).__name__}: the provider's model list could not be read."
            continue
        with transaction.atomic():
            _sync_provider(config, remote, result)
    return summary


def _listed(name: str, remote_ids: set[str]) -> bool:
    """Whether `name` is listed, as itself or as a dated snapshot of an alias
    (`claude-sonnet-4-5` is listed as `claude-sonnet-4-5-20250929`)."""
    return name in remote_ids or any(_snapshot_of(remote_id, name) for remote_id in remote_ids)


def _snapshot_of(remote_id: str, name: str) -> bool:
    return re.fullmatch(re.escape(name) + r"-(\d{8}|\d{4}-\d{2}-\d{2})", remote_id) is not None


# The catalogs whose capabilities and limits (never prices) an OpenAI-compatible server may
# borrow for a model it lists under the same id (a gateway serving gpt-4o): the official
# providers' only, so no other service's catalog ever reaches a server of one's own.
LENDING_PRESETS = tuple(p.slug for p in PRESETS if p.kind != ProviderKind.OPENAI_COMPATIBLE)


def _catalog_match(
    catalog: Catalog, provider: ProviderConfig, remote_id: str
) -> tuple[CatalogModel | None, bool]:
    """The catalog entry describing `remote_id` (itself, or the alias a dated snapshot
    belongs to) and whether its price applies: only an entry of the provider's own preset is
    priced for it; an OpenAI-compatible server borrows the official catalogs' capabilities
    and limits."""
    presets = [provider.preset] if provider.preset else []
    if provider.kind == ProviderKind.OPENAI_COMPATIBLE:
        presets += [p for p in LENDING_PRESETS if p != provider.preset]
    for preset in presets:
        entries = catalog.for_preset(preset)
        for test in (lambda e: e.name == remote_id, lambda e: _snapshot_of(remote_id, e.name)):
            entry = next((e for e in entries if test(e)), None)
            if entry is not None:
                return entry, preset == provider.preset
    return None, False


def _synced_fields(item: RemoteModel, entry: CatalogModel | None) -> dict[str, Any]:
    """A new model's fields: what the provider reports, completed by what the catalog knows."""
    kind = item.kind if item.kind in ModelKind.values else ModelKind.CHAT
    fields: dict[str, Any] = {
        "display_name": (item.display_name or item.id)[:200],
        "kind": kind,
        "context_window": item.context_window,
        "max_output_tokens": item.max_output_tokens,
        "capabilities": [],
    }
    if entry is not None:
        fields["kind"] = entry.kind
        fields["capabilities"] = list(entry.capabilities)
        fields["context_window"] = item.context_window or entry.context_window
        fields["max_output_tokens"] = item.max_output_tokens or entry.max_output_tokens
        if not item.display_name or item.display_name == item.id:
            fields["display_name"] = entry.display_name[:200]
    return fields


def _catalog_price_add(model: ModelConfig, entry: CatalogModel, as_of: str, now: datetime) -> None:
    price = entry.price
    assert price is not None
    ModelPrice.objects.create(
        model=model,
        effective_from=now,
        input=price.input,
        output=price.output,
        cached_input=price.cached_input,
        cache_write=price.cache_write,
        source=Origin.CATALOG,
        source_url=price.source[:500],
        note=f"catalog of {as_of} ({entry.name}) at sync; figure as of {price.as_of}",
    )


def _sync_provider(
    provider: ProviderConfig, remote: list[RemoteModel], result: ProviderSyncResult
) -> None:
    now = timezone.now()
    catalog = catalog_read()
    existing = {m.name: m for m in ModelConfig.objects.filter(provider=provider)}
    remote_by_id = {r.id: r for r in remote if r.id}
    for remote_id, item in sorted(remote_by_id.items()):
        if remote_id in existing:
            continue
        entry, priced = _catalog_match(catalog, provider, remote_id)
        model = ModelConfig.objects.create(
            provider=provider,
            name=remote_id[:200],
            enabled=False,
            available=True,
            origin=Origin.SYNCED,
            last_seen_at=now,
            **_synced_fields(item, entry),
        )
        if entry is not None and priced and entry.price is not None:
            _catalog_price_add(model, entry, catalog.as_of, now)
        result.added.append(f"{provider.slug}:{remote_id}")
    for name, model in sorted(existing.items()):
        listed = _listed(name, set(remote_by_id))
        changed = []
        if listed and not model.available:
            model.available = True
            changed.append("available")
            result.restored.append(model.model_string)
        elif not listed and model.available:
            model.available = False
            changed.append("available")
            result.flagged.append(model.model_string)
        remote_item = remote_by_id.get(name)
        if remote_item is not None:
            changed += _fill_unknowns(model, remote_item)
            if model.origin == Origin.SYNCED:
                changed += _fill_from_catalog(model, catalog, provider, now)
        if listed:
            model.last_seen_at = now
        if changed:
            model.save(update_fields=[*changed, "last_seen_at", "updated_at"])
        else:
            result.unchanged += 1
            if listed:  # no signal needed: last_seen_at does not change any resolution
                ModelConfig.objects.filter(pk=model.pk).update(last_seen_at=now)


def _fill_unknowns(model: ModelConfig, item: RemoteModel) -> list[str]:
    """Take limits the provider reports only where nothing is known and staff set nothing."""
    changed = []
    for name in ("context_window", "max_output_tokens"):
        value = getattr(item, name)
        if value and getattr(model, name) is None and name not in model.staff_edited_fields:
            setattr(model, name, value)
            changed.append(name)
    return changed


def _fill_from_catalog(
    model: ModelConfig, catalog: Catalog, provider: ProviderConfig, now: datetime
) -> list[str]:
    """A model synced before the catalog knew it: take what is still unknown and not staff
    set (capabilities, limits) and, when it has no price at all, the catalog's price."""
    entry, priced = _catalog_match(catalog, provider, model.name)
    if entry is None:
        return []
    changed = []
    staff = set(model.staff_edited_fields or [])
    known = {
        "capabilities": list(entry.capabilities),
        "context_window": entry.context_window,
        "max_output_tokens": entry.max_output_tokens,
    }
    for name, value in known.items():
        if value and not getattr(model, name) and name not in staff:
            setattr(model, name, value)
            changed.append(name)
    if priced and entry.price is not None and model.current_price is None:
        _catalog_price_add(model, entry, catalog.as_of, now)
    return changed


# -- staff edits --------------------------------------------------------------------------------
def model_price_set(
    *,
    model: ModelConfig,
    input: Decimal | None,
    output: Decimal | None,
    cached_input: Decimal | None = None,
    cache_write: Decimal | None = None,
    actor: Any = None,
    source: str = Origin.STAFF,
    effective_from: datetime | None = None,
    note: str = "",
) -> ModelPrice | None:
    """Add a price row effective from `effective_from` (now by default) when the amounts
    differ from the current price; None when they are the same. Old rows are never edited."""
    amounts = {
        "input": input,
        "output": output,
        "cached_input": cached_input,
        "cache_write": cache_write,
    }
    errors = {
        name: ["A price must be a decimal number, zero or more."]
        for name, value in amounts.items()
        if value is not None
        and (not isinstance(value, Decimal) or not value.is_finite() or value < 0)
    }
    if errors:
        raise InvalidInput("A price is invalid.", details={"fields": errors})
    current = model.current_price
    if current is not None and current.amounts() == tuple(amounts.values()):
        return None
    price = ModelPrice.objects.create(
        model=model,
        effective_from=effective_from or timezone.now(),
        source=source,
        created_by=actor if getattr(actor, "pk", None) else None,
        note=note[:300],
        **amounts,
    )
    if hasattr(model, "_prefetched_objects_cache"):
        model._prefetched_objects_cache.pop("prices", None)
    return price


def model_config_update(*, model: ModelConfig, **changes: Any) -> ModelConfig:
    """Staff change fields of a model; managed ones are marked staff-edited so catalog loads
    and syncs keep them. Raises InvalidInput with field messages."""
    allowed = set(ModelConfig.MANAGED_FIELDS) | {"available"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise InvalidInput(
            "These fields cannot be changed.",
            details={"fields": {k: ["Unknown field."] for k in unknown}},
        )
    changed = [name for name, value in changes.items() if getattr(model, name) != value]
    for name in changed:
        setattr(model, name, changes[name])
    try:
        model.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise InvalidInput("The model is invalid.", details={"fields": exc.message_dict}) from None
    if changed:
        model.mark_staff_edited(*[n for n in changed if n in ModelConfig.MANAGED_FIELDS])
        model.save(update_fields=[*changed, "staff_edited_fields", "updated_at"])
    return model


def models_enabled_set(*, models: Iterable[ModelConfig], enabled: bool) -> int:
    """Enable or disable models (a staff decision, kept across loads); returns how many changed."""
    count = 0
    with transaction.atomic():
        for model in models:
            if model.enabled != enabled:
                model_config_update(model=model, enabled=enabled)
                count += 1
    return count
