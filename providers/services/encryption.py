"""Re-encrypt every stored secret under the newest key of FIELD_ENCRYPTION_KEYS."""

from dataclasses import dataclass

from django.apps import apps
from django.db import connection, transaction

from providers.fields import encrypted_fields


@dataclass(frozen=True, slots=True)
class RotationResult:
    model: str
    field: str
    rows: int


def encryption_keys_rotate() -> list[RotationResult]:
    """Rotate the stored tokens column by column, in one transaction.

    Works on the raw column values (MultiFernet.rotate), so nothing is decrypted into model
    instances and rows written under any configured key come out under the newest one. A value
    that no configured key can decrypt aborts the whole rotation with a clear error.
    """
    results: list[RotationResult] = []
    with transaction.atomic():
        for model in apps.get_models():
            for field in encrypted_fields(model):
                field_column, pk_column = field.column, model._meta.pk.column
                assert field_column and pk_column, "concrete fields always have a column"
                table = connection.ops.quote_name(model._meta.db_table)
                column = connection.ops.quote_name(field_column)
                pk = connection.ops.quote_name(pk_column)
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT {pk}, {column} FROM {table} WHERE {column} <> ''"  # noqa: S608
                    )
                    rows = cursor.fetchall()
                    for row_pk, token in rows:
                        cursor.execute(
                            f"UPDATE {table} SET {column} = %s WHERE {pk} = %s",  # noqa: S608
                            [field.rotate_stored_value(token), row_pk],
                        )
                results.append(RotationResult(model._meta.label, field.name, len(rows)))
    return results
