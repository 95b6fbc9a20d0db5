"""Settings of the gunicorn that `test_http_path.py` starts when PostgreSQL and Redis are not
both configured (with both, it runs the real production settings instead).

The test settings, pointed by DATABASE_URL at a copy of the benchmark's test database, with a
cache key space of the run's own so that no state of an earlier run is ever read.
"""

import os
from pathlib import Path

from config.settings.base import REDIS_URL, cache_config
from config.settings.test import *  # noqa: F403
from config.settings.test import DATABASES

CACHES = cache_config(
    REDIS_URL, Path(os.environ["BENCH_CACHE_DIR"]), key_prefix=os.environ["BENCH_CACHE_PREFIX"]
)
ALLOWED_HOSTS = ["127.0.0.1"]
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The worker's threads write the ledger concurrently: queue for SQLite's one write lock
    # instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
