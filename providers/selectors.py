"""Reads of provider configuration: adapters, the model catalog, and resolution of selections."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from config.errors import ApplicationError, InvalidInput, NotFound
from config.generation_cache import GenerationCache
from providers.adapters.base import ProviderAdapter
from providers.adapters.registry import adapter_pool
from providers.cache import catalog
from providers.models import (
    ModelConfig,
    ModelGroup,
    ModelGroupMember,
    ModelPrice,
    ModelSelection,
    ProviderConfig,
    ProviderKind,
    SelectionFallback,
)
from providers.models.group import GROUP_PREFIX
from providers.presets import preset_get
from providers.resolution import (
    ModelPrices,
    ParameterOverrides,
    ResolvedGroup,
    ResolvedMember,
    ResolvedModel,
    ResolvedSelection,
)

# Provider kinds that may run without an API key (a local Ollama or vLLM server), when no
# preset says otherwise (a Mistral or Groq provider needs its key).
KEYLESS_KINDS = frozenset({ProviderKind.OPENAI_COMPATIBLE.value})
RESOLUTION_TIMEOUT = 3600  # seconds; the generation in the key does the invalidating


class NoUsableModel(ApplicationError):
    """A service's primary and every fallback are unusable right now (disabled, unavailable,
    or their provider is inactive or has no key): a configuration problem, not the caller's."""

    code = "no_usable_model"
    http_status = 503
    default_message = "No model of this service is usable right now."


def provider_adapter_get(*, slug: str, version: str | None = None) -> ProviderAdapter:
    """The live adapter for a provider, reading the database only when `version` is unknown here.

    Callers on the hot path pass the version from the cached resolution, so in the steady state
    this is a dict lookup.
    """
    if version:
        adapter = adapter_pool.get(slug, version)
        if adapter is not None:
            return adapter
    config = ProviderConfig.objects.get(slug=slug)
    return adapter_pool.build(config.to_settings())


# -- the catalog --------------------------------------------------------------------------
def provider_unusable_reason(*, provider: ProviderConfig) -> str | None:
    """Why no model of this provider can be called now, or None if it can."""
    if not provider.is_active:
        return f"provider {provider.slug} is inactive"
    if missing := provider.credentials_missing():
        return f"provider {provider.slug} {missing}"
    # The kind's own needs are above; a preset of a hosted service (Mistral, Groq...) on the
    # OpenAI-compatible kind needs its key too.
    if provider.preset and not provider.api_key and provider_key_required(provider=provider):
        return f"provider {provider.slug} has no API key"
    return None


def provider_key_required(*, provider: ProviderConfig) -> bool:
    """Whether calls need a key: as its preset says, else as its kind does."""
    preset = preset_get(provider.preset)
    if preset is not None:
        return preset.key_required
    return provider.kind not in KEYLESS_KINDS


def model_unusable_reason(*, model: ModelConfig) -> str | None:
    """Why this model cannot be called now (disabled, unavailable, provider), or None."""
    if not model.enabled:
        return f"{model.model_string} is disabled"
    if not model.available:
        return f"{model.model_string} is no longer listed by its provider (unavailable)"
    return provider_unusable_reason(provider=model.provider)


def capability_q(capability: str) -> Q:
    """Models whose capabilities list contains `capability` (JSON text match: works on SQLite
    and PostgreSQL; capability names are a fixed set, so quoting makes the match exact)."""
    return Q(capabilities__icontains=f'"{capability}"')


def model_config_list(
    *,
    provider: str | None = None,
    kind: str | None = None,
    capability: str | None = None,
    enabled: bool | None = None,
    available: bool | None = None,
) -> QuerySet[ModelConfig]:
    """The catalog with optional filters (provider slug, kind, capability, enabled, available),
    with providers joined and prices prefetched so `current_price` costs no query."""
    qs = ModelConfig.objects.select_related("provider").prefetch_related("prices")
    if provider:
        qs = qs.filter(provider__slug=provider)
    if kind:
        qs = qs.filter(kind=kind)
    if capability:
        qs = qs.filter(capability_q(capability))
    if enabled is not None:
        qs = qs.filter(enabled=enabled)
    if available is not None:
        qs = qs.filter(available=available)
    return qs.order_by("provider__slug", "name")


