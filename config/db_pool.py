"""The check of the web server's PostgreSQL connection pool (settings: DATABASE_POOL).

Django's CONN_HEALTH_CHECKS pings a persistent connection at the start of every request: a
round trip per call (about 5 % of a worker's time under load). A pooled connection that was
handed out a moment ago is as healthy as one that just answered a query, so this check pings
only a connection that has not been handed out for DATABASE_POOL_CHECK_IDLE_SECONDS: the ones
a database restart, a failover or an idle timeout (a firewall, PgBouncer) may have cut.
"""

import time
import weakref

from django.conf import settings
from psycopg import Connection

_last_checkout: "weakref.WeakKeyDictionary[Connection, float]" = weakref.WeakKeyDictionary()


def check_after_idle(connection: Connection) -> None:
    """psycopg_pool's `check`: raise (the pool then discards the connection and hands out
    another) when a connection idle for a while no longer answers."""
    now = time.monotonic()
    last = _last_checkout.get(connection)
    if last is None or now - last >= settings.DATABASE_POOL_CHECK_IDLE_SECONDS:
        connection.execute("")  # an empty query: one round trip, no parsing
    _last_checkout[connection] = now
