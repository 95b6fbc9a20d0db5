"""Rate limits shared by every process: requests and tokens per minute, counted in Redis.

Counting: a fixed 60-second window per limit (aligned to the minute of Redis' own clock, so
all processes agree). One Lua script checks every limit matching the call and counts the call
in all of them, or in none when any is full, atomically; a refused call is never counted.
A fixed window lets a client spend up to twice a limit across one window boundary; that is the
documented price of an O(1) counter.

Tokens are the caller's estimate (prompt plus max output); rate_limit_settle() corrects the
count to the real usage when the window the call was counted in is still current.

Without settings.REDIS_URL (local development on SQLite) the counters fall back to Django's
cache with add/incr: correct within one process, not atomic across processes. When Redis is
configured but unreachable, calls are refused with RateLimiterUnavailable (503) rather than
admitted unchecked.
"""

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache

from config import metrics
from config.cache import connection_reset_retry
from config.errors import ApplicationError, TooManyRequests
from config.generation_cache import cache_errors
from usage.limits_cache import RateLimitSpec, active_rate_limits, scope_matches
from usage.types import CallScope

if TYPE_CHECKING:  # redis-py is loaded with the first limiter client (start-up stays without it)
    from redis import Redis
    from redis.commands.core import Script

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
_KEY_TTL = 2 * WINDOW_SECONDS
_NO_LIMIT = -1

# KEYS: one hash per limit {w: window start, r: requests, t: tokens}.
# ARGV: tokens, then (rpm, tpm) per key, -1 meaning no limit.
# Returns {0, "0"} when admitted, else {index of the full limit, kind 1=requests 2=tokens,
# seconds until the window ends as a string}.
_ADMIT_LUA = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local window = math.floor(t / 60) * 60
local tokens = tonumber(ARGV[1])
local current = {}
for i, key in ipairs(KEYS) do
  local rpm = tonumber(ARGV[2 * i])
  local tpm = tonumber(ARGV[2 * i + 1])
  local h = redis.call('HMGET', key, 'w', 'r', 't')
  local same = tonumber(h[1]) == window
  current[i] = same
  local r = same and tonumber(h[2]) or 0
  local tk = same and tonumber(h[3]) or 0
  if rpm >= 0 and r + 1 > rpm then
    return {i, 1, tostring(window + 60 - t)}
  end
  if tpm >= 0 and tk + tokens > tpm then
    return {i, 2, tostring(window + 60 - t)}
  end
end
for i, key in ipairs(KEYS) do
  if current[i] then
    redis.call('HINCRBY', key, 'r', 1)
    redis.call('HINCRBY', key, 't', tokens)
  else
    redis.call('HSET', key, 'w', window, 'r', 1, 't', tokens)
  end
  redis.call('EXPIRE', key, 120)
end
return {0, 0, '0'}
"""

# KEYS: the limits' hashes; ARGV[1]: actual minus estimated tokens.
_SETTLE_LUA = """
local now = redis.call('TIME')
local window = math.floor(tonumber(now[1]) / 60) * 60
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('HGET', key, 'w')) == window then
    if redis.call('HINCRBY', key, 't', ARGV[1]) < 0 then
      redis.call('HSET', key, 't', 0)
    end
  end