def model_string_split(*, model_string: str) -> tuple[str, str]:
    """("slug", "name") of "slug:name"; InvalidInput when malformed."""
    slug, sep, name = (model_string or "").partition(":")
    if not sep or not slug.strip() or not name.strip():
        raise InvalidInput(
            f"Malformed model string {model_string!r}: use provider:model, e.g. openai:gpt-4.1.",
            details={"model": model_string},
        )
    return slug.strip(), name.strip()


def model_config_get(*, model_string: str) -> ModelConfig:
    """The ModelConfig named by "slug:name"; InvalidInput for a malformed string, an unknown
    provider or an unknown model (the message says which)."""
    slug, name = model_string_split(model_string=model_string)
    provider = ProviderConfig.objects.filter(slug=slug).first()
    if provider is None:
        raise InvalidInput(
            f"Unknown provider {slug!r} in {model_string!r}.",
            details={"model": model_string, "provider": slug},
        )
    model = ModelConfig.objects.filter(provider=provider, name=name).first()
    if model is None:
        raise InvalidInput(
            f"Unknown model {name!r} for provider {slug!r}.",
            details={"model": model_string},
        )
    model.provider = provider
    return model


def model_price_at(*, model: ModelConfig | int, when: datetime) -> ModelPrice | None:
    """The price row in force at `when` (the latest effective_from not after it), or None."""
    model_id = model if isinstance(model, int) else model.pk
    return (
        ModelPrice.objects.filter(model_id=model_id, effective_from__lte=when)
        .order_by("-effective_from", "-id")
        .first()
    )


@dataclass(frozen=True, slots=True)
class AvailableModel:
    model_string: str
    name: str
    display_name: str
    kind: str
    capabilities: tuple[str, ...]
    context_window: int | None
    max_output_tokens: int | None
    prices: ModelPrices


@dataclass(frozen=True, slots=True)
class AvailableProvider:
    slug: str
    name: str
    kind: str
    models: tuple[AvailableModel, ...] = field(default_factory=tuple)


def models_available_list(
    *, kind: str | None = None, model_strings: frozenset[str] | None = None
) -> list[AvailableProvider]:
    """What a program may call: enabled, available models of active providers that have a key
    (or need none), grouped by provider. `model_strings` narrows to those (a consumer key)."""
    qs = model_config_list(kind=kind, enabled=True, available=True).filter(provider__is_active=True)
    groups: dict[int, list[AvailableModel]] = {}
    providers: dict[int, ProviderConfig] = {}
    for model in qs:
        if provider_unusable_reason(provider=model.provider) is not None:
            continue
        if model_strings is not None and model.model_string not in model_strings:
            continue
        price = model.current_price
        providers[model.provider_id] = model.provider
        groups.setdefault(model.provider_id, []).append(
            AvailableModel(
                model_string=model.model_string,
                name=model.name,
                display_name=model.display_name or model.name,
                kind=model.kind,
                capabilities=tuple(model.capabilities or ()),
                context_window=model.context_window,
                max_output_tokens=model.max_output_tokens,
                prices=price.to_prices() if price else ModelPrices(),
            )
        )
    return [
        AvailableProvider(slug=p.slug, name=p.name, kind=p.kind, models=tuple(groups[pk]))
        for pk, p in sorted(providers.items(), key=lambda item: item[1].slug)
    ]


# -- selections -----------------------------------------------------------------------------
def model_selection_names() -> list[str]:
    return list(ModelSelection.objects.order_by("service").values_list("service", flat=True))


def model_selection_list() -> QuerySet[ModelSelection]:
    return ModelSelection.objects.select_related(
        "primary__provider", "primary_group", "updated_by"
    ).prefetch_related(
        "primary__prices",
        Prefetch(
            "fallbacks",
            queryset=SelectionFallback.objects.select_related(
                "model__provider", "group"
            ).prefetch_related("model__prices"),
        ),
    )


