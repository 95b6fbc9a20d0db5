"""`llm_circuit_open{provider}`: read from the shared breaker state when /metrics is scraped.

The breaker lives in the shared cache, so any process sees every provider's circuit; computing
the gauge at scrape time (config/metrics_view.py, METRICS_COLLECTORS) costs calls nothing.
"""

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from chat.runtime.breaker import CircuitBreaker
from providers.models import ProviderConfig

logger = logging.getLogger(__name__)


class CircuitCollector(Collector):
    """1 for each provider whose circuit is open now, else 0."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "llm_circuit_open",
            "1 while the provider's circuit breaker is open.",
            labels=["provider"],
        )
        try:
            breaker = CircuitBreaker()
            for slug in ProviderConfig.objects.order_by("slug").values_list("slug", flat=True):
                family.add_metric([slug], 1.0 if breaker.is_open(slug) else 0.0)
        except Exception as exc:  # a scrape must not fail with the database or Redis
            logger.warning("Metrics: circuit states unavailable (%s)", type(exc).__name__)
            return
        yield family
