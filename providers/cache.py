"""A catalog generation number in the shared cache.

Every change to a provider, model or selection bumps it; resolutions cached under the old
number are then never read again, so every process sees a change on its next call without a
restart and without a database read in the steady state.
"""

from django.core.cache import cache

GENERATION_KEY = "providers:catalog-generation"


def catalog_generation() -> int:
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        cache.add(GENERATION_KEY, 1, timeout=None)
        generation = cache.get(GENERATION_KEY, 1)
    return int(generation)


def catalog_generation_bump() -> int:
    try:
        return cache.incr(GENERATION_KEY)
    except ValueError:  # not set yet (or evicted): start a fresh sequence
        cache.set(GENERATION_KEY, 2, timeout=None)
        return 2
