"""Health endpoints: `/healthz` (load balancers), `/livez` (process up), `/readyz` (ready).

`GET /healthz`: may a load balancer send this process calls?

Every call needs both backing services (the database for the ledger and budgets, the shared
cache for keys, limits and breakers), so the probe asks each for one cheap round trip and
answers 200 only when both answer. It is a plain Django view: no authentication (probes carry
no credentials), no DRF negotiation, and a body that names no host, user or error text, since
anyone who can reach the port can read it.

`GET /livez` checks nothing but that the process answers HTTP: an orchestrator restarts a
process that fails it, so it must not fail when a shared dependency is down (restarting every
web process would not bring PostgreSQL back). `GET /readyz` adds to /healthz's probes the
migrations (all applied: a process of a newer release must not serve before `migrate` ran)
and the Celery broker (rollups, alerts and reservation cleanup are queued there); it names
what failed, as /healthz does.
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from config.api import error_body
from config.errors import ServiceUnavailable

logger = logging.getLogger(__name__)

_PROBE_KEY = "healthz:probe"


def _database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache_answers() -> None:
    # A write, not only a read: a Redis replica left read-only after a failover fails here.
    cache.set(_PROBE_KEY, 1, timeout=60)


_PROBES = {"database": _database_answers, "cache": _cache_answers}


_migrations_applied = False


def _migrations_answer() -> None:
    """No unapplied migration; once true, remembered (a process's code does not change)."""
    global _migrations_applied
    if _migrations_applied:
        return
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise MigrationsPending
    _migrations_applied = True


class MigrationsPending(Exception):
    """Migrations exist that the database has not applied."""


def _broker_answers() -> None:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0)


def _readiness_probes() -> dict:
    cache_name = "redis" if settings.REDIS_URL else "cache"
    return {
        "database": _database_answers,
        cache_name: _cache_answers,
        "migrations": _migrations_answer,
        "broker": _broker_answers,
    }


def _probe(name: str, probes: dict | None = None) -> bool:
    try:
        (probes or _PROBES)[name]()
    except Exception as exc:
        # Any failure means "do not route calls here". Only the type is logged: the text of a
        # driver error names hosts and users, and probes would repeat it every few seconds.
        logger.warning("Health check: %s unavailable (%s)", name, type(exc).__name__)
        return False
    return True


def _answer(states: dict[str, str]) -> HttpResponse:
    if all(state == "ok" for state in states.values()):
        return JsonResponse({"status": "ok"})
    outage = ServiceUnavailable()
    response = JsonResponse(
        error_body(outage.code, outage.message, states), status=outage.http_status
    )
    for name, value in outage.headers().items():
        response[name] = value
    return response


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return _answer({name: "ok" if _probe(name) else "unavailable" for name in _PROBES})


@never_cache
@require_safe
def livez(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    probes = _readiness_probes()
    return _answer(
        {
            name: "ok" if _probe(name, probes) else _FAILED_STATE.get(name, "unavailable")
            for name in probes
        }
    )


_FAILED_STATE = {"migrations": "pending"}
