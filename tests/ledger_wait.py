"""Reading the ledger after calls served by a real web server: its workers write a /v1 call's
rows just after the answer (usage/services/ledger_writer.py), so a test reads until they are
all there instead of once."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def ledger_read_until(read: Callable[[], T], done: Callable[[T], bool], timeout: float = 10.0) -> T:
    """`read()` again until `done` holds of what it returns (or `timeout` seconds have gone:
    the last reading, for the test's own assertion to show)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.02)
