"""ExternalRef bookkeeping shared by every import: claim-and-lock, payload hashes, the never-regress rule.

An import of a page claims the refs of its provider objects before it reads
anything: it inserts the missing ones with ON CONFLICT DO NOTHING (INSERT OR
IGNORE on SQLite), then reads them all back under FOR UPDATE, in external-id
order. Two transactions importing the same object therefore take turns — the
second waits on the first's row, then sees what it wrote — and a lock order
that is the same for everyone keeps overlapping pages from deadlocking. On
SQLite the first INSERT takes the database's single write lock, which serializes
the same way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, models
from django.utils import timezone

from integrations.models import Integration

from ..models import ExternalRef
from .rows import insert_missing, update_rows


@dataclass
class UpsertResult:
    """What an import did with a page. `failed` items are `{"external_id", "error", "reason"}`; nothing of theirs
    was written. `reason` is a stable word callers may branch on (`unknown_item`: the product is not imported yet);
    `error` is for people."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: list[dict] = field(default_factory=list)
    unmapped_locations: set[str] = field(default_factory=set)  # channel locations seen that map to no ERP location

    def fail(self, external_id: Any, error: str, *, reason: str = "invalid") -> None:
        self.failed.append({"external_id": str(external_id or ""), "error": error, "reason": reason})


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral() else str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def payload_hash(record: dict[str, Any], *, ignore: tuple[str, ...] = ("updated_at",)) -> str:
    """A stable sha256 of a normalized record, without the fields that change when nothing else did."""
    body = {k: v for k, v in record.items() if k not in ignore}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=_default).encode()).hexdigest()


_CLAIMED = ("id", "external_id", "object_id", "external_updated_at", "payload_hash")


@dataclass(slots=True)
class ClaimedRef:
    """A claimed (locked) ExternalRef as the import reads and changes it: values, not a model instance (a page's
    250 model instances were a measurable part of its Python time). save_refs writes it back."""

    id: int
    external_id: str
    object_id: int | None
    external_updated_at: datetime | None
    payload_hash: str
    # Set when this claim inserted the row already holding a version (claim_refs' `versions`): the object id it
    # reserved. The fields above still read as a new ref's (no object, no time, no hash) for the caller's decision.
    reserved_object_id: int | None = None

    @property
    def pk(self) -> int:
        return self.id


def claim_refs(*, integration: Integration, resource_type: str, external_ids: list[str],
               versions: dict[str, tuple[datetime | None, str]] | None = None,
               object_model: type[models.Model] | None = None) -> dict[str, ClaimedRef]:
    """Every ref of these provider objects, inserted when missing, locked for the caller's transaction.

    With `versions` ({external id: (time, hash)}) and `object_model` (PostgreSQL; ignored elsewhere), a ref this
    claim inserts is inserted holding the version the caller is about to write and an id reserved from the
    model's sequence (`reserved_object_id`): a caller that then writes the object with that id and that version
    has nothing left to update in the ref (a first import's ref was inserted, then updated: two writes of each
    row, its index entries twice). A caller that does not write it must save_refs it back to what it reads."""
    ids = sorted(set(external_ids))
    if not ids:
        return {}
    now = timezone.now()
    if connection.vendor == "postgresql":
        if versions is not None and object_model is not None:
            return _claim_holding_versions(integration, resource_type, ids, now, versions, object_model)
        return _claim_in_one_statement(integration, resource_type, ids, now)
    insert_missing(
        ExternalRef,
        [{"integration_id": integration.pk, "resource_type": resource_type, "external_id": i, "payload_hash": "",
          "created_at": now, "updated_at": now} for i in ids],
        unique=["integration", "resource_type", "external_id"],
    )
    refs = (
        ExternalRef.objects.select_for_update()
        .filter(integration=integration, resource_type=resource_type, external_id__in=ids)
        .order_by("external_id")
        .values_list(*_CLAIMED)
    )
    return {row[1]: ClaimedRef(*row) for row in refs}


def _claim_in_one_statement(integration: Integration, resource_type: str, ids: list[str],
                            now: datetime) -> dict[str, ClaimedRef]:
    """PostgreSQL: insert the missing refs and lock the others in one statement, in external-id order.

    ON CONFLICT DO UPDATE locks the existing row as FOR UPDATE would (waiting for a transaction that holds it, then
    reading what it committed); the update writes back the value the row has, so that RETURNING answers every row.
    """
    table = connection.ops.quote_name(ExternalRef._meta.db_table)
    sql = f"""
        INSERT INTO {table} ("integration_id", "resource_type", "external_id", "payload_hash", "created_at",
                             "updated_at")
        SELECT %s, %s, u.external_id, '', %s, %s FROM unnest(%s::varchar[]) WITH ORDINALITY AS u(external_id, n)
        ORDER BY u.n
        ON CONFLICT ("integration_id", "resource_type", "external_id")
        DO UPDATE SET "payload_hash" = {table}."payload_hash"
        RETURNING {", ".join(f'"{c}"' for c in _CLAIMED)}
    """  # noqa: S608 - the table name is the model's
    with connection.cursor() as cursor:
        cursor.execute(sql, [integration.pk, resource_type, now, now, ids])
        rows = cursor.fetchall()
    return {row[1]: ClaimedRef(*row) for row in rows}


