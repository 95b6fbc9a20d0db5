"""Input and output shapes of the usage API. Costs leave as decimal strings, never floats."""

from datetime import timedelta
from typing import Any

from rest_framework import serializers

from usage.business_days import business_today
from usage.models.daily import TAG_MAX_LENGTH
from usage.selectors import GROUPINGS, MAX_RANGE_DAYS, UsageFilter

DEFAULT_RANGE_DAYS = 30


class UsageQuerySerializer(serializers.Serializer):
    """`?from=&to=&group_by=&provider=&service=&end_user=&tag=`; `from` defaults to 30 days
    before `to`, `to` to today (business time zone); at most MAX_RANGE_DAYS days. Grouped by
    tag, or filtered by one, the figures count only tagged calls, each once per tag."""

    to = serializers.DateField(required=False, help_text="Last day, YYYY-MM-DD (default today)")
    group_by = serializers.ChoiceField(choices=sorted(GROUPINGS), required=False)
    provider = serializers.CharField(required=False, max_length=64, help_text="Provider slug")
    service = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text="Service name"
    )
    end_user = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=256,
        trim_whitespace=False,
        help_text="The caller's end user (the `user` of its calls; empty: calls without one)",
    )
    tag = serializers.CharField(
        required=False,
        max_length=TAG_MAX_LENGTH,
        trim_whitespace=False,
        help_text="Only calls carrying this tag (e.g. feature:search)",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # `from` is a Python keyword, so it cannot be declared as an attribute.
        fields["from"] = serializers.DateField(
            required=False, help_text="First day, YYYY-MM-DD (default 30 days before `to`)"
        )
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        until = attrs.get("to") or business_today()
        try:
            since = attrs.get("from") or until - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        except OverflowError:
            raise serializers.ValidationError({"to": "Too early a date."}) from None
        if since > until:
            raise serializers.ValidationError({"from": "`from` must not be after `to`."})
        if (until - since).days + 1 > MAX_RANGE_DAYS:
            raise serializers.ValidationError(
                {"from": f"At most {MAX_RANGE_DAYS} days can be asked for at once."}
            )
        attrs["filter"] = UsageFilter(
            since=since,
            until=until,
            provider=attrs.get("provider") or None,
            service=attrs.get("service"),
            end_user=attrs.get("end_user"),
            tag=attrs.get("tag"),
        )
        return attrs


class MetricsSerializer(serializers.Serializer):
    requests = serializers.IntegerField()
    # The metaclass moves declared fields off the class, so Serializer.errors is not shadowed.
    errors = serializers.IntegerField(  # type: ignore[assignment]
        help_text="Attempts whose outcome was not ok"
    )
    error_rate = serializers.FloatField(help_text="errors / requests, 0 to 1")
    input_tokens = serializers.IntegerField()
    cached_input_tokens = serializers.IntegerField()
    cache_write_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    cost = serializers.DecimalField(
        max_digits=30, decimal_places=10, coerce_to_string=True, help_text="USD"
    )
    unpriced_calls = serializers.IntegerField(help_text="Calls with no price: not in cost")
    saved_cost = serializers.DecimalField(
        max_digits=30,
        decimal_places=10,
        coerce_to_string=True,
        help_text="USD the response cache saved (the cost of the calls its hits replayed)",
    )
    latency_ms_mean = serializers.IntegerField(allow_null=True)
    latency_ms_p95 = serializers.IntegerField(
        allow_null=True, help_text="Upper bound of the histogram bucket holding the 95th percentile"
    )


class DailyRowSerializer(MetricsSerializer):
    day = serializers.DateField()
    group = serializers.CharField(
        required=False,
        help_text="The provider, model, service, consumer, end user or tag (with group_by)",
    )


class DailyListSerializer(serializers.Serializer):
    since = serializers.DateField(source="filter.since")
    until = serializers.DateField(source="filter.until")
    group_by = serializers.CharField(allow_null=True)
    results = DailyRowSerializer(many=True)


class GroupMetricsSerializer(MetricsSerializer):
    group = serializers.CharField()


class DayTotalsSerializer(MetricsSerializer):
    day = serializers.DateField()


class RangeTotalsSerializer(MetricsSerializer):
    since = serializers.DateField()
    until = serializers.DateField()


class BudgetStatusSerializer(serializers.Serializer):
    name = serializers.CharField()
    scope = serializers.CharField()
    period = serializers.CharField()
    limit = serializers.DecimalField(max_digits=30, decimal_places=10, coerce_to_string=True)
    spent = serializers.DecimalField(max_digits=30, decimal_places=10, coerce_to_string=True)
    reserved = serializers.DecimalField(max_digits=30, decimal_places=10, coerce_to_string=True)
    percent = serializers.FloatField()
    resets_at = serializers.CharField()
    hard = serializers.BooleanField()


class SummarySerializer(serializers.Serializer):
    today = DayTotalsSerializer()
    month_to_date = RangeTotalsSerializer()
    top_models = GroupMetricsSerializer(many=True)
    error_rate = serializers.FloatField(help_text="Month to date")
    budgets = BudgetStatusSerializer(many=True)
    rolled_up_at = serializers.DateTimeField(
        allow_null=True, help_text="When the newest daily row was computed"
    )
