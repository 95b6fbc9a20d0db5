"""What a service name or model string resolves to: plain, cacheable types.

The resolver (`providers.selectors.model_selection_resolve`) builds a ResolvedSelection from
the database once per catalog generation and keeps it in the shared cache; the call runtime
reads only these types on the hot path. Nothing secret is in them: provider keys are loaded
by the adapter pool, keyed by `provider_version`.
"""

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class ModelPrices:
    """USD per million tokens, in force since `effective_from`; None means unpriced."""

    input: Decimal | None = None
    output: Decimal | None = None
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    effective_from: str = ""  # ISO date
    source: str = ""  # catalog | synced | staff
    price_id: int | None = None  # the ModelPrice row, kept on UsageRecord.price_snapshot


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    model_string: str  # "slug:name"
    model_id: int  # ModelConfig pk
    model_name: str  # the provider's model id
    kind: str  # chat | embedding
    provider_slug: str
    provider_kind: str
    provider_version: str  # ProviderSettings.version, to pick the live adapter
    provider_max_retries: int
    capabilities: frozenset[str] = frozenset()
    context_window: int | None = None
    max_output_tokens: int | None = None
    prices: ModelPrices = field(default_factory=ModelPrices)


@dataclass(frozen=True, slots=True)
class ParameterOverrides:
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    system_prompt: str = ""
    # The selection's automatic prompt caching (ChatRequest.cache_prompt, Anthropic only).
    cache_prompt: bool = False


@dataclass(frozen=True, slots=True)
class ResolvedMember:
    """One deployment of a model group, with what its routing needs."""

    model: ResolvedModel
    weight: int = 1
    rpm_limit: int | None = None
    tpm_limit: int | None = None


@dataclass(frozen=True, slots=True)
class ResolvedGroup:
    """A model group's usable members, in their stored order; the runtime routes among them."""

    name: str
    strategy: str
    members: tuple[ResolvedMember, ...]

    def member_of(self, model_id: int) -> ResolvedMember | None:
        return next((m for m in self.members if m.model.model_id == model_id), None)


@dataclass(frozen=True, slots=True)
class ResolvedSelection:
    """The primary model and its usable fallbacks, in order, for a service or a model string.

    With a `group`, the candidates start with the group's members (which the runtime reorders
    per call by the group's strategy), followed by the fallbacks. A fallback that is a model
    group stands in the candidates as its members, contiguous at its position, and is in
    `fallback_groups` (its members exclude models earlier in the chain, so each candidate
    belongs to at most one group and is tried once)."""

    name: str  # what the caller asked for
    service: str | None  # None when the caller named a model string directly
    candidates: tuple[ResolvedModel, ...]
    overrides: ParameterOverrides = field(default_factory=ParameterOverrides)
    required_capabilities: frozenset[str] = frozenset()
    group: ResolvedGroup | None = None
    fallback_groups: tuple[ResolvedGroup, ...] = ()
    # The response cache (chat.runtime.response_cache): seconds to keep an answer (0: off),
    # whether consumers share answers, and the selection's version the key includes.
    cache_ttl: int = 0
    cache_shared: bool = False
    version: str = ""
    # Days to keep each call's request and response (chat.request_logs); 0: never kept.
    request_log_days: int = 0

    @property
    def groups(self) -> tuple[ResolvedGroup, ...]:
        """Every group of the chain in order: the primary group, then the fallback groups."""
        return ((self.group,) if self.group is not None else ()) + self.fallback_groups
