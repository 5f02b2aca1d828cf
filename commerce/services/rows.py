"""Page-sized writes of commerce rows, one statement each, cheap to build in Python.

Why this exists: Django's `bulk_create`/`bulk_update` prepare every field of
every model instance in Python (and `bulk_update` resolves a CASE WHEN per row
and field); for a page of 250 orders × 3 lines that was most of an import's
time. On PostgreSQL the rows go to the server as one JSON document and
`jsonb_to_recordset` turns it back into typed rows: one parameter serialized by
the C json encoder, the casts done by the server (a value too long for its
column fails the statement exactly as a bulk_create would). Other backends
(SQLite, the embedded default) get Django's bulk_create with update_conflicts
and bulk_update: the same statements, built by Django.

Rows are dicts keyed by column (attname): callers pass every column the
statement writes, including `created_at`/`updated_at` (no auto_now here).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, models


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value")


def _quoted(model: type[models.Model], columns: Sequence[str]) -> list[str]:
    """The columns quoted, each checked to be a concrete field of the model (so no text reaches SQL unchecked)."""
    meta = model._meta
    return [connection.ops.quote_name(meta.get_field(c).column) for c in columns]


def _recordset(model: type[models.Model], columns: Sequence[str]) -> str:
    """`jsonb_to_recordset(%s::jsonb) AS r("col" type, …)` for these columns of the model."""
    meta = model._meta
    spec = ", ".join(
        f"{name} {meta.get_field(c).db_type(connection)}" for c, name in zip(columns, _quoted(model, columns),
                                                                             strict=True)
    )
    return f"jsonb_to_recordset(%s::jsonb) AS r({spec})"


def _document(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=_encode, separators=(",", ":"))


def upsert_rows(
    model: type[models.Model],
    rows: list[dict[str, Any]],
    *,
    unique: Sequence[str],
    update: Sequence[str],
    returning: Sequence[str] = (),
) -> list[tuple]:
    """INSERT the rows … ON CONFLICT (unique) DO UPDATE SET the `update` columns; return `returning` per row.

    The returned tuples come in no particular order (the caller keys them by a
    unique column). Two rows of one call must not hit the same unique key.
    """
    if not rows:
        return []
    if connection.vendor != "postgresql":
        objects = [model(**row) for row in rows]
        model.objects.bulk_create(objects, update_conflicts=True, unique_fields=list(unique),
                                  update_fields=list(update))
        return [tuple(getattr(obj, name) for name in returning) for obj in objects]
    columns = list(rows[0])
    names = ", ".join(_quoted(model, columns))
    table = connection.ops.quote_name(model._meta.db_table)
    # Identifiers come from the model's fields (_quoted); the values travel as the one parameter.
    conflict, assignments = ", ".join(_quoted(model, unique)), ", ".join(
        f"{c} = EXCLUDED.{c}" for c in _quoted(model, update))
    sql = f"INSERT INTO {table} ({names}) SELECT {names} FROM {_recordset(model, columns)} "  # noqa: S608
    sql += f"ON CONFLICT ({conflict}) DO UPDATE SET {assignments}"
    if returning:
        sql += " RETURNING " + ", ".join(_quoted(model, returning))
    with connection.cursor() as cursor:
        cursor.execute(sql, [_document(rows)])
        return [tuple(row) for row in cursor.fetchall()] if returning else []


def insert_missing(model: type[models.Model], rows: list[dict[str, Any]], *, unique: Sequence[str]) -> None:
    """INSERT the rows, skipping those whose `unique` key exists (ON CONFLICT DO NOTHING).

    Rows are inserted in the given order (the function scan keeps the array's
    order, as VALUES does), which is what keeps claim_refs' lock order.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows], ignore_conflicts=True)
        return
    columns = list(rows[0])
    names, table = ", ".join(_quoted(model, columns)), connection.ops.quote_name(model._meta.db_table)
    conflict = ", ".join(_quoted(model, unique))  # checked identifiers, see upsert_rows
    sql = f"INSERT INTO {table} ({names}) SELECT {names} FROM {_recordset(model, columns)} "  # noqa: S608
    sql += f"ON CONFLICT ({conflict}) DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(sql, [_document(rows)])

def update_rows(model: type[models.Model], rows: list[dict[str, Any]], fields: Sequence[str]) -> None:
    """UPDATE each row (by its "id") to its values of `fields`, in one statement."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update([model(**row) for row in rows], list(fields))
        return
    table = connection.ops.quote_name(model._meta.db_table)
    assignments = ", ".join(f"{c} = r.{c}" for c in _quoted(model, fields))  # checked identifiers, see upsert_rows
    sql = f'UPDATE {table} SET {assignments} FROM {_recordset(model, ["id", *fields])} '  # noqa: S608
    # The id list lets the planner find the rows by primary key even when the table's statistics are stale (a first
    # backfill into a table that was empty): without it, it may scan the table once per row of the document.
    sql += f'WHERE {table}."id" = r."id" AND {table}."id" = ANY(%s)'
    with connection.cursor() as cursor:
        cursor.execute(sql, [_document([{"id": row["id"], **{c: row[c] for c in fields}} for row in rows]),
                             [row["id"] for row in rows]])
