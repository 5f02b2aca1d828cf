"""GET/POST/DELETE /api/webhooks/…: tenancy, roles, filters, masked detail, retry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import IntegrationFactory, OrganizationFactory
from tests.webhooks.inbound_support import (
    SECRET,
    post,
    raw_order,
    receive_url,
    shopify_delivery,
)
from webhooks.models import IncomingWebhook

pytestmark = pytest.mark.django_db


def _stored(client, shop, order=None, **delivery) -> IncomingWebhook:
    body, headers = shopify_delivery(order or raw_order(), **delivery)
    return IncomingWebhook.objects.get(pk=post(client, receive_url(shop.route_key), body, headers).json()["id"])


def test_list_is_the_organizations_newest_first_without_bodies(client, shop, nudges, viewer_api):
    first, second = _stored(client, shop), _stored(client, shop, topic="orders/create")
    foreign = IntegrationFactory(organization=OrganizationFactory(), webhook_secret=SECRET)
    _stored(client, foreign)

    response = viewer_api.get("/api/webhooks/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [second.pk, first.pk]
    assert rows[0]["integration_code"] == shop.code and rows[0]["event_type"] == "orders/create"
    assert "payload" not in rows[0] and "headers" not in rows[0]


def test_list_filters(client, shop, nudges, viewer_api):
    created = _stored(client, shop, topic="orders/create")
    updated = _stored(client, shop, topic="orders/updated")
    IncomingWebhook.objects.filter(pk=updated.pk).update(status="failed",
                                                         received_at=timezone.now() - timedelta(days=3))
    other = IntegrationFactory(organization=shop.organization, webhook_secret=SECRET)
    elsewhere = _stored(client, other)

    def ids(**query):
        response = viewer_api.get("/api/webhooks/", query)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids(status="failed") == {updated.pk}
    assert ids(event_type="orders/create") == {created.pk}
    assert ids(integration=other.pk) == {elsewhere.pk}
    assert ids(integration_code=shop.code) == {created.pk, updated.pk}
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(received_after=since) == {created.pk, elsewhere.pk}
    assert ids(received_before=since) == {updated.pk}
    bad = viewer_api.get("/api/webhooks/", {"status": "exploded"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "VALIDATION_ERROR"


def test_detail_shows_payload_and_headers_masked(client, shop, nudges, viewer_api):
    webhook = _stored(client, shop, raw_order(note=f"shop secret is {SECRET}", token="abc123token"))
    data = viewer_api.get(f"/api/webhooks/{webhook.pk}/").json()
    assert data["id"] == webhook.pk and data["status"] == "pending"
    assert data["payload"]["id"] == raw_order()["id"]
    assert data["payload"]["token"] == "[REDACTED]"  # by name
    assert data["payload"]["note"] == "shop secret is [REDACTED]"  # by value
    assert data["headers"]["X-Shopify-Hmac-Sha256"] == "[REDACTED]"
    assert data["headers"]["X-Shopify-Topic"] == "orders/updated"
    assert data["body_size"] == len(bytes(webhook.body))
    assert SECRET not in str(data)


def test_another_organizations_webhook_is_not_found(client, nudges, viewer_api, admin_api):
    foreign = IntegrationFactory(organization=OrganizationFactory(), webhook_secret=SECRET)
    webhook = _stored(client, foreign)
    for response in (viewer_api.get(f"/api/webhooks/{webhook.pk}/"),
                     admin_api.post(f"/api/webhooks/{webhook.pk}/retry/"),
                     admin_api.delete(f"/api/webhooks/{webhook.pk}/")):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "WEBHOOK_NOT_FOUND"
    assert IncomingWebhook.objects.filter(pk=webhook.pk).exists()


def test_retry_puts_a_failed_webhook_back_to_pending_and_queues_it(client, shop, nudges, operator_api,
                                                                    django_capture_on_commit_callbacks):
    webhook = _stored(client, shop)
    IncomingWebhook.objects.filter(pk=webhook.pk).update(status="failed", retry_count=5, error_message="boom")
    nudges.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = operator_api.post(f"/api/webhooks/{webhook.pk}/retry/")
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["retry_count"], response.json()["error_message"]) == (
        "pending", 0, "")
    assert nudges == [webhook.pk]


def test_retry_of_a_webhook_that_is_not_failed_is_409_and_changes_nothing(client, shop, nudges, operator_api):
    webhook = _stored(client, shop)
    response = operator_api.post(f"/api/webhooks/{webhook.pk}/retry/")
    assert response.status_code == 409
    assert response.json()["error"] == {"code": "WEBHOOK_NOT_RETRYABLE", "message": "Only a failed webhook can be "
                                        "retried.", "details": {"status": "pending"}}
    bad_body = operator_api.post(f"/api/webhooks/{webhook.pk}/retry/", {"force": True}, format="json")
    assert bad_body.status_code == 400


def test_roles_viewer_reads_operator_retries_admin_deletes(client, shop, nudges, viewer_api, operator_api,
                                                           admin_api):
    webhook = _stored(client, shop)
    IncomingWebhook.objects.filter(pk=webhook.pk).update(status="failed")
    assert viewer_api.post(f"/api/webhooks/{webhook.pk}/retry/").status_code == 403
    assert operator_api.delete(f"/api/webhooks/{webhook.pk}/").status_code == 403
    assert admin_api.delete(f"/api/webhooks/{webhook.pk}/").status_code == 204
    assert not IncomingWebhook.objects.filter(pk=webhook.pk).exists()


def test_the_api_needs_a_key(client):
    assert client.get("/api/webhooks/").status_code == 401


def test_receive_urls_are_not_shadowed_by_the_router(client, shop, nudges):
    body, headers = shopify_delivery(raw_order())
    assert post(client, "/api/webhooks/receive/whatever/", body, headers).status_code == 404  # the receive view's
    assert post(client, receive_url(shop.route_key), body, headers).status_code == 202
