"""`llm_budget_used_ratio{budget}`: each active budget's spend over its limit, at scrape time.

Budgets are counted in the database under row locks (usage/budgets.py); reading the current
period's rows when /metrics is scraped gives every process's spend, at no cost to calls.
"""

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from usage.budgets import budget_status_list

logger = logging.getLogger(__name__)


class BudgetCollector(Collector):
    """Spent over limit of each active budget's current period (1.0 = the limit is reached)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "llm_budget_used_ratio",
            "Spend of the budget's current period over its limit.",
            labels=["budget"],
        )
        try:
            statuses = budget_status_list()
        except Exception as exc:  # a scrape must not fail with the database
            logger.warning("Metrics: budget states unavailable (%s)", type(exc).__name__)
            return
        for status in statuses:
            limit = status["limit"]
            ratio = float(status["spent"] / limit) if limit else 0.0
            family.add_metric([status["name"]], ratio)
        yield family
