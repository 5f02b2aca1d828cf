"""config.claims.claimable: claimers pass over each other's rows on PostgreSQL, and take turns on SQLite."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import Organization
from config.claims import claimable
from tests.factories import OrganizationFactory


@pytest.mark.postgres
def test_a_second_claimer_skips_the_rows_the_first_holds(transactional_db):
    first, second = OrganizationFactory(), OrganizationFactory()
    seen: list[list[int]] = []

    def other_claimer() -> None:
        try:
            with transaction.atomic():
                seen.append(list(claimable(Organization.objects.order_by("pk")).values_list("pk", flat=True)))
        finally:
            connections.close_all()

    with transaction.atomic():
        assert list(claimable(Organization.objects.filter(pk=first.pk)).values_list("pk", flat=True)) == [first.pk]
        thread = threading.Thread(target=other_claimer)
        thread.start()
        thread.join(timeout=10)
    assert seen == [[second.pk]]


def test_a_claim_reads_the_rows_on_any_database_under_its_lock(db):
    org = OrganizationFactory()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert list(claimable(Organization.objects.all()).values_list("pk", flat=True)) == [org.pk]
    sql = [q["sql"] for q in queries.captured_queries]
    if connection.vendor == "postgresql":
        assert any("FOR UPDATE" in s and "SKIP LOCKED" in s for s in sql)
    else:  # the write lock first: a no-op UPDATE, then the read
        assert sql[0].startswith("UPDATE") and sql[-1].startswith("SELECT")
