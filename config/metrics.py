"""Prometheus series of the call path, counted where each attempt's UsageRecord is written.

The ledger is the one place every attempt passes through (success, failure, fallback, stream),
so counting there makes `/metrics` agree with the ledger by construction. The hooks are on the
hot path: labelled children are looked up once per label set and kept in a dict, so an attempt
costs a dict lookup and a handful of `inc`/`observe` calls (a few microseconds; measured by
benchmarks/test_metrics_overhead.py).

Multiprocess mode (every gunicorn worker and Celery process writing its own files, the scrape
adding them up) is prometheus-client's: it is on when PROMETHEUS_MULTIPROC_DIR is set before
this module is imported (config/metrics_dir.py prepares and cleans that directory).
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from prometheus_client import Counter, Histogram

from config import request_context
from config.metrics_dir import directory_ensure

# A command run with PROMETHEUS_MULTIPROC_DIR exported before gunicorn or Celery prepared the
# directory (`manage.py migrate` in a deploy script) would fail to create its series files
# when the first metric below is defined.
directory_ensure()

# LLM calls last from a fraction of a second to minutes (long generations).
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
# Token columns of the ledger, by the `bucket` label they are counted under.
TOKEN_BUCKETS = (
    ("input", "input_tokens"),
    ("cached_input", "cached_input_tokens"),
    ("cache_write", "cache_write_tokens"),
    ("output", "output_tokens"),
    ("reasoning", "reasoning_tokens"),
)

REQUESTS = Counter(
    "llm_requests",
    "Attempts at a provider call, one per usage record.",
    ["provider", "model", "service", "outcome", "streamed"],
)
TOKENS = Counter(
    "llm_tokens", "Tokens reported by providers.", ["provider", "model", "service", "bucket"]
)
COST = Counter("llm_cost_usd", "Cost of the attempts in USD.", ["provider", "model", "service"])
DURATION = Histogram(
    "llm_request_duration_seconds",
    "Duration of one attempt, from sending to the last byte.",
    ["provider", "model", "service"],
    buckets=DURATION_BUCKETS,
)
TTFT = Histogram(
    "llm_time_to_first_token_seconds",
    "Time to the first streamed token of an attempt.",
    ["provider", "model", "service"],
    buckets=TTFT_BUCKETS,
)
RATE_LIMITED = Counter("llm_rate_limited", "Calls refused by a rate limit.", ["scope"])
LEDGER_WRITE_FAILURES = Counter(
    "llm_ledger_write_failures", "Usage records the database did not take (logged in full)."
)
HTTP_REQUESTS = Counter(
    "django_http_requests", "HTTP requests answered by Django.", ["method", "view", "status"]
)
HTTP_DURATION = Histogram(
    "django_http_request_duration_seconds",
    "Time Django took to produce a response (a stream: its headers).",
    ["method", "view"],
    buckets=HTTP_BUCKETS,
)


class _Record(Protocol):
    provider: str
    service: str
    outcome: str
    streamed: bool
    cost: Decimal | None
    latency_ms: int
    time_to_first_token_ms: int | None


class _Model(Protocol):
    @property
    def model_name(self) -> str: ...

    @property
    def provider_kind(self) -> str: ...


class _Children:
    """The labelled children of one (provider, model, service) triple, resolved once."""

    __slots__ = ("cost", "duration", "requests", "tokens", "ttft")

    def __init__(self, provider: str, model: str, service: str) -> None:
        self.requests: dict[tuple[str, bool], Any] = {}
        self.tokens = tuple(
            (column, TOKENS.labels(provider, model, service, bucket))
            for bucket, column in TOKEN_BUCKETS
        )
        self.cost = COST.labels(provider, model, service)
        self.duration = DURATION.labels(provider, model, service)
        self.ttft = TTFT.labels(provider, model, service)


_children: dict[tuple[str, str, str], _Children] = {}
# Extra observers of each attempt (the tracing span), installed by config.tracing when on.
attempt_observers: list[Callable[[Any, Any], None]] = []


def _children_for(provider: str, model: str, service: str) -> _Children:
    key = (provider, model, service)
    children = _children.get(key)
    if children is None:
        children = _children[key] = _Children(provider, model, service)
    return children


def attempt_recorded(record: _Record, model: _Model) -> None:
    """Count one attempt the ledger has just written (or queued for its writer): the only hook
    of usage/services/ledger.

    Also adds it to the request's log line and, when tracing is on, to its trace."""
    service = record.service or "-"
    children = _children_for(record.provider, model.model_name, service)
    outcome_key = (record.outcome, record.streamed)
    counter = children.requests.get(outcome_key)
    if counter is None:
        counter = children.requests[outcome_key] = REQUESTS.labels(
            record.provider,
            model.model_name,
            service,
            record.outcome,
            "true" if record.streamed else "false",
        )
    counter.inc()
    for column, child in children.tokens:
        value = getattr(record, column)
        if value:
            child.inc(value)
    if record.cost:
        children.cost.inc(float(record.cost))
    children.duration.observe(record.latency_ms / 1000)
    if record.time_to_first_token_ms is not None:
        children.ttft.observe(record.time_to_first_token_ms / 1000)
    request_context.attempt_note(record, model.model_name)
    for observer in attempt_observers:
        observer(record, model)


def ledger_write_failed() -> None:
    LEDGER_WRITE_FAILURES.inc()


def rate_limited(scope: str) -> None:
    """A rate limit refused a call; `scope` is the limit's scope type (consumer_key, service)."""
    RATE_LIMITED.labels(scope).inc()


def http_request_observed(method: str, view: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, view, str(status)).inc()
    HTTP_DURATION.labels(method, view).observe(seconds)


CELERY_TASKS = Counter("celery_tasks", "Celery tasks run, by final state.", ["task", "state"])
CELERY_TASK_DURATION = Histogram(
    "celery_task_duration_seconds", "Run time of Celery tasks.", ["task"], buckets=HTTP_BUCKETS
)


def task_observed(task: str, state: str, seconds: float) -> None:
    CELERY_TASKS.labels(task, state).inc()
    CELERY_TASK_DURATION.labels(task).observe(seconds)
