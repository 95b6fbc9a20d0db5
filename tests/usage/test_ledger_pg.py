"""The ledger INSERT on PostgreSQL in autocommit (usage/services/ledger_pg.py): a statement
prepared per connection, values bound by the server, the WAL flush skipped for that statement
alone; and where it steps aside for Django's cursor or `save()`."""

import json
import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, OperationalError, connection
from django.db.models.signals import post_init, pre_save

from config import metrics
from tests.fixtures import requires_postgres
from tests.usage.test_ledger import MODEL
from usage.models import UsageRecord
from usage.services import ledger_pg, ledger_writer
from usage.services.ledger import ledger_insert_batch, usage_record_create

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

# Stores the synchronous_commit in force when the row is inserted in its end_user column.
TRIGGER = """
CREATE FUNCTION ledger_test_commit_mode() RETURNS trigger AS $$
BEGIN NEW.end_user := current_setting('synchronous_commit'); RETURN NEW; END
$$ LANGUAGE plpgsql;
CREATE TRIGGER ledger_test_commit_mode BEFORE INSERT ON usage_usagerecord
FOR EACH ROW EXECUTE FUNCTION ledger_test_commit_mode();
"""


def _trigger_installed(sql: str, name: str) -> Iterator[None]:
    """The trigger `name` (and its function of the same name) from `sql`, dropped after."""
    with connection.cursor() as cursor:
        cursor.execute(sql)
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {name} ON usage_usagerecord")
        cursor.execute(f"DROP FUNCTION {name}()")


@pytest.fixture
def commit_mode_trigger():
    yield from _trigger_installed(TRIGGER, "ledger_test_commit_mode")


def _prepared() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def _show_synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def test_the_insert_alone_skips_the_wal_flush(commit_mode_trigger, django_assert_num_queries):
    with django_assert_num_queries(1) as captured:
        record = usage_record_create(request_id="req_async", model=MODEL, service="svc")
    sql = captured.captured_queries[0]["sql"]
    assert "set_config('synchronous_commit', 'off', true)" in sql and "INSERT INTO" in sql
    assert UsageRecord.objects.get(pk=record.pk).end_user == "off"  # during the INSERT
    assert _show_synchronous_commit() == "on"  # the setting ended with that statement
    assert "cp_ledger_insert_async" in _prepared()


def test_without_async_commit_the_insert_waits_for_the_flush(commit_mode_trigger, settings):
    settings.LEDGER_ASYNC_COMMIT = False
    record = usage_record_create(request_id="req_sync", model=MODEL)
    assert UsageRecord.objects.get(pk=record.pk).end_user == "on"
    assert "cp_ledger_insert" in _prepared()


def test_a_caller_transaction_decides_the_commit(commit_mode_trigger):
    from django.db import transaction

    with transaction.atomic():
        record = usage_record_create(request_id="req_tx", model=MODEL)
    assert UsageRecord.objects.get(pk=record.pk).end_user == "on"
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = usage_record_create(request_id="req_rolled_back", model=MODEL)
        raise RuntimeError
    assert not UsageRecord.objects.filter(pk=rolled_back.pk).exists()


def test_the_statement_survives_a_reconnection_and_a_deallocation():
    first = usage_record_create(request_id="req_1", model=MODEL)
    connection.close()  # the next connection has no prepared statement yet
    second = usage_record_create(request_id="req_2", model=MODEL)
    assert "cp_ledger_insert_async" in _prepared()
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as a pooler's DISCARD ALL would
    third = usage_record_create(request_id="req_3", model=MODEL)
    assert "cp_ledger_insert_async" in _prepared()
    assert list(UsageRecord.objects.order_by("pk").values_list("pk", "request_id")) == [
        (first.pk, "req_1"),
        (second.pk, "req_2"),
        (third.pk, "req_3"),
    ]


def test_behind_a_transaction_pooler_nothing_is_prepared(monkeypatch):
    """DATABASE_DISABLE_SERVER_SIDE_CURSORS (PgBouncer in transaction pooling mode): the
    statement is sent unnamed, so no session keeps any state of ours."""
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)
    record = usage_record_create(request_id="req_pooled", model=MODEL)
    assert UsageRecord.objects.get(pk=record.pk).request_id == "req_pooled"
    assert not {name for name in _prepared() if name.startswith("cp_ledger")}


