"""The ledger writer: rows written after the answer, on a thread of the web worker's own.

The writer's thread has its own database connection, so these tests commit for real
(transaction=True) and wait for the writer (`flush`) before they read.
"""

import logging
import threading
import time
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import OperationalError, connection
from prometheus_client import REGISTRY

from providers.adapters.types import Usage
from tests.usage.test_ledger import MODEL  # the same priced model
from usage.models import UsageRecord
from usage.services import ledger, ledger_writer
from usage.services.ledger import usage_record_create
from usage.services.ledger_writer import LedgerWriter

pytestmark = pytest.mark.django_db(transaction=True)

FAILURES = "llm_ledger_write_failures_total"


@pytest.fixture
def writer(settings):
    """This process's writer, running, as a web worker's is; stopped (and drained) after."""
    settings.LEDGER_WRITE_BEHIND_QUEUE = 100
    running = ledger_writer.ledger_writer_start()
    yield running
    ledger_writer.ledger_writer_stop(timeout=5.0)


def record(request_id: str = "req_behind", service: str = "svc") -> UsageRecord:
    return usage_record_create(
        request_id=request_id,
        model=MODEL,
        usage=Usage(input_tokens=10, output_tokens=5, raw={"prompt_tokens": 10}),
        service=service,
        write_behind=True,
    )


def failures() -> float:
    return REGISTRY.get_sample_value(FAILURES) or 0


def test_a_row_written_behind_is_the_row_written_inline(writer, monkeypatch):
    ids_when_queued = []
    submit = writer.submit
    monkeypatch.setattr(writer, "submit", lambda row: ids_when_queued.append(row.pk) or submit(row))
    behind = record("req_behind")
    assert ids_when_queued == [None]  # handed over unwritten: the writer's thread sets the id
    assert behind.cost == Decimal("0.0000200000")  # priced now, for the budget to settle
    writer.flush()
    inline = usage_record_create(
        request_id="req_inline",
        model=MODEL,
        usage=Usage(input_tokens=10, output_tokens=5, raw={"prompt_tokens": 10}),
        service="svc",
        created_at=behind.created_at,
    )
    stored = {r.request_id: r for r in UsageRecord.objects.all()}
    columns = [f.attname for f in UsageRecord._meta.concrete_fields if f.attname != "id"]
    assert {c: getattr(stored["req_behind"], c) for c in columns if c != "request_id"} == {
        c: getattr(stored["req_inline"], c) for c in columns if c != "request_id"
    }
    assert inline.pk is not None


def test_without_a_running_writer_the_caller_writes_the_row():
    """Celery, commands and tests in process run no writer: the row is written at once."""
    written = record()
    assert written.pk is not None
    assert UsageRecord.objects.filter(pk=written.pk).exists()


def test_a_full_queue_makes_the_caller_write_the_row(monkeypatch):
    stalled = LedgerWriter(capacity=1)  # never started: nothing leaves its queue
    monkeypatch.setattr(ledger_writer, "_writer", stalled)
    first, second = record("req_queued"), record("req_overflow")
    assert first.pk is None and second.pk is not None
    assert list(UsageRecord.objects.values_list("request_id", flat=True)) == ["req_overflow"]


def test_rows_are_written_in_the_order_they_came(writer):
    for number in range(30):
        record(f"req_{number:02d}")
    writer.flush()
    by_id = UsageRecord.objects.order_by("id").values_list("request_id", flat=True)
    assert list(by_id) == [f"req_{number:02d}" for number in range(30)]


def test_an_unreachable_database_is_retried_until_the_row_is_written(writer, monkeypatch):
    real_insert, tries = ledger.ledger_insert, []

    def unreachable_twice(row: UsageRecord) -> None:
        tries.append(row.request_id)
        if len(tries) <= 2:
            raise OperationalError("connection to server was lost")
        real_insert(row)

    monkeypatch.setattr(ledger, "ledger_insert", unreachable_twice)
    before = failures()
    record("req_retried")
    writer.flush()
    assert tries == ["req_retried"] * 3
    assert UsageRecord.objects.filter(request_id="req_retried").count() == 1
    assert failures() == before


def test_a_row_the_database_refuses_is_logged_in_full_and_counted(writer, caplog):
    before = failures()
    with caplog.at_level(logging.ERROR, logger="usage.services.ledger"):
        record("req_before")
        record("req_refused", service="s" * 200)  # past the column's 64 characters
        record("req_after")
        writer.flush()
    assert failures() == before + 1
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 1 and "Usage record not written" in logged[0]
    assert '"request_id": "req_refused"' in logged[0] and "s" * 200 in logged[0]
    # Not retried, and the rows around it were written.
    assert set(UsageRecord.objects.values_list("request_id", flat=True)) == {
        "req_before",
        "req_after",
    }


