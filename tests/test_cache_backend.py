"""config.cache.PooledRedisCache: one client per pool, and keys Redis takes as they are."""

import os
import uuid
import warnings

import redis
from django.core.cache import CacheKeyWarning
from django.core.cache.backends.redis import RedisCache

from config.cache import PooledRedisCache
from tests.fixtures import requires_redis


def _cache() -> PooledRedisCache:
    return PooledRedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": f"t-{uuid.uuid4().hex[:8]}"})


@requires_redis
def test_keys_memcached_would_refuse_are_stored_and_read_without_a_warning():
    cache = _cache()
    keys = ["has space", "x" * 300, "tab\tand\x7fdel", "ünïcode"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        cache.set_many({key: index for index, key in enumerate(keys)}, timeout=30)
        assert cache.get_many(keys) == {key: index for index, key in enumerate(keys)}
        cache.delete_many(keys)
    assert cache.get_many(keys) == {}
    # Django's own backend warns for the same keys: the check is skipped, not absent.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CacheKeyWarning)
        RedisCache(os.environ["REDIS_URL"], {}).validate_key("has space")
    assert [w.category for w in caught] == [CacheKeyWarning]


@requires_redis
def test_one_client_per_pool_across_calls():
    cache = _cache()
    cache.set("a", 1)
    client = cache._cache.get_client(write=True)
    cache.get("a")
    assert cache._cache.get_client(write=True) is client


@requires_redis
def test_connections_dropped_by_redis_are_replaced_and_resets_retried_once():
    """Redis restarted: every pooled connection is dead. The next command still answers
    (redis-py finds the dead connection before using it). A reset in the middle of a command
    is sent again once on a new connection (`connection_error_retries`, 1 in the settings),
    never after a timeout."""
    cache = _cache()
    cache.set("a", 1)
    client = cache._cache.get_client(write=True)
    own_id = client.client_id()  # the pool's one connection, idle again after this
    killer = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        assert killer.client_kill_filter(_id=own_id) == 1
    finally:
        killer.close()
    assert cache.get("a") == 1
    assert client.client_id() != own_id  # on a new connection
    retry = client.connection_pool.connection_kwargs["retry"]
    assert retry._retries == 1
    assert retry._supported_errors == (redis.ConnectionError,)