def _claim_holding_versions(integration: Integration, resource_type: str, ids: list[str], now: datetime,
                            versions: dict[str, tuple[datetime | None, str]],
                            object_model: type[models.Model]) -> dict[str, ClaimedRef]:
    """_claim_in_one_statement, a missing ref inserted with its version and a reserved object id (claim_refs).

    `xmax = 0` tells a row this statement inserted from one it locked (ON CONFLICT DO UPDATE sets xmax)."""
    table = connection.ops.quote_name(ExternalRef._meta.db_table)
    sql = f"""
        INSERT INTO {table} ("integration_id", "resource_type", "external_id", "payload_hash",
                             "external_updated_at", "object_id", "created_at", "updated_at")
        SELECT %s, %s, u.external_id, u.hash, u.updated,
               nextval((SELECT pg_get_serial_sequence(%s, 'id'))::regclass), %s, %s
        FROM unnest(%s::varchar[], %s::timestamptz[], %s::varchar[]) WITH ORDINALITY AS u(external_id, updated, hash, n)
        ORDER BY u.n
        ON CONFLICT ("integration_id", "resource_type", "external_id")
        DO UPDATE SET "payload_hash" = {table}."payload_hash"
        RETURNING {", ".join(f'"{c}"' for c in _CLAIMED)}, xmax = 0
    """  # noqa: S608 - the table names are the models'
    with connection.cursor() as cursor:
        cursor.execute(sql, [integration.pk, resource_type, connection.ops.quote_name(object_model._meta.db_table),
                             now, now, ids, [versions[i][0] for i in ids], [versions[i][1] for i in ids]])
        rows = cursor.fetchall()
    return {external_id: ClaimedRef(pk, external_id, None, None, "", reserved_object_id=object_id) if inserted
            else ClaimedRef(pk, external_id, object_id, updated, hash_)
            for pk, external_id, object_id, updated, hash_, inserted in rows}


def is_older(incoming: datetime | None, known: datetime | None) -> bool:
    """The never-regress rule: whether a version stamped `incoming` is older than the one already written at
    `known`, so it must not overwrite it (a webhook, a sync and our own push's answer arrive in any order). A
    version with no time, or with nothing to compare to, is never older."""
    return incoming is not None and known is not None and incoming < known


def newest_per_id(items: list[tuple[str, datetime | None, dict]]) -> dict[str, tuple[datetime | None, dict]]:
    """One record per external id within a page: the newest (a later duplicate wins a tie)."""
    chosen: dict[str, tuple[datetime | None, dict]] = {}
    for external_id, updated_at, record in items:
        current = chosen.get(external_id)
        if current is None or current[0] is None or (updated_at is not None and updated_at >= current[0]):
            chosen[external_id] = (updated_at, record)
    return chosen


def save_refs(refs: list[ClaimedRef]) -> None:
    """Write the refs' new versions (object, time, hash) in one statement; the rows exist, claim_refs locked them."""
    if not refs:
        return
    now = timezone.now()
    if connection.vendor == "postgresql":  # arrays: adapted by psycopg in C, no JSON document to build
        table = connection.ops.quote_name(ExternalRef._meta.db_table)
        ids = [r.id for r in refs]
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {table} AS r SET "object_id" = u.object_id, "external_updated_at" = u.updated,
                           "payload_hash" = u.hash, "updated_at" = %s
                    FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[], %s::varchar[])
                         AS u(id, object_id, updated, hash)
                    WHERE r."id" = u.id AND r."id" = ANY(%s)""",  # noqa: S608 - the model's table
                [now, ids, [r.object_id for r in refs], [r.external_updated_at for r in refs],
                 [r.payload_hash for r in refs], ids],
            )
        return
    update_rows(
        ExternalRef,
        [{"id": r.pk, "object_id": r.object_id, "external_updated_at": r.external_updated_at,
          "payload_hash": r.payload_hash, "updated_at": now} for r in refs],
        ["object_id", "external_updated_at", "payload_hash", "updated_at"],
    )
