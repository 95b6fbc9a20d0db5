"""The ledger INSERT on PostgreSQL in autocommit, straight through libpq.

Through Django's cursor, psycopg quotes every one of the record's 33 values into the SQL text
and PostgreSQL parses and plans that text again for every call: ~0.15 ms of the worker's CPU
per row, and as much again on the server. Here the statement is prepared once per connection
and each row sends only its values, as text in PostgreSQL's input syntax, encoded by the
column's kind (`_encode`); PostgreSQL parses each with the column type's input function, as
it does the literals psycopg would have quoted, so the row is the one `Model.save()` writes
(tests/usage/test_ledger.py compares the two, column by column, on both paths).

The INSERT skips its WAL flush without a second statement: the row is selected from a
materialized CTE that calls `set_config('synchronous_commit', 'off', true)`, a setting local
to the statement's own (implicit) transaction, read when it commits and reset right after.

Prepared statements are per connection: each psycopg connection prepares it on first use (so
a reconnection, or a connection new to the pool, prepares it again), and one deallocated
behind our back (`DISCARD ALL`) is prepared again. Behind a transaction-pooling PgBouncer
(`DATABASE_DISABLE_SERVER_SIDE_CURSORS=true`, docs/scaling.md) a session may not keep a
prepared statement: the same statement is sent unnamed instead (one round trip all the same).

`insert` answers None, and the caller goes through Django's cursor, wherever this could differ
from it: another database, a caller's transaction (psycopg would open it), an execute
wrapper installed (instrumentation), or a value of a type not encoded here.
"""

import logging
import time
import weakref
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import orjson
from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    AutoField,
    BigAutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    DecimalField,
    Field,
    ForeignKey,
    IntegerField,
    JSONField,
    PositiveBigIntegerField,
    PositiveIntegerField,
    PositiveSmallIntegerField,
    SmallIntegerField,
)
from psycopg import errors, pq

from usage.models import UsageRecord

logger = logging.getLogger("django.db.backends")

# Serialized by orjson, which refuses (so Django's json.dumps path takes over) what it would
# otherwise encode differently from json.dumps: subclasses, datetimes, dataclasses. (orjson
# writes a NaN float as null, where json.dumps's NaN fails the INSERT.)
ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


class _Json:
    """The kind of a JSON column (any value orjson takes)."""


# Exact field classes (a subclass may convert its values: an encrypted CharField) -> the one
# type of value their save methods send unchanged (or serialize as JSON), encoded by `_encode`.
_KINDS: dict[type[Field], type] = {
    CharField: str,
    BooleanField: bool,
    AutoField: int,  # a foreign key's target
    BigAutoField: int,
    IntegerField: int,
    SmallIntegerField: int,
    BigIntegerField: int,
    PositiveBigIntegerField: int,
    PositiveIntegerField: int,
    PositiveSmallIntegerField: int,
    DecimalField: Decimal,
    DateTimeField: datetime,
    JSONField: _Json,
}


def field_kind(field: Field) -> type | None:
    """The one type of value `field`'s save methods send unchanged (or, for `_Json`, serialize
    as JSON); None when they may convert it."""
    target = field.target_field if type(field) is ForeignKey else field
    kind = _KINDS.get(type(target))
    if kind is _Json and getattr(field, "encoder", None) is not None:
        return None  # its own JSON encoder
    if isinstance(field, DateTimeField) and (field.auto_now or field.auto_now_add):
        return None  # pre_save would set the value
    return kind


