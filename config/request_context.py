"""The request id and the per-request log line.

`RequestContextMiddleware` (first in MIDDLEWARE) gives every request an id (`req_<hex>`, the
format of the call runtime's ids) kept in a context variable, so that everything the request
does can carry it: log records (config/log_format.py), Celery tasks it queues (headers, see
config/celery.py), provider calls (`X-Client-Request-Id`, config/http_client.py) and the
ledger (the /v1 API uses it as the call's request id). When the response is complete (for a
stream: when its body has been sent), one INFO line on the `config.requests` logger sums the
request up: method, path, status, latency, the consumer key's prefix, and, when it called a
model, the service, the model that served, the outcome, tokens and cost of its attempts (noted
by the ledger hook through `attempt_note`).
"""

import logging
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("config.requests")

# Every token column of the ledger: their sum is what OpenAI calls total_tokens.
_TOKEN_COLUMNS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
)

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_calls: ContextVar[dict[str, Any] | None] = ContextVar("request_calls", default=None)


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def current_request_id() -> str | None:
    """The id of the request (or Celery task) this code runs for, if any."""
    return _request_id.get()


def request_id_set(request_id: str | None) -> object:
    """Make `request_id` current (Celery tasks); returns a token for `request_id_reset`."""
    return _request_id.set(request_id)


def request_id_reset(token: Any) -> None:
    _request_id.reset(token)


def attempt_note(record: Any, model_name: str) -> None:
    """Add one recorded attempt to the current request's log line (no-op outside a request)."""
    calls = _calls.get()
    if calls is None:
        return
    calls["attempts"] += 1
    calls["service"] = record.service or None
    calls["provider"] = record.provider
    calls["model"] = model_name
    calls["outcome"] = record.outcome
    calls["tokens"] += sum(getattr(record, column) or 0 for column in _TOKEN_COLUMNS)
    if record.cost is not None:
        calls["cost"] += record.cost


def _view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unmatched>"
    return match.view_name or match.route or "<unnamed>"


class RequestContextMiddleware:
    """Request id, Django's request metrics and the request's log line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from config import metrics  # the metrics import prometheus-client: keep startup lazy

        started = time.perf_counter()
        request_id = new_request_id()
        calls: dict[str, Any] = {"attempts": 0, "tokens": 0, "cost": Decimal(0)}
        id_token = _request_id.set(request_id)
        calls_token = _calls.set(calls)
        request.request_id = request_id  # type: ignore[attr-defined]
        try:
            response = self.get_response(request)
        except BaseException:
            _request_id.reset(id_token)
            _calls.reset(calls_token)
            raise
        metrics.http_request_observed(
            request.method or "", _view_name(request), response.status_code,
            time.perf_counter() - started,
        )  # fmt: skip
        if not response.has_header("x-request-id"):
            response["x-request-id"] = request_id

        def finish() -> None:
            _log_line(request, response, calls, started)
            _request_id.set(None)
            _calls.set(None)

        if response.streaming:
            # The body is produced after this returns; Django closes the response at its end.
            response._resource_closers.append(finish)  # type: ignore[attr-defined]
        else:
            finish()
        return response


def _log_line(
    request: HttpRequest, response: HttpResponse, calls: dict[str, Any], started: float
) -> None:
    auth = getattr(request, "auth", None)
    fields: dict[str, Any] = {
        "request_id": response.get("x-request-id") or _request_id.get(),
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        "key_prefix": getattr(auth, "prefix", None),
    }
    if calls["attempts"]:
        fields |= {
            "service": calls["service"],
            "provider": calls["provider"],
            "model": calls["model"],
            "outcome": calls["outcome"],
            "attempts": calls["attempts"],
            "tokens": calls["tokens"],
            "cost_usd": str(calls["cost"]),
        }
    logger.info(
        "%s %s %s %sms",
        request.method,
        request.path,
        response.status_code,
        fields["latency_ms"],
        extra={"http": fields},
    )
