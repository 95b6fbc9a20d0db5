"""DailyUsage and DailyTagUsage: UsageRecord summed per business day and group, what reports read.

Rows are derived data: `usage.services.rollup` recomputes whole days, and adds the records that
arrived since its last run to their days (`usage_rollup_incremental`); nothing else writes them.

The group is (day, provider, model_string, service, api_key, user, end_user). The consumer is
kept as the two foreign keys that UsageRecord has (null when the call had no key or no user),
both `SET_NULL` like on UsageRecord: deleting a key never fails and the day's totals stay right
(the key's rows join the key-less group; the next full rollup of that day merges them). The
unique index does not use the two nullable keys (SQL treats NULLs as distinct, and a key's
deletion would make its rows collide with the key-less ones) but `consumer`, their text as the
rollup wrote them, never null: so every group has one row and the incremental rollup can add
to it with one INSERT ... ON CONFLICT DO UPDATE on both PostgreSQL and SQLite.

Tags are a second table, DailyTagUsage: the same group plus one tag, a record with three tags
counting in three of its rows. Kept apart so that DailyUsage sums stay the ledger's sums (a
tag dimension inside DailyUsage would count tagged calls once per tag), and so that tag
reports read a table holding only tagged calls.

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
# Longest tag: a metadata key (64), ':', its value (512). See usage.attribution.
TAG_MAX_LENGTH = 577


# The group columns of the unique index; `usage.services.rollup_sql` names the same ones in its
# ON CONFLICT clause.
GROUP_UNIQUE_FIELDS: tuple[str, ...] = (
    "day",
    "provider",
    "model_string",
    "service",
    "consumer",
    "end_user",
)


class DailyTotals(models.Model):
    """The group columns and the summed metrics both rollup tables share."""

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
    consumer = models.CharField(
        max_length=180,
        blank=True,
        default="",
        help_text="'<api key id>|<user id>' as the rollup wrote them (the unique index's key)",
    )
    end_user = models.CharField(max_length=256, blank=True, default="")

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
        abstract = True

    def __str__(self) -> str:
        return f"{self.day} {self.model_string} {self.service or '-'}"

    @property
    def total_tokens(self) -> int:
        return sum(getattr(self, name) for name in TOKEN_FIELDS)

    @property
    def latency_histogram(self) -> list[int]:
        """Bucket counts in LATENCY_BUCKET_FIELDS order."""
        return [getattr(self, name) for name in LATENCY_BUCKET_FIELDS]


class DailyUsage(DailyTotals):
    class Meta:
        ordering = ["-day", "provider", "model_string", "service"]
        verbose_name = "daily usage"
        verbose_name_plural = "daily usage"
        constraints = [
            models.UniqueConstraint(fields=GROUP_UNIQUE_FIELDS, name="usage_daily_unique_group")
        ]
        indexes = [models.Index(fields=["day", "provider"], name="usage_daily_day_provider")]


class DailyTagUsage(DailyTotals):
    """DailyUsage per tag: only tagged calls, each once per tag it carries."""

    tag = models.CharField(max_length=TAG_MAX_LENGTH)

    class Meta:
        ordering = ["-day", "tag", "provider", "model_string"]
        verbose_name = "daily usage by tag"
        verbose_name_plural = "daily usage by tag"
        constraints = [
            models.UniqueConstraint(
                fields=(*GROUP_UNIQUE_FIELDS, "tag"), name="usage_daily_tag_unique_group"
            )
        ]
        indexes = [models.Index(fields=["day", "tag"], name="usage_daily_tag_day_tag")]

    def __str__(self) -> str:
        return f"{self.day} {self.tag} {self.model_string}"


# One counter column per histogram bucket, declared from the bounds so the two cannot disagree.
for _model in (DailyUsage, DailyTagUsage):
    for _name in LATENCY_BUCKET_FIELDS:
        _model.add_to_class(_name, models.PositiveBigIntegerField(default=0))
del _model, _name
