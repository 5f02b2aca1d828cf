"""The notifications pages of the console: rules editable by admins, every notice visible (and nothing else's)."""

from __future__ import annotations

import pytest

from integrations.events import publish
from notifications.models import Notice, NotificationRule
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


def failed_webhook(org) -> None:
    publish("webhook.failed", {"integration": {"id": 1, "code": "shop", "name": "Shop"},
                               "incoming_webhook": {"id": 1, "event_type": "orders/create", "error": "bad line"}}, org)


def test_a_viewer_sees_the_notices_with_their_status_and_not_another_organizations(org, other_org, staff):
    NotificationRule.objects.create(organization=org, name="Mine", triggers=["webhook.failed"], target="a@b.example")
    NotificationRule.objects.create(organization=other_org, name="Theirs", triggers=["webhook.failed"],
                                    target="c@d.example")
    failed_webhook(org)
    failed_webhook(org)
    failed_webhook(other_org)
    viewer = staff(org, "viewer")
    page = viewer.get("/admin/notifications/notice/")
    assert page.status_code == 200
    assert page.content.decode().count("Incoming webhooks are failing for Shop (shop)") == 2
    assert "Suppressed (duplicate)" in page.content.decode()
    theirs = Notice.objects.get(organization=other_org)
    assert viewer.get(f"/admin/notifications/notice/{theirs.pk}/change/").status_code == 302
    assert viewer.get("/admin/notifications/notificationrule/").status_code == 200


def test_an_admin_adds_a_rule_through_the_same_checks_as_the_api(org, staff):
    shop = IntegrationFactory(organization=org, provider="sandbox", code="shop")
    admin = staff(org, "admin")
    form = {"organization": org.pk, "name": "Ops", "triggers": ["sync_job.failed"], "integration": shop.pk,
            "target": "C1", "timezone": "UTC", "digest_minutes": 0, "stuck_after_hours": 24, "is_active": "on"}
    refused = admin.post("/admin/notifications/notificationrule/add/", form)
    assert refused.status_code == 200 and "cannot send notices" in refused.content.decode()
    assert not NotificationRule.objects.exists()
    slack = IntegrationFactory(organization=org, provider="slack", type="api", code="slack")
    added = admin.post("/admin/notifications/notificationrule/add/", {**form, "integration": slack.pk})
    assert added.status_code == 302
    assert NotificationRule.objects.get().triggers == ["sync_job.failed"]
