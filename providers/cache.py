"""Generation counters in the shared cache: how cached lookups are invalidated everywhere.

A lookup (a resolution, a consumer key, the active budgets) is cached under a key that holds
its generation. Saving what it was built from bumps the generation, so entries built before are
never read again, in any process, without a restart. A counter that is missing (a fresh or
flushed cache) restarts from the clock in nanoseconds, never from a small number that an old
process-local copy could still carry.
"""

import time

from django.core.cache import cache


class CacheGeneration:
    def __init__(self, key: str) -> None:
        self.key = key

    def current(self) -> int:
        generation = cache.get(self.key)
        if generation is None:
            cache.add(self.key, time.time_ns(), timeout=None)
            generation = cache.get(self.key) or time.time_ns()
        return int(generation)

    def bump(self) -> int:
        try:
            return cache.incr(self.key)
        except ValueError:  # missing (fresh or flushed cache): any clock value is newer
            value = time.time_ns()
            cache.set(self.key, value, timeout=None)
            return value


catalog = CacheGeneration("providers:catalog-generation")


def catalog_generation() -> int:
    """The generation of providers, models, prices and selections."""
    return catalog.current()


def catalog_generation_bump() -> int:
    return catalog.bump()
