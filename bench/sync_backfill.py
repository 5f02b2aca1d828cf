"""How fast the sync engine backfills orders from a sandbox shop into PostgreSQL, against COPY of the same rows.

    .venv/bin/python bench/sync_backfill.py [--orders 30000] [--rounds 3] [--compare-orders 0]
                                            [--database-url postgres://…] [--database-name NAME]

The sandbox shop runs in its own process (so the RSS and CPU measured are the
engine's, not the simulator's), with no rate limit. The engine runs in this
process exactly as a worker runs it (`syncjobs.services.sync_job_run`: pages
of 250 through the connector, the next page fetched and normalized while one
is written, one transaction per page, the real `commerce.services.upsert_orders`).

Each round backfills the N orders into a fresh integration, then COPYs the
rows it wrote (orders and lines, read back untimed) into a reference
integration (bench/copy_reference.py): rounds alternate, so both see the same
load on a shared machine, and the ratio printed last is the median of the
rounds'. Per round: orders/s, this process's CPU per order (the fetching
thread included; then split: the writing thread's own, and the rest, which is
the fetching thread's: HTTP, JSON, normalizing, the call log), the SQL
statements of one steady page (captured on page 3; COPY counted) and per
order, the call-log rows per page (written by the fetching thread), and the
correctness line: exact order, line, ref and call-log counts. Round 1 prints RSS at 10/25/50/100 %: pages are streamed,
never held, so RSS stays flat however large N is (run two N to see it).

`--pages-from-memory` takes the simulator and the network out: the pages are
pulled once (untimed, with bare `requests`, which also prints what the
simulator alone serves), and each round's backfill gets them from memory
through a requests adapter mounted on the integration's session, so the
connector, its call log, the JSON parsing and the whole write path run as
they do against the sandbox. Comparing the two modes tells whether the
simulator limits the end-to-end figure. (The recorded pages stay in memory for
the whole run: RSS is higher by their size, and still flat in N within a run.)
In both modes the sandbox's shop is encoded before the first round
(`ShopState.prerender_orders`), as a real shop's orders are stored rows: its
pages then cost what serving them costs, not what generating them costs.

`--compare-orders N` also backfills N orders with a naive writer doing
`update_or_create` per order, line and ExternalRef, and prints that ratio.

A throw-away database is created on the PostgreSQL server of `--database-url`
(default: DATABASE_URL) and dropped at the end (`--keep` keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SANDBOX = """
import sys
from sandbox.server import SandboxServer
server = SandboxServer(port={port}, seed={seed}, orders={orders}, products=200, rate_limit=10**9, leak_rate=1e9)
server.state.prerender_orders()  # like a shop's stored rows: pages cost what serving them costs, not generating them
print("ready", flush=True)
server.serve_forever()
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3, help="backfill / COPY rounds, alternating")
    parser.add_argument("--compare-orders", type=int, default=0, help="N of the bulk vs update_or_create run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--database-name", default="",
                        help="the throw-away database's name (default bench_sync_<pid>)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--show-statements", action="store_true", help="print the statements of the page captured")
    parser.add_argument("--pages-from-memory", action="store_true",
                        help="serve the pages from memory (pulled once, untimed) instead of from the sandbox")
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


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class PageMemory:
    """The sandbox's answers to one full pull of the orders, recorded once, replayed by a requests adapter."""

    def __init__(self, url: str, token: str):
        import requests

        from sandbox.data import API_VERSION

        self.answers: dict[tuple[str, tuple], tuple[int, dict[str, str], bytes]] = {}
        from connectors import registry
        from integrations.models import Integration

        # The token header the sandbox connector sends, without the rest of the connector (as sandbox_pull.py).
        auth = registry.get("sandbox")(Integration(provider="sandbox", access_token=token)).auth_headers()
        session, count = requests.Session(), 0
        next_url: str | None = f"{url}/admin/api/{API_VERSION}/orders.json?limit=250&status=any"
        started = time.perf_counter()
        while next_url:
            response = session.get(next_url, headers=auth, timeout=60)
            response.raise_for_status()
            count += len(response.json()["orders"])
            self.answers[self.key(next_url)] = (response.status_code, dict(response.headers), response.content)
            next_url = response.links.get("next", {}).get("url")
        self.seconds, self.orders = time.perf_counter() - started, count

    @staticmethod
    def key(url: str) -> tuple[str, tuple]:
        from urllib.parse import parse_qsl

        parts = urlsplit(url)
        return parts.path, tuple(sorted(parse_qsl(parts.query)))

    def adapter(self):
        import requests
        from requests.adapters import BaseAdapter
        from requests.structures import CaseInsensitiveDict

        memory = self

        class Replay(BaseAdapter):
            def send(self, request, **kwargs):
                status, headers, body = memory.answers[memory.key(request.url)]
                response = requests.Response()
                response.status_code, response._content, response.url = status, body, request.url
                response.headers, response.request, response.encoding = CaseInsensitiveDict(headers), request, "utf-8"
                return response

            def close(self):
                pass

        return Replay()


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


class PageStatements:
    """An on_page callback capturing the statements of one steady page (the engine's connection; COPY included)."""

    def __init__(self, page: int = 3):
        self.page, self.context, self.statements = page, None, None

    def __call__(self, job) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        if job.pages_processed == self.page - 1:
            self.context = CaptureQueriesContext(connection)
            self.context.__enter__()
        elif job.pages_processed == self.page and self.context is not None:
            self.context.__exit__(None, None, None)
            self.statements = [q["sql"] for q in self.context.captured_queries]
            self.context = None


