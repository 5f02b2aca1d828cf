"""How fast outgoing webhooks reach local receivers with two dispatcher workers, against a naive loop in the same run.

    .venv/bin/python bench/deliveries.py [--events 1000] [--endpoints 8] [--threads 16] [--rounds 3] [--hung]

Starts a receiver on 127.0.0.1 (HTTP/1.1 keep-alive, answers 204 at once), makes
an organization with `--endpoints` endpoints subscribed to everything (in a
temporary SQLite database, migrated here; `--default-db` uses the configured
one, e.g. PostgreSQL through DATABASE_URL). Each round, alternating:

1. reference: a naive loop of signed `requests.post` (Standard Webhooks
   headers, one keep-alive session) in `--workers` processes, the same number
   of deliveries to the same receiver, no database;
2. Switchyard: `--events` events published up front (events x endpoints
   deliveries), drained by `--workers` processes each looping `dispatch_due()`
   as a Celery worker would between nudges.

Then a latency phase (events at `--rate` per second for `--seconds`:
publish-to-arrival p50/p99), and with `--hung` one more round with an extra
endpoint that never answers (WEBHOOK_DELIVERY_TIMEOUT 2 s): what the healthy
endpoints lose to it.

Before each timed phase the delivery tables are vacuumed (PostgreSQL; see
`vacuum`), as autovacuum would between bursts.

Printed: deliveries/s (median of the rounds), worker CPU ms and SQL statements
per delivery (counted in the workers), database transactions per delivery
(PostgreSQL's xact_commit), the workers' peak RSS, the correctness line (every
delivery arrived exactly once, by webhook-id, and is recorded delivered), and
the ratio to the reference last.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=8)
    parser.add_argument("--threads", type=int, default=16, help="sending threads per worker")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=10.0,
                        help="events/s in the latency phase (x endpoints = deliveries/s; keep it under the throughput)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the latency phase")
    parser.add_argument("--hung", action="store_true", help="one more round with an endpoint that never answers")
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
    os.environ.setdefault("WEBHOOK_DELIVERY_TIMEOUT", "2")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


class Receiver:
    """Keeps (webhook-id, publish time, arrival time) per request; paths under /hung/ never get an answer."""

    def __init__(self):
        import json

        self.arrivals: list[tuple[str, str, float, float]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path.startswith("/hung/"):
                    receiver.stopping.wait(60)
                    return
                arrived = time.time()
                published = json.loads(body)["data"].get("published_at", arrived)
                with receiver.lock:
                    receiver.arrivals.append((self.headers.get("User-Agent", ""),
                                              f"{self.path} {self.headers.get('webhook-id', '')}", published, arrived))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)


def worker(tmp: str, default_db: bool, threads: int, stop, results, ready) -> None:
    setup_django(tmp, default_db)
    from django.db.backends.signals import connection_created

    from webhooks.outbound.dispatcher import dispatch_due

    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    def counted(sender, connection, **kwargs):
        connection.execute_wrappers.append(count)

    connection_created.connect(counted, weak=False)
    profile = None
    if os.environ.get("BENCH_PROFILE"):  # a cProfile of each worker, for finding where the time goes
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    attempts, cpu = 0, time.process_time()
    ready.put(os.getpid())
    while not stop.is_set():
        report = dispatch_due(threads=threads, run_seconds=5)
        attempts += report.attempts
        if report.attempts == 0:
            time.sleep(0.02)  # idle: a nudge or the beat would wake a real worker
    if profile is not None:
        profile.disable()
        profile.dump_stats(f"{os.environ['BENCH_PROFILE']}.{os.getpid()}")
    results.put((attempts, statements[0], time.process_time() - cpu,
                 resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def naive(requests_: list, stop_after: int, results) -> None:
    """The reference: signed POSTs one after another on one keep-alive session."""
    import requests

    session = requests.Session()
    cpu = time.process_time()
    for url, body, headers in requests_[:stop_after]:
        session.post(url, data=body, headers=headers, timeout=10).close()
    results.put(time.process_time() - cpu)


def signed_requests(urls: list[str], count: int) -> list[tuple[str, bytes, dict]]:
    import json
    import uuid

    from webhooks.outbound.signing import secret_generate, signed_headers

    secret, made = secret_generate(), []
    for n in range(count):
        body = json.dumps({"type": "order.created", "data": {"order": {"id": n}, "published_at": time.time()}},
                          separators=(",", ":")).encode()
        headers = signed_headers([secret], msg_id=f"msg_{uuid.uuid4().hex}", timestamp=int(time.time()), body=body)
        headers.update({"Content-Type": "application/json", "User-Agent": "naive"})
        made.append((urls[n % len(urls)], body, headers))
    return made


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
        time.sleep(0.005)
    return time.monotonic()


def transactions() -> int | None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def vacuum() -> None:
    """VACUUM ANALYZE the delivery tables before a timed phase (PostgreSQL): what autovacuum does between bursts in
    production. This machine's server runs with autovacuum off, and every round leaves three dead versions per
    delivery (lease, record, the bench's own deletes), every index entry of them still walked by the next claims:
    without it each round is slower than the one before and the hung round, measured last, pays for all of them."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) webhooks_webhookdelivery, webhooks_webhookdeliveryattempt, "
                       "webhooks_webhookendpoint")