def model_selection_get(*, service: str) -> ModelSelection:
    """The selection of `service`; NotFound listing the valid services otherwise."""
    selection = model_selection_list().filter(service=service).first()
    if selection is None:
        raise _unknown_service(service)
    return selection


def _unknown_service(service: str) -> NotFound:
    names = model_selection_names()
    listed = ", ".join(names) if names else "none are configured"
    return NotFound(
        f"Unknown service {service!r}; valid services: {listed}.",
        details={"service": service, "valid_services": names},
    )


def model_selection_resolve(*, name: str) -> ResolvedSelection:
    """What a service name or a "slug:model" string resolves to, cached under the catalog
    generation (config.generation_cache). Raises NotFound (unknown service, listing the valid
    ones), InvalidInput (bad or unusable model string) or NoUsableModel."""
    resolved = _resolutions.get((name or "").strip())
    _provider_slugs.update(dict.fromkeys(c.provider_slug for c in resolved.candidates))
    return resolved


def resolution_local_provider_slugs() -> tuple[str, ...]:
    """Every provider this process's resolutions have named, whatever their generation: a
    guess of which providers the next call may use (to read their state early), never an
    answer to serve. Bounded by the number of providers configured."""
    return tuple(_provider_slugs)


def resolution_local_get(*, name: str) -> ResolvedSelection | None:
    """This process's copy of what `name` resolved to (no cache round trip): what a call that
    just ran here was served under, or None if it was not resolved here."""
    return _resolutions.local_get((name or "").strip())


def resolution_local_clear() -> None:
    """Forget this process's copies (tests: "a fresh resolver")."""
    _resolutions.local_clear()
    _provider_slugs.clear()


def _resolve_from_database(name: str) -> ResolvedSelection:
    if name.startswith(GROUP_PREFIX):
        group = model_group_resolve(name=name[len(GROUP_PREFIX) :])
        return ResolvedSelection(
            name=name, service=None, candidates=tuple(m.model for m in group.members), group=group
        )
    if ":" in name:
        model = model_config_get(model_string=name)
        reason = model_unusable_reason(model=model)
        if reason is not None:
            raise InvalidInput(f"Model {name!r} cannot be used: {reason}.", details={"model": name})
        return ResolvedSelection(
            name=name, service=None, candidates=(resolved_model_build(model=model),)
        )
    selection = model_selection_list().filter(service=name).first()
    if selection is None:
        raise _unknown_service(name)
    candidates, routed, fallback_groups, reasons = _chain_resolve(selection)
    if not candidates:
        raise NoUsableModel(
            f"No model of service {name!r} is usable: {'; '.join(reasons)}.",
            details={"service": name},
        )
    return ResolvedSelection(
        name=name,
        service=selection.service,
        candidates=candidates,
        overrides=ParameterOverrides(
            temperature=selection.temperature,
            max_tokens=selection.max_tokens,
            top_p=selection.top_p,
            system_prompt=selection.system_prompt,
            cache_prompt=selection.cache_prompt,
        ),
        required_capabilities=frozenset(selection.required_capabilities or ()),
        group=routed,
        fallback_groups=fallback_groups,
        cache_ttl=selection.cache_ttl_seconds,
        cache_shared=selection.cache_shared,
        version=f"{selection.pk}:{selection.updated_at.timestamp():.6f}",
        request_log_days=selection.request_log_days,
    )


