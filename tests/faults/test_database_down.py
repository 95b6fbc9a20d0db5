"""The database unavailable: both APIs answer 503 in their own shape (never a 500 or a stack
trace), the error is logged for operators and its text (host, port, user, database) is never
sent; the in-process API raises ServiceUnavailable. The database is really unreachable: the
connection is closed (or killed by PostgreSQL) and its port pointed where nothing listens."""

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import OperationalError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql import base as stock_backend

from chat.services import chat_completion_run, chat_completion_stream
from config import views
from config.db_postgresql import base as pooled_backend
from config.errors import ServiceUnavailable
from providers.adapters.types import ChatRequest, Message, TextDelta
from tests.faults.conftest import closed_port, database_down, provider_hook, v1_chat
from tests.fixtures import requires_postgres
from usage.budgets import budget_reservations_release_stale
from usage.models import BudgetHold, BudgetPeriod, Outcome, UsageRecord

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

REQUEST = ChatRequest(model="svc", messages=(Message(role="user", content="hi"),))


def infrastructure_named(text: str) -> list[str]:
    """What of the database's address and identity appears in `text`."""
    db = settings.DATABASES["default"]
    names = [str(db.get("HOST") or ""), str(db.get("USER") or ""), str(db.get("NAME") or "")]
    return [name for name in names if name and name in text] + (
        ["port"] if "port" in text.lower() else []
    )


def assert_outage_logged(caplog) -> None:
    logged = [r for r in caplog.records if r.name == "config.outages"]
    assert logged and "database" in logged[0].getMessage()
    # The traceback, for operators only (the console handler's filter renders and redacts it).
    record = logged[0]
    assert record.exc_info is not None or "OperationalError" in (record.exc_text or "")


def test_native_api_answers_503_in_the_project_shape(client, deployment, caplog):
    with database_down():
        response = client.get("/api/conversations/", HTTP_AUTHORIZATION=f"Bearer {deployment}")
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "1"
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"]["code"] == "service_unavailable"
    assert not infrastructure_named(response.content.decode())
    assert_outage_logged(caplog)


def test_v1_answers_503_in_openai_shape(client, deployment, caplog):
    with database_down():
        response = v1_chat(client, deployment)
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == "1"
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "server_error",
        "service_unavailable",
        None,
    )
    assert not infrastructure_named(response.content.decode())
    assert_outage_logged(caplog)


def test_service_api_raises_service_unavailable(deployment):
    with database_down(), pytest.raises(ServiceUnavailable) as caught:
        chat_completion_run(request=REQUEST)
    assert isinstance(caught.value.__cause__, OperationalError)


@pytest.mark.parametrize("path", ["/api/models/", "/v1/chat/completions"])
def test_the_json_500_page_answers_an_escaped_outage_with_503(rf, path):
    with database_down():
        try:
            connection.ensure_connection()
        except OperationalError:
            response = views.server_error(rf.get(path))
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert json.loads(response.content)["error"]["code"] == "service_unavailable"
    assert not infrastructure_named(response.content.decode())


def test_the_json_500_page_still_says_500_for_a_bug(rf):
    try:
        raise RuntimeError("a bug")
    except RuntimeError:
        response = views.server_error(rf.get("/api/models/"))
    assert response.status_code == 500


def _kill_the_database(pid: int) -> None:
    """From another thread (the fake provider's): PostgreSQL terminates the caller's session
    and the port is closed, so its reconnection fails too."""
    db = connections["default"]
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        db.close()
    db.settings_dict["PORT"] = str(closed_port())


