"""Traces (in-memory exporter): Django, the database, Redis, the provider's HTTP request and
one span per attempt with the GenAI attributes, all in one trace; Celery tasks traced."""

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from config import tracing
from providers.models import ConsumerAPIKey
from tests.chat.helpers import openai_chain, selection_set
from tests.fakes.base import Faults
from tests.ops.celery_helpers import memory_app, worker_thread

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    assert tracing.tracing_configure(exporter=exporter, force=True)
    try:
        yield exporter
    finally:
        tracing.tracing_disable()


def test_off_by_default(settings):
    settings.TRACING_ENABLED = False
    assert tracing.tracing_configure() is False


def test_a_call_is_one_trace_with_a_genai_span_per_attempt(spans, client, openai_fake, settings):
    primary, fallback = openai_chain(openai_fake)
    selection_set("traced", primary, (fallback,))
    _, secret = ConsumerAPIKey.objects.create_key(name="traces")
    openai_fake.faults = Faults(status=500, times=2)  # the primary fails twice; backup serves
    spans.clear()  # the setup's queries
    response = client.post(
        "/v1/chat/completions",
        {"model": "traced", "messages": [{"role": "user", "content": "Trace me"}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 200
    finished = spans.get_finished_spans()
    (server,) = [s for s in finished if s.kind == SpanKind.SERVER]
    trace_id = server.context.trace_id
    assert all(s.context.trace_id == trace_id for s in finished if s.kind != SpanKind.INTERNAL)

    attempts = [s for s in finished if s.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(attempts) == 3
    served = attempts[-1]
    assert served.name == "chat gpt-4.1" and served.kind == SpanKind.CLIENT
    assert served.attributes["gen_ai.system"] == "openai"
    assert served.attributes["gen_ai.request.model"] == "gpt-4.1"
    assert served.attributes["gen_ai.usage.input_tokens"] > 0
    assert served.attributes["gen_ai.usage.output_tokens"] > 0
    assert served.attributes["llm.request_id"] == response["x-request-id"]
    assert served.attributes["llm.service"] == "traced" and served.attributes["llm.is_fallback"]
    assert float(served.attributes["llm.cost_usd"]) > 0
    assert served.end_time > served.start_time
    failed = attempts[0]
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == failed.attributes["llm.outcome"] != "ok"
    assert all(s.parent and s.parent.span_id == server.context.span_id for s in attempts)

    http = [
        s
        for s in finished
        if s.attributes.get("http.request.method") == "POST"
        and s.kind == SpanKind.CLIENT
        and "server.address" in s.attributes
    ]
    assert len(http) == 3
    assert [s.attributes["http.response.status_code"] for s in http] == [500, 500, 200]
    assert "?" not in http[0].attributes["url.full"]
    sent = openai_fake.last_request().headers["traceparent"]
    assert f"{trace_id:032x}" in sent

    systems = {s.attributes.get("db.system.name", s.attributes.get("db.system")) for s in finished}
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        assert "postgresql" in systems
    if settings.REDIS_URL:
        assert "redis" in systems


def test_celery_tasks_are_traced(spans):
    app = memory_app("traced")

    @app.task(name="traced.noop")
    def noop() -> int:
        return 1

    with worker_thread(app):
        assert noop.delay().get(timeout=10) == 1
    names = [s.name for s in spans.get_finished_spans()]
    assert any("traced.noop" in name and name.startswith("run") for name in names), names
    assert any("traced.noop" in name and name.startswith("apply_async") for name in names), names
