"""Fixtures of the chat tests: a fast runtime (no backoff waits, small time budget)."""

import itertools
import time

import pytest

from tests.chat.helpers import FAST_RUNTIME


@pytest.fixture(autouse=True)
def fast_runtime(settings):
    for name, value in FAST_RUNTIME.items():
        setattr(settings, name, value)


@pytest.fixture(autouse=True)
def fresh_resolver():
    """Each test has its own cache key space, where the catalog generation would restart at 1
    and match the resolver's process-local copies from an earlier test (in this thread and in
    the live server's). Start each test at a generation no earlier test used."""
    from django.core.cache import cache

    from providers.cache import GENERATION_KEY
    from providers.selectors import resolution_local_clear

    cache.set(GENERATION_KEY, next(_generations), timeout=None)
    resolution_local_clear()
    yield
    resolution_local_clear()


_generations = itertools.count(int(time.time() * 1000) * 1000, 1_000_000)
