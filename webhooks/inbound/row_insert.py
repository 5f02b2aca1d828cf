"""The one statement that stores a webhook on the receive path: a prepared INSERT … ON CONFLICT, from plain values.

Receiving is the busiest path of the app (issue 18), and most of its CPU went
to building things this statement does not need: a model instance per row,
then the ORM-style walk turning its fields into parameters, then psycopg's
client-side binding quoting ~26 parameters (the raw body as an escaped bytea
literal) into one long SQL string for PostgreSQL to parse and plan again.

So the row is a dict of column values (services.py builds it), turned into
parameters by a list made once per process, and on PostgreSQL the statement
goes through a server-binding cursor with `prepare=True`: parsed and planned
once per connection, the body sent as binary. Everything else stays as for any
statement: it runs through Django's cursor wrapper (the health check when one
is due, `execute_wrappers`, query logging, DatabaseError translation), in
autocommit. A prepared statement needs a connection that keeps its session
between statements: behind PgBouncer in transaction mode (before 1.21) set
DATABASE_PREPARED_STATEMENTS=false, and it is bound server-side, not prepared.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import BinaryField, DateTimeField, JSONField

from integrations.models import Integration
from webhooks.models import IncomingWebhook

Column = tuple[str, Callable[[Any], Any] | None, Callable[[], Any]]  # attname, to a parameter, its default's

_INSERT: dict[str, tuple[str, list[Column]]] = {}


def _insert_sql(vendor: str) -> tuple[str, list[Column]]:
    """The INSERT of a webhook row, conditioned on its integration's `updated_at`, and its columns in order."""
    fields = [f for f in IncomingWebhook._meta.concrete_fields if not f.primary_key]
    postgres = vendor == "postgresql"
    cast = (lambda db_type: f"CAST(%s AS {db_type})") if postgres else (lambda db_type: "%s")
    table, integrations = IncomingWebhook._meta.db_table, Integration._meta.db_table
    stamp = cast("timestamp with time zone")
    sql = (f"INSERT INTO {table} ({', '.join(connection.ops.quote_name(f.column) for f in fields)}) "  # noqa: S608
           f"SELECT {', '.join(cast(f.cast_db_type(connection)) for f in fields)} "
           f"WHERE EXISTS (SELECT 1 FROM {integrations} WHERE id = %s AND ({stamp} IS NULL OR updated_at = {stamp})) "
           "ON CONFLICT DO NOTHING RETURNING id")
    return sql, [(f.attname, _preparer(f), _default(f)) for f in fields]


def _preparer(field) -> Callable[[Any], Any] | None:
    """How a field's value becomes a parameter: JSON as its text (cast to jsonb on PostgreSQL), dates through the
    backend's adapter, bytes as bytes; None: as it is (what get_db_prep_save does, without its generic walk)."""
    if isinstance(field, JSONField):
        return json.dumps
    if isinstance(field, DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, BinaryField):
        return bytes
    return None


def _default(field) -> Callable[[], Any]:
    """The parameter of a column the row leaves out: its field's default (a callable one asked each time)."""
    prepare = _preparer(field) or (lambda value: value)
    if callable(field.default):
        return lambda: prepare(field.get_default())
    value = prepare(field.get_default())
    return lambda: value


ONLY_WHEN_ASKED = 2**62  # a prepare threshold no count reaches: psycopg prepares only what asks `prepare=True`


@functools.cache
def _preparing_cursor_class(prepared: bool) -> type:
    from django.db.backends.postgresql.base import ServerBindingCursor  # psycopg 3, imported only where used
    from psycopg import errors

    if not prepared:
        return ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        """Binds server-side and prepares what it executes, on a connection that otherwise prepares nothing.

        Django connects with `prepare_threshold=None` (nothing prepared, no bookkeeping of other queries). For
        this statement alone the threshold is one no count reaches, so psycopg prepares because it is asked
        to; put back at once, the connection keeps the prepared statement and counts nothing else."""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            conn = self._conn
            threshold = conn.prepare_threshold
            conn.prepare_threshold = ONLY_WHEN_ASKED if threshold is None else threshold
            try:
                return super().execute(query, params, prepare=True, binary=binary)
            except errors.InvalidSqlStatementName:
                # Deallocated behind psycopg's back (a pooler's DISCARD ALL): this delivery is refused (503, the
                # provider retries), and the next one prepares afresh instead of failing until the connection ends.
                conn._prepared.clear()
                raise
            finally:
                conn.prepare_threshold = threshold

        def _convert_query(self, query, params=None):
            # Django's query log (DEBUG, CaptureQueriesContext) reads the statement from `_query`, which psycopg
            # sets only when it executes unprepared.
            self._query = super()._convert_query(query, params)
            return self._query

    return PreparingCursor


def _cursor(db):
    """On PostgreSQL, Django's steps of `connection.cursor()` (health check when due, thread check, wrapper) around
    a PreparingCursor (a ServerBindingCursor when DATABASE_PREPARED_STATEMENTS is off); elsewhere the plain one."""
    if db.vendor != "postgresql":
        return db.cursor()
    db.close_if_health_check_failed()
    db.ensure_connection()
    with db.wrap_database_errors:
        return db._prepare_cursor(_preparing_cursor_class(settings.DATABASE_PREPARED_STATEMENTS)(db.connection))


def incoming_insert(row: Mapping[str, Any], *, version) -> int | None:
    """One INSERT … ON CONFLICT DO NOTHING in autocommit of the webhook whose column values (by attname, the
    integration's id among them; those left out take their field's default) are `row`: the new row's id, or
    None when the provider's event id is stored already or the integration is not at `version` (its
    `updated_at`; None: any) any more."""
    db = connections[DEFAULT_DB_ALIAS]  # looked up once: each `connection.x` is a thread-local lookup
    vendor = db.vendor
    if vendor not in _INSERT:
        _INSERT[vendor] = _insert_sql(vendor)
    sql, columns = _INSERT[vendor]
    params = [(prepare(row[name]) if prepare else row[name]) if name in row else default()
              for name, prepare, default in columns]
    stamp = None if version is None else db.ops.adapt_datetimefield_value(version)
    params += [row["integration_id"], stamp, stamp]
    with _cursor(db) as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    return found[0] if found else None
