"""The usage ledger: one UsageRecord per attempt at a provider call.

Writing a record is on the hot path of every call, so it is a single INSERT: the caller
passes ids (never model instances to look up) and the resolved model carries its prices.
The record is made without `Model.__init__` (see `_new_record`) and the INSERT statement is
built once rather than compiled by the ORM on every call (see `ledger_insert`):
- on PostgreSQL in autocommit (every call's case), prepared once per connection, the values
  sent as text and bound by the server (`ledger_pg`): ~0.1 ms of CPU instead of ~0.2 ms;
- elsewhere (SQLite, a caller's transaction), through Django's cursor, its parameters the
  record's attributes as they are wherever a field's save methods would return them unchanged,
  JSON columns as orjson text on PostgreSQL (see `_Column`).
Either way the row is the one `Model.save()` writes (tests/usage/test_ledger.py compares them).

On PostgreSQL the INSERT does not wait for its WAL flush (LEDGER_ASYNC_COMMIT, default on):
`synchronous_commit` is set off for the INSERT's own implicit transaction only (by the
statement itself in `ledger_pg`; by `SET LOCAL` in the same query string through Django's
cursor), so the setting covers that one statement and nothing else (budgets, keys, every
other write still commit synchronously). The crash window: records committed in the last
~0.6 s (3 x wal_writer_delay) before PostgreSQL itself crashes, or its host loses power, can
be lost; a crash of our processes loses nothing, and a committed record is never half-written.
Measured: 0.26 ms -> 0.12 ms of wall time per INSERT on this machine, one round trip.
Inside a caller's transaction the plain INSERT is used: that transaction's commit decides.

A record that cannot be written (the database is down) is logged in full, as JSON, before the
error goes on: an attempt the provider may have billed is never lost without a trace.
"""

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, JSONField
from django.db.models.base import ModelState
from django.db.models.signals import post_init, post_save, pre_init, pre_save
from django.utils import timezone

from config import metrics
from config.logging import redact
from config.outages import outage_log
from providers.adapters.types import Usage
from providers.resolution import ResolvedModel
from usage.models import Outcome, UsageRecord
from usage.pricing import usage_cost
from usage.services import ledger_pg
from usage.services.ledger_writer import ledger_writer_submit

logger = logging.getLogger(__name__)

_MAX_MESSAGE = 500


def usage_record_create(
    *,
    request_id: str,
    model: ResolvedModel,
    usage: Usage | None = None,
    usage_estimated: bool = False,
    outcome: str = Outcome.OK.value,
    error_message: str = "",
    attempt: int = 1,
    is_fallback: bool = False,
    streamed: bool = False,
    operation: str = "chat",
    latency_ms: int = 0,
    time_to_first_token_ms: int | None = None,
    service: str | None = None,
    user_id: int | None = None,
    api_key_id: str | None = None,
    conversation_id: int | None = None,
    end_user: str = "",
    tags: tuple[str, ...] = (),
    provider_request_id: str | None = None,
    model_reported: str = "",
    created_at: datetime | None = None,
    route: dict[str, Any] | None = None,
    cache_hit: bool = False,
    saved_cost: Decimal | None = None,
    write_behind: bool = False,
) -> UsageRecord:
    """Record one attempt (failed attempts too, with the tokens seen, often zero) and its cost
    at the prices in force now, keeping the price snapshot and the provider's raw usage.
    `usage_estimated` flags tokens the runtime estimated because the provider reported none
    (an interrupted stream), so they are charged, never recorded as a silent $0. `route` is
    the routing decision when the model was a member of a model group. A `cache_hit` (an
    answer replayed from the response cache) costs 0 and keeps the cost it saved.

    With `write_behind` the row goes to the web worker's ledger writer when one runs
    (usage.services.ledger_writer) and the record comes back before it is written: the
    writer's thread sets its id whenever it writes it, so the caller must neither rely on the
    id nor change the record. Otherwise, or when the writer's queue is full, it is written
    here."""
    usage = usage or Usage()
    priced = usage_cost(usage=usage, prices=model.prices)
    cost, is_priced, snapshot = priced.cost, priced.is_priced, priced.price_snapshot
    if cache_hit:
        cost, is_priced, snapshot = Decimal(0), True, {}
    values: dict[str, Any] = dict(
        created_at=created_at or timezone.now(),
        request_id=request_id,
        provider_request_id=(provider_request_id or "")[:128],
        user_id=user_id,
        api_key_id=api_key_id,
        service=service or "",
        provider=model.provider_slug,
        model_string=model.model_string,
        model_reported=(model_reported or "")[:200],
        conversation_id=conversation_id,
        end_user=end_user,
        tags=list(tags),
        input_tokens=usage.input_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        output_tokens=usage.output_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        raw_usage=usage.raw or {},
        usage_estimated=usage_estimated,
        cost=cost,
        is_priced=is_priced,
        price_snapshot=snapshot,
        latency_ms=max(0, latency_ms),
        time_to_first_token_ms=time_to_first_token_ms,
        outcome=outcome,
        error_message=redact(error_message)[:_MAX_MESSAGE],
        attempt=attempt,
        is_fallback=is_fallback,
        streamed=streamed,
        operation=operation,
        route=route or {},
        cache_hit=cache_hit,
        saved_cost=saved_cost if cache_hit else None,
    )
    record = _new_record(values)
    if not (write_behind and ledger_writer_submit(record)):
        try:
            ledger_insert(record)
        except DatabaseError as exc:
            record_lost(record, exc)
            raise
    metrics.attempt_recorded(record, model)
    return record