def _encode(plan: tuple[tuple[str, Any], ...], values: Mapping[str, Any]) -> list | None:
    """Each column's value as text in PostgreSQL's input syntax (None for NULL), or None when
    one is not exactly of its column's kind. One loop, no call per value: this runs per row."""
    params: list[bytes | None] = []
    append = params.append
    for attname, kind in plan:
        value = values[attname]
        if value is None:
            append(None)
        elif kind is _Json:
            # jsonb keeps the document, not the text it was parsed from: orjson's text of a
            # value is stored as json.dumps's (Django's) text of it is.
            try:
                append(orjson.dumps(value, option=ORJSON_OPTIONS))
            except orjson.JSONEncodeError:
                return None  # a key that is not a string, an integer beyond 64 bits...
        elif type(value) is not kind:
            return None
        elif kind is str:
            # Django's connections are UTF8 (it sets client_encoding). libpq ends a text value
            # at NUL, which psycopg refuses with an error: Django's cursor raises it.
            if "\x00" in value:
                return None
            append(value.encode())
        elif kind is bool:
            append(b"t" if value else b"f")
        elif kind is datetime:
            # Aware only: Django makes a naive value aware (with a warning) before it is sent.
            if value.tzinfo is None or not settings.USE_TZ:
                return None
            append(value.isoformat().encode())
        elif kind is Decimal and not value.is_finite():
            return None
        else:  # an int, a finite Decimal: as psycopg writes them (the scale rounds, as ever)
            append(str(value).encode())
    return params


class _Statement:
    """The INSERT of `rows` rows of every concrete column but the id, RETURNING their ids,
    with or without the statement-local `synchronous_commit = off`."""

    __slots__ = ("name", "plan", "prepared_on", "sql")

    def __init__(
        self,
        *,
        name: bytes,
        async_commit: bool,
        fields: list[Field],
        kinds: list[type],
        rows: int = 1,
    ) -> None:
        meta = UsageRecord._meta
        self.plan = tuple(zip((f.attname for f in fields), kinds, strict=True))
        self.name = name
        # Identifiers from the model's metadata; every value is a parameter.
        quote = '"{}"'.format
        columns = ", ".join(quote(f.column) for f in fields)
        width = len(fields)
        tuples = [
            "(" + ", ".join(f"${row * width + n}" for n in range(1, width + 1)) + ")"
            for row in range(rows)
        ]
        head = f"INSERT INTO {quote(meta.db_table)} ({columns})"
        tail = f"RETURNING {quote(meta.pk.column)}"
        prefix = (
            "WITH _commit AS MATERIALIZED"
            " (SELECT set_config('synchronous_commit', 'off', true) AS off)"
        )
        if not async_commit:
            sql = f"{head} VALUES {', '.join(tuples)} {tail}"
        elif rows == 1:
            sql = f"{prefix} {head} SELECT {tuples[0][1:-1]} FROM _commit {tail}"  # noqa: S608
        else:
            # A VALUES list binds its parameters to the columns' types only as the INSERT's
            # own source, so the CTE is referenced from RETURNING instead: evaluated once,
            # before the statement's transaction commits, which is when the setting is read.
            returning = f"{tail}, (SELECT off FROM _commit)"  # noqa: S608
            sql = f"{prefix} {head} VALUES {', '.join(tuples)} {returning}"
        self.sql = sql.encode()
        # The psycopg connections that have prepared it (a new connection has not).
        self.prepared_on: weakref.WeakSet[Any] = weakref.WeakSet()

    def params(self, rows: Sequence[Mapping[str, Any]]) -> list[bytes | None] | None:
        """Every row's values in order, or None if one of them cannot be sent this way."""
        params: list[bytes | None] = []
        for values in rows:
            encoded = _encode(self.plan, values)
            if encoded is None:
                return None
            params += encoded
        return params


# (async_commit, rows) -> the statement; None when a column has no encoder here.
_STATEMENTS: dict[tuple[bool, int], _Statement | None] = {}
_UNDEFINED_STATEMENT = b"26000"  # invalid_sql_statement_name: deallocated (DISCARD ALL)
_DUPLICATE_STATEMENT = b"42P05"
# The most rows one INSERT takes (the ledger writer's batch): each size is a statement of its
# own, prepared on a connection the first time that size is written there.
MAX_ROWS = 64


def statement(*, async_commit: bool, rows: int = 1) -> _Statement | None:
    """The statement for `rows` rows, built once; None if a column has no encoder here (a
    field class whose save methods convert values: only Django's cursor writes what save()
    would)."""
    key = (async_commit, rows)
    if key not in _STATEMENTS:
        fields = [f for f in UsageRecord._meta.concrete_fields if not f.primary_key]
        kinds = [field_kind(f) for f in fields]
        name = b"cp_ledger_insert_async" if async_commit else b"cp_ledger_insert"
        _STATEMENTS[key] = (
            _Statement(
                name=name if rows == 1 else name + b"_x%d" % rows,
                async_commit=async_commit,
                fields=fields,
                kinds=[k for k in kinds if k is not None],
                rows=rows,
            )
            if None not in kinds
            else None
        )
    return _STATEMENTS[key]


