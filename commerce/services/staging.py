"""PostgreSQL COPY into a temporary table, then one INSERT … SELECT … ON CONFLICT from it.

Why: for a page of orders, COPY's text rows are the cheapest thing to build in
Python (the caller serialises each record once, and hashes those same bytes:
see orders.py) and the cheapest for the server to read; measured against the
one-JSON-parameter `jsonb_to_recordset` statement of rows.py it took a quarter
off the page's write. COPY cannot resolve conflicts, so the rows land in a
temporary table first and one INSERT … ON CONFLICT moves them.

The temporary tables ("stages") live as long as the database connection:
created the first time a connection needs one (`CREATE TEMP TABLE IF NOT
EXISTS`, in the caller's transaction), known to exist once that transaction
committed (a rolled-back transaction takes its DDL with it, so the flag is set
on commit, never before; a test's rolled-back transaction never sets it).
`ON COMMIT DELETE ROWS` empties them at each commit, and each COPY is tagged
with a batch number so that two imports in one transaction never see each
other's rows.

COPY does not go through Django's cursor wrappers; it is added to the
connection's query log (what CaptureQueriesContext and DEBUG read) by hand, so
statement counts stay honest.

PostgreSQL only; callers keep Django's ORM path for other backends.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_SPECIAL = re.compile(r"[\\\t\n\r]")
_batches = itertools.count(1)
BATCH_COLUMN = "stage_batch"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _text(value: str) -> str:
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value


# One encoder for every value: json.dumps with options builds a new one per call (a page makes ~750 of them).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_json_default)
# And the C encoder itself, made once: JSONEncoder.encode makes a new one per call, which was half of the
# ~1.5 µs each of a page's 750 documents took. Same arguments as _ENCODER's (its bytes, and so the payload hashes,
# stay the same); no circular-reference check (a record is a tree of values decoded from JSON).
_C_ENCODER = json.encoder.c_make_encoder and json.encoder.c_make_encoder(
    None, _json_default, json.encoder.encode_basestring_ascii, None, ":", ",", True, False, True)


def _json(value: Any) -> str:
    if _C_ENCODER is None:  # no C accelerator in this Python
        return _text(_ENCODER.encode(value))
    return _text("".join(_C_ENCODER(value, 0)))


# By exact type: the common values take one dict lookup instead of a chain of isinstance checks.
_FORMATS: dict[type, Callable[[Any], str]] = {
    str: _text, int: str, Decimal: str, datetime: datetime.isoformat, date: date.isoformat, dict: _json, list: _json,
    bool: lambda value: "t" if value else "f", type(None): lambda value: "\\N",
}


def copy_field(value: Any) -> str:
    """One value in COPY's text format (NULL is \\N; tab, newline, carriage return and backslash escaped).

    JSON values are written with sorted keys, so equal documents give equal bytes (and equal hashes)."""
    format_ = _FORMATS.get(type(value))
    if format_ is None:
        for kind in (str, bool, int, Decimal, datetime, date, dict, list):  # a subclass (a str enum, say)
            if isinstance(value, kind):
                format_ = _FORMATS[kind]
                break
        else:
            raise TypeError(f"{type(value).__name__} is not a column value")
    return format_(value)


def copy_row(values: Iterable[Any]) -> str:
    """One row in COPY's text format, without its newline."""
    return "\t".join(map(copy_field, values))


class Stage:
    """The temporary table that stages `columns` of `model` (plus `extra` (name, SQL type) columns and the batch)."""

    def __init__(self, model: type[models.Model], columns: Sequence[str], extra: Sequence[tuple[str, str]] = ()):
        meta = model._meta
        self.model = model
        self.columns = list(columns)
        self.extra = list(extra)
        self.table = f"stage_{meta.db_table}"
        self._column_names = [meta.get_field(c).column for c in self.columns]

    def quoted(self, names: Iterable[str]) -> str:
        return ", ".join(connection.ops.quote_name(n) for n in names)

    @property
    def target_columns(self) -> str:
        """The model's columns this stage carries, quoted, in COPY order."""
        return self.quoted(self._column_names)

    def _ensure(self, cursor) -> None:
        raw = connection.connection
        ready: set[str] = getattr(raw, "switchyard_stages", None) or set()
        if self.table in ready:
            return
        quote = connection.ops.quote_name
        extra = "".join(f", NULL::{sql_type} AS {quote(name)}" for name, sql_type in
                        [*self.extra, (BATCH_COLUMN, "bigint")])
        # Identifiers come from the model's fields and this module's constants, never from data.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {quote(self.table)} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {self.target_columns}{extra} FROM {quote(self.model._meta.db_table)} WITH NO DATA"
        )

        def created() -> None:
            # After a real commit no atomic block is open; a test harness that runs on-commit callbacks inside
            # its own (later rolled back) transaction must not make the flag lie.
            if not connection.in_atomic_block:
                raw.switchyard_stages = (getattr(raw, "switchyard_stages", None) or set()) | {self.table}

        transaction.on_commit(created)

    def copy(self, rows: Sequence[str]) -> int:
        """COPY the rows (text format, every column of the stage but the batch, in order); returns their batch."""
        batch = next(_batches)
        names = [*self._column_names, *(name for name, _ in self.extra), BATCH_COLUMN]
        sql = f"COPY {connection.ops.quote_name(self.table)} ({self.quoted(names)}) FROM STDIN"
        suffix = f"\t{batch}\n"
        started = time.monotonic()
        with connection.cursor() as cursor:
            self._ensure(cursor)
            with cursor.cursor.copy(sql) as copy:
                copy.write(suffix.join(rows) + suffix)
        if connection.queries_logged:  # COPY bypasses Django's cursor wrappers: count it like any statement
            connection.queries_log.append({"sql": f"{sql} -- {len(rows)} rows",
                                           "time": f"{time.monotonic() - started:.3f}"})
        return batch

    def select(self, batch: int) -> str:
        """`SELECT <columns> FROM <stage> WHERE batch = %s` (the batch is the statement's first parameter)."""
        quote = connection.ops.quote_name
        return (f"SELECT {self.target_columns} FROM {quote(self.table)} "  # noqa: S608 - checked identifiers
                f"WHERE {quote(BATCH_COLUMN)} = {int(batch)}")
