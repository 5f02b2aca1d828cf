"""The admin index as a dashboard: health rows per integration, 24-hour charts, scoped to the operator's orgs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console.dashboard import dashboard_get, integration_health_rows
from integrations.health_selectors import Health
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory, IntegrationLogFactory, OrganizationFactory, UserFactory
from webhooks.models import DeliveryStatus, IncomingStatus, IncomingWebhook, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def job(integration, status, *, ago=timedelta(minutes=30), job_type=JobType.SYNC_ORDERS):
    return SyncJob.objects.create(integration=integration, organization=integration.organization, job_type=job_type,
                                  trigger=Trigger.SCHEDULE, status=status, created_at=timezone.now() - ago)


def webhook(integration, status, n=1):
    for i in range(n):
        IncomingWebhook.objects.create(integration=integration, organization=integration.organization, body=b"{}",
                                       status=status, event_type="orders/updated",
                                       external_id=f"{integration.code}-{status}-{i}")


def endpoint(integration, **fields):
    return WebhookEndpoint.objects.create(organization=integration.organization, integration=integration,
                                          url="https://receiver.example/hook", events=["*"], secret="whsec_x",
                                          **fields)


def health_of(rows, integration):
    return next(row for row in rows if row.integration.pk == integration.pk)


def test_each_light_follows_the_integration_state(org):
    ok = IntegrationFactory(organization=org)
    for _ in range(10):
        IntegrationLogFactory(integration=ok, status_code=200)
    job(ok, JobStatus.COMPLETED)
    noisy = IntegrationFactory(organization=org)
    for code in (200, 200, 500, 502, 200, 200):
        IntegrationLogFactory(integration=noisy, status_code=code)
    failed_hooks = IntegrationFactory(organization=org)
    webhook(failed_hooks, IncomingStatus.FAILED, 2)
    webhook(failed_hooks, IncomingStatus.PENDING, 3)
    bad_endpoint = IntegrationFactory(organization=org)
    endpoint(bad_endpoint, failing_since=timezone.now() - timedelta(hours=2))
    broken = IntegrationFactory(organization=org, status="error", last_error="PROVIDER_ERROR: 500 from the shop")
    reauth = IntegrationFactory(organization=org, status="pending_auth")
    off = IntegrationFactory(organization=org, status="inactive")
    last_failed = IntegrationFactory(organization=org, consecutive_failures=1)
    job(last_failed, JobStatus.FAILED)

    rows, more = integration_health_rows(organization_ids=[org.pk])

    assert more == 0 and len(rows) == 8
    assert health_of(rows, ok).health == Health.OK and health_of(rows, ok).reasons == []
    assert health_of(rows, ok).facts.last_job_status == JobStatus.COMPLETED
    row = health_of(rows, noisy)
    assert (row.health, row.facts.calls, row.facts.call_errors) == (Health.DEGRADED, 6, 2)
    assert "33% of calls failed in 24 h" in row.reasons
    row = health_of(rows, failed_hooks)
    assert (row.health, row.facts.webhooks_pending, row.facts.webhooks_failed) == (Health.DEGRADED, 3, 2)
    assert (health_of(rows, bad_endpoint).health, health_of(rows, bad_endpoint).facts.endpoints_failing) == (
        Health.DEGRADED, 1)
    assert health_of(rows, broken).health == Health.ERROR
    assert health_of(rows, broken).reasons == ["PROVIDER_ERROR: 500 from the shop"]
    assert health_of(rows, reauth).health == Health.REAUTH
    assert health_of(rows, off).health == Health.PAUSED
    row = health_of(rows, last_failed)
    assert row.health == Health.DEGRADED and "last sync failed" in row.reasons


def test_calls_older_than_a_day_do_not_count(org):
    integration = IntegrationFactory(organization=org)
    for _ in range(6):
        IntegrationLogFactory(integration=integration, status_code=500, created_at=timezone.now() - timedelta(hours=25))
    IntegrationLogFactory(integration=integration, status_code=200)
    row = health_of(integration_health_rows(organization_ids=[org.pk])[0], integration)
    assert (row.facts.calls, row.facts.call_errors, row.health) == (1, 0, Health.OK)


def _queries(organization_ids) -> int:
    with CaptureQueriesContext(connection) as queries:
        dashboard_get(organization_ids=organization_ids)
    return len(queries)


def test_the_dashboard_costs_the_same_queries_for_2_or_20_integrations(org):
    def populate(n):
        for _ in range(n):
            integration = IntegrationFactory(organization=org)
            IntegrationLogFactory(integration=integration, status_code=500)
            job(integration, JobStatus.COMPLETED)
            webhook(integration, IncomingStatus.FAILED)
            endpoint(integration, failing_since=timezone.now())

    populate(2)
    few = _queries([org.pk])
    populate(18)
    many = _queries([org.pk])
    # integrations, their health (calls, secrets' key ids, webhooks, endpoints, jobs), three charts
    assert few == many <= 9


def test_the_series_count_the_last_24_hours_by_hour_and_status(org):
    integration = IntegrationFactory(organization=org)
    job(integration, JobStatus.COMPLETED, ago=timedelta(minutes=5))
    job(integration, JobStatus.FAILED, ago=timedelta(minutes=6), job_type=JobType.SYNC_PRODUCTS)
    job(integration, JobStatus.COMPLETED, ago=timedelta(hours=3), job_type=JobType.SYNC_INVENTORY)
    job(integration, JobStatus.COMPLETED, ago=timedelta(hours=30), job_type=JobType.BACKFILL)  # outside
    webhook(integration, IncomingStatus.COMPLETED, 4)
    webhook(integration, IncomingStatus.FAILED, 1)
    target = endpoint(integration)
    for status in (DeliveryStatus.DELIVERED, DeliveryStatus.DELIVERED, DeliveryStatus.DELIVERED,
                   DeliveryStatus.FAILED):
        WebhookDelivery.objects.create(endpoint=target, organization=org, event="order.created", event_id="e",
                                       payload={}, status=status)

    board = dashboard_get(organization_ids=[org.pk])

    assert len(board.syncs.hours) == 24
    assert board.syncs.total("completed") == 2 and board.syncs.total("failed") == 1
    assert board.incoming.total("completed") == 4 and board.incoming.total("failed") == 1
    assert [r for r in board.delivery_success_rate if r is not None] == [0.75]


def test_an_operator_sees_only_their_organizations_and_a_superuser_sees_all(org, staff):
    mine = IntegrationFactory(organization=org, name="Mine shop", code="mine-shop")
    elsewhere = OrganizationFactory(name="Elsewhere Ltd")
    theirs = IntegrationFactory(organization=elsewhere, name="Their shop", code="their-shop")

    page = staff(org, "operator").get(reverse("admin:index")).content.decode()
    assert 'id="switchyard-dashboard"' in page
    assert 'data-code="mine-shop"' in page and "their-shop" not in page and "Elsewhere Ltd" not in page

    boss = UserFactory(is_superuser=True)
    client = staff(org, "viewer")
    client.force_login(boss)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'data-code="mine-shop"' in page and 'data-code="their-shop"' in page
    assert mine.pk != theirs.pk


def test_the_dashboard_page_has_three_svg_charts_and_loads_nothing_from_elsewhere(org, staff, shop_integration):
    job(shop_integration, JobStatus.COMPLETED, ago=timedelta(minutes=1))
    page = staff(org, "viewer").get(reverse("admin:index")).content.decode()

    assert page.count("<svg class=\"switchyard-chart") == 3
    assert 'aria-label="Syncs per hour by result"' in page
    assert re.search(r'<rect class="bar bar-completed"[^>]*><title>\d\d:00: 1 completed</title>', page)
    assert "Needs re-auth" not in page and ">OK<" in page
    external = re.findall(r'(?:src|href)="(https?:)?//[^"]+"', page)
    assert external == [], external  # no CDN: the console works offline


def test_a_staff_user_without_membership_gets_no_dashboard(db, staff):
    lonely = UserFactory()
    client = staff(OrganizationFactory(), "viewer")
    client.force_login(lonely)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="switchyard-dashboard"' not in page


def test_beat_tables_are_grouped_under_schedules(db):
    boss = UserFactory(is_superuser=True)
    from django.test import Client

    client = Client()
    client.force_login(boss)
    page = client.get(reverse("admin:index")).content.decode()
    schedules = page.index(">Schedules<")
    assert "Periodic tasks" in page[schedules:] and "Periodic Tasks<" not in page
    assert page.index("Integrations<") < schedules  # the working apps first, schedules last
    app_page = client.get(reverse("admin:app_list", args=["django_celery_beat"])).content.decode()
    assert "Schedules administration" in app_page
