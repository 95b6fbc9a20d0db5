"""OpenTelemetry traces, off unless TRACING_ENABLED (and the `otel` extra is installed).

What is traced: Django requests, PostgreSQL queries (psycopg), Redis commands, Celery tasks
(publish and run, linked), outgoing HTTP to providers (config/http_client.py: a CLIENT span per
request, `traceparent` sent), and one span per attempt at a provider call carrying the GenAI
semantic-convention attributes (`gen_ai.system`, `gen_ai.operation.name`,
`gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.response.id`,
`gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`, `error.type`) plus ours (`llm.*`:
service, provider slug, request id, attempt, fallback, streamed, cost, time to first token).
The attempt span is built from the ledger's record when it is written (start = the attempt's
start, duration = its latency), so the call runtime needs no tracing code of its own.

The exporter is configured by the standard variables: OTEL_TRACES_EXPORTER (`otlp`, the
default, `console` or `none`), OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
OTEL_EXPORTER_OTLP_HEADERS, OTEL_SERVICE_NAME (default `llm-control-plane`),
OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (OTLP over HTTP).

Called once per process that serves (config/wsgi.py, in each gunicorn worker) or runs tasks
(Celery's worker_init; prefork pool processes inherit it, and the SDK's batching thread is
restarted after the fork).
"""

import contextlib
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings

from config import http_client, metrics

_configured_pid: int | None = None
_instrumentors: list[Any] = []
_tracer: Any = None


def _exporter() -> Any:
    choice = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if choice == "none":
        return None
    if choice == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def tracing_configure(*, exporter: Any = None, force: bool = False) -> bool:
    """Install the tracer provider and the instrumentations once in this process.

    `exporter` (tests: an InMemorySpanExporter) is used with a synchronous processor instead of
    the batching OTLP one; `force` turns tracing on whatever TRACING_ENABLED says."""
    global _configured_pid, _tracer
    if not (settings.TRACING_ENABLED or force) or _configured_pid == os.getpid():
        return False
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    attributes = (
        {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "llm-control-plane"}
    )
    provider = TracerProvider(resource=Resource.create(attributes))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif (configured := _exporter()) is not None:
        provider.add_span_processor(BatchSpanProcessor(configured))
    trace.set_tracer_provider(provider)
    _tracer = provider.get_tracer("llm-control-plane")
    _instrument(provider)
    if attempt_span not in metrics.attempt_observers:
        metrics.attempt_observers.append(attempt_span)
    http_client.span_factory = http_span
    _configured_pid = os.getpid()
    return True


def _instrument(provider: Any) -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    for instrumentor in (
        DjangoInstrumentor(),
        PsycopgInstrumentor(),
        RedisInstrumentor(),
        CeleryInstrumentor(),
    ):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)
            _instrumentors.append(instrumentor)


def tracing_disable() -> None:
    """Undo `tracing_configure` in this process (tests)."""
    global _configured_pid
    for instrumentor in _instrumentors:
        instrumentor.uninstrument()
    _instrumentors.clear()
    if attempt_span in metrics.attempt_observers:
        metrics.attempt_observers.remove(attempt_span)
    http_client.span_factory = None
    _configured_pid = None


def attempt_span(record: Any, model: Any) -> None:
    """One CLIENT span per attempt, from its start for its latency, with GenAI attributes."""
    from opentelemetry.trace import SpanKind, Status, StatusCode

    start = record.created_at
    end = start + timedelta(milliseconds=record.latency_ms)
    operation = "embeddings" if record.operation == "embedding" else record.operation
    attributes: dict[str, Any] = {
        "gen_ai.system": model.provider_kind,
        "gen_ai.provider.name": model.provider_kind,
        "gen_ai.operation.name": operation,
        "gen_ai.request.model": model.model_name,
        "gen_ai.usage.input_tokens": record.input_tokens,
        "gen_ai.usage.output_tokens": record.output_tokens,
        "llm.provider": record.provider,
        "llm.service": record.service,
        "llm.request_id": record.request_id,
        "llm.attempt": record.attempt,
        "llm.is_fallback": record.is_fallback,
        "llm.streamed": record.streamed,
        "llm.outcome": record.outcome,
    }
    if record.model_reported:
        attributes["gen_ai.response.model"] = record.model_reported
    if record.provider_request_id:
        attributes["gen_ai.response.id"] = record.provider_request_id
    if record.cost is not None:
        attributes["llm.cost_usd"] = str(record.cost)
    if record.time_to_first_token_ms is not None:
        attributes["llm.time_to_first_token_ms"] = record.time_to_first_token_ms
    span = _tracer.start_span(
        f"{operation} {model.model_name}",
        kind=SpanKind.CLIENT,
        attributes=attributes,
        start_time=int(start.timestamp() * 1e9),
    )
    if record.outcome != "ok":
        span.set_attribute("error.type", record.outcome)
        span.set_status(Status(StatusCode.ERROR))
    span.end(end_time=int(end.timestamp() * 1e9))


@contextlib.contextmanager
def http_span(request: Any) -> Iterator[Any]:
    """A CLIENT span around one HTTP request to a provider (no query string: keys go there)."""
    from opentelemetry import propagate
    from opentelemetry.trace import SpanKind

    url = request.url
    attributes = {
        "http.request.method": request.method,
        "server.address": url.host,
        "server.port": url.port or (443 if url.scheme == "https" else 80),
        "url.full": f"{url.scheme}://{url.host}{url.path}",
    }
    with _tracer.start_as_current_span(
        request.method, kind=SpanKind.CLIENT, attributes=attributes
    ) as span:
        propagate.inject(request.headers)
        yield span
