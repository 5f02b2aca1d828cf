"""`/api/integrations/{id}/schedules/`: read by viewers, changed by admins, within the organization, strictly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from syncjobs import scheduler
from syncjobs.models import SyncSchedule
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


def url(integration, job_type=""):
    return f"/api/integrations/{integration.pk}/schedules/" + (f"{job_type}/" if job_type else "")


@pytest.fixture
def integration(org, shop):
    return IntegrationFactory(organization=org, provider="fakeshop", auto_sync_enabled=True)


def test_viewers_read_each_job_types_schedule_in_order(viewer_api, integration, monkeypatch):
    monkeypatch.setattr(scheduler, "nudge_on_commit", lambda *args, **kwargs: None)
    scheduler.syncs_run_due()
    answer = viewer_api.get(url(integration))
    assert answer.status_code == 200, answer.content
    rows = answer.json()
    assert [(r["job_type"], r["label"], r["every_minutes"], r["enabled"]) for r in rows] == [
        ("sync_products", "Products", 360, True), ("sync_inventory", "Inventory", 120, True),
        ("sync_orders", "Orders", 60, True), ("sync_order_status", "Order status", 30, True),
        ("check_health", "Health check", 15, True)]
    orders = rows[2]
    assert orders["last_result"] == "started" and orders["last_job_status"] == "pending" and orders["last_job_id"]
    assert orders["next_due_at"] is not None


def test_an_admin_changes_the_interval_and_the_next_due_time_follows(admin_api, integration):
    SyncSchedule.objects.filter(integration=integration, job_type="sync_products").update(
        next_due_at=timezone.now() + timedelta(hours=5))  # started an hour ago, every 6 h
    answer = admin_api.patch(url(integration, "sync_products"), {"every_minutes": 90}, format="json")
    assert answer.status_code == 200, answer.content
    row = SyncSchedule.objects.get(integration=integration, job_type="sync_products")
    assert row.every_minutes == 90
    assert timedelta(minutes=29) < row.next_due_at - timezone.now() <= timedelta(minutes=30)
    integration.refresh_from_db()
    assert integration.next_sync_at <= timezone.now()  # inventory and the others never ran: due now
    event = AuditEvent.objects.get(action="schedule.changed")
    assert event.details["before"]["every_minutes"] == 360 and event.details["after"] == {"every_minutes": 90}

    answer = admin_api.patch(url(integration, "sync_orders"), {"enabled": False}, format="json")
    assert answer.json()["enabled"] is False


@pytest.mark.parametrize("body", [{"every_minutes": 0}, {"every_minutes": "60"}, {"every_minutes": 10081},
                                  {"enabled": "no"}, {"job_type": "sync_orders"}])
def test_bad_input_is_refused_and_changes_nothing(admin_api, integration, body):
    answer = admin_api.patch(url(integration, "sync_orders"), body, format="json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert SyncSchedule.objects.get(integration=integration, job_type="sync_orders").every_minutes == 60


def test_a_job_type_the_provider_does_not_run_is_not_found(admin_api, org):
    courier = IntegrationFactory(organization=org, provider="fancourier", type="shipping")
    answer = admin_api.patch(url(courier, "sync_orders"), {"every_minutes": 5}, format="json")
    assert answer.status_code == 404 and answer.json()["error"]["details"]["job_types"] == ["check_health"]


def test_changing_needs_the_admin_role_and_the_organization(api_client_for, org, other_org, integration):
    assert api_client_for(org, "operator").patch(url(integration, "sync_orders"), {"enabled": False},
                                                 format="json").status_code == 403
    answer = api_client_for(other_org, "admin").patch(url(integration, "sync_orders"), {"enabled": False},
                                                      format="json")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"
    assert api_client_for(other_org, "viewer").get(url(integration)).status_code == 404
    assert SyncSchedule.objects.get(integration=integration, job_type="sync_orders").enabled


def test_the_old_single_interval_is_refused_by_name(admin_api, integration):
    answer = admin_api.patch(f"/api/integrations/{integration.pk}/", {"sync_interval_minutes": 15}, format="json")
    assert answer.status_code == 400 and "sync_interval_minutes" in answer.json()["error"]["details"]
