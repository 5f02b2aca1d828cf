"""The Integration page's schedules inline: each job type's interval, switch, next due and last run; editing the
interval moves the next due time (through schedule_update) and is audited; connected_by is shown, read-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from syncjobs.models import SyncSchedule
from tests.factories import IntegrationFactory, MembershipFactory
from tests.integrations.test_admin_integrations import form_data, schedule_forms
from tests.syncjobs import fakes

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(org):
    fakes.SHOP = fakes.FakeShop()
    fakes.install()
    yield IntegrationFactory(organization=org, provider="fakeshop", connected_by="user_42", auto_sync_enabled=True)
    fakes.uninstall()


def client_for(org, role):
    client = Client()
    client.force_login(MembershipFactory(organization=org, role=role).user)
    return client


def post_data(integration, **changes):
    base = {k: v for k, v in form_data(integration).items() if not k.startswith("sync_schedules-")}
    return {**base, **schedule_forms(integration, **changes)}


def url(integration):
    return reverse("admin:integrations_integration_change", args=[integration.pk])


def test_the_page_lists_each_job_types_schedule_and_who_connected_it(org, shop):
    page = client_for(org, "admin").get(url(shop)).content.decode()
    for label in ("Products", "Inventory", "Orders", "Order status", "Health check"):
        assert f"<p>{label}</p>" in page
    assert 'name="sync_schedules-0-every_minutes" value="360"' in page
    assert "user_42" in page and 'name="connected_by"' not in page  # shown, not editable
    viewer_page = client_for(org, "viewer").get(url(shop)).content.decode()
    assert "Order status" in viewer_page and 'name="sync_schedules-0-every_minutes"' not in viewer_page
    add_page = client_for(org, "admin").get(reverse("admin:integrations_integration_add")).content.decode()
    assert "sync_schedules-TOTAL_FORMS" not in add_page  # the rows come with the integration


def test_editing_the_interval_in_the_admin_moves_the_next_due_time(org, shop):
    orders = SyncSchedule.objects.get(integration=shop, job_type="sync_orders")
    SyncSchedule.objects.filter(pk=orders.pk).update(next_due_at=timezone.now() + timedelta(minutes=50))
    data = post_data(shop, sync_orders={"every_minutes": 15}, sync_order_status={"enabled": ""})
    response = client_for(org, "admin").post(url(shop), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    orders.refresh_from_db()
    assert orders.every_minutes == 15
    assert orders.next_due_at <= timezone.now() + timedelta(minutes=5)  # 10 min ago + 15, not 50 min away
    assert not SyncSchedule.objects.get(integration=shop, job_type="sync_order_status").enabled
    changes = {e.details["job_type"]: e.details for e in AuditEvent.objects.filter(action="schedule.changed")}
    assert changes["sync_orders"]["before"] == {"every_minutes": 60, "enabled": True}
    assert changes["sync_orders"]["after"] == {"every_minutes": 15, "enabled": True}
    assert set(changes) == {"sync_orders", "sync_order_status"}  # unchanged rows leave no trace


def test_an_interval_out_of_range_is_refused_with_nothing_changed(org, shop):
    data = post_data(shop, sync_orders={"every_minutes": 0})
    response = client_for(org, "admin").post(url(shop), data)
    assert response.status_code == 200  # the form again, with the error
    assert SyncSchedule.objects.get(integration=shop, job_type="sync_orders").every_minutes == 60
