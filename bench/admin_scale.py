"""How long the call log's admin pages take on a million IntegrationLog rows (PostgreSQL).

    DATABASE_URL=postgres://… .venv/bin/python bench/admin_scale.py [--rows 1000000] [--repeat 5]

Creates a scratch test database next to DATABASE_URL's (test_<name>, dropped at
the end), seeds `--rows` calls of two organizations' shops with one INSERT …
SELECT generate_series (tests/console/scale.py), then renders each page with
Django's test client `--repeat` times and prints the median time and how many
queries it made. For comparison it times the plain COUNT(*) that Django's own
paginator would run on every page of the unfiltered list.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("bench/admin_scale.py needs PostgreSQL: set DATABASE_URL=postgres://…")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args) -> None:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from integrations.models import IntegrationLog
    from tests.console.scale import seed_integration_logs
    from tests.factories import IntegrationFactory, MembershipFactory, OrganizationFactory, UserFactory

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    shops = [IntegrationFactory(organization=OrganizationFactory()) for _ in range(2)]
    started = time.perf_counter()
    seed_integration_logs(shops, args.rows)
    print(f"seeded {args.rows:,} IntegrationLog rows in {time.perf_counter() - started:.1f} s")

    boss, operator = Client(), Client()
    boss.force_login(UserFactory(is_superuser=True))
    operator.force_login(MembershipFactory(organization=shops[0].organization, role="operator").user)
    now = timezone.now()
    url = reverse("admin:integrations_integrationlog_changelist")
    pages = [
        ("superuser, unfiltered", boss, {}),
        ("superuser, page 50", boss, {"p": "50"}),
        ("operator (one organization)", operator, {}),
        ("operator, 5xx of one integration", operator, {"status_class": "5", "integration": str(shops[0].pk)}),
        ("operator, 5xx, this month", operator, {"status_class": "5", "integration": str(shops[0].pk),
                                                 "created_at__year": str(now.year),
                                                 "created_at__month": str(now.month)}),
        ("operator, action=refresh_token", operator, {"action": "refresh_token"}),
    ]
    print(f"{'page':40} {'median ms':>10} {'queries':>8}")
    for label, client, params in pages:
        times, queries = [], 0
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as captured:
                begun = time.perf_counter()
                response = client.get(url, params)
                times.append((time.perf_counter() - begun) * 1000)
            assert response.status_code == 200, (label, response.status_code)
            queries = len(captured.captured_queries)
        print(f"{label:40} {statistics.median(times):10.1f} {queries:8d}")

    begun = time.perf_counter()
    total = IntegrationLog.objects.count()
    print(f"for comparison, one full COUNT(*) of the table ({total:,} rows): "
          f"{(time.perf_counter() - begun) * 1000:.1f} ms, which Django's paginator would run on every page")


if __name__ == "__main__":
    main()
