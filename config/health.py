"""`GET /healthz`: may a load balancer send this process calls?

Every call needs both backing services (the database for the ledger and budgets, the shared
cache for keys, limits and breakers), so the probe asks each for one cheap round trip and
answers 200 only when both answer. It is a plain Django view: no authentication (probes carry
no credentials), no DRF negotiation, and a body that names no host, user or error text, since
anyone who can reach the port can read it.
"""

import logging

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


def _probe(name: str) -> bool:
    try:
        _PROBES[name]()
    except Exception as exc:
        # Any failure means "do not route calls here". Only the type is logged: the text of a
        # driver error names hosts and users, and probes would repeat it every few seconds.
        logger.warning("Health check: %s unavailable (%s)", name, type(exc).__name__)
        return False
    return True


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    states = {name: "ok" if _probe(name) else "unavailable" for name in _PROBES}
    if all(state == "ok" for state in states.values()):
        return JsonResponse({"status": "ok"})
    outage = ServiceUnavailable()
    response = JsonResponse(
        error_body(outage.code, outage.message, states), status=outage.http_status
    )
    for name, value in outage.headers().items():
        response[name] = value
    return response
