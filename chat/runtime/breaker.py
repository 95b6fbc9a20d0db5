"""A per-provider circuit breaker whose state lives in the shared cache.

After CIRCUIT_BREAKER_FAILURES consecutive availability failures (retryable errors: 5xx,
timeouts, rate limits, cut streams) of a provider, its circuit opens and the runtime skips it
for CIRCUIT_BREAKER_OPEN_SECONDS; then exactly one call, across all processes, is let through
as a probe (an atomic cache.add). A success closes the circuit; a failed probe re-opens it.
Caller mistakes (bad request, authentication) do not count: they say nothing about uptime.
In the steady state a call costs no round trip of its own: its state is read with the call's
other cache state (`breaker_state_keys`, `prefetched`), and a success writes nothing when no
failure was counted when the call started (failures another process records meanwhile are not
reset by it; the next success that sees them resets them).

The breaker is advisory: when the shared cache fails (Redis going away in the middle of a call
that was already admitted), a circuit that cannot be read counts as closed and a failure or
success that cannot be written is dropped, with a warning. The call goes on and its attempts
are still recorded; after the first cache error the breaker of this call touches the cache no
more, so a blackholed Redis costs it one socket timeout, not one per operation.
"""

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache

from config.generation_cache import cache_errors
from config.outages import outage_log

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failures: int = 5
    open_seconds: float = 30.0

    @classmethod
    def from_settings(cls) -> "BreakerSettings":
        return cls(
            failures=int(settings.CIRCUIT_BREAKER_FAILURES),
            open_seconds=float(settings.CIRCUIT_BREAKER_OPEN_SECONDS),
        )


def _keys(slug: str) -> tuple[str, str, str]:
    base = f"runtime:breaker:{slug}"
    return f"{base}:failures", f"{base}:open-until", f"{base}:probe"


def breaker_state_keys(slugs: Iterable[str]) -> tuple[str, ...]:
    """The cache keys `CircuitBreaker.prefetched` needs for these providers."""
    return tuple(key for slug in dict.fromkeys(slugs) for key in _keys(slug)[:2])


class CircuitBreaker:
    """The breaker as one call sees it. The state of a provider is read once per call (or
    taken from `prefetched`) and forgotten when this call records a failure."""

    def __init__(self, config: BreakerSettings | None = None) -> None:
        self.config = config or BreakerSettings.from_settings()
        # slug -> (failures, open until) as read at the start of this call
        self._state: dict[str, tuple[Any, Any]] = {}
        self._cache_failed = False

    def _cache(self, operation: Callable[[], T], fallback: T, slug: str) -> T:
        """Run a cache operation; `fallback` once the cache has failed during this call."""
        if self._cache_failed:
            return fallback
        try:
            return operation()
        except cache_errors() as exc:
            self._cache_failed = True
            outage_log(
                logger,
                logging.WARNING,
                "Cache unavailable: circuit breaker of %s not read or recorded",
                slug,
                exc=exc,
            )
            return fallback

    def prefetched(self, slugs: Iterable[str], values: dict[str, object]) -> None:
        """Take the state of `slugs` from `values`, read with `breaker_state_keys(slugs)`."""
        for slug in slugs:
            failures_key, open_key, _ = _keys(slug)
            self._state[slug] = (values.get(failures_key), values.get(open_key))

    def _read(self, slug: str) -> tuple[Any, Any]:
        state = self._state.get(slug)
        if state is None:
            failures_key, open_key, _ = _keys(slug)
            values: dict[str, Any] = self._cache(
                lambda: cache.get_many([failures_key, open_key]), {}, slug
            )
            state = self._state[slug] = (values.get(failures_key), values.get(open_key))
        return state

    def allow(self, slug: str) -> bool:
        """Whether a call may go to `slug` now (claiming the probe if the circuit is half open)."""
        probe_key = _keys(slug)[2]
        open_until = self._read(slug)[1]
        if not open_until:
            return True
        if time.time() < float(open_until):
            return False
        # Half open: one caller wins the probe; the others keep skipping until it reports.
        # With the cache gone nobody can win it: let the call try rather than refuse it.
        timeout = max(1, int(self.config.open_seconds))
        return self._cache(lambda: cache.add(probe_key, 1, timeout=timeout), True, slug)

    def seconds_until_half_open(self, slugs: Iterable[str]) -> float | None:
        """Seconds until the first of these providers' open circuits lets a probe through
        (the Retry-After of a call refused because every circuit was open); None if none is
        known to be open."""
        now = time.time()
        waits = [float(open_until) - now for slug in slugs if (open_until := self._read(slug)[1])]
        return max(1.0, min(waits)) if waits else None

    def known_open(self, slug: str) -> bool:
        """Whether the circuit of `slug` is open as this call read it, claiming no probe (the
        router ranks such providers last; `allow` still decides whether one is tried)."""
        open_until = self._read(slug)[1]
        return bool(open_until) and time.time() < float(open_until)

    def is_open(self, slug: str) -> bool:
        open_until = cache.get(_keys(slug)[1])
        return bool(open_until) and time.time() < float(open_until)

    def record_success(self, slug: str) -> None:
        """Close the circuit and reset the count; nothing to write when both were clear."""
        failures, open_until = self._read(slug)
        if failures or open_until:
            self._cache(lambda: cache.delete_many(_keys(slug)), None, slug)
        self._state[slug] = (None, None)

    def record_failure(self, slug: str) -> None:
        self._state.pop(slug, None)
        self._cache(lambda: self._count_failure(slug), None, slug)

    def _count_failure(self, slug: str) -> None:
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
