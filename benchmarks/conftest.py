"""Benchmarks reuse the suite's fixtures and fakes (registered by the root conftest)."""

import pytest

from tests.chat.helpers import FAST_RUNTIME


@pytest.fixture(autouse=True)
def no_retry_waits(settings):
    for name, value in FAST_RUNTIME.items():
        setattr(settings, name, value)
