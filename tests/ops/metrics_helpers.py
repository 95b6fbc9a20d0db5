"""Reading /metrics and the ledger in the same terms, to compare them."""

from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Sum
from prometheus_client.parser import text_string_to_metric_families

from usage.models import UsageRecord


def samples(text: str) -> dict[str, dict[tuple, float]]:
    """sample name -> {sorted label items: value}."""
    found: dict[str, dict[tuple, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return found


def for_service(series: dict[tuple, float], service: str, *drop: str) -> dict[tuple, float]:
    """The series of one service, keyed by their other labels (minus `drop`), summed."""
    result: dict[tuple, float] = defaultdict(float)
    for labels, value in series.items():
        as_dict = dict(labels)
        if as_dict.get("service") != service:
            continue
        key = tuple((k, v) for k, v in labels if k != "service" and k not in drop)
        result[key] += value
    return dict(result)


def ledger_for_service(service: str) -> dict[str, dict[tuple, float]]:
    """What /metrics must say about `service`, computed from its usage records."""
    records = UsageRecord.objects.filter(service=service)
    requests = {}
    for row in records.values("provider", "model_string", "outcome", "streamed").annotate(
        n=Count("id")
    ):
        key = (
            ("model", row["model_string"].split(":", 1)[1]),
            ("outcome", row["outcome"]),
            ("provider", row["provider"]),
            ("streamed", "true" if row["streamed"] else "false"),
        )
        requests[key] = float(row["n"])
    tokens: dict[tuple, float] = {}
    cost: dict[tuple, float] = {}
    columns = {
        "input": "input_tokens",
        "cached_input": "cached_input_tokens",
        "cache_write": "cache_write_tokens",
        "output": "output_tokens",
        "reasoning": "reasoning_tokens",
    }
    for row in records.values("provider", "model_string").annotate(
        cost=Sum("cost"), **{bucket: Sum(column) for bucket, column in columns.items()}
    ):
        model = row["model_string"].split(":", 1)[1]
        for bucket in columns:
            if row[bucket]:
                key = (("bucket", bucket), ("model", model), ("provider", row["provider"]))
                tokens[key] = float(row[bucket])
        if row["cost"]:
            cost[(("model", model), ("provider", row["provider"]))] = float(
                row["cost"] or Decimal(0)
            )
    return {"requests": requests, "tokens": tokens, "cost": cost}
