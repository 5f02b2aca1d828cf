"""IntegrationLog admin: read-only, scoped, no query that grows with the table. OAuthState admin hides its secrets."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console.pagination import LargeTablePaginator
from integrations.models import IntegrationLog, OAuthState
from tests.factories import IntegrationFactory, IntegrationLogFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:integrations_integrationlog_changelist"
_COUNT = re.compile(r"COUNT\(\*\)", re.IGNORECASE)


def staff_client(organization, role="viewer"):
    user = MembershipFactory(organization=organization, role=role).user
    client = Client()
    client.force_login(user)
    return client


def superuser_client():
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def assert_no_unbounded_count_or_distinct(queries):
    for query in queries:
        sql = query["sql"]
        if _COUNT.search(sql):
            assert re.search(r"FROM \(SELECT .* LIMIT \d+\) subquery", sql, re.IGNORECASE), sql
        assert "DISTINCT" not in sql.upper(), sql


def test_log_admin_is_read_only(org):
    log = IntegrationLogFactory(integration=IntegrationFactory(organization=org))
    client = staff_client(org, role="owner")
    page = client.get(reverse("admin:integrations_integrationlog_change", args=[log.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.get(reverse("admin:integrations_integrationlog_add")).status_code == 403
    assert client.get(reverse("admin:integrations_integrationlog_delete", args=[log.pk])).status_code == 403
    response = client.post(reverse("admin:integrations_integrationlog_change", args=[log.pk]), {"action": "x"})
    assert response.status_code == 403
    changelist = client.get(reverse(CHANGELIST))
    assert "delete_selected" not in changelist.content.decode()


@pytest.mark.parametrize("who", ["member", "superuser"])
def test_changelist_runs_no_unbounded_count_and_no_distinct(org, who):
    integration = IntegrationFactory(organization=org)
    now = timezone.now()
    for i in range(30):
        IntegrationLogFactory(integration=integration, created_at=now - timedelta(days=400 + i),
                              status_code=500 if i % 3 else 200, action=f"act_{i % 4}")
    IntegrationLogFactory(integration=integration, created_at=now)
    client = staff_client(org) if who == "member" else superuser_client()
    for params in ({}, {"status_class": "5"}, {"action": "act_1"}, {"direction": "outbound"},
                   {"created_at__year": str((now - timedelta(days=400)).year)}):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse(CHANGELIST), params)
        assert response.status_code == 200, params
        assert_no_unbounded_count_or_distinct(ctx.captured_queries)
        sqls = [q["sql"] for q in ctx.captured_queries]
        assert any(_COUNT.search(sql) or "reltuples" in sql for sql in sqls), "the page must still count, cheaply"


def test_filters_narrow_the_list(org):
    integration = IntegrationFactory(organization=org)
    IntegrationLogFactory(integration=integration, status_code=503, action="push_stock", endpoint="/fail-here")
    IntegrationLogFactory(integration=integration, status_code=200, action="list_orders", endpoint="/ok-here")
    client = staff_client(org)
    body = client.get(reverse(CHANGELIST), {"status_class": "5"}).content.decode()
    assert "/fail-here" in body and "/ok-here" not in body
    body = client.get(reverse(CHANGELIST), {"action": "list_orders"}).content.decode()
    assert "/ok-here" in body and "/fail-here" not in body
    body = client.get(reverse(CHANGELIST)).content.decode()
    assert "push_stock" in body and "list_orders" in body  # offered as action choices


def test_date_hierarchy_lists_the_years_between_first_and_last_row(org):
    integration = IntegrationFactory(organization=org)
    IntegrationLogFactory(integration=integration, created_at=datetime(2023, 5, 2, tzinfo=UTC))
    IntegrationLogFactory(integration=integration, created_at=datetime(2025, 1, 9, tzinfo=UTC))
    client = staff_client(org)
    body = client.get(reverse(CHANGELIST)).content.decode()
    for year in ("2023", "2024", "2025"):
        assert f"created_at__year={year}" in body
    body = client.get(reverse(CHANGELIST), {"created_at__year": "2025"}).content.decode()
    assert "created_at__month=1" in body and "created_at__month=2" not in body


def test_member_sees_only_their_organizations_logs(org, other_org):
    mine = IntegrationLogFactory(integration=IntegrationFactory(organization=org), endpoint="/mine")
    theirs = IntegrationLogFactory(integration=IntegrationFactory(organization=other_org), endpoint="/theirs")
    client = staff_client(org)
    body = client.get(reverse(CHANGELIST)).content.decode()
    assert "/mine" in body and "/theirs" not in body
    assert theirs.integration.code not in body  # not even as an integration filter choice
    response = client.get(reverse("admin:integrations_integrationlog_change", args=[theirs.pk]))
    assert response.status_code == 302  # "does not exist", like a deleted row
    assert client.get(reverse("admin:integrations_integrationlog_change", args=[mine.pk])).status_code == 200


def test_paginator_counts_at_most_the_cap(org, monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "count_cap", 5)
    monkeypatch.setattr(LargeTablePaginator, "max_pages", 2)
    integration = IntegrationFactory(organization=org)
    IntegrationLogFactory.create_batch(12, integration=integration)
    paginator = LargeTablePaginator(IntegrationLog.objects.filter(organization=org).order_by("-created_at"), 2)
    with CaptureQueriesContext(connection) as ctx:
        assert paginator.count == 6  # cap + 1: "more than the cap"
    assert "LIMIT 6" in ctx.captured_queries[0]["sql"]
    assert paginator.num_pages == 2


@pytest.mark.postgres
def test_unfiltered_count_on_postgres_is_the_planner_estimate(org, monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "count_cap", 5)
    integration = IntegrationFactory(organization=org)
    IntegrationLogFactory.create_batch(40, integration=integration)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {IntegrationLog._meta.db_table}")
    with CaptureQueriesContext(connection) as ctx:
        count = LargeTablePaginator(IntegrationLog.objects.order_by("-created_at"), 10).count
    assert count == 40
    assert len(ctx.captured_queries) == 1
    assert "reltuples" in ctx.captured_queries[0]["sql"]
    assert not _COUNT.search(ctx.captured_queries[0]["sql"])


def test_oauth_state_admin_never_shows_the_verifier_or_whole_state(org):
    state = OAuthState.objects.create(
        state="state-ABCDEFGH-rest-of-the-state-value", provider="sandbox", organization=org,
        redirect_uri="https://app.example/cb", code_verifier="verifier-SECRET-9f8e7d6c5b",
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    client = staff_client(org, role="owner")
    for url in (reverse("admin:integrations_oauthstate_changelist"),
                reverse("admin:integrations_oauthstate_change", args=[state.pk])):
        response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert "verifier-SECRET" not in body
        assert "rest-of-the-state-value" not in body
    assert client.get(reverse("admin:integrations_oauthstate_add")).status_code == 403