def backfill_round(number: int, args, url: str, token: str, memory: PageMemory | None = None) -> float:
    """One backfill into a fresh integration, then the COPY of what it wrote; returns the round's ratio."""
    from copy_reference import CopyReference

    from commerce.models import ExternalRef, Order, OrderLine
    from integrations.models import IntegrationLog

    marks = {int(args.orders * f): f"{int(f * 100):>3} %" for f in (0.1, 0.25, 0.5)} if number == 1 else {}
    statements = PageStatements(page=max(2, args.orders // 250 - 1))  # a late page: the SKUs exist by then

    def report(job):
        statements(job)
        for at, label in list(marks.items()):
            if job.records_processed >= at:
                print(f"sync_backfill:   {label}: {job.records_processed:>9,} orders, RSS {rss_mb():6.0f} MB, "
                      f"peak {peak_rss_mb():6.0f} MB")
                del marks[at]

    integration = integration_for(url, token, f"bench-bulk-{number}")
    if memory is not None:
        from connectors.sessions import session_for

        session_for(integration.pk).mount(url, memory.adapter())
    print(f"sync_backfill: round {number}: load average {load()}")
    cpu, writing_cpu = time.process_time(), time.thread_time()
    job, seconds = backfill(integration, limit=args.orders, report=report)
    cpu, writing_cpu = time.process_time() - cpu, time.thread_time() - writing_cpu
    rate = job.records_processed / seconds
    if number == 1:
        print(f"sync_backfill:   100 %: {job.records_processed:>9,} orders, RSS {rss_mb():6.0f} MB, "
              f"peak {peak_rss_mb():6.0f} MB")
    orders = Order.objects.filter(integration=integration)
    count, lines = orders.count(), OrderLine.objects.filter(order__integration=integration).count()
    refs = ExternalRef.objects.filter(integration=integration, resource_type="order").count()
    calls = IntegrationLog.objects.filter(integration=integration, action="list_orders").count()
    page_statements = len(statements.statements or [])
    print(f"sync_backfill: round {number}: backfill {job.records_processed:,} orders + {lines:,} lines in "
          f"{seconds:.1f} s = {rate:,.0f} orders/s; CPU here {1e6 * cpu / job.records_processed:,.0f} µs/order "
          f"(writing thread {1e6 * writing_cpu / job.records_processed:,.0f}, fetching thread "
          f"{1e6 * (cpu - writing_cpu) / job.records_processed:,.0f}); "
          f"{page_statements} statements/page ({page_statements / 250:.3f}/order) + 1 call-log row/page "
          f"from the fetching thread; pages {'from memory' if memory else 'from the sandbox'}")

    reference = CopyReference(integration.organization)
    ids = list(orders.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), 250):
        reference.copy(ids[start:start + 250])
    copy_orders, copy_lines, copy_rate = reference.orders, reference.lines, reference.rate
    print(f"sync_backfill: round {number}: COPY of the same rows {copy_orders:,} orders + {copy_lines:,} lines = "
          f"{copy_rate:,.0f} orders/s; 2 statements/page (COPY orders, COPY lines)")
    exact = (job.records_created == count == refs == copy_orders == job.records_processed
             and lines == copy_lines and job.records_failed == 0 and calls == job.pages_processed)
    print(f"sync_backfill: round {number}: correctness {'OK' if exact else 'WRONG'}: created {job.records_created:,}, "
          f"{count:,} orders, {refs:,} refs, {lines:,} lines (COPY {copy_orders:,} / {copy_lines:,}), "
          f"{job.records_failed} failed; {calls} call-log rows for {job.pages_processed} pages")
    if statements.statements and args.show_statements:
        for sql in statements.statements:
            print("sync_backfill:     " + " ".join(sql.split())[:110])
    return rate / copy_rate


def main() -> None:
    args = parse_args()
    name = args.database_name or f"bench_sync_{os.getpid()}"
    database_url = create_database(args.database_url, name)
    sandbox, url = start_sandbox(max(args.orders, args.compare_orders), args.seed)
    try:
        setup_django(database_url)
        token = sandbox_token(url)
        print(f"sync_backfill: sandbox of {max(args.orders, args.compare_orders):,} orders at {url} "
              f"(own process); database {name}; {args.rounds} round(s); RSS before {rss_mb():.0f} MB; "
              f"load average {load()}")
        memory = PageMemory(url, token) if args.pages_from_memory else None
        if memory is not None:
            print(f"sync_backfill: the sandbox alone served {memory.orders:,} orders to bare requests in "
                  f"{memory.seconds:.1f} s = {memory.orders / memory.seconds:,.0f} orders/s (pages now from memory)")
        ratios = [backfill_round(n, args, url, token, memory) for n in range(1, args.rounds + 1)]

        if args.compare_orders:
            n = args.compare_orders
            bulk_job, bulk_s = backfill(integration_for(url, token, "bench-cmp-bulk"), limit=n)
            row_job, row_s = backfill(integration_for(url, token, "bench-cmp-row"), limit=n,
                                      writers=per_row_writers())
            bulk_rate, row_rate = bulk_job.records_processed / bulk_s, row_job.records_processed / row_s
            print(f"sync_backfill: N={n:,}: bulk {bulk_rate:,.0f} orders/s vs per-row update_or_create "
                  f"{row_rate:,.0f} orders/s = {bulk_rate / row_rate:.1f}x")
        print(f"sync_backfill: peak RSS {peak_rss_mb():.0f} MB; load average {load()}")
        print(f"sync_backfill: backfill / COPY of the same rows, per round: {', '.join(f'{r:.3f}' for r in ratios)}; "
              f"median {statistics.median(ratios):.3f}")
    finally:
        sandbox.terminate()
        sandbox.wait(10)
        if not args.keep:
            drop_database(args.database_url, name)


if __name__ == "__main__":
    main()
