"""UsageRecord: one row per attempt at a provider call, the ledger everything else sums."""

from django.conf import settings
from django.db import models


class Outcome(models.TextChoices):
    """`ok`, or the code of the ProviderError class that ended the attempt."""

    OK = "ok", "ok"


class UsageRecord(models.Model):
    """Written once per attempt on the hot path, so it carries few indexes: time (rollups,
    reconciliation, admin date ranges all scan by it), request id (support look-ups) and the
    two foreign keys. Reports read DailyUsage, not this table."""

    created_at = models.DateTimeField(db_index=True)
    request_id = models.CharField(max_length=64, db_index=True, help_text="This service's id")
    provider_request_id = models.CharField(max_length=128, blank=True, default="")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey(
        "providers.ConsumerAPIKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="usage_records",
    )
    service = models.CharField(max_length=64, blank=True, default="")
    provider = models.CharField(max_length=64, help_text="Provider slug")
    model_string = models.CharField(max_length=200)
    model_reported = models.CharField(max_length=200, blank=True, default="")
    conversation_id = models.BigIntegerField(null=True, blank=True)
    end_user = models.CharField(
        max_length=256,
        blank=True,
        default="",
        help_text="The caller's own end user (OpenAI's `user`), for attribution",
    )
    tags = models.JSONField(
        default=list,
        blank=True,
        help_text="Attribution tags: the x-tags header's, and `metadata` pairs as key:value",
    )

    input_tokens = models.PositiveBigIntegerField(default=0)
    cached_input_tokens = models.PositiveBigIntegerField(default=0)
    cache_write_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    reasoning_tokens = models.PositiveBigIntegerField(default=0)
    raw_usage = models.JSONField(default=dict, blank=True)
    usage_estimated = models.BooleanField(
        default=False,
        help_text="Tokens estimated by this service, not reported by the provider "
        "(an interrupted stream: the text already delivered)",
    )

    cost = models.DecimalField(
        max_digits=20, decimal_places=10, null=True, blank=True, help_text="USD; null if unpriced"
    )
    is_priced = models.BooleanField(default=True)
    price_snapshot = models.JSONField(
        default=dict, blank=True, help_text="The prices (USD per million tokens) used for cost"
    )

    latency_ms = models.PositiveIntegerField(default=0)
    time_to_first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=64, default=Outcome.OK)
    error_message = models.CharField(max_length=500, blank=True, default="")
    attempt = models.PositiveSmallIntegerField(default=1)
    is_fallback = models.BooleanField(default=False)
    streamed = models.BooleanField(default=False)
    operation = models.CharField(max_length=16, default="chat")  # chat | embedding
    cache_hit = models.BooleanField(
        default=False, help_text="Answered from the response cache: no provider call, cost 0"
    )
    saved_cost = models.DecimalField(
        max_digits=20,
        decimal_places=10,
        null=True,
        blank=True,
        help_text="USD a cache hit saved: the cost of the call whose response it replayed",
    )
    route = models.JSONField(
        default=dict,
        blank=True,
        help_text="For a model group: the group, strategy, member, its rank and why "
        "(chat.runtime.routing); empty otherwise",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.model_string} {self.outcome}"

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.cached_input_tokens
            + self.cache_write_tokens
            + self.output_tokens
            + self.reasoning_tokens
        )
