"""How fast outgoing webhooks reach a local receiver, with two dispatcher workers.

    .venv/bin/python bench/deliveries.py [--events 2000] [--endpoints 8] [--threads 16] [--rate 10]

Starts a receiver on 127.0.0.1 (HTTP/1.1 keep-alive, answers 204 at once), makes
an organization with `--endpoints` endpoints subscribed to everything (in a
temporary SQLite database, migrated here; `--default-db` uses the configured
one, e.g. PostgreSQL through DATABASE_URL), then runs two worker processes, each
looping `dispatch_due()` as a Celery worker would between nudges:

1. throughput: `--events` events published up front (events x endpoints
   deliveries), drained by the two workers: deliveries/s;
2. latency: events published at `--rate` per second for `--seconds` while the
   workers run: publish-to-arrival p50/p99 (receiver clock, same machine).

Every delivery is signed, checked against the allowlist on the connected
address, and recorded with its attempt row, as in production.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--endpoints", type=int, default=8)
    parser.add_argument("--threads", type=int, default=16, help="sending threads per worker")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=10.0,
                        help="events/s in the latency phase (x endpoints = deliveries/s; keep it under the throughput)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the latency phase")
    parser.add_argument("--default-db", action="store_true", help="use the configured database, not a temporary one")
    return parser.parse_args()


def setup_django(tmp: str, default_db: bool) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not default_db:
        # Every transaction takes the write lock up front, as a multi-process SQLite deployment should.
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3?transaction_mode=IMMEDIATE"
    os.environ["WEBHOOK_ALLOWED_CIDRS"] = "127.0.0.0/8"
    os.environ["WEBHOOK_REQUIRE_HTTPS"] = "false"
    os.environ.setdefault("WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT", "8")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


class Receiver:
    """Counts arrivals and keeps (publish time, arrival time) from each body's data.published_at."""

    def __init__(self):
        import json

        self.arrivals: list[tuple[float, float]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                arrived = time.time()
                published = json.loads(body)["data"].get("published_at", arrived)
                with receiver.lock:
                    receiver.arrivals.append((published, arrived))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)


def worker(tmp: str, default_db: bool, threads: int, stop) -> None:
    setup_django(tmp, default_db)
    from webhooks.outbound.dispatcher import dispatch_due

    while not stop.is_set():
        if dispatch_due(threads=threads, run_seconds=5).attempts == 0:
            time.sleep(0.02)  # idle: a nudge or the beat would wake a real worker


def publish_events(org, count: int) -> None:
    from django.db import transaction

    from webhooks import events
    from webhooks.events import publish

    events._nudge = lambda: None  # the workers below poll; no Celery broker is involved

    with transaction.atomic():
        for n in range(count):
            publish("order.created", {"order": {"id": n}, "published_at": time.time()}, org)


def wait_for(receiver: Receiver, total: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while receiver.count() < total and time.monotonic() < deadline:
        time.sleep(0.01)
    return time.monotonic()


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(tmp, args.default_db)
        from django.core.management import call_command
        from django.db import connections

        from accounts.models import Organization
        from webhooks.models import WebhookDelivery, WebhookEndpoint
        from webhooks.outbound.endpoints import endpoint_create

        call_command("migrate", verbosity=0, interactive=False)
        receiver = Receiver()
        org, _ = Organization.objects.get_or_create(slug="bench-deliveries", defaults={"name": "Bench deliveries"})
        WebhookEndpoint.objects.filter(organization=org).delete()
        for n in range(args.endpoints):
            endpoint_create(organization=org, url=f"{receiver.url}/{n}", events=["*"])

        publish_events(org, args.events)
        backlog = args.events * args.endpoints
        connections.close_all()  # the workers open their own

        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        procs = [ctx.Process(target=worker, args=(tmp, args.default_db, args.threads, stop))
                 for _ in range(args.workers)]
        started = time.monotonic()
        for proc in procs:
            proc.start()
        finished = wait_for(receiver, backlog, timeout=600)
        drained = receiver.count()
        elapsed = finished - started  # includes the workers' start-up (Django setup, ~0.5 s)

        # Latency: a steady trickle of events while the workers run.
        before = receiver.count()
        sent, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < args.seconds:
            due = int((time.monotonic() - t0) * args.rate) - sent
            if due > 0:
                publish_events(org, due)
                sent += due
            time.sleep(0.005)
        wait_for(receiver, before + sent * args.endpoints, timeout=60)
        latencies = sorted((arrived - published) * 1000 for published, arrived in receiver.arrivals[before:])

        stop.set()
        for proc in procs:
            proc.join(timeout=30)
        delivered = WebhookDelivery.objects.filter(organization=org, status="delivered").count()

    print(f"deliveries:   {drained}/{backlog} backlog in {elapsed:.2f} s with {args.workers} workers x "
          f"{args.threads} threads, {args.endpoints} endpoints")
    print(f"throughput:   {drained / elapsed:,.0f} deliveries/s")
    if latencies:
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"latency:      p50 {p50:.1f} ms, p99 {p99:.1f} ms publish-to-arrival over {len(latencies)} deliveries "
              f"at {args.rate:g} events/s")
        offered = args.rate * args.endpoints
        if offered > drained / elapsed:
            print(f"warning:      {offered:,.0f} deliveries/s offered is more than the {drained / elapsed:,.0f}/s "
                  "measured: these latencies measure a growing backlog, not delivery time; lower --rate")
    print(f"recorded:     {delivered} deliveries marked delivered")


if __name__ == "__main__":
    main()
