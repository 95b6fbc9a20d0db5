"""The response cache: an identical request to a service that opted in is answered from Redis.

Opt-in per selection (`ModelSelection.cache_ttl_seconds`, 0 = off). The key is a hash of:
- the selection's version (its id and last change), so any change in admin misses at once;
- the normalised request (every field of the ChatRequest after the service's overrides, as
  sorted JSON), whether it streams, and whether history trimming applies;
- the consumer: the key id (or the user id for signed-in users), unless the selection says
  `cache_shared`, so one consumer never sees another's answers by default.

Only complete successes are stored: an unstreamed reply of an `ok` attempt, or a stream that
ended with its finish event and no error (never a cut, cancelled or failed one). A streamed
request is answered by replaying the stored events as a stream.

A hit makes no provider call: it is recorded as one UsageRecord with `cache_hit`, cost 0 and
`saved_cost` (the cost of the call it replays). It takes no budget hold (it costs nothing) but
counts one request, and no tokens, against the rate limits (they bound how fast a consumer may
call, whatever answers). A caller skips the cache with `CallContext.cache_bypass` (the APIs set
it from `x-cache-bypass: 1` or `Cache-Control: no-cache`); the answer is then stored afresh.

The cache is advisory: when Redis fails, a lookup is a miss and a store is dropped, with a
warning; the call itself goes on.
"""

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache

from chat.types import CallContext
from config.generation_cache import cache_errors
from config.outages import outage_log
from providers.adapters.types import ChatRequest, ChatResponse, StreamEvent
from providers.resolution import ResolvedSelection

logger = logging.getLogger(__name__)

HIT = "hit"
MISS = "miss"


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """What a hit replays: the reply (unstreamed) or the events (streamed), who served it and
    what it cost then."""

    model_string: str
    cost: Decimal | None
    response: ChatResponse | None = None
    events: tuple[StreamEvent, ...] = ()


def _normalised(request: ChatRequest) -> str:
    return json.dumps(dataclasses.asdict(request), sort_keys=True, default=str)


def response_cache_key(
    *,
    selection: ResolvedSelection,
    request: ChatRequest,
    context: CallContext,
    streamed: bool,
    trim_history: bool,
) -> str | None:
    """The cache key of this call, or None when the service does not cache."""
    if selection.cache_ttl <= 0:
        return None
    if selection.cache_shared:
        consumer = "shared"
    elif context.api_key_id:
        consumer = f"key:{context.api_key_id}"
    elif context.user_id is not None:
        consumer = f"user:{context.user_id}"
    else:
        consumer = "anonymous"
    material = "\n".join(
        (
            selection.version,
            consumer,
            "stream" if streamed else "complete",
            "trim" if trim_history else "whole",
            _normalised(request),
        )
    )
    return f"runtime:response:{hashlib.sha256(material.encode()).hexdigest()}"


def response_cache_get(key: str) -> CachedAnswer | None:
    try:
        answer = cache.get(key)
    except cache_errors() as exc:
        outage_log(logger, logging.WARNING, "Cache unavailable: response cache not read", exc=exc)
        return None
    return answer if isinstance(answer, CachedAnswer) else None


def response_cache_put(key: str, answer: CachedAnswer, *, ttl: int) -> None:
    try:
        cache.set(key, answer, timeout=ttl)
    except cache_errors() as exc:
        outage_log(logger, logging.WARNING, "Cache unavailable: response not cached", exc=exc)