def test_a_database_error_is_djangos_and_the_record_is_logged(caplog):
    """A row PostgreSQL refuses (here a user that does not exist) raises Django's error class,
    as save() would, and the whole record is logged for re-entry."""
    failures = metrics.LEDGER_WRITE_FAILURES._value.get()
    with pytest.raises(IntegrityError):
        usage_record_create(request_id="req_orphan", model=MODEL, user_id=987654321)
    logged = [r for r in caplog.records if r.getMessage().startswith("Usage record not written")]
    assert json.loads(logged[0].getMessage().split(": ", 1)[1])["request_id"] == "req_orphan"
    assert metrics.LEDGER_WRITE_FAILURES._value.get() == failures + 1
    # The connection is still usable, and the statement still prepared.
    assert usage_record_create(request_id="req_after", model=MODEL).pk


def test_a_lost_connection_is_an_operational_error(caplog):
    """As psycopg's cursor says it (so the call answers 503, not 500), and the record is
    logged; the next connection writes again."""
    import psycopg

    usage_record_create(request_id="req_before", model=MODEL)
    params = connection.get_connection_params()
    params.pop("pool", None)
    with psycopg.connect(**params, autocommit=True) as other:  # as a restart would
        other.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    try:
        with pytest.raises(OperationalError):
            usage_record_create(request_id="req_lost", model=MODEL)
    finally:
        connection.close()  # as Django does at the end of the request (errors_occurred)
    logged = [r for r in caplog.records if r.getMessage().startswith("Usage record not written")]
    assert json.loads(logged[0].getMessage().split(": ", 1)[1])["request_id"] == "req_lost"
    usage_record_create(request_id="req_after", model=MODEL)
    assert sorted(UsageRecord.objects.values_list("request_id", flat=True)) == [
        "req_after",
        "req_before",
    ]


def test_a_nul_character_fails_as_it_does_through_save(caplog):
    """libpq would cut a text value at NUL: such a record goes through Django's cursor, whose
    psycopg refuses it as save() does."""
    caplog.set_level(logging.ERROR)
    with pytest.raises(DataError):
        usage_record_create(request_id="req_nul", model=MODEL, error_message="a\x00b")
    with pytest.raises(DataError):
        UsageRecord(request_id="x", error_message="a\x00b", created_at="2026-01-01T00:00Z").save()
    assert not UsageRecord.objects.exists()


def test_a_value_of_another_type_goes_through_djangos_cursor():
    """A float where the column is a Decimal: Django's field converts it, so Django's cursor
    writes it, with the statement-local async commit all the same."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        record = usage_record_create(
            request_id="req_float", model=MODEL, cache_hit=True, saved_cost=0.25
        )
    assert captured.captured_queries[0]["sql"].startswith("SET LOCAL synchronous_commit = off;")
    assert UsageRecord.objects.get(pk=record.pk).saved_cost == Decimal("0.25")


def test_an_execute_wrapper_sees_the_insert():
    """Instrumentation wraps Django's cursor: with a wrapper installed the INSERT goes there."""
    seen: list[str] = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        record = usage_record_create(request_id="req_wrapped", model=MODEL)
    assert len(seen) == 1 and "INSERT INTO" in seen[0]
    assert UsageRecord.objects.get(pk=record.pk).request_id == "req_wrapped"


def test_receivers_see_a_model_instance_as_the_orm_makes_it():
    """A post_init receiver gets its call (the record is then built by the model's
    constructor), and a pre_save receiver makes the write a save()."""
    inits: list[UsageRecord] = []
    saves: list[UsageRecord] = []

    def on_init(sender, instance, **kwargs):
        inits.append(instance)

    def on_save(sender, instance, **kwargs):
        saves.append(instance)

    post_init.connect(on_init, sender=UsageRecord)
    pre_save.connect(on_save, sender=UsageRecord)
    try:
        record = usage_record_create(request_id="req_signals", model=MODEL)
    finally:
        post_init.disconnect(on_init, sender=UsageRecord)
        pre_save.disconnect(on_save, sender=UsageRecord)
    assert inits == [record] and saves == [record]
    assert UsageRecord.objects.get(pk=record.pk).request_id == "req_signals"