def test_database_lost_mid_call_logs_the_attempt_and_the_reservation_expires(
    client, deployment, openai_fake, monkeypatch, caplog
):
    """Admitted (budget held, in the database), then the database dies while the provider
    answers: the caller gets a 503, the attempt it cannot write is logged in full, and the
    hold, kept in the database, is released by the stale-reservation job like any crashed
    caller's, so it cannot block the budget forever."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    port = connection.settings_dict["PORT"]
    provider_hook(openai_fake, monkeypatch, lambda n: _kill_the_database(pid))
    caplog.set_level(logging.ERROR)
    try:
        response = v1_chat(client, deployment)
    finally:
        connection.settings_dict["PORT"] = port
        connection.close()
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "service_unavailable"
    unwritten = [r for r in caplog.records if r.getMessage().startswith("Usage record not written")]
    assert unwritten, [r.getMessage() for r in caplog.records]
    logged = json.loads(unwritten[0].getMessage().split(": ", 1)[1])
    assert logged["request_id"] == response["x-request-id"]
    assert (logged["outcome"], logged["provider"]) == ("ok", "oa")
    assert logged["input_tokens"] > 0 and float(logged["cost"]) > 0
    assert not UsageRecord.objects.exists()
    # The reservation outlived the call (nothing could settle it) but lives in the database,
    # where the periodic release (STALE_HOLD_AGE) frees it.
    assert BudgetHold.objects.count() == 1
    assert budget_reservations_release_stale() == 0  # not stale yet
    assert budget_reservations_release_stale(older_than=timedelta(0)) == 1
    assert BudgetPeriod.objects.get().reserved == 0


def test_database_lost_mid_stream_ends_the_stream_with_an_error_event(client, deployment):
    response = v1_chat(client, deployment, stream=True)
    assert response.status_code == 200
    chunks = iter(response.streaming_content)
    first = next(chunks)
    with database_down():
        rest = b"".join(chunks)
    events = [e.removeprefix("data: ") for e in (first + rest).decode().split("\n\n") if e]
    assert events[-1] != "[DONE]"
    error = json.loads(events[-1])["error"]
    assert (error["type"], error["code"]) == ("server_error", "service_unavailable")
    assert not infrastructure_named(events[-1])


def test_service_api_stream_raises_service_unavailable_mid_stream(deployment):
    stream = chat_completion_stream(request=REQUEST)
    events = iter(stream)
    assert isinstance(next(events), TextDelta)
    with database_down(), pytest.raises(ServiceUnavailable):
        list(events)


def test_through_the_web_servers_pool_an_outage_answers_503_after_the_pool_timeout(
    client, deployment, caplog
):
    """gunicorn's workers borrow connections from a psycopg pool (DATABASE_POOL), which keeps
    retrying an unreachable database in the background while a request waits for a
    connection: the request gives up after DATABASE_POOL_TIMEOUT_SECONDS (psycopg_pool's own
    default is 30 s, every request of an outage held that long) and answers 503."""
    bound = settings.DATABASE_POOL_TIMEOUT_SECONDS
    assert bound <= 3, "an outage holds every request (and its thread) this long"
    with database_down(pool={"min_size": 0, "max_size": 2, "timeout": bound}):
        started = time.monotonic()
        response = v1_chat(client, deployment)
        waited = time.monotonic() - started
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "service_unavailable"
    assert not infrastructure_named(response.content.decode())
    assert_outage_logged(caplog)
    # It waited for the pool (a refused connection without one fails at once), then gave up.
    assert bound * 0.9 <= waited < bound + 3, waited


@contextmanager
def web_pool(backend: type[BaseDatabaseWrapper]) -> Iterator[BaseDatabaseWrapper]:
    """This thread's default connection replaced by one of `backend` borrowing from a pool of
    3-4 connections to the live database, as gunicorn's workers borrow theirs (DATABASE_POOL).
    """
    original = connections["default"]
    original.close()
    pool = {"min_size": 3, "max_size": 4, "timeout": 2.0}
    settings_dict = {
        **original.settings_dict,
        "OPTIONS": {**original.settings_dict["OPTIONS"], "pool": pool},
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
    }
    pooled = backend(settings_dict, alias="default")
    connections["default"] = pooled
    try:
        yield pooled
    finally:
        pooled.close()
        pooled.close_pool()
        connections["default"] = original


def server_terminates_other_sessions(params: dict[str, Any]) -> int:
    """What a restart or failover does to every session but ours: PostgreSQL ends them."""
    with psycopg.connect(**params, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize(
    "backend",
    [pooled_backend.DatabaseWrapper, stock_backend.DatabaseWrapper],
    ids=["shipped", "django"],
)
def test_through_the_web_servers_pool_a_database_restart_loses_no_call(
    client, deployment, caplog, backend
):
    """A restart leaves every idle pooled connection dead. The shipped backend lends none of
    them: the first it finds (its socket readable: no round trip) makes it sweep the pool,
    and every call after the restart answers 200 with its record written. With Django's
    backend as it comes (the control), the first call borrows a dead connection and answers
    503 for an attempt the provider has answered."""

    def served(connection: BaseDatabaseWrapper) -> Any:
        """A call, its connection back to the pool at the end as under gunicorn (Django's test
        client keeps it instead)."""
        try:
            return v1_chat(client, deployment)
        finally:
            connection.close()

    with web_pool(backend) as connection:
        first = served(connection)
        assert first.status_code == 200, first.content
        connection.pool.wait(timeout=10)  # min_size connections idle in the pool
        params = connection.get_connection_params()
        assert server_terminates_other_sessions(params) >= 3
        time.sleep(0.2)  # the termination notices reach the pooled connections' sockets
        responses = [served(connection) for _ in range(4)]
        lost = connection.pool.get_stats().get("connections_lost", 0)
    statuses = [response.status_code for response in responses]
    if backend is stock_backend.DatabaseWrapper:
        assert statuses[0] == 503, statuses
        return
    assert statuses == [200] * 4, [r.content for r in responses]
    assert lost >= 2  # swept: the idle connections after the first found dead
    assert "closed by the server" in caplog.text
    assert UsageRecord.objects.filter(outcome=Outcome.OK).count() == 5


def test_a_connection_closed_by_the_server_is_told_without_a_round_trip():
    """An idle connection with nothing to read is as it was left; one with a notification to
    read (LISTEN) is fine too and loses nothing; one the server has ended says so."""
    params = connections["default"].get_connection_params()
    with (
        psycopg.connect(**params, autocommit=True) as idle,
        psycopg.connect(**params, autocommit=True) as other,
    ):
        assert not pooled_backend.closed_by_server(idle)
        idle.execute("LISTEN cp_pool_check")
        other.execute("NOTIFY cp_pool_check, 'kept'")
        time.sleep(0.1)
        assert not pooled_backend.closed_by_server(idle)
        heard: list[str] = []
        idle.add_notify_handler(lambda notify: heard.append(notify.payload))
        idle.execute("SELECT 1")
        assert heard == ["kept"]  # read, and handed on with the connection's next command
        other.execute("SELECT pg_terminate_backend(%s)", [idle.info.backend_pid])
        time.sleep(0.2)
        assert pooled_backend.closed_by_server(idle)
        assert pooled_backend.closed_by_server(idle)  # and stays so (libpq marked it bad)
