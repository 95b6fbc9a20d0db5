"""ModelGroup: one logical model served by several deployments (provider models, keys, regions).

A group is called like a model: by the model string `group:<name>` (the slug `group` is
reserved for providers, so the prefix can never name one), as the primary of a selection
(`ModelSelection.primary_group`), or as one of its fallbacks (`SelectionFallback.group`). Each
call the runtime orders the group's healthy members by the group's strategy
(chat.runtime.routing), tries the rest of the members as in-group failover, then the next
entries of the selection's chain.

A member's `rpm_limit`/`tpm_limit` are the quotas of that deployment's provider contract, entered
by staff: the router counts each member's requests and tokens per minute in Redis and steers
away from a member before the provider would answer 429.
"""

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from providers.models.catalog import ModelConfig

GROUP_PREFIX = "group:"

group_name_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$",
    "Use lowercase letters, digits, dots, underscores and hyphens (for example `gpt-4o-pool`); "
    "callers name the group as `group:<name>`.",
)


class RoutingStrategy(models.TextChoices):
    WEIGHTED = "weighted", "Weighted random (by member weight)"
    LEAST_BUSY = "least_busy", "Least busy (fewest calls in flight)"
    LOWEST_LATENCY = "lowest_latency", "Lowest latency (moving average)"
    MOST_HEADROOM = "most_headroom", "Most headroom (per-minute request and token quotas)"


class ModelGroup(models.Model):
    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[group_name_validator],
        help_text="Callers use the model string group:<name>.",
    )
    strategy = models.CharField(
        max_length=32, choices=RoutingStrategy.choices, default=RoutingStrategy.WEIGHTED
    )
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "model group"

    def __str__(self) -> str:
        return self.model_string

    @property
    def model_string(self) -> str:
        return f"{GROUP_PREFIX}{self.name}"


class ModelGroupMember(models.Model):
    group = models.ForeignKey(ModelGroup, on_delete=models.CASCADE, related_name="members")
    model_config = models.ForeignKey(ModelConfig, on_delete=models.PROTECT, related_name="+")
    weight = models.PositiveIntegerField(
        default=1, help_text="Share of calls under the weighted strategy (0: failover only)."
    )
    rpm_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Requests per minute this deployment's contract allows (blank: unknown).",
    )
    tpm_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Tokens per minute this deployment's contract allows (blank: unknown).",
    )
    enabled = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order among equals.")

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "member"
        constraints = [
            models.UniqueConstraint(fields=["group", "model_config"], name="unique_model_per_group")
        ]

    def __str__(self) -> str:
        return f"{self.group_id}: {self.model_config}"