def test_a_stop_writes_every_queued_row(settings):
    settings.LEDGER_WRITE_BEHIND_QUEUE = 1000
    ledger_writer.ledger_writer_start()
    for number in range(200):
        record(f"req_{number}")
    ledger_writer.ledger_writer_stop(timeout=10.0)
    assert UsageRecord.objects.count() == 200
    assert record("req_after_stop").pk is not None  # written by its caller from now on


def test_rows_left_when_the_stop_runs_out_of_time_are_logged(monkeypatch, caplog):
    """A database that stays unreachable through the stop: each row given up on is logged."""
    entered = threading.Event()

    def unreachable(rows: list[UsageRecord]) -> None:
        entered.set()
        raise OperationalError("connection refused")

    monkeypatch.setattr(ledger, "ledger_insert_batch", unreachable)
    writer = LedgerWriter(capacity=10, retry_seconds=60.0)
    monkeypatch.setattr(ledger_writer, "_writer", writer)
    writer.start()
    before = failures()
    with caplog.at_level(logging.ERROR, logger="usage.services.ledger"):
        for number in range(3):
            record(f"req_lost_{number}")
        assert entered.wait(5)
        writer.stop(timeout=0.3)
    logged = [r.getMessage() for r in caplog.records if "not written" in r.getMessage()]
    assert sorted(m.split('"request_id": "')[1].split('"')[0] for m in logged) == [
        "req_lost_0",
        "req_lost_1",
        "req_lost_2",
    ]
    assert failures() == before + 3


def test_the_writer_keeps_its_connection_while_busy_and_gives_it_back_when_idle(
    writer, monkeypatch
):
    """As under gunicorn, whose pool sets CONN_MAX_AGE to 0: rows in quick succession share
    one connection; IDLE_SECONDS without a row and it is closed (returned to the pool)."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)  # every thread's

    def sessions() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            )
            return cursor.fetchone()[0]

    alone = sessions()
    for number in range(5):
        record(f"req_{number}")
        writer.flush()
        assert sessions() == alone + 1  # the writer's, kept between rows
    idle_until = time.monotonic() + ledger_writer.IDLE_SECONDS + 5
    while sessions() > alone and time.monotonic() < idle_until:
        time.sleep(0.1)
    assert sessions() == alone
    assert UsageRecord.objects.count() == 5


def test_a_connection_the_server_ends_is_replaced_without_losing_a_row(writer, caplog):
    """A restart or failover ends the connection the writer keeps between rows: its next row
    is retried on a new connection, and nothing is given up on."""
    before = failures()
    record("req_before")
    writer.flush()
    with connection.cursor() as cursor:  # every session of this database but the test's own
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend'"
        )
        assert cursor.fetchone()[0] >= 1  # the writer's
    with caplog.at_level(logging.ERROR, logger="usage.services.ledger"):
        record("req_after")
        writer.flush()
    assert set(UsageRecord.objects.values_list("request_id", flat=True)) == {
        "req_before",
        "req_after",
    }
    assert failures() == before and "not written" not in caplog.text


@pytest.fixture
def held(writer, monkeypatch):
    """The running writer, held inside its first write until `release` is set, so that the
    rows submitted meanwhile queue up behind it; every batch it writes is noted."""
    real_batch = ledger.ledger_insert_batch
    held = SimpleNamespace(entered=threading.Event(), release=threading.Event(), batches=[])

    def noted(rows: list[UsageRecord]) -> None:
        held.batches.append([row.request_id for row in rows])
        held.entered.set()
        held.release.wait(10)
        real_batch(rows)

    monkeypatch.setattr(ledger, "ledger_insert_batch", noted)
    record("req_first")
    assert held.entered.wait(5)
    return held


def test_rows_that_queue_while_the_writer_is_busy_go_in_one_insert(writer, held):
    names = [f"req_{number:02d}" for number in range(ledger_writer.BATCH_ROWS + 5)]
    for name in names:
        record(name)
    held.release.set()
    writer.flush()
    cut = ledger_writer.BATCH_ROWS
    assert held.batches == [["req_first"], names[:cut], names[cut:]]
    by_id = UsageRecord.objects.order_by("id").values_list("request_id", flat=True)
    assert list(by_id) == ["req_first", *names]


def test_a_batch_the_database_refuses_is_written_row_by_row(writer, held, caplog):
    before = failures()
    with caplog.at_level(logging.ERROR, logger="usage.services.ledger"):
        record("req_before")
        record("req_refused", service="s" * 200)  # past the column's 64 characters
        record("req_after")
        held.release.set()
        writer.flush()
    assert held.batches == [
        ["req_first"],
        ["req_before", "req_refused", "req_after"],
        ["req_before"],
        ["req_refused"],
        ["req_after"],
    ]
    assert set(UsageRecord.objects.values_list("request_id", flat=True)) == {
        "req_first",
        "req_before",
        "req_after",
    }
    logged = [r.getMessage() for r in caplog.records if "not written" in r.getMessage()]
    assert len(logged) == 1 and '"request_id": "req_refused"' in logged[0]
    assert failures() == before + 1
