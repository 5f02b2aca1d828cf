"""How fast the sync engine backfills orders from a sandbox shop into PostgreSQL, and that memory stays flat.

    .venv/bin/python bench/sync_backfill.py [--orders 100000] [--compare-orders 2000] [--database-url postgres://…]

The sandbox shop runs in its own process (so the RSS measured is the
engine's, not the simulator's), with no rate limit. The engine runs in this
process exactly as a worker runs it (`syncjobs.services.sync_job_run`: pages
of 250 through the connector, one transaction per page, the real
`commerce.services.upsert_orders`). It prints orders/s and this process's
RSS at 10 %, 25 %, 50 % and 100 % of the run: the pages are streamed, never
held, so RSS after the first pages stays flat however large N is.

Then it backfills `--compare-orders` orders twice more into fresh
integrations, once with the bulk writer and once with a naive writer doing
`update_or_create` per order, per line and per ExternalRef (no stock
bookkeeping, so the naive path does *less* work), and prints the ratio.

A throw-away database is created on the PostgreSQL server of `--database-url`
(default: DATABASE_URL) and dropped at the end (`--keep` keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SANDBOX = """
import sys
from sandbox.server import SandboxServer
server = SandboxServer(port={port}, seed={seed}, orders={orders}, products=200, rate_limit=10**9, leak_rate=1e9)
print("ready", flush=True)
server.serve_forever()
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--compare-orders", type=int, default=2_000, help="N of the bulk vs update_or_create run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--database-name", default="",
                        help="the throw-away database's name (default bench_sync_<pid>)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("give a PostgreSQL server with --database-url or DATABASE_URL (postgres://user@host:port/db)")
    return args


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def create_database(server_url: str, name: str) -> str:
    import psycopg

    parts = urlsplit(server_url)
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def drop_database(server_url: str, name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    admin = urlunsplit(urlsplit(server_url)._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def start_sandbox(orders: int, seed: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-c", SANDBOX.format(port=port, seed=seed, orders=orders)],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if process.stdout.readline().strip() != "ready":
        raise SystemExit("the sandbox did not start")
    return process, f"http://127.0.0.1:{port}"


def sandbox_token(url: str) -> str:
    request = urllib.request.Request(url + "/_sandbox/tokens", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - a local sandbox
        return json.load(answer)["access_token"]


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["OUTBOUND_URL_ALLOWLIST"] = "127.0.0.1"
    os.environ["DEBUG"] = "false"  # no query log in memory
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def integration_for(url: str, token: str, code: str):
    from accounts.models import Organization
    from integrations.models import Integration
    from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

    organization, _ = Organization.objects.get_or_create(slug=f"bench-{code}", defaults={"name": f"Bench {code}"})
    return Integration.objects.create(
        organization=organization, name=f"Bench {code}", code=code, type="ecommerce", provider="sandbox",
        status="active", api_endpoint=url, api_key=DEFAULT_CLIENT_ID, api_secret=DEFAULT_CLIENT_SECRET,
        access_token=token, config={"rate_limit": None},
    )


def backfill(integration, *, limit: int | None = None, writers=None, report=None):
    """Run one backfill job to the end (or to `limit` orders, then cancel it); return (job, seconds)."""
    from syncjobs import services
    from syncjobs.models import JobType, Trigger

    job = services.sync_job_start(integration=integration, trigger=Trigger.COMMAND, job_type=JobType.BACKFILL,
                                  enqueue=False)

    def on_page(page):
        if report is not None:
            report(page.job)
        if limit is not None and page.job.records_processed >= limit:
            services.sync_job_cancel(job=page.job)

    started = time.perf_counter()
    done = services.sync_job_run(job_id=job.pk, writers=writers, on_page=on_page)
    return done, time.perf_counter() - started


def per_row_writers():
    """The naive writer: update_or_create per order, per line, per ExternalRef (what the bulk path replaces)."""
    from commerce.models import ExternalRef, Order, OrderLine

    class Result:
        def __init__(self):
            self.created = self.updated = self.unchanged = 0
            self.failed = []

    def upsert_orders(*, integration, orders):
        result = Result()
        for record in orders:
            order, created = Order.objects.update_or_create(
                integration=integration, external_id=record["external_id"],
                defaults={
                    "organization_id": integration.organization_id, "external_number": record["number"],
                    "name": record["name"], "status": record["status"], "currency": record["currency"],
                    "subtotal": record["subtotal"], "total_discounts": record["total_discounts"],
                    "total_tax": record["total_tax"], "total_shipping": record["total_shipping"],
                    "total": record["total"], "customer_email": record["customer"]["email"],
                    "customer_name": record["customer"]["name"], "shipping_address": record["shipping_address"],
                    "billing_address": record["billing_address"], "placed_at": record["placed_at"],
                    "external_updated_at": record["updated_at"], "cancelled_at": record["cancelled_at"],
                },
            )
            for line in record["lines"]:
                OrderLine.objects.update_or_create(order=order, external_id=line["external_id"], defaults={
                    "sku": line["sku"], "title": line["title"][:300], "quantity": line["quantity"],
                    "unit_price": line["price"], "total": line["total"],
                    "fulfilled_quantity": line["fulfilled_quantity"],
                })
            ExternalRef.objects.update_or_create(
                integration=integration, resource_type="order", external_id=record["external_id"],
                defaults={"object_id": order.pk, "external_updated_at": record["updated_at"]},
            )
            if created:
                result.created += 1
            else:
                result.updated += 1
        return result

    return {"orders": upsert_orders}


def main() -> None:
    args = parse_args()
    name = args.database_name or f"bench_sync_{os.getpid()}"
    database_url = create_database(args.database_url, name)
    sandbox, url = start_sandbox(max(args.orders, args.compare_orders), args.seed)
    try:
        setup_django(database_url)
        from commerce.models import OrderLine

        token = sandbox_token(url)
        print(f"sync_backfill: sandbox of {max(args.orders, args.compare_orders):,} orders at {url} "
              f"(own process); database {name}; RSS before {rss_mb():.0f} MB")

        marks = {int(args.orders * f): f"{int(f * 100):>3} %" for f in (0.1, 0.25, 0.5)}

        def report(job):
            for at, label in list(marks.items()):
                if job.records_processed >= at:
                    print(f"sync_backfill:   {label}: {job.records_processed:>9,} orders, RSS {rss_mb():6.0f} MB, "
                          f"peak {peak_rss_mb():6.0f} MB")
                    del marks[at]

        integration = integration_for(url, token, "bench-bulk")
        job, seconds = backfill(integration, limit=args.orders, report=report)
        lines = OrderLine.objects.filter(order__integration=integration).count()
        print(f"sync_backfill:   100 %: {job.records_processed:>9,} orders, RSS {rss_mb():6.0f} MB, "
              f"peak {peak_rss_mb():6.0f} MB")
        print(f"sync_backfill: bulk      {job.records_created:,} orders + {lines:,} lines "
              f"({lines / max(job.records_created, 1):.2f}/order) in {seconds:.1f} s = "
              f"{job.records_processed / seconds:,.0f} orders/s; peak RSS {peak_rss_mb():.0f} MB")

        n = args.compare_orders
        bulk_job, bulk_s = backfill(integration_for(url, token, "bench-cmp-bulk"), limit=n)
        row_job, row_s = backfill(integration_for(url, token, "bench-cmp-row"), limit=n, writers=per_row_writers())
        bulk_rate, row_rate = bulk_job.records_processed / bulk_s, row_job.records_processed / row_s
        print(f"sync_backfill: N={n:,}: bulk {bulk_rate:,.0f} orders/s vs per-row update_or_create "
              f"{row_rate:,.0f} orders/s = {bulk_rate / row_rate:.1f}x")
    finally:
        sandbox.terminate()
        sandbox.wait(10)
        if not args.keep:
            drop_database(args.database_url, name)


if __name__ == "__main__":
    main()
