"""ModelSelection: which model (and which ordered fallbacks) each internal service uses.

Validation lives in one place, `providers.services.selection.model_selection_validate`, used
by the admin form, the API and `clean()` alike. Every change writes a SelectionChange row.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from providers.models.catalog import ModelConfig, capabilities_validate
from providers.models.group import ModelGroup

service_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$",
    "Use lowercase letters, digits, underscores and hyphens (for example `rag_agent`).",
)


class ModelSelection(models.Model):
    service = models.CharField(
        max_length=64,
        unique=True,
        validators=[service_validator],
        help_text="The internal service's name, e.g. rag_agent; programs call models by it.",
    )
    primary = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="primary_for")
    primary_group = models.ForeignKey(
        "providers.ModelGroup",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="selections",
        help_text="Route the primary through this model group: its members serve in place of "
        "the primary model (which must be one of them), before the fallbacks.",
    )
    fallback_models = models.ManyToManyField(
        ModelConfig, through="SelectionFallback", related_name="fallback_for", blank=True
    )
    temperature = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(2.0)]
    )
    max_tokens = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    top_p = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    system_prompt = models.TextField(blank=True, default="")
    cache_prompt = models.BooleanField(
        "cache the system prompt and tools",
        default=False,
        help_text="On Anthropic models, mark the system prompt and the tools as a prompt-cache "
        "prefix, so repeated calls read them from the cache (priced as cache writes, then "
        "reads). Other providers cache long prompts by themselves.",
    )
    required_capabilities = models.JSONField(
        default=list, blank=True, validators=[capabilities_validate]
    )
    min_context_window = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Every model of the chain must offer at least this many tokens of context.",
    )
    cache_ttl_seconds = models.PositiveIntegerField(
        default=0,
        help_text="Answer an identical request from the response cache for this many seconds "
        "(0: off). Exact match on the request and this selection's version.",
    )
    cache_shared = models.BooleanField(
        default=False,
        help_text="Share cached responses across consumer keys and users (off: each key or "
        "user only ever sees responses to its own requests).",
    )
    description = models.TextField(blank=True, default="")
    request_log_days = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(3650)],
        help_text=(
            "Keep the request and response of each call (redacted, compressed) for this many "
            "days, viewable by administrators; 0 keeps none."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["service"]
        verbose_name = "model selection"

    def __str__(self) -> str:
        return self.service

    def fallback_list(self) -> list[ModelConfig | ModelGroup]:
        """The fallback entries (models or model groups) in order (uses prefetched rows when
        loaded)."""
        return [f.entry for f in sorted(self.fallbacks.all(), key=lambda f: (f.position, f.pk))]


class SelectionFallback(models.Model):
    selection = models.ForeignKey(
        ModelSelection, on_delete=models.CASCADE, related_name="fallbacks"
    )
    model = models.ForeignKey(
        ModelConfig, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    group = models.ForeignKey(
        ModelGroup,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="fallback_for",
        help_text="A model group standing at this position: its members, ordered by the "
        "group's strategy, are tried here.",
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "fallback"
        constraints = [
            models.UniqueConstraint(
                fields=["selection", "model"], name="unique_fallback_model_per_selection"
            ),
            models.UniqueConstraint(
                fields=["selection", "group"], name="unique_fallback_group_per_selection"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(model__isnull=False, group__isnull=True)
                    | models.Q(model__isnull=True, group__isnull=False)
                ),
                name="fallback_model_xor_group",
                violation_error_message="A fallback is either a model or a model group.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}: {self.entry}"

    @property
    def entry(self) -> ModelConfig | ModelGroup:
        """The model or the model group at this position."""
        entry = self.model if self.model_id is not None else self.group
        assert entry is not None  # the check constraint: exactly one is set
        return entry


class ChangeAction(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    DELETED = "deleted", "Deleted"


class SelectionChange(models.Model):
    """An audit row: who changed which selection, when, from where, and before/after."""

    selection = models.ForeignKey(
        ModelSelection, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    service = models.CharField(max_length=64, db_index=True)  # kept after a delete
    action = models.CharField(max_length=16, choices=ChangeAction.choices)
    source = models.CharField(max_length=16, default="", blank=True)  # admin | api | command
    changed_at = models.DateTimeField(default=timezone.now, db_index=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = "selection change"

    def __str__(self) -> str:
        return f"{self.service} {self.action} at {self.changed_at:%Y-%m-%d %H:%M:%S}"
