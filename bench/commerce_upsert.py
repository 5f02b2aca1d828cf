"""How fast `commerce.services.upsert_orders` writes pages of orders, with no HTTP and no sync engine around it.

    .venv/bin/python bench/commerce_upsert.py [--orders 20000] [--lines 3] [--page 250] [--endpoints 0]
                                              [--database-url postgres://…]

It isolates the write path that `bench/sync_backfill.py` measures end to end:
generated, already normalized orders (the connectors' `normalize_order`
shape, N orders × `--lines` lines over `--skus` SKUs) are written a page at a
time, each page in its own transaction as the sync engine writes it. Three
passes over the same N orders:

- create: every order is new (the backfill case);
- re-run: the same pages again, which must change nothing (0 created, 0 updated);
- update: every order a minute newer with another status (cancelled: its
  reservations are released), so every order, line, ref and stock level is written.

For each pass it prints orders/s, this process's CPU time per page and per
order (steadier than wall time on a shared machine; the server's share is not
in it) and the SQL statements of one page (COPY included) and per order, and
at the end this process's peak RSS (pages are generated one at a time, so it
does not grow with N: run two N to see it). `--endpoints K` adds K active
webhook endpoints subscribed to every event, so each created or updated order
also publishes its event; `--stock-mode push` makes the channel's orders
reserve ERP stock (the sandbox's default, `import`, nets its open orders).

The reference, in the same run: after each page of the create pass, the rows
it wrote are read back (untimed) and COPYed again into a reference integration
(bench/copy_reference.py), so both see the same load on a shared machine. The
last line is the create pass's rate over COPY's, and the correctness line
before it checks exact row counts.

A throw-away database is created on the PostgreSQL server of `--database-url`
(default: DATABASE_URL) and dropped at the end (`--keep` keeps it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from copy_reference import CopyReference  # noqa: E402
from sync_backfill import create_database, drop_database, peak_rss_mb, rss_mb, setup_django  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--lines", type=int, default=3, help="lines per order")
    parser.add_argument("--page", type=int, default=250, help="orders per page (the connectors' page size)")
    parser.add_argument("--skus", type=int, default=200, help="distinct SKUs the lines draw from")
    parser.add_argument("--endpoints", type=int, default=0, help="active webhook endpoints subscribed to every event")
    parser.add_argument("--stock-mode", choices=["import", "push"], default="import",
                        help="push: the channel's open orders reserve ERP stock (import: the sandbox nets them)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--database-name", default="",
                        help="the throw-away database's name (default bench_upsert_<pid>)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")):
        parser.error("give a PostgreSQL server with --database-url or DATABASE_URL (postgres://user@host:port/db)")
    return args


def order(i: int, *, lines: int, skus: int, minutes: int = 0, status: str = "paid") -> dict:
    """One normalized order, as a connector's `normalize_order` hands it over."""
    updated_at = T0 + timedelta(seconds=i, minutes=minutes)
    price = Decimal("12.50")
    return {
        "external_id": str(1_000_000 + i), "number": f"#{1000 + i}", "name": f"#{1000 + i}", "status": status,
        "financial_status": "paid", "fulfillment_status": "", "currency": "RON",
        "subtotal": price * lines, "total_discounts": Decimal("0"), "total_tax": Decimal("0"),
        "total_shipping": Decimal("0"), "total": price * lines,
        "customer": {"external_id": f"c{i % 997}", "email": f"buyer{i}@example.com", "name": "Ana Pop"},
        "shipping_address": {"country_code": "RO", "city": "Cluj", "address1": f"Str. Lunga {i}", "zip": "400000"},
        "billing_address": {"country_code": "RO", "city": "Cluj"},
        "placed_at": updated_at - timedelta(hours=1), "updated_at": updated_at,
        "cancelled_at": updated_at if status == "cancelled" else None,
        "lines": [
            {"external_id": f"{i}-{n}", "sku": f"SKU-{(i * 7 + n) % skus:05d}", "title": f"Product {(i + n) % skus}",
             "quantity": 1 + n % 2, "price": price, "total": price * (1 + n % 2), "fulfilled_quantity": 0}
            for n in range(lines)
        ],
    }


def pages(args: argparse.Namespace, **changes) -> Iterator[list[dict]]:
    for start in range(0, args.orders, args.page):
        yield [order(i, lines=args.lines, skus=args.skus, **changes) for i in range(start, min(args.orders,
                                                                                              start + args.page))]


