"""A per-provider circuit breaker whose state lives in the shared cache.

After CIRCUIT_BREAKER_FAILURES consecutive availability failures (retryable errors: 5xx,
timeouts, rate limits, cut streams) of a provider, its circuit opens and the runtime skips it
for CIRCUIT_BREAKER_OPEN_SECONDS; then exactly one call, across all processes, is let through
as a probe (an atomic cache.add). A success closes the circuit; a failed probe re-opens it.
Caller mistakes (bad request, authentication) do not count: they say nothing about uptime.
In the steady state a check costs one cache read.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failures: int = 5
    open_seconds: float = 30.0

    @classmethod
    def from_settings(cls) -> "BreakerSettings":
        return cls(
            failures=int(getattr(settings, "CIRCUIT_BREAKER_FAILURES", 5)),
            open_seconds=float(getattr(settings, "CIRCUIT_BREAKER_OPEN_SECONDS", 30.0)),
        )


def _keys(slug: str) -> tuple[str, str, str]:
    base = f"runtime:breaker:{slug}"
    return f"{base}:failures", f"{base}:open-until", f"{base}:probe"


class CircuitBreaker:
    def __init__(self, config: BreakerSettings | None = None) -> None:
        self.config = config or BreakerSettings.from_settings()

    def allow(self, slug: str) -> bool:
        """Whether a call may go to `slug` now (claiming the probe if the circuit is half open)."""
        _, open_key, probe_key = _keys(slug)
        open_until = cache.get(open_key)
        if not open_until:
            return True
        if time.time() < float(open_until):
            return False
        # Half open: one caller wins the probe; the others keep skipping until it reports.
        return cache.add(probe_key, 1, timeout=max(1, int(self.config.open_seconds)))

    def is_open(self, slug: str) -> bool:
        open_until = cache.get(_keys(slug)[1])
        return bool(open_until) and time.time() < float(open_until)

    def record_success(self, slug: str) -> None:
        keys = _keys(slug)
        state = cache.get_many(keys[:2])
        if state:
            cache.delete_many(keys)

    def record_failure(self, slug: str) -> None:
        failures_key, open_key, probe_key = _keys(slug)
        ttl = max(60, int(self.config.open_seconds * 4))
        cache.add(failures_key, 0, timeout=ttl)
        try:
            failures = cache.incr(failures_key)
        except ValueError:  # evicted between add and incr
            cache.set(failures_key, 1, timeout=ttl)
            failures = 1
        if failures >= self.config.failures:
            cache.set(open_key, time.time() + self.config.open_seconds, timeout=ttl)
            cache.delete(probe_key)
