"""The SQL of the rollups: one INSERT ... SELECT ... GROUP BY per day and table.

The database does the summing (no Python loop over records). Identifiers come from model
metadata, bounds from constants and record ids are integers formatted by `int`; every other
value is a query parameter. The statements are plain enough for both PostgreSQL and SQLite;
the one vendor difference is how a record's JSON list of tags is expanded into rows.
"""

from collections.abc import Iterable

from django.db import connection, models

from usage.models import DailyTagUsage, DailyUsage, UsageRecord
from usage.models.daily import (
    GROUP_UNIQUE_FIELDS,
    LATENCY_BUCKET_BOUNDS_MS,
    LATENCY_BUCKET_FIELDS,
    TOKEN_FIELDS,
)

# The columns that identify a group, identical in the ledger and both rollup tables.
GROUP_FIELDS: tuple[str, ...] = (
    "provider",
    "model_string",
    "service",
    "api_key",
    "user",
    "end_user",
)
SUMMED_FIELDS: tuple[str, ...] = (
    "requests",
    "errors",
    *TOKEN_FIELDS,
    "cost",
    "unpriced_calls",
    "saved_cost",
    "latency_ms_sum",
    *LATENCY_BUCKET_FIELDS,
)
# Namespace of this app's advisory locks ('US'age) and the key of the ledger's rollup lock.
_LOCK_NAMESPACE = 0x5553
_LEDGER_LOCK_KEY = 0


def column(model: type[models.Model], field_name: str) -> str:
    field = model._meta.get_field(field_name)
    assert isinstance(field, models.Field) and field.column, f"{field_name} has no column"
    return connection.ops.quote_name(field.column)


def ledger_lock() -> None:
    """Serialise every rollup (the frequent incremental run, whole-day recomputations, a
    backfill) on PostgreSQL: they read and move the one ledger cursor, and a delete+insert of
    a day meeting an upsert into it would otherwise collide on the unique index. SQLite
    already allows a single writer at a time. Held until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, _LEDGER_LOCK_KEY]
            )


def id_list(ids: Iterable[int]) -> str:
    """A SQL list of record ids; `int` makes each a plain integer literal."""
    return ", ".join(str(int(i)) for i in sorted(ids)) or "NULL"


def _latency_bucket_sql(index: int, latency: str) -> str:
    """SUM(CASE ...) counting the records whose latency falls in bucket `index`."""
    bounds = LATENCY_BUCKET_BOUNDS_MS
    if index == 0:
        condition = f"{latency} <= {bounds[0]}"
    elif index < len(bounds):
        condition = f"{latency} > {bounds[index - 1]} AND {latency} <= {bounds[index]}"
    else:
        condition = f"{latency} > {bounds[-1]}"
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


STAGE_TABLE = "usage_rollup_stage"


def tune() -> None:
    """Planner settings for the rollup's transaction on PostgreSQL: hash the groups in memory
    rather than sort the day's records on disk (the planner guesses a million groups from
    seven columns where a day has thousands, and picks a sort that spills gigabytes at 10 M
    records; a hash aggregate that does outgrow work_mem spills by itself), and no JIT
    compilation (seconds for a statement run once, nothing gained on these plain sums)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("SET LOCAL jit = off")


def _consumer_sql() -> str:
    """The DailyTotals.consumer of a group: '<api key id>|<user id>', '' for each missing."""
    key = f"COALESCE(s.{column(UsageRecord, 'api_key')}, '')"
    user = f"COALESCE(CAST(s.{column(UsageRecord, 'user')} AS TEXT), '')"
    return f"{key} || '|' || {user}"


