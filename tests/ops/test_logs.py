"""Logs: one JSON line per request with what it called; JSON for everything, still redacted;
the request id reaches providers (X-Client-Request-Id) and Celery tasks."""

import json
import logging
import logging.config
from datetime import UTC, datetime
from decimal import Decimal

import openai
import pytest
from django.conf import settings as django_settings

from config import request_context
from config.log_format import JsonFormatter
from config.settings.base import logging_config
from providers.models import ConsumerAPIKey
from tests.chat.helpers import openai_chain, selection_set
from tests.ops.celery_helpers import memory_app, worker_thread

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def keyed(openai_fake):
    primary, fallback = openai_chain(openai_fake)
    selection_set("logged", primary, (fallback,))
    key, secret = ConsumerAPIKey.objects.create_key(name="logs-test")
    return key, secret


def request_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "config.requests"]


def test_one_line_per_call_with_what_served_it(client, keyed, openai_fake, caplog):
    key, secret = keyed
    caplog.set_level(logging.INFO, logger="config.requests")
    response = client.post(
        "/v1/chat/completions",
        {"model": "logged", "messages": [{"role": "user", "content": "Log me"}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 200
    request_id = response["x-request-id"]
    (line,) = request_lines(caplog)
    fields = line.http
    assert fields["request_id"] == request_id
    assert fields["key_prefix"] == key.prefix and key.prefix not in secret.split(".", 1)[1]
    assert fields["service"] == "logged"
    assert (fields["provider"], fields["model"], fields["outcome"]) == (
        "primary",
        "gpt-4o-mini",
        "ok",
    )
    usage = response.json()["usage"]
    assert fields["tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert float(fields["cost_usd"]) > 0
    assert fields["status"] == 200 and fields["latency_ms"] > 0
    # The provider was told our id; the ledger keeps it.
    assert openai_fake.last_request().headers["x-client-request-id"] == request_id

    entry = json.loads(JsonFormatter().format(line))
    assert entry["http"]["request_id"] == request_id and entry["level"] == "INFO"
    assert entry["logger"] == "config.requests" and entry["time"].endswith("+00:00")
    assert secret not in json.dumps(entry)


def test_a_stream_is_logged_when_its_body_has_been_sent(client, keyed, caplog):
    _, secret = keyed
    caplog.set_level(logging.INFO, logger="config.requests")
    response = client.post(
        "/v1/chat/completions",
        {
            "model": "logged",
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "Stream me"}],
        },
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert not request_lines(caplog)  # headers only so far
    b"".join(response.streaming_content)
    response.close()
    (line,) = request_lines(caplog)
    assert line.http["request_id"] == response["x-request-id"]
    assert line.http["outcome"] == "ok" and line.http["tokens"] > 0


def test_requests_without_calls_have_an_id_too(client, caplog):
    caplog.set_level(logging.INFO, logger="config.requests")
    response = client.get("/livez")
    (line,) = request_lines(caplog)
    assert response["x-request-id"] == line.http["request_id"]
    assert line.http["request_id"].startswith("req_")
    assert "model" not in line.http and line.http["key_prefix"] is None
    assert request_context.current_request_id() is None  # nothing leaks past the request


def test_sdk_sees_the_same_request_id(live_server, keyed, openai_fake):
    _, secret = keyed
    with openai.OpenAI(api_key=secret, base_url=f"{live_server.url}/v1", max_retries=0) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(
            model="logged", messages=[{"role": "user", "content": "hi"}]
        )
    assert openai_fake.last_request().headers["x-client-request-id"] == raw.headers["x-request-id"]


def test_production_logs_are_json_and_redacted(capsys):
    try:
        logging.config.dictConfig(logging_config("json"))
        token = request_context.request_id_set("req_abc")
        try:
            logging.getLogger("some.module").warning(
                "calling with Authorization: Bearer sk-live-abcdefghijklmnop", extra={"n": 3}
            )
            try:
                raise ValueError("key=AIzaSyA1234567890123456789012345")
            except ValueError:
                logging.getLogger("some.module").exception("failed")
        finally:
            request_context.request_id_reset(token)
    finally:
        logging.config.dictConfig(django_settings.LOGGING)
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    assert [entry["message"].split()[0] for entry in lines] == ["calling", "failed"]
    assert all(entry["request_id"] == "req_abc" for entry in lines)
    assert lines[0]["n"] == 3 and lines[0]["level"] == "WARNING"
    assert "sk-live-abcdefghijklmnop" not in lines[0]["message"]
    assert "ValueError" in lines[1]["exc_info"] and "AIzaSyA1234567890" not in lines[1]["exc_info"]


@pytest.mark.parametrize(
    ("extra", "written"),
    [
        # As json.dumps(default=str) wrote them: datetimes and Decimals through str().
        ({"at": datetime(2026, 12, 1, 13, 0, tzinfo=UTC)}, {"at": "2026-12-01 13:00:00+00:00"}),
        ({"cost": Decimal("0.0000625")}, {"cost": "0.0000625"}),
        # What orjson refuses goes through json: keys that are not strings, huge integers.
        ({"by_id": {7: "a"}}, {"by_id": {"7": "a"}}),
        ({"big": 2**70}, {"big": 2**70}),
    ],
)
def test_json_lines_write_extras_as_text(extra, written):
    record = logging.getLogger("x").makeRecord(
        "x", logging.INFO, "f", 1, "m", (), None, extra=extra
    )
    entry = json.loads(JsonFormatter().format(record))
    assert {name: entry[name] for name in written} == written
    assert entry["message"] == "m" and entry["level"] == "INFO"


def test_unknown_log_format_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        logging_config("xml")


def test_the_request_id_travels_into_celery_tasks():
    """Published from a request, the task runs with the request's id; from nowhere, with its
    own task id (a real worker on an in-memory broker: the signals are the project's)."""
    app = memory_app("ids")
    app.conf.task_always_eager = False

    @app.task(name="ids.current")
    def current() -> str | None:
        return request_context.current_request_id()

    with worker_thread(app):
        token = request_context.request_id_set("req_from_a_request")
        try:
            from_request = current.delay()
        finally:
            request_context.request_id_reset(token)
        from_nowhere = current.delay()
        assert from_request.get(timeout=10) == "req_from_a_request"
        assert from_nowhere.get(timeout=10) == from_nowhere.id
