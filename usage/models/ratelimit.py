"""Rate limits: requests and tokens per minute for a consumer key or a service.

Only the configuration lives in the database; the counters live in Redis (usage/ratelimits.py).
"""

from django.core.exceptions import ValidationError
from django.db import models

from usage.models.budget import ScopeType, scope_value_validate


class RateLimitScope(models.TextChoices):
    CONSUMER_KEY = ScopeType.CONSUMER_KEY.value, ScopeType.CONSUMER_KEY.label
    SERVICE = ScopeType.SERVICE.value, ScopeType.SERVICE.label


class RateLimit(models.Model):
    scope_type = models.CharField(max_length=16, choices=RateLimitScope.choices)
    scope_value = models.CharField(max_length=200, help_text="Consumer API key id or service name.")
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty means no request limit."
    )
    tokens_per_minute = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Estimated prompt plus max output tokens; empty means no token limit.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scope_type", "scope_value"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(requests_per_minute__isnull=False)
                | models.Q(tokens_per_minute__isnull=False),
                name="ratelimit_has_a_limit",
            )
        ]

    def __str__(self) -> str:
        parts = []
        if self.requests_per_minute is not None:
            parts.append(f"{self.requests_per_minute} req/min")
        if self.tokens_per_minute is not None:
            parts.append(f"{self.tokens_per_minute} tok/min")
        return f"{self.scope_type}:{self.scope_value} " + ", ".join(parts)

    def clean(self) -> None:
        scope_value_validate(self.scope_type, self.scope_value)
        if self.requests_per_minute is None and self.tokens_per_minute is None:
            raise ValidationError("Set a request limit, a token limit or both.")
