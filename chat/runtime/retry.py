"""When to try again: exponential backoff with full jitter, Retry-After, and a time budget.

Full jitter (a uniform delay between 0 and the exponential cap) spreads the retries of many
clients hit by the same outage; a provider's Retry-After is a floor, never shortened. A call
never sleeps past its total time budget: a wait that would not fit ends the candidate, and
the runtime moves on to the next fallback instead.
"""

import random
import time
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float = 0.5
    max_seconds: float = 8.0
    total_seconds: float = 120.0

    @classmethod
    def from_settings(cls) -> "RetryPolicy":
        return cls(
            base_seconds=float(settings.RUNTIME_RETRY_BASE_SECONDS),
            max_seconds=float(settings.RUNTIME_RETRY_MAX_SECONDS),
            total_seconds=float(settings.RUNTIME_TOTAL_TIMEOUT_SECONDS),
        )

    def backoff(self, *, retry_number: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry `retry_number` (1 for the first retry)."""
        cap = min(self.max_seconds, self.base_seconds * (2 ** max(retry_number - 1, 0)))
        delay = random.uniform(0, cap) if cap > 0 else 0.0  # noqa: S311 - jitter, not crypto
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay


class Deadline:
    """The total time budget of one call, across every attempt and fallback."""

    def __init__(self, seconds: float) -> None:
        self.started = time.monotonic()
        self.expires = self.started + seconds

    def remaining(self) -> float:
        return max(0.0, self.expires - time.monotonic())

    def allows(self, delay: float) -> bool:
        return delay < self.remaining()
