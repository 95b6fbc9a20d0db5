"""Generation-keyed caching: the one way a lookup built from the database is kept between calls.

The rule for freshness: a cached value is served only under the generation that is current
for this call. Each kind of lookup (resolutions, consumer keys, active limits, ...) has a
generation counter in the shared cache; saving anything a value was built from bumps the
counter (after commit), so every copy built before, shared or process-local, is never read
again, in any process, from the next call on. The generation is read once per call: the call
reads all its generations (and other small state, such as circuit breakers) in one round trip
with `cache_values_read` and pins them with `generations_pinned`; a lookup outside a pinned
block reads its generation itself. A counter that is missing (a fresh or flushed cache)
restarts from the clock in nanoseconds, never from a small number an old copy could carry.

A `GenerationCache` keeps two copies of each value: one in the shared cache under
"<prefix>:<generation>:<digest>" (so other processes skip the database) and one in this
process for the current generation only (so the steady state costs no read of the entry
itself). The process copy is dropped whole when the generation moves, and when it reaches
`local_max` entries (so a flood of distinct keys cannot grow it).
"""

import hashlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

from django.core.cache import cache

logger = logging.getLogger(__name__)

V = TypeVar("V")
_MISSING = object()


def cache_errors() -> tuple[type[Exception], ...]:
    """What the configured cache backends raise when their store is unreachable, for `except`
    clauses (evaluated only when an exception is raised): redis-py's errors once redis-py is
    loaded (none can be raised before), and OSError (the file cache). Naming redis-py's class
    at import would load redis-py, ~0.13 s, into every process's start-up."""
    redis = sys.modules.get("redis")
    return (OSError,) if redis is None else (redis.RedisError, OSError)


# key -> value read at the start of the current call (None: read each time).
_pinned: ContextVar[dict[str, Any] | None] = ContextVar("cache_generations_pinned", default=None)


class CacheGeneration:
    """One generation counter in the shared cache."""

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
    pinned by an enclosing `generations_pinned` are not read again."""
    wanted = [g.key for g in generations] + list(keys)
    pinned = _pinned.get()
    if pinned is not None and all(key in pinned for key in wanted):
        return {key: pinned[key] for key in wanted}  # read earlier in this call
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


def pinned_values() -> dict[str, Any] | None:
    """What the enclosing `generations_pinned` block pinned, if any."""
    return _pinned.get()


def _sha_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40]  # any text makes a safe cache key


class GenerationCache(Generic[V]):
    """Values of `loader(key)` cached under `generation` (see the module docstring).

    `timeout` is the shared entry's lifetime in seconds (or a function of the value): it only
    frees memory, correctness comes from the generation. `keep_local(value)` False keeps a
    value out of the process copy (a marker for bad keys, so a flood of them cannot evict the
    good ones). With `load_on_cache_error`, a shared cache that is down costs a database read
    instead of an error."""

    def __init__(
        self,
        name: str,
        loader: Callable[[str], V],
        *,
        generation: CacheGeneration,
        timeout: int | Callable[[V], int] = 3600,
        digest: Callable[[str], str] = _sha_digest,
        keep_local: Callable[[V], bool] | None = None,
        local_max: int = 10_000,
        load_on_cache_error: bool = False,
    ) -> None:
        self.name = name
        self.loader = loader
        self.generation = generation
        self.timeout = timeout
        self.digest = digest
        self.keep_local = keep_local
        self.local_max = local_max
        self.load_on_cache_error = load_on_cache_error
        # (generation, {digest: value}); replaced whole, so readers in other threads see
        # either the old copy or the new one.
        self._local: tuple[int, dict[str, V]] = (-1, {})

    def get(self, key: str = "") -> V:
        """The value of `key` for the current generation, loaded on a miss."""
        try:
            generation = self.generation.current()
        except cache_errors():
            if not self.load_on_cache_error:
                raise
            logger.warning("Cache unavailable: %s read from the database", self.name)
            return self.loader(key)
        digest = self.digest(key) if key else ""
        local = self._local
        if local[0] != generation:
            local = self._local = (generation, {})
        value = local[1].get(digest, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        value = self._shared(key, f"{self.name}:{generation}:{digest}".rstrip(":"))
        if self.keep_local is None or self.keep_local(value):
            if len(local[1]) >= self.local_max:
                local[1].clear()
            local[1][digest] = value
        return value

    def _shared(self, key: str, entry_key: str) -> V:
        try:
            value = cache.get(entry_key, _MISSING)
        except cache_errors():
            if not self.load_on_cache_error:
                raise
            logger.warning("Cache unavailable: %s read from the database", self.name)
            return self.loader(key)
        if value is not _MISSING:
            return value
        value = self.loader(key)
        timeout = self.timeout(value) if callable(self.timeout) else self.timeout
        try:
            cache.set(entry_key, value, timeout=timeout)
        except cache_errors():
            if not self.load_on_cache_error:
                raise
            logger.warning("Cache unavailable: %s not cached", self.name)
        return value

    def local_get(self, key: str) -> V | None:
        """This process's copy of `key` for the generation it last saw (no round trip), or
        None: what a call that just ran here was served under."""
        return self._local[1].get(self.digest(key) if key else "")

    def local_clear(self) -> None:
        """Forget the process copy (tests: "another process")."""
        self._local = (-1, {})
