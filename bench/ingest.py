"""How many signed webhooks the receive endpoint accepts per second under gunicorn, and whether each 2xx is a row.

    .venv/bin/python bench/ingest.py [-n 20000] [-c 8] [--workers 2] [--threads 4] [--body-bytes 2048]

Runs the app under gunicorn (gthread workers, keep-alive) on 127.0.0.1 against
a temporary SQLite database, or against DATABASE_URL's PostgreSQL when it is
set (the bench's organization is deleted afterwards). Creates a sandbox shop
integration, sends N Shopify-signed order webhooks of about 2 KB, each with its
own webhook id, over C concurrent keep-alive connections, then prints
accepted/s, p50/p99 latency, and the stored rows against the 2xx answers,
which must be equal (the exit status says whether they are).

Processing messages go to a queue of the bench's own that no worker consumes
(on the filesystem transport in the temporary folder, or on REDIS_URL), so the
figure is ingestion alone: verify, store, answer, nudge.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SECRET = "whsec_bench_ingest_secret"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--requests", type=int, default=20_000)
    parser.add_argument("-c", "--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=max(2, os.cpu_count() or 2), help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process")
    parser.add_argument("--body-bytes", type=int, default=2048)
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(tmp: Path, queue: str) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp / "var"),
           "WEBHOOK_INCOMING_QUEUE": queue, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    if not env.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    return env


def order_body(number: int, size: int) -> bytes:
    order = {"id": 9_000_000_000 + number, "name": f"#{number}", "email": f"buyer{number}@example.com",
             "created_at": "2026-05-01T09:30:00+00:00", "updated_at": "2026-05-01T09:30:00+00:00",
             "financial_status": "paid", "fulfillment_status": None, "currency": "EUR", "total_price": "17.50",
             "line_items": [{"id": number, "sku": "TSHIRT-M", "quantity": 1, "price": "17.50"}], "note": ""}
    body = json.dumps(order, separators=(",", ":"))
    order["note"] = "x" * max(0, size - len(body))
    return json.dumps(order, separators=(",", ":")).encode()


def signed_requests(n: int, size: int) -> list[tuple[bytes, dict[str, str]]]:
    from sandbox.webhooks import delivery_headers  # the simulator's own signed headers

    requests = []
    for number in range(n):
        body = order_body(number, size)
        requests.append((body, delivery_headers("orders/create", body, secret=SECRET, shop_domain="bench.myshopify.com",
                                                webhook_id=str(uuid.uuid4()))))
    return requests


def start_gunicorn(env: dict[str, str], port: int, workers: int, threads: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
               "--keep-alive", "30", "--backlog", "2048"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"gunicorn did not start:\n{log.read_text(errors='replace')}")


def send_all(port: int, path: str, requests: list, connections: int) -> tuple[list[float], Counter, float]:
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()
    cursor = iter(range(len(requests)))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine_lat, mine_status = [], Counter()
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            body, headers = requests[index]
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                mine_status[response.status] += 1
            except (OSError, http.client.HTTPException) as exc:
                mine_status[type(exc).__name__] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine_lat.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine_lat)
            statuses.update(mine_status)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses, time.perf_counter() - started


def main() -> int:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="switchyard-ingest-"))
    queue = f"bench-ingest-{uuid.uuid4().hex[:8]}"
    env = environment(tmp, queue)
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "VAR_DIR", "DATABASE_URL",
                                           "WEBHOOK_INCOMING_QUEUE")})
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import Organization
    from integrations.models import Integration
    from webhooks.models import IncomingWebhook

    call_command("migrate", verbosity=0)
    suffix = uuid.uuid4().hex[:8]
    organization = Organization.objects.create(slug=f"bench-{suffix}", name="Ingest bench")
    integration = Integration.objects.create(
        organization=organization, name="Bench shop", code=f"bench-{suffix}", type="ecommerce", provider="sandbox",
        status="active", webhook_secret=SECRET, config={"shop_domain": "bench.myshopify.com"},
    )
    database = "PostgreSQL" if "postgres" in env["DATABASE_URL"] else "SQLite (temporary)"
    print(f"database: {database}; gunicorn {args.workers} x {args.threads} threads; "
          f"{args.connections} connections; {args.requests} webhooks of ~{args.body_bytes} bytes")
    requests = signed_requests(args.requests, args.body_bytes)
    from django.db import connections

    connections.close_all()
    port, log = free_port(), tmp / "gunicorn.log"
    server = start_gunicorn(env, port, args.workers, args.threads, log)
    try:
        latencies, statuses, elapsed = send_all(port, f"/api/webhooks/receive/{integration.route_key}/", requests,
                                                args.connections)
    finally:
        server.terminate()
        server.wait(timeout=30)
    accepted = sum(n for status, n in statuses.items() if isinstance(status, int) and 200 <= status < 300)
    stored = IncomingWebhook.objects.filter(integration=integration).count()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"answers: {dict(sorted(statuses.items(), key=str))} in {elapsed:.1f} s")
    print(f"accepted/s: {accepted / elapsed:,.0f}")
    print(f"latency p50: {statistics.median(latencies) * 1000:.1f} ms, p99: {p99 * 1000:.1f} ms")
    print(f"stored rows: {stored}; 2xx answers: {accepted}; {'EQUAL' if stored == accepted else 'MISMATCH'}")
    if "postgres" in env["DATABASE_URL"]:
        organization.delete()
    if os.environ.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).delete(queue, f"_kombu.binding.{queue}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if stored == accepted and accepted == args.requests else 1


if __name__ == "__main__":
    sys.exit(main())