def _chain_resolve(
    selection: ModelSelection,
) -> tuple[tuple[ResolvedModel, ...], ResolvedGroup | None, tuple[ResolvedGroup, ...], list[str]]:
    """The usable candidates of a selection's chain in order, its primary group, its fallback
    groups, and why each unusable entry was left out.

    Each model is tried once, at its first place in the chain: a fallback group keeps only
    the members not already earlier (and drops out when none is left); a disabled, emptied or
    unknown group is skipped like an unusable model (a primary group's primary then serves
    alone)."""
    candidates: list[ResolvedModel] = []
    seen: set[int] = set()
    reasons: list[str] = []

    def add_model(model: ModelConfig) -> None:
        if model.pk in seen:
            return
        if (reason := model_unusable_reason(model=model)) is not None:
            reasons.append(reason)
            return
        seen.add(model.pk)
        candidates.append(resolved_model_build(model=model))

    def add_group(group: ModelGroup) -> ResolvedGroup | None:
        try:
            resolved = model_group_resolve(name=group.name)
        except InvalidInput as exc:
            reasons.append(exc.message)
            return None
        members = tuple(m for m in resolved.members if m.model.model_id not in seen)
        if not members:
            return None
        seen.update(m.model.model_id for m in members)
        candidates.extend(m.model for m in members)
        return ResolvedGroup(name=resolved.name, strategy=resolved.strategy, members=members)

    routed = add_group(selection.primary_group) if selection.primary_group is not None else None
    if routed is None:
        add_model(selection.primary)
    fallback_groups: list[ResolvedGroup] = []
    for entry in selection.fallback_list():
        if isinstance(entry, ModelGroup):
            if (resolved := add_group(entry)) is not None:
                fallback_groups.append(resolved)
        else:
            add_model(entry)
    return tuple(candidates), routed, tuple(fallback_groups), reasons


def model_group_list() -> QuerySet[ModelGroup]:
    """Groups with their members, models, providers and prices loaded."""
    return ModelGroup.objects.prefetch_related(
        Prefetch(
            "members",
            queryset=ModelGroupMember.objects.select_related(
                "model_config__provider"
            ).prefetch_related("model_config__prices"),
        )
    )


def model_group_get(*, name: str) -> ModelGroup:
    """The group called `name`; NotFound otherwise."""
    group = model_group_list().filter(name=name).first()
    if group is None:
        raise NotFound(f"Unknown model group {name!r}.", details={"group": name})
    return group


def model_group_resolve(*, name: str) -> ResolvedGroup:
    """The usable members of group `name` (enabled members whose model can be called now).
    InvalidInput when the group is unknown, disabled or has no usable member."""
    group = model_group_list().filter(name=name).first()
    model_string = f"{GROUP_PREFIX}{name}"
    if group is None:
        raise InvalidInput(f"Unknown model group {name!r}.", details={"model": model_string})
    if not group.enabled:
        raise InvalidInput(f"Model group {name!r} is disabled.", details={"model": model_string})
    members = tuple(
        ResolvedMember(
            model=resolved_model_build(model=member.model_config),
            weight=member.weight,
            rpm_limit=member.rpm_limit,
            tpm_limit=member.tpm_limit,
        )
        for member in group.members.all()
        if member.enabled and model_unusable_reason(model=member.model_config) is None
    )
    if not members:
        raise InvalidInput(
            f"Model group {name!r} has no usable member.", details={"model": model_string}
        )
    return ResolvedGroup(name=group.name, strategy=group.strategy, members=members)


def resolved_model_build(*, model: ModelConfig) -> ResolvedModel:
    """The plain, cacheable view of a model, with its current price."""
    provider = model.provider
    price = model.current_price
    return ResolvedModel(
        model_string=model.model_string,
        model_id=model.pk,
        model_name=model.name,
        kind=model.kind,
        provider_slug=provider.slug,
        provider_kind=provider.kind,
        provider_version=provider.to_settings().version,
        provider_max_retries=provider.max_retries,
        capabilities=frozenset(model.capabilities or ()),
        context_window=model.context_window,
        max_output_tokens=model.max_output_tokens,
        prices=price.to_prices() if price else ModelPrices(),
    )


# v2: ParameterOverrides gained cache_prompt (entries cached by older code lack it).
# v3: ResolvedSelection gained fallback_groups.
_resolutions: GenerationCache[ResolvedSelection] = GenerationCache(
    "providers:resolved:v3", _resolve_from_database, generation=catalog, timeout=RESOLUTION_TIMEOUT
)
_provider_slugs: dict[str, None] = {}  # insertion-ordered set of provider slugs resolved here
