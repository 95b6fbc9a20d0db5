"""Generation counters in the shared cache: how cached lookups are invalidated everywhere.

A lookup (a resolution, a consumer key, the active budgets) is cached under a key that holds
its generation. Saving what it was built from bumps the generation, so entries built before are
never read again, in any process, without a restart. A counter that is missing (a fresh or
flushed cache) restarts from the clock in nanoseconds, never from a small number that an old
process-local copy could still carry.

A call reads every generation it needs (and any other small state, such as its providers'
circuit breakers) in one round trip with `cache_values_read`, then pins them with
`generations_pinned` while it resolves, admits and settles: each call still sees every change
made before it started, and one call no longer pays a round trip per lookup.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.core.cache import cache

# key -> generation read at the start of the current call (None: read each time).
_pinned: ContextVar[dict[str, Any] | None] = ContextVar("cache_generations_pinned", default=None)


class CacheGeneration:
    def __init__(self, key: str) -> None:
        self.key = key

    def current(self) -> int:
        pinned = _pinned.get()
        if pinned is not None:
            generation = pinned.get(self.key)
            if generation is not None:
                return int(generation)
        generation = cache.get(self.key)
        if generation is None:
            return self._restart()
        return int(generation)

    def _restart(self) -> int:
        cache.add(self.key, time.time_ns(), timeout=None)
        return int(cache.get(self.key) or time.time_ns())

    def bump(self) -> int:
        try:
            return cache.incr(self.key)
        except ValueError:  # missing (fresh or flushed cache): any clock value is newer
            value = time.time_ns()
            cache.set(self.key, value, timeout=None)
            return value


def cache_values_read(
    generations: tuple[CacheGeneration, ...], keys: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The current value of each generation and of each plain key (None when missing), in one
    round trip; a missing generation restarts as `CacheGeneration.current` would. Keys already
    pinned by an enclosing `generations_pinned` (a request that read its state up front) are
    not read again."""
    wanted = [g.key for g in generations] + list(keys)
    pinned = _pinned.get()
    if pinned is not None and all(key in pinned for key in wanted):
        return {key: pinned[key] for key in wanted}  # read earlier in this request
    values = cache.get_many(wanted)
    for key in keys:
        values.setdefault(key, None)  # read and missing, as opposed to not read
    for generation in generations:
        if values.get(generation.key) is None:
            values[generation.key] = generation._restart()
    return values


@contextmanager
def generations_pinned(values: dict[str, Any] | None) -> Iterator[None]:
    """Within the block, generations and keys found in `values` are read from it, not the
    cache (`values` as returned by `cache_values_read`)."""
    if values is None:
        yield
        return
    token = _pinned.set(values)
    try:
        yield
    finally:
        _pinned.reset(token)


catalog = CacheGeneration("providers:catalog-generation")


def catalog_generation() -> int:
    """The generation of providers, models, prices and selections."""
    return catalog.current()


def catalog_generation_bump() -> int:
    return catalog.bump()
