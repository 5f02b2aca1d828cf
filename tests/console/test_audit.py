"""The audit trail: every operator action from the admin or the API, with who, when, what and from where."""

from __future__ import annotations

import json

import pytest
from django.db import DatabaseError
from django.test import RequestFactory
from django.urls import reverse

from accounts.audit import record_audit
from accounts.models import AuditEvent
from syncjobs.models import JobType, SyncJob
from tests.factories import IntegrationFactory, OrganizationFactory, UserFactory
from webhooks.models import IncomingStatus, IncomingWebhook, WebhookEndpoint

pytestmark = pytest.mark.django_db


def failed_webhook(integration, external_id="evt-1"):
    return IncomingWebhook.objects.create(integration=integration, organization=integration.organization,
                                          body=b"{}", status=IncomingStatus.FAILED, external_id=external_id)


def test_retrying_a_webhook_in_the_admin_is_recorded_per_webhook(org, staff, shop_integration, monkeypatch):
    from webhooks.inbound import services

    monkeypatch.setattr(services, "webhook_enqueue", lambda pk, **kw: True)
    one, two = failed_webhook(shop_integration, "a"), failed_webhook(shop_integration, "b")
    operator = staff(org, "operator")
    operator.post(reverse("admin:webhooks_incomingwebhook_changelist"),
                  {"action": "retry", "_selected_action": [one.pk, two.pk]})
    events = AuditEvent.objects.filter(action="webhook.retried").order_by("target_id")
    assert [e.target_id for e in events] == sorted([str(one.pk), str(two.pk)], key=str)
    assert {(e.actor_id, e.ip_address, e.organization_id) for e in events} == {
        (operator.user.pk, "198.51.100.23", org.pk)}


def test_activating_in_the_admin_is_recorded(org, staff):
    integration = IntegrationFactory(organization=org, status="inactive")
    staff(org, "admin").post(reverse("admin:integrations_integration_changelist"),
                             {"action": "activate", "_selected_action": [integration.pk]})
    event = AuditEvent.objects.get()
    assert (event.action, event.target_id, event.target_repr) == (
        "integration.activated", str(integration.pk), str(integration))


def test_rotating_an_endpoint_secret_is_recorded_without_the_secret(org, staff):
    endpoint = WebhookEndpoint.objects.create(organization=org, url="https://erp.example/h", events=["*"],
                                              secret="whsec_old_secret_value")
    page = staff(org, "admin").post(reverse("admin:webhooks_webhookendpoint_changelist"),
                                    {"action": "rotate_secret", "_selected_action": [endpoint.pk]})
    endpoint.refresh_from_db()
    assert endpoint.secret in page.content.decode()  # shown once, on the answer page
    event = AuditEvent.objects.get()
    assert event.action == "endpoint.secret_rotated"
    assert endpoint.secret not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_api_actions_are_recorded_with_the_key_as_actor(org, api_client_for, shop_integration):
    client = api_client_for(org, "admin")
    response = client.post(f"/api/integrations/{shop_integration.pk}/sync/", {"job_type": JobType.SYNC_ORDERS},
                           format="json", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 202
    response = client.patch(f"/api/integrations/{shop_integration.pk}/",
                            {"api_key": "sk_rotated_value_1", "webhook_secret": "", "status": "inactive",
                             "name": "Renamed"}, format="json")
    assert response.status_code == 200

    started = AuditEvent.objects.get(action="sync.started")
    assert started.via == "api" and started.actor is None and started.api_key is not None
    assert started.actor_label.startswith("API key test key (") and started.ip_address == "203.0.113.9"
    assert started.target_id == str(SyncJob.objects.get().pk)
    actions = dict(AuditEvent.objects.exclude(pk=started.pk).values_list("action", "details"))
    assert actions == {
        "integration.deactivated": {"status": "inactive"},
        "secret.replaced": {"secrets": ["api_key"]},
        "secret.cleared": {"secrets": ["webhook_secret"]},
        "integration.changed": {"fields": ["name"]},
    }
    assert "sk_rotated_value_1" not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_api_webhook_retry_is_recorded(org, api_client_for, shop_integration, monkeypatch):
    from webhooks.inbound import services

    monkeypatch.setattr(services, "webhook_enqueue", lambda pk, **kw: True)
    hook = failed_webhook(shop_integration)
    assert api_client_for(org, "operator").post(f"/api/webhooks/{hook.pk}/retry/",
                                                format="json").status_code == 202
    assert AuditEvent.objects.get().action == "webhook.retried"


def test_record_audit_drops_secret_values_and_never_raises(org, monkeypatch):
    request = RequestFactory().post("/", REMOTE_ADDR="not-an-ip")
    request.user = UserFactory()
    event = record_audit(action="secret.replaced", request=request, organization=org,
                         details={"secret": "whsec_value", "secrets": ["api_key"], "token": "abc"})
    assert event.details == {"secret": "(not recorded)", "secrets": ["api_key"], "token": "(not recorded)"}
    assert event.ip_address is None and event.actor_label == request.user.username and event.via == "admin"

    def broken(**fields):
        raise DatabaseError("disk full")

    monkeypatch.setattr(AuditEvent.objects, "create", broken)
    assert record_audit(action="sync.started", request=request) is None  # logged, not raised


def test_the_trail_is_read_only_and_scoped_in_the_admin(org, staff):
    mine = record_audit(action="sync.started", organization=org, actor_label="command sync")
    theirs = record_audit(action="sync.started", organization=OrganizationFactory(), actor_label="command sync")
    viewer = staff(org, "viewer")
    page = viewer.get(reverse("admin:accounts_auditevent_changelist")).content.decode()
    assert reverse("admin:accounts_auditevent_change", args=[mine.pk]) in page
    assert reverse("admin:accounts_auditevent_change", args=[theirs.pk]) not in page
    assert viewer.get(reverse("admin:accounts_auditevent_change", args=[theirs.pk])).status_code == 302
    detail = viewer.get(reverse("admin:accounts_auditevent_change", args=[mine.pk])).content.decode()
    assert 'name="action"' not in detail  # no form inputs: read-only
    assert viewer.post(reverse("admin:accounts_auditevent_delete", args=[mine.pk])).status_code == 403


def test_commerce_operator_actions_are_recorded(org, staff):
    from commerce.models import Product

    product = Product.objects.create(organization=org, sku="MUG-1", name="Mug")
    staff(org, "operator").post(reverse("admin:commerce_product_changelist"),
                                {"action": "push_stock_now", "_selected_action": [product.pk]})
    event = AuditEvent.objects.get()
    assert (event.action, event.organization, event.details) == ("stock.push_requested", org, {"products": 1})
