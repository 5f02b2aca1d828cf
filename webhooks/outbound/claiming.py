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

Both statements are fixed text with the sets passed as arrays, built once per
process: a claim is made several times a second per worker, and building it
through the ORM (and psycopg parsing a new SQL string of a new length each
time) cost more of the dispatcher's CPU than the sends it feeds (issue 18).
The statuses are literals, so the planner matches the partial `delivery_due`
index. SQLite (one writer at a time anyway) claims as dispatcher.py
`_claim_window` does, through the ORM.
"""

from __future__ import annotations

import functools
from datetime import datetime

from django.db import connection

from ..models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from .delivery import lease_until

LOCK_NAMESPACE = 0x5759_4844  # pg_advisory_xact_lock(namespace, endpoint id) of the per-endpoint count


@functools.cache
def _candidates_sql(only: bool) -> str:
    """Due rows of active endpoints, none of `skip` nor of an endpoint at its cap (its rows in flight counted but
    for `sent`), oldest due first, row-locked, with their endpoints' claim locks taken in id order."""
    table, endpoints = WebhookDelivery._meta.db_table, WebhookEndpoint._meta.db_table
    due = ", ".join(f"'{status}'" for status in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING))
    return (
        f"WITH cand AS MATERIALIZED (SELECT d.id, d.endpoint_id, d.next_attempt_at "  # noqa: S608 - names only
        f"FROM {table} d JOIN {endpoints} e ON e.id = d.endpoint_id "
        f"WHERE (d.locked_until IS NULL OR d.locked_until < %(now)s) AND e.is_active "
        f"AND d.next_attempt_at <= %(now)s AND d.status IN ({due}) "
        f"AND NOT (d.endpoint_id = ANY(%(skip)s::bigint[])) "
        f"AND d.endpoint_id NOT IN (SELECT endpoint_id FROM {table} WHERE locked_until > %(now)s "
        f"AND NOT (id = ANY(%(sent)s::bigint[])) GROUP BY 1 HAVING count(*) >= %(cap)s)"
        + (" AND d.id = %(only)s" if only else "") +
        " ORDER BY d.next_attempt_at, d.id LIMIT %(limit)s FOR UPDATE OF d SKIP LOCKED), "
        "locks AS (SELECT count(pg_advisory_xact_lock(%(namespace)s, (ep %% 2147483647)::int)) AS n "
        "FROM (SELECT DISTINCT cand.endpoint_id AS ep FROM cand ORDER BY 1) AS eps) "
        "SELECT cand.id, cand.endpoint_id, cand.next_attempt_at FROM cand, locks"
    )


def candidates_locked(
    *, now: datetime, limit: int, cap: int, skip, sent, only: int | None = None
) -> list[tuple[int, int]]:
    """(id, endpoint id) of up to `limit` due rows (just `only`, if given) within the cap's reach, none of the
    endpoints in `skip`, oldest due first, row-locked; their endpoints' claim locks held."""
    with connection.cursor() as cursor:
        cursor.execute(_candidates_sql(only is not None), {
            "now": now, "skip": list(skip), "sent": list(sent), "cap": cap, "only": only, "limit": limit,
            "namespace": LOCK_NAMESPACE,
        })
        rows = cursor.fetchall()
    rows.sort(key=lambda row: (row[2], row[0]))
    return [(pk, endpoint) for pk, endpoint, _ in rows]


@functools.cache
def _lease_sql() -> str:
    table = WebhookDelivery._meta.db_table
    return (
        "WITH cand(id, ep, pos) AS (SELECT * FROM unnest(%(ids)s::bigint[], %(eps)s::bigint[]) WITH ORDINALITY), "  # noqa: S608 - table name only
        f"flying AS (SELECT endpoint_id AS ep, count(*) AS n FROM {table} "
        f"WHERE endpoint_id IN (SELECT DISTINCT ep FROM cand) AND locked_until > %(now)s "
        f"AND NOT (id = ANY(%(sent)s::bigint[])) GROUP BY 1), "
        f"ranked AS (SELECT cand.id, cand.pos, row_number() OVER (PARTITION BY cand.ep ORDER BY cand.pos) "
        f"+ COALESCE(flying.n, 0) AS taken FROM cand LEFT JOIN flying ON flying.ep = cand.ep), "
        f"chosen AS (SELECT id FROM ranked WHERE taken <= %(cap)s ORDER BY pos LIMIT %(want)s) "
        f"UPDATE {table} SET locked_until = %(until)s FROM chosen WHERE {table}.id = chosen.id "
        f"RETURNING {table}.id, {table}.endpoint_id, {table}.event_id, {table}.payload::text, "
        f"{table}.round_attempts"
    )


def lease_within_cap(
    rows: list[tuple[int, int]], *, now: datetime, want: int, cap: int, sent
) -> list[tuple]:
    """Lease, in one UPDATE, the first `want` of `rows` that fit their endpoint's cap (rows in flight counted
    now, but for `sent`); the leased rows' (id, endpoint id, event id, payload as JSON text, round attempts)."""
    with connection.cursor() as cursor:
        cursor.execute(_lease_sql(), {
            "ids": [pk for pk, _ in rows], "eps": [endpoint for _, endpoint in rows], "now": now,
            "sent": list(sent), "cap": cap, "want": want, "until": lease_until(now),
        })
        return cursor.fetchall()
