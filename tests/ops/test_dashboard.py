"""docs/grafana-dashboard.json queries only series that /metrics exports."""

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

DASHBOARD = Path(__file__).resolve().parent.parent.parent / "docs" / "grafana-dashboard.json"
GAUGES = {"llm_circuit_open", "llm_budget_used_ratio"}  # computed at scrape time
SERIES = re.compile(r"\b((?:llm|django_http|celery)_[a-z_]+)\b")


def exported_names() -> set[str]:
    import config.metrics  # noqa: F401 - registers the series

    names = set(GAUGES)
    for collector in list(REGISTRY._collector_to_names):
        for family in collector.describe() if hasattr(collector, "describe") else ():
            names |= {sample.name for sample in family.samples} | {family.name}
            if family.type == "counter":
                names.add(family.name + "_total")
            if family.type == "histogram":
                names |= {family.name + suffix for suffix in ("_bucket", "_sum", "_count")}
    return names


def test_every_query_uses_an_exported_series():
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in SERIES.findall(expr)}
    assert used >= {
        "llm_requests_total",
        "llm_tokens_total",
        "llm_cost_usd_total",
        "llm_request_duration_seconds_bucket",
        "llm_time_to_first_token_seconds_bucket",
        "llm_circuit_open",
        "llm_budget_used_ratio",
        "llm_rate_limited_total",
        "llm_ledger_write_failures_total",
    }
    assert used <= exported_names(), used - exported_names()
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