def run_naive(ctx, receiver: Receiver, urls: list[str], total: int, workers: int) -> tuple[float, float]:
    """(deliveries/s, CPU ms per delivery) of the naive loop."""
    requests_ = signed_requests(urls, total)
    share = [requests_[n::workers] for n in range(workers)]
    results = ctx.Queue()
    procs = [ctx.Process(target=naive, args=(part, len(part), results)) for part in share]
    before = receiver.count()
    started = time.monotonic()
    for proc in procs:
        proc.start()
    finished = wait_for(receiver, before + total, timeout=600)
    cpu = sum(results.get(timeout=60) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    return total / (finished - started), cpu * 1000 / total


def start_workers(ctx, tmp, args):
    """The dispatcher workers, started and set up (Django loaded) but not yet dispatching."""
    stop, results, ready = ctx.Event(), ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(tmp, args.default_db, args.threads, stop, results, ready))
             for _ in range(args.workers)]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=300)
    return procs, stop, results


def stop_workers(procs, stop, results) -> tuple[int, int, float, int]:
    stop.set()
    got = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    return (sum(g[0] for g in got), sum(g[1] for g in got), sum(g[2] for g in got), max(g[3] for g in got))


def main() -> int:
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
        urls = [f"{receiver.base}/hook/{n}" for n in range(args.endpoints)]
        for url in urls:
            endpoint_create(organization=org, url=url, events=["*"])
        backlog = args.events * args.endpoints
        ctx = multiprocessing.get_context("spawn")
        print(f"{args.workers} workers x {args.threads} threads, {args.endpoints} endpoints, {backlog} deliveries a "
              f"round, {args.rounds} rounds; database: {connections['default'].vendor}")

        ours, theirs, our_cpu, their_cpu, statements, xacts, attempts, peak_rss = [], [], [], [], 0, 0, 0, 0
        for n in range(args.rounds):
            rate, cpu = run_naive(ctx, receiver, urls, backlog, args.workers)
            theirs.append(rate)
            their_cpu.append(cpu)
            publish_events(org, args.events)
            vacuum()
            connections.close_all()  # the workers open their own
            xact_before, before = transactions(), receiver.count()
            procs, stop, results = start_workers(ctx, tmp, args)
            started = time.monotonic()  # the workers are set up: what is timed is the dispatching
            finished = wait_for(receiver, before + backlog, timeout=600)
            got, counted, cpu_s, rss = stop_workers(procs, stop, results)
            xact_after = transactions()
            ours.append((receiver.count() - before) / (finished - started))
            our_cpu.append(cpu_s * 1000 / max(got, 1))
            attempts, statements, peak_rss = attempts + got, statements + counted, max(peak_rss, rss)
            if xact_before is not None:
                xacts += xact_after - xact_before
            print(f"round {n + 1}: naive {rate:,.0f}/s, Switchyard {ours[-1]:,.0f}/s")

        # Latency: a steady trickle of events while the workers run.
        vacuum()
        connections.close_all()
        procs, stop, results = start_workers(ctx, tmp, args)
        before, sent, t0 = receiver.count(), 0, time.monotonic()
        while time.monotonic() - t0 < args.seconds:
            due = int((time.monotonic() - t0) * args.rate) - sent
            if due > 0:
                publish_events(org, due)
                sent += due
            time.sleep(0.005)
        wait_for(receiver, before + sent * args.endpoints, timeout=60)
        latencies = sorted((arrived - published) * 1000 for _, _, published, arrived in receiver.arrivals[before:])
        stop_workers(procs, stop, results)

        hung_line = ""
        if args.hung:
            healthy_rate = statistics.median(ours)
            hung, _ = endpoint_create(organization=org, url=f"{receiver.base}/hung/0", events=["*"])
            publish_events(org, args.events)
            vacuum()
            connections.close_all()
            before = receiver.count()
            procs, stop, results = start_workers(ctx, tmp, args)
            started = time.monotonic()
            finished = wait_for(receiver, before + backlog, timeout=600)
            with_hung = (receiver.count() - before) / (finished - started)
            receiver.stopping.set()
            stop_workers(procs, stop, results)
            hung.delete()
            hung_line = (f"hung endpoint: healthy ones {with_hung:,.0f}/s beside it vs {healthy_rate:,.0f}/s without: "
                         f"{(1 - with_hung / healthy_rate) * 100:+.1f} % lost")

        ids = Counter(webhook_id for agent, webhook_id, _, _ in receiver.arrivals if agent != "naive")
        delivered = WebhookDelivery.objects.filter(organization=org, status="delivered").count()
        expected = (args.rounds + args.hung) * backlog + sent * args.endpoints

    our_rate, their_rate = statistics.median(ours), statistics.median(theirs)
    print(f"naive loop:   {their_rate:,.0f} deliveries/s, {statistics.median(their_cpu):.2f} ms CPU per delivery")
    print(f"Switchyard:   {our_rate:,.0f} deliveries/s, {statistics.median(our_cpu):.2f} ms worker CPU per delivery, "
          f"peak worker RSS {peak_rss / 1024:.0f} MB")
    print(f"statements:   {statements / max(attempts, 1):.2f} SQL statements per delivery"
          + (f", {xacts / max(attempts, 1):.2f} transactions per delivery" if xacts else ""))
    if latencies:
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"latency:      p50 {p50:.1f} ms, p99 {p99:.1f} ms publish-to-arrival over {len(latencies)} deliveries "
              f"at {args.rate:g} events/s")
    if hung_line:
        print(hung_line)
    twice = sum(1 for n in ids.values() if n > 1)
    correct = twice == 0 and len(ids) == expected and delivered >= expected
    print(f"correctness:  {len(ids)} of {expected} deliveries arrived, {twice} more than once, {delivered} recorded "
          f"delivered: {'OK' if correct else 'WRONG'}")
    print(f"ratio:        {our_rate / their_rate:.2f} of the naive loop's deliveries/s")
    return 0 if correct else 1


if __name__ == "__main__":
    sys.exit(main())