def record_lost(record: UsageRecord, exc: BaseException | None) -> None:
    """Log in full (and count) a record the database did not take, written inline or by the
    ledger writer; `exc` is None for one a stopping writer never reached."""
    metrics.ledger_write_failed()
    if exc is None:
        logger.error("Usage record not written: %s", record_json(record))
    else:
        outage_log(
            logger, logging.ERROR, "Usage record not written: %s", record_json(record), exc=exc
        )


def record_json(record: UsageRecord) -> str:
    """Every column of a record the database did not take, to re-enter it by hand. Nothing
    secret: ids, model strings, tokens, cost, the price snapshot, the redacted error message."""
    values = {f.attname: getattr(record, f.attname) for f in record._meta.concrete_fields}
    return json.dumps(values, default=str, sort_keys=True)


# Kinds of value a field's save methods return unchanged, as themselves (ledger_pg's table of
# exact field classes; on PostgreSQL Django wraps integers in psycopg's Int2/Int4/Int8, which
# quote as the same literal).
_PASSED_AS_IS = (str, bool, int)


class _Column:
    """How one field's value becomes its parameter, decided once per vendor: unchanged when it
    is None or of the field's kind (`ledger_pg.field_kind`, for the kinds passed as they are),
    as JSON text when `json_text`, else through the field's own `pre_save` and
    `get_db_prep_save`, as `Model.save()` does."""

    __slots__ = ("as_is", "attname", "field", "json_text")

    def __init__(self, field: Field, connection: BaseDatabaseWrapper) -> None:
        self.field = field
        self.attname = field.attname
        kind = ledger_pg.field_kind(field)
        self.as_is = (kind, type(None)) if kind in _PASSED_AS_IS else ()
        # On PostgreSQL a JSONField's value is sent as psycopg's Jsonb, which quotes the text of
        # json.dumps(value); the same document as a plain string literal is cast to jsonb by the
        # INSERT, and jsonb keeps no trace of the text it was parsed from.
        # (orjson writes a NaN float as null, where json.dumps's NaN fails the INSERT.)
        self.json_text = (
            connection.vendor == "postgresql"
            and not connection.settings_dict["OPTIONS"].get("server_side_binding")
            and type(field) is JSONField
            and field.encoder is None
        )

    def param(self, record: UsageRecord, connection: BaseDatabaseWrapper) -> Any:
        value = getattr(record, self.attname)
        if type(value) in self.as_is:
            return value
        if self.json_text:
            if value is None:
                return None
            try:
                return orjson.dumps(value, option=ledger_pg.ORJSON_OPTIONS).decode()
            except orjson.JSONEncodeError:
                pass  # a key that is not a string, an integer beyond 64 bits, a subclass...
        return self.field.get_db_prep_save(self.field.pre_save(record, True), connection)


# vendor -> (INSERT statement, its columns); None when the shortcut does not apply there.
_statements: dict[str, tuple[str, tuple[_Column, ...]] | None] = {}
_ASYNC_COMMIT = "SET LOCAL synchronous_commit = off; "


def _async_commit(connection: BaseDatabaseWrapper) -> bool:
    """Whether this INSERT may skip its WAL flush: PostgreSQL in autocommit, with client-side
    binding (a server-side binding cursor cannot send two statements in one string)."""
    return (
        settings.LEDGER_ASYNC_COMMIT
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and connection.get_autocommit()
        and not connection.settings_dict["OPTIONS"].get("server_side_binding")
    )