def stage_statement(where: str = "") -> str:
    """Sum one day's records (`where` narrows them by id) per group *and list of tags* into a
    temporary table: the one scan of the ledger. Both rollup tables are then summed from this
    small table, DailyTagUsage by expanding each row's tags.

    Parameters, in order: the ok outcome, the day's UTC start and end."""
    qn = connection.ops.quote_name
    rec = UsageRecord
    group = [column(rec, name) for name in GROUP_FIELDS]
    tags = column(rec, "tags")
    latency = f"r.{column(rec, 'latency_ms')}"
    metrics = {
        "requests": "COUNT(*)",
        "errors": f"SUM(CASE WHEN r.{column(rec, 'outcome')} <> %s THEN 1 ELSE 0 END)",
        **{name: f"SUM(r.{column(rec, name)})" for name in TOKEN_FIELDS},
        "cost": f"COALESCE(SUM(r.{column(rec, 'cost')}), 0)",
        "unpriced_calls": f"SUM(CASE WHEN r.{column(rec, 'is_priced')} THEN 0 ELSE 1 END)",
        "saved_cost": f"COALESCE(SUM(r.{column(rec, 'saved_cost')}), 0)",
        "latency_ms_sum": f"SUM({latency})",
        **{
            name: _latency_bucket_sql(index, latency)
            for index, name in enumerate(LATENCY_BUCKET_FIELDS)
        },
    }
    selected = [f"r.{name}" for name in (*group, tags)]
    selected += [f"{sql} AS {qn(name)}" for name, sql in metrics.items()]
    created_at = f"r.{column(rec, 'created_at')}"
    return (
        f"CREATE TEMPORARY TABLE {STAGE_TABLE} AS "  # noqa: S608 - see the module docstring
        f"SELECT {', '.join(selected)} FROM {qn(rec._meta.db_table)} r "
        f"WHERE {created_at} >= %s AND {created_at} < %s {where} "
        f"GROUP BY {', '.join(f'r.{name}' for name in (*group, tags))}"
    )


def stage_drop_statement() -> str:
    return f"DROP TABLE IF EXISTS {STAGE_TABLE}"


def _tags_source() -> tuple[str, str]:
    """(FROM clause, tag expression) expanding each staged row's JSON list of tags into rows."""
    tags = f"s.{column(UsageRecord, 'tags')}"
    if connection.vendor == "postgresql":
        source = f"{STAGE_TABLE} s CROSS JOIN LATERAL jsonb_array_elements_text({tags}) AS t(tag)"
        return source, "t.tag"
    return f"{STAGE_TABLE} s, json_each({tags}) t", "t.value"


def rollup_statement(*, tagged: bool, add: bool = False) -> str:
    """INSERT ... SELECT of the staged sums into DailyUsage, or with `tagged` into
    DailyTagUsage. With `add`, groups that already have a row are added to it (ON CONFLICT DO
    UPDATE), which is how the incremental run merges new records.

    Parameters, in order: the day, the updated_at instant."""
    qn = connection.ops.quote_name
    table = DailyTagUsage if tagged else DailyUsage
    group_src = [f"s.{column(UsageRecord, name)}" for name in GROUP_FIELDS]
    source = STAGE_TABLE + " s"
    if tagged:
        source, tag = _tags_source()
        group_src.append(tag)
    targets = {
        "day": "%s",
        **dict(zip(GROUP_FIELDS + (("tag",) if tagged else ()), group_src, strict=True)),
        "consumer": _consumer_sql(),
        **{name: f"SUM(s.{qn(name)})" for name in SUMMED_FIELDS},
        "updated_at": "%s",
    }
    columns = ", ".join(column(table, name) for name in targets)
    sql = (
        f"INSERT INTO {qn(table._meta.db_table)} ({columns}) "  # noqa: S608 - see docstring
        f"SELECT {', '.join(targets.values())} FROM {source} WHERE 1 = 1 "
        f"GROUP BY {', '.join(group_src)}"
    )
    if add:
        current = qn(table._meta.db_table)
        updates = [
            f"{column(table, name)} = {current}.{column(table, name)} + "
            f"excluded.{column(table, name)}"
            for name in SUMMED_FIELDS
        ]
        updates.append(f"{column(table, 'updated_at')} = excluded.{column(table, 'updated_at')}")
        unique = [column(table, name) for name in GROUP_UNIQUE_FIELDS]
        if tagged:
            unique.append(column(table, "tag"))
        sql += f" ON CONFLICT ({', '.join(unique)}) DO UPDATE SET {', '.join(updates)}"
    return sql