def run_pass(label: str, integration, args: argparse.Namespace, reference=None,
             **changes) -> tuple[float, dict[str, int]]:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from commerce.models import Order
    from commerce.services import upsert_orders

    totals = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    statements = None
    seconds = cpu = 0.0
    for number, page in enumerate(pages(args, **changes)):
        started, cpu_started = time.perf_counter(), time.process_time()
        if number == 1:  # a page in the steady state: the first may create the SKUs' products and stock levels
            with CaptureQueriesContext(connection) as queries, transaction.atomic():
                result = upsert_orders(integration=integration, orders=page)
            statements = len(queries.captured_queries)
        else:
            with transaction.atomic():
                result = upsert_orders(integration=integration, orders=page)
        seconds += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        totals["created"] += result.created
        totals["updated"] += result.updated
        totals["unchanged"] += result.unchanged
        totals["failed"] += len(result.failed)
        if reference is not None:  # the same rows again by COPY, right after, under the same load
            reference.copy(list(Order.objects.filter(integration=integration, external_id__in=[
                r["external_id"] for r in page]).values_list("pk", flat=True)))
    rate, page_count = args.orders / seconds, -(-args.orders // args.page)
    per_order = f"{statements / args.page:.3f}" if statements is not None else "-"
    print(f"commerce_upsert: {label:<8} {args.orders:>8,} orders in {seconds:6.1f} s = {rate:7,.0f} orders/s; "
          f"CPU here {1000 * cpu / page_count:5.1f} ms/page, {1e6 * cpu / args.orders:5.0f} µs/order; "
          f"{statements if statements is not None else '-':>3} statements/page ({per_order}/order); "
          f"{', '.join(f'{k} {v:,}' for k, v in totals.items())}; RSS {rss_mb():.0f} MB")
    return rate, totals


def main() -> None:
    args = parse_args()
    name = args.database_name or f"bench_upsert_{os.getpid()}"
    database_url = create_database(args.database_url, name)
    try:
        setup_django(database_url)
        from accounts.models import Organization
        from commerce.models import ExternalRef, Order, OrderLine
        from integrations.models import Integration
        from webhooks.models import WebhookDelivery, WebhookEndpoint

        organization = Organization.objects.create(slug="bench-upsert", name="Bench upsert")
        integration = Integration.objects.create(
            organization=organization, name="Bench upsert", code="bench-upsert", type="ecommerce",
            provider="sandbox", status="active", stock_mode=args.stock_mode,
        )
        for n in range(args.endpoints):
            WebhookEndpoint.objects.create(organization=organization, url=f"https://hooks.example.com/{n}",
                                           events=["*"], secret=f"whsec_bench{n}")
        print(f"commerce_upsert: {args.orders:,} orders × {args.lines} lines over {args.skus} SKUs, pages of "
              f"{args.page}, {args.endpoints} endpoint(s), stock mode {args.stock_mode}; database {name}; "
              f"RSS before {rss_mb():.0f} MB")

        reference = CopyReference(organization)
        create_rate, created = run_pass("create", integration, args, reference=reference)
        _, again = run_pass("re-run", integration, args)
        run_pass("update", integration, args, minutes=1, status="cancelled")
        print(f"commerce_upsert: COPY     {reference.orders:>8,} orders in {reference.seconds:6.1f} s = "
              f"{reference.rate:7,.0f} orders/s; 2 statements/page (COPY orders, COPY lines)")
        orders = Order.objects.filter(integration=integration).count()
        refs = ExternalRef.objects.filter(integration=integration, resource_type="order").count()
        lines = OrderLine.objects.filter(order__integration=integration).count()
        copied_orders, copied_lines = reference.counts()
        deliveries = WebhookDelivery.objects.filter(organization=organization).count()
        exact = (created["created"] == orders == refs == copied_orders == args.orders
                 and lines == copied_lines == args.orders * args.lines and again["created"] == again["updated"] == 0)
        print(f"commerce_upsert: correctness {'OK' if exact else 'WRONG'}: {orders:,} orders, {refs:,} refs, "
              f"{lines:,} lines (expected {args.orders:,} / {args.orders * args.lines:,}); COPY wrote "
              f"{copied_orders:,} / {copied_lines:,}; re-run created {again['created']} updated {again['updated']}; "
              f"{deliveries:,} deliveries; peak RSS {peak_rss_mb():.0f} MB")
        print(f"commerce_upsert: create pass {create_rate:,.0f} orders/s / COPY of the same rows {reference.rate:,.0f} "
              f"orders/s (interleaved per page) = {create_rate / reference.rate:.2f}")
    finally:
        if not args.keep:
            drop_database(args.database_url, name)


if __name__ == "__main__":
    main()
