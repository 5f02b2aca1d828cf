"""A full product import from a local sandbox shop: one bulk export against GraphQL pages, then the write.

    .venv/bin/python bench/product_import.py [--products 2000] [--seed 1]

Starts a sandbox on a free port (in a temporary SQLite database, migrated here; `--default-db` uses the
configured one), then pulls every product twice through the sandbox connector: paged GraphQL
(`config["bulk_import"] = false`: 10 products a call) as the same-run reference, and as one bulk
export (start, poll, one JSONL download). Prints calls and seconds of each and their ratio, then writes
the bulk pull through `resource_import` (products, variants, images, attributes) and prints the
statements per page and products per second, and the statements a second, unchanged import makes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--default-db", action="store_true", help="use the configured database, not a temporary one")
    return parser.parse_args()


def setup_django(tmp: str, default_db: bool) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if not default_db:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["OUTBOUND_URL_ALLOWLIST"] = "127.0.0.1"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def pull(integration, *, bulk: bool) -> tuple[list, int, float]:
    from connectors import registry
    from integrations.models import IntegrationLog

    integration.config = {**integration.config, "bulk_import": bulk}
    before = IntegrationLog.objects.filter(integration=integration).count()
    started = time.perf_counter()
    pages = list(registry.connector_for(integration).iter_products())
    elapsed = time.perf_counter() - started
    return pages, IntegrationLog.objects.filter(integration=integration).count() - before, elapsed


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(tmp, args.default_db)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from accounts.models import Organization
        from commerce.models import Product, ProductAttribute, ProductImage
        from connectors import registry
        from integrations.models import Integration
        from sandbox.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxServer
        from syncjobs.resources import ImportSource, resource_import

        with SandboxServer(port=0, seed=args.seed, orders=1, products=args.products, rate_limit=1_000_000,
                           leak_rate=1_000_000.0) as sandbox:
            organization, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
            integration = Integration.objects.create(
                organization=organization, name="Bench sandbox", code=f"bench-products-{int(time.time())}",
                type="ecommerce", provider="sandbox", status="active", api_endpoint=sandbox.url,
                api_key=DEFAULT_CLIENT_ID, api_secret=DEFAULT_CLIENT_SECRET,
                access_token=sandbox.issue_tokens()["access_token"], config={"rate_limit": None})
            paged, paged_calls, paged_s = pull(integration, bulk=False)
            bulk, bulk_calls, bulk_s = pull(integration, bulk=True)
        count = sum(len(p.items) for p in bulk)
        assert count == sum(len(p.items) for p in paged) == args.products
        print(f"product_import: paged GraphQL {count:,} products, {paged_calls} calls in {paged_s:.2f} s (reference)")
        print(f"product_import: bulk export   {count:,} products, {bulk_calls} calls in {bulk_s:.2f} s "
              f"= {paged_s / bulk_s:.1f}x faster, {paged_calls / bulk_calls:.0f}x fewer calls")
        connector = registry.connector_for(integration)
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as first:
            for page in bulk:
                resource_import(integration, "products", page.items, source=ImportSource.SYNC, connector=connector)
        written = time.perf_counter() - started
        with CaptureQueriesContext(connection) as again:
            for page in bulk:
                resource_import(integration, "products", page.items, source=ImportSource.SYNC, connector=connector)
        print(f"product_import: write {count:,} products ({Product.objects.count():,} SKUs, "
              f"{ProductImage.objects.count():,} images, {ProductAttribute.objects.count():,} attributes) in "
              f"{written:.2f} s = {count / written:,.0f} products/s, {len(first.captured_queries) / len(bulk):.0f} "
              f"statements per page of {len(bulk[0].items)}; unchanged again: "
              f"{len(again.captured_queries) / len(bulk):.0f} per page")
        print(f"product_import: load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
