"""ModelConfig (a model a provider serves) and ModelPrice (its price history).

Prices are never edited in place: a change adds a ModelPrice row effective from a moment, so
a call made earlier is still priced with the price then in force (`model_price_at`).
`staff_edited_fields` records which ModelConfig fields staff changed by hand, so that neither
a catalog load nor a live sync ever overwrites them.
"""

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from providers.models.provider import ProviderConfig
from providers.resolution import ModelPrices


class ModelKind(models.TextChoices):
    CHAT = "chat", "Chat"
    EMBEDDING = "embedding", "Embedding"


class Capability(models.TextChoices):
    VISION = "vision", "Vision (image input)"
    TOOLS = "tools", "Tool calling"
    JSON_OUTPUT = "json_output", "JSON output"
    STREAMING = "streaming", "Streaming"
    REASONING = "reasoning", "Reasoning"
    PROMPT_CACHING = "prompt_caching", "Prompt caching"


class Origin(models.TextChoices):
    """Where a row (or a price) came from."""

    CATALOG = "catalog", "Catalog"
    SYNCED = "synced", "Synced from the provider"
    STAFF = "staff", "Set by staff"


def capabilities_validate(value: object) -> list[str]:
    """The unknown entries of a capabilities value; raises ValidationError when it is bad."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("Capabilities must be a list of names.")
    unknown = sorted(set(value) - set(Capability.values))
    if unknown:
        raise ValidationError(
            f"Unknown capability {', '.join(unknown)}; choose from {', '.join(Capability.values)}."
        )
    return value


class ModelConfig(models.Model):
    # Fields that a catalog load or a sync may set, unless staff edited them.
    MANAGED_FIELDS = (
        "display_name",
        "kind",
        "enabled",
        "context_window",
        "max_output_tokens",
        "capabilities",
    )

    provider = models.ForeignKey(ProviderConfig, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=200, help_text="The provider's model id, e.g. gpt-4.1")
    display_name = models.CharField(max_length=200, blank=True, default="")
    kind = models.CharField(max_length=16, choices=ModelKind.choices, default=ModelKind.CHAT)
    enabled = models.BooleanField(
        default=False, help_text="Only enabled models may be selected or called."
    )
    available = models.BooleanField(
        default=True, help_text="False when the provider no longer lists this model."
    )
    context_window = models.PositiveIntegerField(null=True, blank=True, help_text="Tokens")
    max_output_tokens = models.PositiveIntegerField(null=True, blank=True, help_text="Tokens")
    capabilities = models.JSONField(
        default=list, blank=True, validators=[capabilities_validate], help_text="A list of names"
    )
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.STAFF)
    staff_edited_fields = models.JSONField(
        default=list,
        blank=True,
        help_text="Fields staff changed by hand; catalog loads and syncs leave them alone.",
    )
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="When the provider's model list last included it"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider__slug", "name"]
        verbose_name = "model"
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="unique_model_per_provider")
        ]

    def __str__(self) -> str:
        return self.model_string

    @property
    def model_string(self) -> str:
        return f"{self.provider.slug}:{self.name}"

    def clean(self) -> None:
        try:
            capabilities_validate(self.capabilities)
        except ValidationError as exc:
            raise ValidationError({"capabilities": exc.messages}) from None

    def price_at(self, when: datetime) -> "ModelPrice | None":
        """The price in force at `when`; uses prefetched prices when they are loaded."""
        cache = getattr(self, "_prefetched_objects_cache", {})
        if "prices" in cache:
            rows = [p for p in cache["prices"] if p.effective_from <= when]
            return max(rows, key=lambda p: (p.effective_from, p.pk), default=None)
        return (
            self.prices.filter(effective_from__lte=when).order_by("-effective_from", "-id").first()
        )

    @property
    def current_price(self) -> "ModelPrice | None":
        return self.price_at(timezone.now())

    def mark_staff_edited(self, *fields: str) -> None:
        self.staff_edited_fields = sorted(set(self.staff_edited_fields or []) | set(fields))


class ModelPrice(models.Model):
    """USD per million tokens from `effective_from` on; null means unknown. Append-only."""

    PRICE_FIELDS = ("input", "output", "cached_input", "cache_write")

    model = models.ForeignKey(ModelConfig, on_delete=models.CASCADE, related_name="prices")
    effective_from = models.DateTimeField(default=timezone.now, db_index=True)
    input = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    output = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    cached_input = models.DecimalField(
        "cached input (read)", max_digits=14, decimal_places=6, null=True, blank=True
    )
    cache_write = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    source = models.CharField(max_length=16, choices=Origin.choices, default=Origin.STAFF)
    source_url = models.URLField(blank=True, default="", max_length=500)
    note = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-effective_from", "-id"]
        get_latest_by = ["effective_from", "id"]
        verbose_name = "model price"
        constraints = [
            models.CheckConstraint(
                condition=(
                    (models.Q(input__isnull=True) | models.Q(input__gte=0))
                    & (models.Q(output__isnull=True) | models.Q(output__gte=0))
                    & (models.Q(cached_input__isnull=True) | models.Q(cached_input__gte=0))
                    & (models.Q(cache_write__isnull=True) | models.Q(cache_write__gte=0))
                ),
                name="model_price_not_negative",
            )
        ]

    def __str__(self) -> str:
        return f"price of model {self.model_id} from {self.effective_from:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError("Prices are history: add a new ModelPrice instead of editing one.")
        super().save(*args, **kwargs)

    def amounts(self) -> tuple[Decimal | None, ...]:
        return tuple(getattr(self, f) for f in self.PRICE_FIELDS)

    def to_prices(self) -> ModelPrices:
        return ModelPrices(
            input=self.input,
            output=self.output,
            cached_input=self.cached_input,
            cache_write=self.cache_write,
            effective_from=self.effective_from.isoformat(),
            source=self.source,
            price_id=self.pk,
        )
