"""config.cache.PooledRedisCache: one client per pool, and keys Redis takes as they are."""

import os
import uuid
import warnings

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
