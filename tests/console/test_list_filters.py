"""The big lists' filters, date hierarchies and columns read bounded data: no SELECT DISTINCT or GROUP BY over a
table that grows with traffic, and no query per row."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory, OrganizationFactory, UserFactory
from webhooks.models import (
    DeliveryStatus,
    IncomingWebhook,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
)

pytestmark = pytest.mark.django_db

TABLES = {
    "admin:webhooks_incomingwebhook_changelist": IncomingWebhook._meta.db_table,
    "admin:webhooks_webhookdelivery_changelist": WebhookDelivery._meta.db_table,
    "admin:syncjobs_syncjob_changelist": SyncJob._meta.db_table,
}


def superuser_client() -> Client:
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    return client


def endpoint_of(org, url="https://erp.example/h") -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(organization=org, url=url, events=["*"], secret="whsec_x")


def rows_over_two_years(org, integration) -> None:
    endpoint = endpoint_of(org)
    for n, when in enumerate((timezone.now() - timedelta(days=400), timezone.now())):
        IncomingWebhook.objects.create(integration=integration, organization=org, body=b"{}", external_id=f"e{n}",
                                       received_at=when)
        WebhookDelivery.objects.create(endpoint=endpoint, organization=org, event="order.created",
                                       event_id=f"m{n}", payload={}, created_at=when)
        SyncJob.objects.create(integration=integration, organization=org, job_type=JobType.SYNC_ORDERS,
                               trigger=Trigger.MANUAL, status=JobStatus.COMPLETED, created_at=when)


def scans(captured, table: str) -> list[str]:
    return [q["sql"] for q in captured.captured_queries
            if table in q["sql"] and re.search(r"\bDISTINCT\b|\bGROUP BY\b", q["sql"])]


@pytest.mark.parametrize("changelist", sorted(TABLES))
@pytest.mark.parametrize("who", ["staff", "superuser"])
def test_no_distinct_or_group_by_over_the_table(org, staff, shop_integration, changelist, who):
    rows_over_two_years(org, shop_integration)
    client = superuser_client() if who == "superuser" else staff(org, "operator")
    with CaptureQueriesContext(connection) as captured:
        page = client.get(reverse(changelist))
    assert page.status_code == 200
    assert scans(captured, TABLES[changelist]) == []
    html = page.content.decode()
    assert f"__year={timezone.now().year - 1}" in html and f"__year={timezone.now().year}" in html  # dates still


def test_the_deliveries_event_filter_offers_the_catalog_and_filters(org, staff):
    endpoint = endpoint_of(org)
    created = WebhookDelivery.objects.create(endpoint=endpoint, organization=org, event="order.created",
                                             event_id="m1", payload={})
    ping = WebhookDelivery.objects.create(endpoint=endpoint, organization=org, event="ping", event_id="m2",
                                          payload={})
    client = staff(org, "viewer")
    changelist = reverse("admin:webhooks_webhookdelivery_changelist")
    html = client.get(changelist).content.decode()
    assert "?event=order.created" in html and "?event=inventory.low_stock" in html and "?event=ping" in html
    filtered = client.get(changelist, {"event": "ping"}).content.decode()
    assert f"/{ping.pk}/change/" in filtered and f"/{created.pk}/change/" not in filtered


def test_the_sync_jobs_organization_filter_lists_the_users_organizations(org, staff, shop_integration):
    other = OrganizationFactory(name="Other org")
    theirs = SyncJob.objects.create(integration=IntegrationFactory(organization=other), organization=other,
                                    job_type=JobType.SYNC_ORDERS, trigger=Trigger.MANUAL)
    mine = SyncJob.objects.create(integration=shop_integration, organization=org, job_type=JobType.SYNC_ORDERS,
                                  trigger=Trigger.MANUAL)
    changelist = reverse("admin:syncjobs_syncjob_changelist")
    html = staff(org, "viewer").get(changelist).content.decode()
    assert f"?organization={org.pk}" in html and f"?organization={other.pk}" not in html
    filtered = superuser_client().get(changelist, {"organization": str(other.pk)}).content.decode()
    assert f"/{theirs.pk}/change/" in filtered and f"/{mine.pk}/change/" not in filtered


def test_the_endpoint_list_reads_last_errors_in_one_query_whatever_the_rows(org, staff):
    def endpoint_with_history(n: int) -> WebhookEndpoint:
        endpoint = endpoint_of(org, f"https://erp{n}.example/h")
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, organization=org, event="order.created",
                                                  event_id=f"m{n}", payload={}, status=DeliveryStatus.FAILED)
        now = timezone.now()
        WebhookDeliveryAttempt.objects.create(delivery=delivery, response_status=500, error="",
                                              attempted_at=now - timedelta(minutes=3))
        WebhookDeliveryAttempt.objects.create(delivery=delivery, response_status=None, error=f"timeout #{n}",
                                              attempted_at=now - timedelta(minutes=2))
        WebhookDeliveryAttempt.objects.create(delivery=delivery, response_status=200,
                                              attempted_at=now - timedelta(minutes=1))
        return endpoint

    client = staff(org, "viewer")
    changelist = reverse("admin:webhooks_webhookendpoint_changelist")
    endpoint_with_history(0)
    client.get(changelist)
    with CaptureQueriesContext(connection) as one:
        client.get(changelist)
    for n in range(1, 6):
        endpoint_with_history(n)
    quiet = endpoint_of(org, "https://quiet.example/h")
    with CaptureQueriesContext(connection) as many:
        html = client.get(changelist).content.decode()

    assert len(many) == len(one)
    assert all(f"timeout #{n}" in html for n in range(6))  # the newest non-2xx attempt of each endpoint
    assert quiet.url in html
