"""The shared-cache state of one call, read in one round trip and pinned for the call.

What a call reads: the catalog, limits and consumer-key generations (config.generation_cache:
pinned while the call authenticates, resolves, admits and settles) and the circuit breakers
of the providers it is likely to use. Reading it once costs one round trip instead of one per
lookup, and every step of the call sees the same state.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from chat.runtime.breaker import breaker_state_keys
from config.generation_cache import (
    cache_errors,
    cache_values_read,
    generations_pinned,
    pinned_values,
)
from config.outages import unavailable
from providers.cache import catalog
from providers.consumers import keys_generation
from providers.selectors import resolution_local_provider_slugs
from usage.limits_cache import generation_counter as limits_generation

_GENERATIONS = (catalog, limits_generation, keys_generation)


@dataclass(frozen=True, slots=True)
class CallState:
    """The values read (generations and breaker keys) and whose breakers they cover."""

    values: dict[str, Any]
    breaker_slugs: tuple[str, ...]


def call_state_read() -> CallState:
    """The state of a call: what an enclosing `call_state_pinned` holds, else read now. The
    breakers read are those of every provider this process has resolved before (a handful);
    a provider that guess missed is read when the call reaches it.

    Raises ServiceUnavailable when the cache is unreachable: resolution, authentication and
    admission all need it, so answering now costs one socket timeout of a silent Redis
    instead of one per lookup that would follow."""
    slugs = resolution_local_provider_slugs()
    pinned = pinned_values()
    if pinned is not None and all(g.key in pinned for g in _GENERATIONS):
        slugs = tuple(s for s in slugs if all(k in pinned for k in breaker_state_keys((s,))))
        return CallState(values=pinned, breaker_slugs=slugs)
    try:
        values = cache_values_read(_GENERATIONS, breaker_state_keys(slugs))
    except cache_errors() as exc:
        raise unavailable(exc) from exc
    return CallState(values=values, breaker_slugs=slugs)


@contextmanager
def call_state_pinned(state: CallState | None = None) -> Iterator[CallState]:
    """Pin `state` (read now when not given) for the block: a request enters this before
    authenticating, so the key lookup, the resolution and the call share one read."""
    state = state if state is not None else call_state_read()
    with generations_pinned(state.values):
        yield state