end
return 0
"""


class RateLimitExceeded(TooManyRequests):
    code = "rate_limited"
    default_message = "Rate limit exceeded."


class RateLimiterUnavailable(ApplicationError):
    code = "rate_limiter_unavailable"
    http_status = 503
    default_message = "The rate limiter is unavailable; the request was not attempted."


@dataclass(frozen=True)
class _Redis:
    config: tuple[str, float, float]  # url, connect and read timeouts
    client: "Redis"
    admit: "Script"
    settle: "Script"


_redis: _Redis | None = None
_redis_lock = threading.Lock()


def _redis_config() -> tuple[str, float, float]:
    """REDIS_URL and the socket timeouts of the shared cache (config.settings.cache_config),
    so the limiter gives up on a silent Redis exactly when the cache does."""
    options = settings.CACHES.get("default", {}).get("OPTIONS", {})
    return (
        settings.REDIS_URL,
        float(options.get("socket_connect_timeout") or 1.0),
        float(options.get("socket_timeout") or 2.0),
    )


def _redis_handle() -> _Redis:
    """One connection pool per process (per REDIS_URL and timeouts), created on first use."""
    global _redis
    config = _redis_config()
    handle = _redis
    if handle is None or handle.config != config:
        with _redis_lock:
            if _redis is None or _redis.config != config:
                import redis

                url, connect_timeout, socket_timeout = config
                pool = redis.ConnectionPool.from_url(
                    url,
                    socket_connect_timeout=connect_timeout,
                    socket_timeout=socket_timeout,
                    retry=connection_reset_retry(),  # as the shared cache's
                    health_check_interval=30,
                )
                client = redis.Redis(connection_pool=pool)
                _redis = _Redis(
                    config,
                    client,
                    client.register_script(_ADMIT_LUA),
                    client.register_script(_SETTLE_LUA),
                )
            handle = _redis
    return handle


def _key(limit: RateLimitSpec) -> str:
    # The cache's key prefix namespaces deployments (and tests) sharing one Redis; the hash
    # tag keeps every limit in one cluster slot so one script can touch several.
    prefix = settings.CACHES.get("default", {}).get("KEY_PREFIX", "")
    return f"{prefix}:{{usage-ratelimit}}:{limit.id}"


def _matching(scope: CallScope) -> list[RateLimitSpec]:
    return [r for r in active_rate_limits() if scope_matches(r.scope_type, r.scope_value, scope)]


def _refusal(limit: RateLimitSpec, kind: int, retry_after: float | None) -> RateLimitExceeded:
    metrics.rate_limited(limit.scope_type)
    limit_type = "requests_per_minute" if kind == 1 else "tokens_per_minute"
    per_minute = limit.requests_per_minute if kind == 1 else limit.tokens_per_minute
    if retry_after is None:
        message = (
            f"The request alone exceeds the {limit.scope_type} limit "
            f"of {per_minute} tokens per minute."
        )
    else:
        unit = limit_type.replace("_", " ")
        message = f"The {limit.scope_type} limit of {per_minute} {unit} is reached."
    return RateLimitExceeded(
        message,
        retry_after=retry_after,
        details={
            "scope_type": limit.scope_type,
            "limit_type": limit_type,
            "limit": per_minute,
            "retry_after": None if retry_after is None else round(retry_after, 3),
        },
    )


def _admit_redis(limits: list[RateLimitSpec], tokens: int) -> None:
    handle = _redis_handle()
    args: list[int] = [tokens]
    for limit in limits:
        args += [
            _NO_LIMIT if limit.requests_per_minute is None else limit.requests_per_minute,
            _NO_LIMIT if limit.tokens_per_minute is None else limit.tokens_per_minute,
        ]
    try:
        index, kind, retry_after = handle.admit(keys=[_key(lim) for lim in limits], args=args)
    except cache_errors() as e:
        raise RateLimiterUnavailable() from e
    if index:
        raise _refusal(limits[index - 1], kind, float(retry_after))


def _admit_cache(limits: list[RateLimitSpec], tokens: int) -> None:
    now = time.time()
    window = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    counted: list[tuple[str, int]] = []
    for limit in limits:
        for kind, cap, amount in (
            (1, limit.requests_per_minute, 1),
            (2, limit.tokens_per_minute, tokens),
        ):
            if cap is None:
                continue
            key = f"usage:ratelimit:{limit.id}:{window}:{kind}"
            cache.add(key, 0, timeout=_KEY_TTL)
            value = cache.incr(key, amount)
            counted.append((key, amount))
            if value > cap:
                for undo_key, undo in counted:
                    cache.decr(undo_key, undo)
                raise _refusal(limit, kind, window + WINDOW_SECONDS - now)


def rate_limit_admit(*, scope: CallScope, estimated_tokens: int) -> None:
    """Count one request and its estimated tokens against every matching limit, or refuse."""
    if estimated_tokens < 0:
        raise ValueError("Estimated tokens cannot be negative.")
    limits = _matching(scope)
    if not limits:
        return
    for limit in limits:
        if limit.tokens_per_minute is not None and estimated_tokens > limit.tokens_per_minute:
            raise _refusal(limit, 2, None)
    if settings.REDIS_URL:
        _admit_redis(limits, estimated_tokens)
    else:
        _admit_cache(limits, estimated_tokens)


def rate_limit_settle(*, scope: CallScope, estimated_tokens: int, actual_tokens: int) -> None:
    """Correct the token count of an admitted call to what the provider reported."""
    delta = actual_tokens - estimated_tokens
    limits = [lim for lim in _matching(scope) if lim.tokens_per_minute is not None]
    if not delta or not limits:
        return
    if settings.REDIS_URL:
        try:
            _redis_handle().settle(keys=[_key(lim) for lim in limits], args=[delta])
        except cache_errors():  # the call already happened; a lost correction is tolerable
            logger.warning("Rate limiter unavailable: token count not corrected", exc_info=True)
        return
    window = int(time.time() // WINDOW_SECONDS) * WINDOW_SECONDS
    for limit in limits:
        try:
            cache.incr(f"usage:ratelimit:{limit.id}:{window}:2", delta)
        except ValueError:  # the window the call was counted in has passed
            continue
