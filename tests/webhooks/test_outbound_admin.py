"""Webhook admin: success rate and last error, attempts inline, redeliver, rotate secret (shown once), scoping."""

from __future__ import annotations

import ipaddress
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import MembershipFactory
from tests.webhooks.outbound_support import make_endpoint
from webhooks.events import publish
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/in"


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch):
    monkeypatch.setattr("connectors.outbound.resolve", lambda host: [ipaddress.ip_address("93.184.216.34")])


@pytest.fixture(autouse=True)
def deliver_task():
    with mock.patch("webhooks.tasks.deliver.apply_async") as delay:
        yield delay


def staff_client(organization, role="admin"):
    client = Client()
    client.force_login(MembershipFactory(organization=organization, role=role).user)
    return client


def test_endpoint_list_shows_success_rate_and_last_error_but_no_secret(org):
    endpoint, secret = make_endpoint(org, URL)
    deliveries = publish("order.created", {}, org) + publish("order.updated", {}, org)
    WebhookDelivery.objects.filter(pk=deliveries[0].pk).update(status=DeliveryStatus.DELIVERED)
    WebhookDelivery.objects.filter(pk=deliveries[1].pk).update(status=DeliveryStatus.FAILED)
    WebhookDeliveryAttempt.objects.create(delivery=deliveries[1], response_status=502, error="HTTP 502")
    page = staff_client(org, "viewer").get(reverse("admin:webhooks_webhookendpoint_changelist")).content.decode()
    assert "50% of 2" in page and "HTTP 502" in page
    change = staff_client(org, "viewer").get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]))
    assert change.status_code == 200
    assert secret not in page and secret not in change.content.decode()
    assert "••••" + secret[-4:] in change.content.decode()


def test_add_shows_the_secret_once(org):
    client = staff_client(org, "admin")
    response = client.post(reverse("admin:webhooks_webhookendpoint_add"), {
        "organization": org.pk, "url": URL, "description": "", "events": ["order.created"], "is_active": "on",
    })
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 200 and endpoint.secret in response.content.decode()
    assert endpoint.secret not in client.get(
        reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])).content.decode()


def test_rotate_secret_action_shows_the_new_secret(org):
    endpoint, old = make_endpoint(org, URL)
    response = staff_client(org, "admin").post(reverse("admin:webhooks_webhookendpoint_changelist"), {
        "action": "rotate_secret", "_selected_action": [endpoint.pk],
    })
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.secret in response.content.decode() and old not in response.content.decode()


def test_rotate_needs_admin_and_another_organizations_endpoint_is_untouched(org, other_org):
    mine, mine_secret = make_endpoint(org, URL)
    theirs, theirs_secret = make_endpoint(other_org, URL)
    staff_client(org, "operator").post(reverse("admin:webhooks_webhookendpoint_changelist"), {
        "action": "rotate_secret", "_selected_action": [mine.pk],
    })
    staff_client(org, "admin").post(reverse("admin:webhooks_webhookendpoint_changelist"), {
        "action": "rotate_secret", "_selected_action": [theirs.pk],
    })
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.secret, theirs.secret) == (mine_secret, theirs_secret)
    assert staff_client(org, "admin").get(
        reverse("admin:webhooks_webhookendpoint_change", args=[theirs.pk])).status_code == 302


def test_delivery_page_has_attempts_inline_and_redeliver_action(org, deliver_task, django_capture_on_commit_callbacks):
    make_endpoint(org, URL)
    [delivery] = publish("order.created", {}, org)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempts=8)
    WebhookDeliveryAttempt.objects.create(delivery=delivery, response_status=500, error="HTTP 500",
                                          response_body="upstream exploded")
    client = staff_client(org, "operator")
    page = client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])).content.decode()
    assert "upstream exploded" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:webhooks_webhookdelivery_changelist"), {
            "action": "redeliver", "_selected_action": [delivery.pk],
        })
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    deliver_task.assert_called_once()
    assert deliver_task.call_args.args[0] == (delivery.pk,)


def test_the_success_rate_counts_only_the_last_seven_days(org):
    from datetime import timedelta

    from django.utils import timezone

    make_endpoint(org, URL)
    old, recent = publish("order.created", {}, org) + publish("order.updated", {}, org)
    WebhookDelivery.objects.filter(pk=old.pk).update(
        status=DeliveryStatus.FAILED, created_at=timezone.now() - timedelta(days=8)
    )
    WebhookDelivery.objects.filter(pk=recent.pk).update(status=DeliveryStatus.DELIVERED)
    page = staff_client(org, "viewer").get(reverse("admin:webhooks_webhookendpoint_changelist")).content.decode()
    assert "100% of 1" in page
