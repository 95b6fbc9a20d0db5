"""Fixtures of the chat tests: a fast runtime (no backoff waits, small time budget)."""

import pytest

from tests.chat.helpers import FAST_RUNTIME


@pytest.fixture(autouse=True)
def fast_runtime(settings):
    for name, value in FAST_RUNTIME.items():
        setattr(settings, name, value)


@pytest.fixture(autouse=True)
def fresh_resolver():
    """Drop the resolver's process-local copies so no test reads another test's resolution."""
    from providers.selectors import resolution_local_clear

    resolution_local_clear()
    yield
    resolution_local_clear()
