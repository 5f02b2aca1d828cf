"""A claim window on PostgreSQL in two statements: what makes the per-endpoint cap exact at the fewest round trips.

Claims are the dispatcher's critical path once the cap binds (every endpoint's
slots leased): a slot freed by a send is leased again only by the next claim,
and claimers of the same endpoints take turns (advisory locks). So:

1. the due rows are selected `FOR UPDATE SKIP LOCKED` and, in the same
   statement, the advisory locks of their endpoints taken in id order (no
   deadlock between two claimers);
2. one UPDATE counts the endpoints' rows in flight, ranks the candidates per
   endpoint, and leases those within the cap. It is a later statement than the
   locks, so under READ COMMITTED its snapshot sees every lease a previous
   holder of those locks committed: the count is exact.

BEGIN, these two, COMMIT: four round trips, two of them holding the locks.
SQLite (one writer at a time anyway) claims as dispatcher.py `_claim_window` does.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from ..models import WebhookDelivery
from .delivery import lease_until

LOCK_NAMESPACE = 0x5759_4844  # pg_advisory_xact_lock(namespace, endpoint id) of the per-endpoint count


def candidates_locked(due, limit: int) -> list[tuple[int, int]]:
    """(id, endpoint id) of up to `limit` due rows, oldest due first, row-locked; their endpoints' claim locks held."""
    sql, params = due.values_list("id", "endpoint_id", "next_attempt_at")[:limit].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH cand AS MATERIALIZED ({sql}), "  # noqa: S608 - the ORM's own SQL and placeholders
            "locks AS (SELECT count(pg_advisory_xact_lock(%s, (ep %% 2147483647)::int)) AS n "
            "FROM (SELECT DISTINCT cand.endpoint_id AS ep FROM cand ORDER BY 1) AS eps) "
            "SELECT cand.id, cand.endpoint_id, cand.next_attempt_at FROM cand, locks",
            [*params, LOCK_NAMESPACE],
        )
        rows = cursor.fetchall()
    return [(pk, endpoint) for pk, endpoint, _ in sorted(rows, key=lambda row: (row[2], row[0]))]


def lease_within_cap(
    rows: list[tuple[int, int]], *, now: datetime, want: int, cap: int, sent: frozenset[int]
) -> list[tuple]:
    """Lease, in one UPDATE, the first `want` of `rows` that fit their endpoint's cap (rows in flight counted
    now, but for `sent`); the leased rows' (id, endpoint id, event id, payload, round attempts)."""
    table = WebhookDelivery._meta.db_table
    values = ", ".join(["(%s::bigint, %s::bigint, %s::integer)"] * len(rows))
    params: list = []
    for position, (pk, endpoint) in enumerate(rows):
        params += [pk, endpoint, position]
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH cand(id, ep, pos) AS (VALUES {values}), "  # noqa: S608 - table name and placeholders only
            f"flying AS (SELECT endpoint_id AS ep, count(*) AS n FROM {table} "
            f"WHERE endpoint_id IN (SELECT DISTINCT ep FROM cand) AND locked_until > %s "
            f"AND NOT (id = ANY(%s::bigint[])) GROUP BY 1), "
            f"ranked AS (SELECT cand.id, cand.pos, row_number() OVER (PARTITION BY cand.ep ORDER BY cand.pos) "
            f"+ COALESCE(flying.n, 0) AS taken FROM cand LEFT JOIN flying ON flying.ep = cand.ep), "
            f"chosen AS (SELECT id FROM ranked WHERE taken <= %s ORDER BY pos LIMIT %s) "
            f"UPDATE {table} SET locked_until = %s FROM chosen WHERE {table}.id = chosen.id "
            f"RETURNING {table}.id, {table}.endpoint_id, {table}.event_id, {table}.payload, {table}.round_attempts",
            [*params, stamp, sorted(sent), cap, want, connection.ops.adapt_datetimefield_value(lease_until(now))],
        )
        return cursor.fetchall()
