"""The reference of bench/ingest.py: a bare WSGI app that verifies a Stripe signature and does one INSERT.

    gunicorn bench.ingest_bare:application   (BARE_DATABASE_URL=postgres://…, BARE_SECRET=…)

No framework: read the body, check `Stripe-Signature` (HMAC-SHA256 of "{t}.{body}", constant-time), take the
event id from the JSON, `INSERT … ON CONFLICT DO NOTHING RETURNING id` into `bench_bare_ingest` on a
connection per thread (autocommit), answer 202 with the id (200 for a duplicate). What any ingest endpoint
must at least do; what Switchyard adds is measured against it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading

import psycopg

TABLE = "bench_bare_ingest"
_local = threading.local()


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(os.environ["BARE_DATABASE_URL"], autocommit=True)
    return conn


def create_table(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, event_id text UNIQUE NOT NULL, "
                     "event_type text NOT NULL, body bytea NOT NULL, received_at timestamptz NOT NULL DEFAULT now())")


def _verified(header: str, body: bytes, secret: bytes) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    expected = hmac.new(secret, parts.get("t", "").encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def application(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    if not _verified(environ.get("HTTP_STRIPE_SIGNATURE", ""), body, os.environ["BARE_SECRET"].encode()):
        start_response("401 Unauthorized", [("Content-Type", "application/json"), ("Content-Length", "2")])
        return [b"{}"]
    event = json.loads(body)
    row = _connection().execute(
        f"INSERT INTO {TABLE} (event_id, event_type, body) VALUES (%s, %s, %s) "  # noqa: S608 - a constant
        "ON CONFLICT (event_id) DO NOTHING RETURNING id", (event["id"], event["type"], body)).fetchone()
    answer = json.dumps({"id": row[0] if row else None}).encode()
    start_response("202 Accepted" if row else "200 OK",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))])
    return [answer]