def insert(connection: BaseDatabaseWrapper, values: Mapping[str, Any]) -> int | None:
    """INSERT `values` (attname -> value, every concrete column but the id) and return the
    new id; None when this path does not apply (nothing was sent)."""
    ids = insert_many(connection, (values,))
    return None if ids is None else ids[0]


def insert_many(
    connection: BaseDatabaseWrapper, rows: Sequence[Mapping[str, Any]]
) -> list[int] | None:
    """INSERT `rows` (at most MAX_ROWS) in one statement, all or none, and return their new
    ids in the rows' order; None when this path does not apply (nothing was sent)."""
    if (
        connection.vendor != "postgresql"
        or connection.in_atomic_block
        or connection.execute_wrappers
        or not 0 < len(rows) <= MAX_ROWS
    ):
        return None
    stmt = statement(async_commit=settings.LEDGER_ASYNC_COMMIT, rows=len(rows))
    params = None if stmt is None else stmt.params(rows)
    if stmt is None or params is None:
        return None
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    if not connection.autocommit:
        return None
    connection.validate_thread_sharing()
    if not connection.queries_logged:
        with connection.wrap_database_errors:
            return _execute(connection, stmt, params)
    started = time.monotonic()
    try:
        with connection.wrap_database_errors:
            return _execute(connection, stmt, params)
    finally:
        _log(connection, stmt, params, time.monotonic() - started)


def _execute(connection: BaseDatabaseWrapper, stmt: _Statement, params: list[Any]) -> list[int]:
    conn = connection.connection
    pgconn = conn.pgconn
    if connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
        result = pgconn.exec_params(stmt.sql, params)  # unnamed: no session state
    else:
        if conn not in stmt.prepared_on:
            _prepare(pgconn, stmt)
            stmt.prepared_on.add(conn)
        result = pgconn.exec_prepared(stmt.name, params)
        if result.error_field(pq.DiagnosticField.SQLSTATE) == _UNDEFINED_STATEMENT:
            _prepare(pgconn, stmt)
            result = pgconn.exec_prepared(stmt.name, params)
    if result.status != pq.ExecStatus.TUPLES_OK:
        raise _error(pgconn, result)
    # The ids are drawn from the sequence as the VALUES rows are inserted, in their order;
    # sorted, they match the rows whatever order RETURNING lists them in.
    return sorted(int(cast(bytes, result.get_value(row, 0))) for row in range(result.ntuples))


def _prepare(pgconn: Any, stmt: _Statement) -> None:
    result = pgconn.prepare(stmt.name, stmt.sql)
    if result.status != pq.ExecStatus.COMMAND_OK and (
        result.error_field(pq.DiagnosticField.SQLSTATE) != _DUPLICATE_STATEMENT
    ):
        raise _error(pgconn, result)


def _error(pgconn: Any, result: Any) -> errors.Error:
    """The psycopg error psycopg's own cursor would raise: the server's, by its SQLSTATE, or,
    for a failure of libpq's own (the connection lost), an OperationalError."""
    if pgconn.status == pq.ConnStatus.BAD or not result.error_field(pq.DiagnosticField.SQLSTATE):
        message = result.error_message.decode("utf-8", "replace").strip()
        return errors.OperationalError(f"consuming input failed: {message}")
    return errors.error_from_result(result)


def _log(
    connection: BaseDatabaseWrapper, stmt: _Statement, params: list[Any], duration: float
) -> None:
    """As Django's debug cursor records a query (DEBUG, assertNumQueries)."""
    sql = stmt.sql.decode()
    connection.queries_log.append({"sql": sql, "time": f"{duration:.3f}"})
    logger.debug(
        "(%.3f) %s; args=%s; alias=%s",
        duration,
        sql,
        params,
        connection.alias,
        extra={"duration": duration, "sql": sql, "params": params, "alias": connection.alias},
    )
