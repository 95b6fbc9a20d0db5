"""DailyUsage: UsageRecord summed per business day and group, the table reports read.

Rows are derived data: `usage.services.rollup.usage_rollup_day` deletes and recomputes a whole
day at once, so nothing else should write them.

The group is (day, provider, model_string, service, api_key, user). The consumer is kept as the
two foreign keys that UsageRecord has (null when the call had no key or no user), both
`SET_NULL` like on UsageRecord: deleting a key never fails and the day's totals stay right
(the key's rows join the key-less group; the next rollup of that day merges them). Because SQL
treats NULLs as distinct, the unique constraint guards rows that name a consumer; the rollup's
GROUP BY is what keeps key-less rows unique.

Latency is kept as a sum (for the mean) and a fixed histogram (for percentiles): one counter
column per bucket, named by its upper bound in milliseconds, so the rollup fills it with plain
SQL on every database.
"""

from django.conf import settings
from django.db import models

# Upper bounds (inclusive, ms) of the latency histogram buckets; a last bucket takes the rest.
LATENCY_BUCKET_BOUNDS_MS: tuple[int, ...] = (
    100,
    250,
    500,
    1_000,
    2_000,
    4_000,
    8_000,
    15_000,
    30_000,
    60_000,
    120_000,
)
LATENCY_BUCKET_FIELDS: tuple[str, ...] = (
    *(f"latency_le_{bound}ms" for bound in LATENCY_BUCKET_BOUNDS_MS),
    "latency_gt_max",
)
TOKEN_FIELDS: tuple[str, ...] = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)


class DailyUsage(models.Model):
    day = models.DateField(help_text="A date in settings.BUSINESS_TIME_ZONE")
    provider = models.CharField(max_length=64, help_text="Provider slug")
    model_string = models.CharField(max_length=200)
    service = models.CharField(max_length=64, blank=True, default="")
    api_key = models.ForeignKey(
        "providers.ConsumerAPIKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    requests = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0, help_text="Attempts whose outcome is not ok")
    input_tokens = models.PositiveBigIntegerField(default=0)
    cached_input_tokens = models.PositiveBigIntegerField(default=0)
    cache_write_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    reasoning_tokens = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(
        max_digits=24, decimal_places=10, default=0, help_text="USD, priced calls only"
    )
    unpriced_calls = models.PositiveBigIntegerField(default=0)
    saved_cost = models.DecimalField(
        max_digits=24, decimal_places=10, default=0, help_text="USD saved by response cache hits"
    )
    latency_ms_sum = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-day", "provider", "model_string", "service"]
        verbose_name = "daily usage"
        verbose_name_plural = "daily usage"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "provider", "model_string", "service", "api_key", "user"],
                name="usage_daily_unique_group",
            )
        ]
        indexes = [models.Index(fields=["day", "provider"], name="usage_daily_day_provider")]

    def __str__(self) -> str:
        return f"{self.day} {self.model_string} {self.service or '-'}"

    @property
    def total_tokens(self) -> int:
        return sum(getattr(self, name) for name in TOKEN_FIELDS)

    @property
    def latency_histogram(self) -> list[int]:
        """Bucket counts in LATENCY_BUCKET_FIELDS order."""
        return [getattr(self, name) for name in LATENCY_BUCKET_FIELDS]


# One counter column per histogram bucket, declared from the bounds so the two cannot disagree.
for _name in LATENCY_BUCKET_FIELDS:
    DailyUsage.add_to_class(_name, models.PositiveBigIntegerField(default=0))
del _name