# Stores the synchronous_commit in force when the row's transaction commits (a deferred
# constraint trigger runs at the commit), in its end_user column.
COMMIT_TIME_TRIGGER = """
CREATE FUNCTION ledger_test_commit_time() RETURNS trigger AS $$
BEGIN
  UPDATE usage_usagerecord SET end_user = current_setting('synchronous_commit') WHERE id = NEW.id;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER ledger_test_commit_time AFTER INSERT ON usage_usagerecord
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_test_commit_time();
"""


@pytest.fixture
def commit_time_trigger():
    yield from _trigger_installed(COMMIT_TIME_TRIGGER, "ledger_test_commit_time")


def _unwritten(*request_ids: str, **values) -> list[UsageRecord]:
    return [
        usage_record_create(request_id=request_id, model=MODEL, write_behind=True, **values)
        for request_id in request_ids
    ]


@pytest.fixture
def queued(monkeypatch):
    """Records made as a running ledger writer would receive them: priced, not yet written."""
    monkeypatch.setattr(ledger_writer, "_writer", _Holding())
    return _unwritten


class _Holding:
    def submit(self, record: UsageRecord) -> bool:
        return True


def test_a_batch_is_one_statement_with_each_row_its_id(
    queued, commit_time_trigger, django_assert_num_queries
):
    records = queued("req_a", "req_b", "req_c")
    assert [r.pk for r in records] == [None, None, None]
    with django_assert_num_queries(1) as captured:
        ledger_insert_batch(records)
    sql = captured.captured_queries[0]["sql"]
    assert sql.count("INSERT INTO") == 1 and "set_config('synchronous_commit', 'off', true)" in sql
    stored = dict(UsageRecord.objects.values_list("pk", "request_id"))
    assert {r.pk: r.request_id for r in records} == stored
    # The setting was in force when the batch's transaction committed, and ended with it.
    assert set(UsageRecord.objects.values_list("end_user", flat=True)) == {"off"}
    assert _show_synchronous_commit() == "on"
    assert "cp_ledger_insert_async_x3" in _prepared()


def test_a_batch_without_async_commit_waits_for_the_flush(queued, commit_time_trigger, settings):
    settings.LEDGER_ASYNC_COMMIT = False
    ledger_insert_batch(queued("req_a", "req_b"))
    assert set(UsageRecord.objects.values_list("end_user", flat=True)) == {"on"}
    assert "cp_ledger_insert_x2" in _prepared()


def test_a_batch_is_written_all_or_none(queued):
    records = queued("req_a", "req_b") + queued("req_refused", service="s" * 200)
    with pytest.raises(DataError):
        ledger_insert_batch(records)
    assert not UsageRecord.objects.exists()
    assert [r.pk for r in records] == [None, None, None]
    ledger_insert_batch(records[:2])  # the connection still serves, the statement too
    assert UsageRecord.objects.count() == 2


def test_a_batch_the_statement_cannot_take_is_written_row_by_row_in_one_transaction(queued):
    """A value of another type than its column's (ledger_pg steps aside), or a pre_save
    receiver: each row as `ledger_insert` writes it, all of them or none."""
    records = queued("req_a", "req_b")
    records[0].input_tokens = Decimal(10)  # not an int: Django's cursor converts it
    calls = []

    def receiver(sender, instance, **kwargs):
        calls.append(instance.request_id)
        if instance.request_id == "req_refused":
            raise IntegrityError("refused by a receiver")

    ledger_insert_batch(records)
    assert sorted(UsageRecord.objects.values_list("request_id", "input_tokens")) == [
        ("req_a", 10),
        ("req_b", 0),
    ]
    pre_save.connect(receiver, sender=UsageRecord)
    try:
        failing = queued("req_c", "req_refused")
        with pytest.raises(IntegrityError):
            ledger_insert_batch(failing)
    finally:
        pre_save.disconnect(receiver, sender=UsageRecord)
    assert calls == ["req_c", "req_refused"]
    assert UsageRecord.objects.count() == 2  # req_c rolled back with its batch
    assert [r.pk for r in failing] == [None, None]


def test_a_batch_beyond_the_largest_statement_is_not_sent_this_way(queued):
    records = queued(*(f"req_{n}" for n in range(ledger_pg.MAX_ROWS + 1)))
    assert ledger_pg.insert_many(connection, [r.__dict__ for r in records]) is None
    assert ledger_pg.insert_many(connection, []) is None
    assert not UsageRecord.objects.exists()
