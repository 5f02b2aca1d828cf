"""`health` in GET /api/integrations/ and /api/integrations/{id}/: the dashboard's computation, bounded queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from console.dashboard import integration_health_rows
from tests.factories import IntegrationFactory, IntegrationLogFactory
from webhooks.models import IncomingStatus, IncomingWebhook, WebhookEndpoint

pytestmark = pytest.mark.django_db


def stuck_webhooks(integration, n):
    for _ in range(n):
        IncomingWebhook.objects.create(integration=integration, organization=integration.organization, body=b"{}",
                                       status=IncomingStatus.PENDING, retry_count=3,
                                       error_message="ProviderUnavailable: the shop answered 503",
                                       next_attempt_at=timezone.now() + timedelta(minutes=10))


def test_the_detail_and_the_list_carry_the_dashboards_health(viewer_api, org):
    shop = IntegrationFactory(organization=org)
    stuck_webhooks(shop, 4)
    WebhookEndpoint.objects.create(organization=org, url="https://erp.example/hook", events=["*"], secret="whsec_x",
                                   failing_since=timezone.now() - timedelta(hours=2))

    detail = viewer_api.get(f"/api/integrations/{shop.pk}/").json()["health"]
    listed = next(r for r in viewer_api.get("/api/integrations/").json()["results"] if r["id"] == shop.pk)
    row = integration_health_rows(organization_ids=[org.pk])[0][0]

    assert detail == listed["health"]
    assert detail["state"] == row.health == "degraded" and detail["label"] == "Degraded"
    assert detail["reasons"] == row.reasons == ["4 incoming webhook(s) retrying after errors",
                                                "1 organization-wide outgoing endpoint(s) failing"]
    assert (detail["webhooks_retrying"], detail["organization_endpoints_failing"]) == (4, 1)
    assert detail["secrets_readable"] is True and listed["unreadable_secrets"] == []


def test_the_list_costs_the_same_queries_for_2_or_20_integrations(viewer_api, org):
    def populate(n):
        for _ in range(n):
            integration = IntegrationFactory(organization=org, api_key="sk_live_some_key_1234")
            IntegrationLogFactory(integration=integration, status_code=500)
            stuck_webhooks(integration, 1)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert len(viewer_api.get("/api/integrations/?page_size=50").json()["results"]) == count
        return len(captured)

    viewer_api.get("/api/integrations/")  # the key's first use records it; the counts below are steady state
    populate(2)
    count = 2
    few = queries()
    populate(18)
    count = 20
    many = queries()
    # the key, the page, then its health: calls, secrets' key ids, webhooks, endpoints, jobs
    assert few == many == 7


def test_the_schema_documents_health(client):
    schema = client.get("/api/schema/?format=json").json()
    properties = schema["components"]["schemas"]["Integration"]["properties"]
    assert {"health", "unreadable_secrets"} <= set(properties)
    states = schema["components"]["schemas"]["HealthStateEnum"]["enum"]
    assert set(states) == {"ok", "degraded", "error", "needs_reauth", "paused"}
