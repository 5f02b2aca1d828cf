"""Every big list of the console pages without counting its whole table: the count is capped by a LIMIT."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.audit import record_audit
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from webhooks.models import IncomingWebhook, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("changelist, table", [
    ("admin:webhooks_incomingwebhook_changelist", IncomingWebhook._meta.db_table),
    ("admin:webhooks_webhookdelivery_changelist", WebhookDelivery._meta.db_table),
    ("admin:syncjobs_syncjob_changelist", SyncJob._meta.db_table),
    ("admin:accounts_auditevent_changelist", "accounts_auditevent"),
    ("admin:commerce_order_changelist", "commerce_order"),
])
def test_no_unbounded_count(org, staff, shop_integration, changelist, table):
    IncomingWebhook.objects.create(integration=shop_integration, organization=org, body=b"{}", external_id="e1")
    endpoint = WebhookEndpoint.objects.create(organization=org, url="https://erp.example/h", events=["*"],
                                              secret="whsec_x")
    WebhookDelivery.objects.create(endpoint=endpoint, organization=org, event="ping", event_id="m1", payload={})
    SyncJob.objects.create(integration=shop_integration, organization=org, job_type=JobType.SYNC_ORDERS,
                           trigger=Trigger.MANUAL, status=JobStatus.COMPLETED)
    record_audit(action="sync.started", organization=org, actor_label="command sync")
    client = staff(org, "operator")
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse(changelist))
    assert response.status_code == 200
    counts = [q["sql"] for q in captured.captured_queries if table in q["sql"] and re.search(r"COUNT\(", q["sql"])
              and "GROUP BY" not in q["sql"]]
    assert counts and all(re.search(r"LIMIT 10001\b", sql) for sql in counts), counts


@pytest.mark.parametrize("changelist", ["admin:commerce_order_changelist", "admin:commerce_inventorypush_changelist"])
def test_channel_filters_list_only_the_users_own_integrations(org, other_org, staff, shop_integration, changelist):
    from tests.factories import IntegrationFactory

    IntegrationFactory(organization=other_org, name="Rival Shop", code="rival-shop")
    response = staff(org, "operator").get(reverse(changelist))
    assert response.status_code == 200
    page = response.content.decode()
    assert shop_integration.code in page
    assert "Rival Shop" not in page and "rival-shop" not in page
