"""Incoming webhooks admin: scoped, read-only, cheap filters, masked payload and headers, retry and replay."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import IntegrationFactory, MembershipFactory, OrganizationFactory
from tests.webhooks.inbound_support import (
    SECRET,
    post,
    raw_order,
    receive_url,
    shopify_delivery,
)
from webhooks.models import IncomingWebhook

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:webhooks_incomingwebhook_changelist"


def staff_client(organization, role="viewer"):
    client = Client()
    client.force_login(MembershipFactory(organization=organization, role=role).user)
    return client


def _stored(shop, order=None, **delivery) -> IncomingWebhook:
    body, headers = shopify_delivery(order or raw_order(), **delivery)
    return IncomingWebhook.objects.get(pk=post(Client(), receive_url(shop.route_key), body, headers).json()["id"])


def test_changelist_is_scoped_and_filters_by_status_without_counting(shop, nudges):
    mine = [_stored(shop) for _ in range(3)]
    IncomingWebhook.objects.filter(pk=mine[0].pk).update(status="failed")
    foreign = _stored(IntegrationFactory(organization=OrganizationFactory(), webhook_secret=SECRET))
    client = staff_client(shop.organization)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    html = page.content.decode()
    assert "?status=failed" in html and "Failed (1)" not in html and "Pending (2)" not in html
    assert f"/{mine[1].pk}/change/" in html and f"/{foreign.pk}/change/" not in html
    table = IncomingWebhook._meta.db_table
    # Neither a per-status COUNT nor a SELECT DISTINCT of a column over the organization's rows.
    assert not [q["sql"] for q in queries.captured_queries if table in q["sql"]
                and ("GROUP BY" in q["sql"] or "DISTINCT" in q["sql"])]
    filtered = client.get(reverse(CHANGELIST), {"status": "failed"}).content.decode()
    assert f"/{mine[0].pk}/change/" in filtered and f"/{mine[1].pk}/change/" not in filtered
    by_source = client.get(reverse(CHANGELIST), {"source": shop.provider}).content.decode()
    assert f"/{mine[1].pk}/change/" in by_source
    assert f"/{mine[1].pk}/change/" not in client.get(reverse(CHANGELIST), {"source": "other"}).content.decode()


def test_change_page_shows_payload_and_headers_masked_and_is_read_only(shop, nudges):
    webhook = _stored(shop, raw_order(note=f"the secret {SECRET}"))
    client = staff_client(shop.organization, role="owner")
    page = client.get(reverse("admin:webhooks_incomingwebhook_change", args=[webhook.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "X-Shopify-Topic" in html and "orders/updated" in html
    assert "the secret [REDACTED]" in html and SECRET not in html
    assert 'name="_save"' not in html
    foreign = _stored(IntegrationFactory(organization=OrganizationFactory(), webhook_secret=SECRET))
    missing = client.get(reverse("admin:webhooks_incomingwebhook_change", args=[foreign.pk]))
    assert missing.status_code == 302  # "does not exist": back to the index


def test_retry_action_requeues_failed_rows_only(shop, nudges, django_capture_on_commit_callbacks):
    failed, pending = _stored(shop), _stored(shop)
    IncomingWebhook.objects.filter(pk=failed.pk).update(status="failed", retry_count=5)
    nudges.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client(shop.organization, role="operator").post(
            reverse(CHANGELIST), {"action": "retry", "_selected_action": [failed.pk, pending.pk]}, follow=True)
    assert "1 webhook(s) retried. 1 skipped" in response.content.decode()
    failed.refresh_from_db()
    assert (failed.status, failed.retry_count) == ("pending", 0)
    assert nudges == [failed.pk]


def test_replay_action_processes_completed_rows_again(shop, nudges):
    done = _stored(shop)
    IncomingWebhook.objects.filter(pk=done.pk).update(status="completed")
    staff_client(shop.organization, role="operator").post(
        reverse(CHANGELIST), {"action": "replay", "_selected_action": [done.pk]})
    assert IncomingWebhook.objects.get(pk=done.pk).status == "pending"


def test_viewers_cannot_retry(shop, nudges):
    failed = _stored(shop)
    IncomingWebhook.objects.filter(pk=failed.pk).update(status="failed")
    client = staff_client(shop.organization, role="viewer")
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert 'value="retry"' not in page
    client.post(reverse(CHANGELIST), {"action": "retry", "_selected_action": [failed.pk]})
    assert IncomingWebhook.objects.get(pk=failed.pk).status == "failed"
