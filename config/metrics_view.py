"""`GET /metrics`: every process's series in Prometheus' text format, for a scraper only.

Who may read it: a request with `Authorization: Bearer <METRICS_BEARER_TOKEN>` (when that
setting is set), or a request whose socket peer is in METRICS_ALLOWED_NETWORKS (loopback by
default) and that did not come through a proxy. A proxy on the same host connects from
loopback, so a request carrying X-Forwarded-For is never admitted by its network: the public
side of the proxy would otherwise read the metrics. Series hold no secret, but they show
which services, models and budgets exist and what they spend.

What it adds at scrape time to the counters the processes wrote: gauges computed from shared
state by the collectors named in METRICS_COLLECTORS (the circuit breakers and budgets), so
they are right whichever process changed that state, and cost the call path nothing.
"""

import hmac
import ipaddress
import logging
import os
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from config.api import error_body
from config.metrics_dir import ENV

logger = logging.getLogger(__name__)


@cache
def _networks(spec: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def _token_ok(request: HttpRequest) -> bool:
    expected = settings.METRICS_BEARER_TOKEN
    if not expected:
        return False
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    )


def _network_ok(request: HttpRequest) -> bool:
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in net for net in _networks(tuple(settings.METRICS_ALLOWED_NETWORKS)))


def _scrape() -> bytes:
    if os.environ.get(ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    gauges = CollectorRegistry(auto_describe=False)
    for path in settings.METRICS_COLLECTORS:
        gauges.register(import_string(path)())
    return generate_latest(registry) + generate_latest(gauges)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not (_token_ok(request) or _network_ok(request)):
        message = "Metrics need a bearer token or an allowed network."
        if not settings.METRICS_BEARER_TOKEN:
            return JsonResponse(error_body("permission_denied", message), status=403)
        response = JsonResponse(error_body("not_authenticated", message), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(_scrape(), content_type=CONTENT_TYPE_LATEST)