def _insert_statement(connection: BaseDatabaseWrapper) -> tuple[str, tuple[_Column, ...]] | None:
    """INSERT ... RETURNING id for every concrete column but the primary key, built once."""
    vendor = connection.vendor
    if vendor not in _statements:
        meta = UsageRecord._meta
        fields = tuple(f for f in meta.concrete_fields if not f.primary_key)
        usable = connection.features.can_return_columns_from_insert and not any(
            hasattr(f, "get_placeholder") for f in fields
        )
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(f.column)) for f in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        # Identifiers come from the model's metadata; every value is a bound parameter.
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
            f"RETURNING {quote(str(meta.pk.column))}"
        )
        plan = tuple(_Column(f, connection) for f in fields)
        _statements[vendor] = (sql, plan) if usable else None
    return _statements[vendor]


def _new_record(values: dict[str, Any]) -> UsageRecord:
    """A UsageRecord holding `values` (every concrete column but the id), made as Django
    unpickles a model instance, without `Model.__init__` and its per-field work (~7 % of a
    ledger write), unless something could tell the difference: a pre/post_init receiver, or
    `values` missing a column whose default `__init__` would set."""
    if (
        values.keys() != _attnames()
        or pre_init.has_listeners(UsageRecord)
        or post_init.has_listeners(UsageRecord)
    ):
        return UsageRecord(**values)
    record = UsageRecord.__new__(UsageRecord)
    record.__dict__.update(values, id=None, _state=ModelState())
    return record


def _attnames() -> set[str]:
    """Every concrete column's attribute but the primary key's."""
    if not _ATTNAMES:
        _ATTNAMES.update(f.attname for f in UsageRecord._meta.concrete_fields if not f.primary_key)
    return _ATTNAMES


_ATTNAMES: set[str] = set()


def ledger_insert(record: UsageRecord) -> None:
    """Insert `record` with one statement, as `Model.save()` would (same values), minus the
    per-call query compilation and, on PostgreSQL, the wait for the WAL flush. In autocommit on
    PostgreSQL the statement is prepared and its values bound by the server (`ledger_pg`); else
    it goes through Django's cursor. Falls back to `save()` whenever that shortcut could differ:
    a pre/post_save receiver, a field with its own placeholder, or a database that cannot
    return the new id from the INSERT."""
    alias = router.db_for_write(UsageRecord, instance=record)
    connection = connections[alias]
    if pre_save.has_listeners(UsageRecord) or post_save.has_listeners(UsageRecord):
        record.save(force_insert=True, using=alias)
        return
    pk = ledger_pg.insert(connection, record.__dict__)
    if pk is None:
        statement = _insert_statement(connection)
        if statement is None:
            record.save(force_insert=True, using=alias)
            return
        pk = _cursor_insert(connection, record, statement)
    _written(record, pk, alias)


def ledger_insert_batch(records: Sequence[UsageRecord]) -> None:
    """Insert `records` all or none, as `ledger_insert` inserts each: in one statement (one
    round trip and one commit for them all) where `ledger_pg` applies, else one by one inside
    a transaction. The ledger writer's batches."""
    if len(records) == 1:
        ledger_insert(records[0])
        return
    alias = router.db_for_write(UsageRecord, instance=records[0])
    connection = connections[alias]
    pks = None
    if not (pre_save.has_listeners(UsageRecord) or post_save.has_listeners(UsageRecord)):
        pks = ledger_pg.insert_many(connection, [record.__dict__ for record in records])
    if pks is None:
        try:
            with transaction.atomic(using=alias):
                for record in records:
                    ledger_insert(record)
        except BaseException:
            for record in records:  # rolled back: none of them has a row
                record.pk = None
                record._state.adding = True
            raise
        return
    for record, pk in zip(records, pks, strict=True):
        _written(record, pk, alias)


def _written(record: UsageRecord, pk: int, alias: str) -> None:
    """Mark `record` as the row `pk` in database `alias`, as `save()` leaves it."""
    record.pk = pk
    record._state.adding = False
    record._state.db = alias


def _cursor_insert(
    connection: BaseDatabaseWrapper,
    record: UsageRecord,
    statement: tuple[str, tuple[_Column, ...]],
) -> int:
    sql, columns = statement
    params = [column.param(record, connection) for column in columns]
    with connection.cursor() as cursor:
        if _async_commit(connection):
            cursor.execute(_ASYNC_COMMIT + sql, params)
            cursor.nextset()  # past the SET's empty result, to the INSERT's
        else:
            cursor.execute(sql, params)
        return int(cursor.fetchone()[0])
