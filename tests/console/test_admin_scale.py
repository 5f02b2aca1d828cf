"""The call log's admin on a million rows (PostgreSQL): what the pages ask the database, not how long it takes.

Django's changelist would COUNT(*) the whole table for its paginator, SELECT
DISTINCT dates for the date hierarchy and SELECT DISTINCT values for filters.
Here every query is bounded: the count is the planner's estimate (unscoped) or
a count capped by LIMIT (scoped or filtered), the dates come from one MIN/MAX,
the page is a LIMIT 100; and none of them scans the table (EXPLAIN shows no
sequential scan of it).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations.models import IntegrationLog
from tests.factories import IntegrationFactory, MembershipFactory, OrganizationFactory, UserFactory

from .scale import seed_integration_logs

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ROWS = 1_000_000
TABLE = IntegrationLog._meta.db_table
CHANGELIST = "admin:integrations_integrationlog_changelist"


@pytest.fixture
def million():
    """Two organizations' shops, half a million calls each."""
    shops = [IntegrationFactory(organization=OrganizationFactory()) for _ in range(2)]
    seed_integration_logs(shops, ROWS)
    return shops


def _log_queries(client: Client, params: dict | None = None) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse(CHANGELIST), params or {})
    assert response.status_code == 200
    return response.content.decode(), [q["sql"] for q in captured.captured_queries if TABLE in q["sql"]]


def _kinds(queries: list[str]) -> list[str]:
    """Each query on the log table by what it does."""
    kinds = []
    for sql in queries:
        if "reltuples" in sql:
            kinds.append("estimate")
        elif re.search(r"COUNT\(", sql):
            kinds.append("capped count" if re.search(r"LIMIT 10001\b", sql) else "FULL COUNT")
        elif "MIN(" in sql and "MAX(" in sql:
            kinds.append("min/max")
        elif re.search(r"LIMIT 2000\b", sql):
            kinds.append("recent values")
        elif re.search(r"LIMIT 100\b", sql):
            kinds.append("page")
        else:
            kinds.append(f"OTHER: {sql[:200]}")
    return sorted(kinds)


def _unbounded_scans(plan: dict, under_limit: bool = False) -> list[str]:
    """Sequential scans of the log table with no LIMIT above them: reads that grow with the table."""
    under_limit = under_limit or plan["Node Type"] == "Limit"
    found = []
    if plan["Node Type"] == "Seq Scan" and plan.get("Relation Name") == TABLE and not under_limit:
        found.append(f"Seq Scan on {TABLE}")
    for child in plan.get("Plans", []):
        found += _unbounded_scans(child, under_limit)
    return found


def _table_scans(queries: list[str]) -> list[str]:
    """EXPLAIN each query: the log table is read through an index, or sequentially only until a LIMIT is met."""
    scans = []
    with connection.cursor() as cursor:
        for sql in queries:
            if "reltuples" in sql:
                continue
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            plan = cursor.fetchone()[0]
            plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
            scans += [f"{found}: {sql}" for found in _unbounded_scans(plan)]
    return scans


def _rows_on_page(body: str) -> int:
    return body.count('<td class="field-integration')


def test_a_million_calls_are_listed_and_filtered_with_bounded_queries(million):
    assert IntegrationLog.objects.order_by().values("pk")[:ROWS + 1].count() == ROWS
    boss = Client()
    boss.force_login(UserFactory(is_superuser=True))

    body, queries = _log_queries(boss)
    assert _kinds(queries) == ["estimate", "min/max", "page", "recent values"], queries
    assert _rows_on_page(body) == 100
    assert not _table_scans(queries)

    # An operator: the list is scoped to their organization, so the count is a capped count.
    shop = million[0]
    operator = Client()
    operator.force_login(MembershipFactory(organization=shop.organization, role="operator").user)
    _, queries = _log_queries(operator)
    assert _kinds(queries) == ["capped count", "min/max", "page", "recent values"], queries
    assert not _table_scans(queries)

    # Filtered: 5xx calls of one integration in one month, the way an operator drills down.
    then = timezone.now() - timedelta(days=6)  # inside the seeded eleven days, whatever today's date
    body, queries = _log_queries(operator, {"status_class": "5", "integration": str(shop.pk),
                                            "created_at__year": str(then.year), "created_at__month": str(then.month)})
    assert _kinds(queries) == ["capped count", "min/max", "page", "recent values"], queries
    assert _rows_on_page(body) == 100
    assert not _table_scans(queries)
    page = IntegrationLog.objects.filter(integration=shop, status_code__gte=500, status_code__lt=600,
                                         created_at__year=then.year, created_at__month=then.month)
    newest = page.order_by("-created_at", "-id").first()
    assert reverse("admin:integrations_integrationlog_change", args=[newest.pk]) in body
