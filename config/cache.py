"""Django's Redis cache backend, with one redis client per connection pool instead of per call.

Django builds a new `redis.Redis` object for every cache operation; with redis-py 8 that object
costs more than the network round trip itself. A client only wraps its (thread-safe) connection
pool, so one per pool is safe to share across threads and is what the hot path needs.
Keys are not checked against memcached's rules either (see `validate_key`).
"""

from typing import TYPE_CHECKING, Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

if TYPE_CHECKING:
    from redis import ConnectionPool, Redis
    from redis.retry import Retry


def connection_reset_retry(retries: int = 1) -> "Retry":
    """redis-py's retry policy for the shared cache and the rate limiter: a command is sent
    again, at once and on a new connection, after a connection error (a reset), `retries`
    times; never after a timeout, so a silent Redis costs one timeout per command."""
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.retry import Retry

    return Retry(NoBackoff(), retries, supported_errors=(RedisConnectionError,))


class PooledRedisCacheClient(RedisCacheClient):
    if TYPE_CHECKING:  # Django's private helpers reused below; its stubs leave them out
        _client: type[Redis]

        def _get_connection_pool_index(self, write: bool) -> int: ...

        def _get_connection_pool(self, write: bool) -> ConnectionPool: ...

    def __init__(self, *args: Any, connection_error_retries: int = 1, **options: Any) -> None:
        """`connection_error_retries` (OPTIONS): how many times a command is sent again, on a
        new connection, after a connection error (a reset: Redis restarted, every pooled
        connection dead); never after a timeout. redis-py's `Retry` is built here, on the
        cache's first use, rather than in the settings: loading redis-py costs ~0.13 s, which
        a process that never touches the cache (most `manage.py` commands) does not pay."""
        super().__init__(*args, retry=connection_reset_retry(connection_error_retries), **options)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = self._get_connection_pool(write)
            client = self._clients.setdefault(index, self._client(connection_pool=pool))
        return client


class PooledRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = PooledRedisCacheClient

    def validate_key(self, key: str) -> None:
        """Nothing to check. Django's base check only warns of keys memcached would refuse
        (over 250 characters, spaces, control characters), character by character: Redis takes
        any key, and the check cost every call several microseconds per key it reads."""
