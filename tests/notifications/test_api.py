"""/api/notification-rules/: tenancy, roles, validation, and a rule's notices."""

from __future__ import annotations

import pytest

from integrations.events import publish
from notifications.models import NotificationRule
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db
URL = "/api/notification-rules/"


def test_an_admin_creates_a_slack_rule_and_a_viewer_reads_it(org, admin_api, viewer_api):
    slack = IntegrationFactory(organization=org, provider="slack", type="api", code="slack")
    created = admin_api.post(URL, {"name": "Ops", "triggers": ["sync_job.failed", "order.stuck"],
                                   "integration": slack.pk, "target": "C0123ABCD", "quiet_hours_start": "22:00",
                                   "quiet_hours_end": "07:00", "timezone": "Europe/Bucharest",
                                   "digest_minutes": 15}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["triggers"] == ["sync_job.failed", "order.stuck"] and body["quiet_hours_end"] == "07:00:00"
    listed = viewer_api.get(URL)
    assert listed.status_code == 200 and [r["id"] for r in listed.json()["results"]] == [body["id"]]
    assert viewer_api.patch(f"{URL}{body['id']}/", {"is_active": False}, format="json").status_code == 403
    changed = admin_api.patch(f"{URL}{body['id']}/", {"is_active": False}, format="json")
    assert changed.status_code == 200 and changed.json()["is_active"] is False


@pytest.mark.parametrize(("payload", "field"), [
    ({"triggers": ["sync_job.exploded"]}, "triggers"),
    ({"triggers": []}, "triggers"),
    ({"integration": None, "target": "not an address"}, "target"),
    ({"quiet_hours_start": "22:00"}, "quiet_hours_end"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"integration": "shop"}, "integration"),  # a provider that cannot send notices
    ({"colour": "red"}, "colour"),
])
def test_bad_rules_are_refused_and_nothing_is_written(org, admin_api, payload, field):
    shop = IntegrationFactory(organization=org, provider="sandbox", code="shop")
    base = {"name": "R", "triggers": ["sync_job.failed"], "target": "ops@acme.example"}
    data = {**base, **payload}
    if data.get("integration") == "shop":
        data["integration"] = shop.pk
    answer = admin_api.post(URL, data, format="json")
    assert answer.status_code == 400, answer.json()
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR" and field in answer.json()["error"]["details"]
    assert not NotificationRule.objects.exists()


def test_another_organizations_rule_and_integration_are_not_found(org, other_org, admin_api):
    theirs = NotificationRule.objects.create(organization=other_org, name="Theirs", triggers=["webhook.failed"],
                                             target="x@y.example")
    assert admin_api.get(f"{URL}{theirs.pk}/").json()["error"]["code"] == "NOTIFICATION_RULE_NOT_FOUND"
    foreign = IntegrationFactory(organization=other_org, provider="slack", code="their-slack")
    answer = admin_api.post(URL, {"name": "R", "triggers": ["webhook.failed"], "integration": foreign.pk,
                                  "target": "C1"}, format="json")
    assert answer.status_code == 400 and "integration" in answer.json()["error"]["details"]


def test_a_rules_notices_are_listed(org, admin_api, settings):
    settings.EMAIL_HOST = ""
    rule = NotificationRule.objects.create(organization=org, name="R", triggers=["webhook.failed"],
                                           target="ops@acme.example")
    for n in range(2):
        publish("webhook.failed", {"integration": {"id": 1, "code": "x", "name": "X"},
                                   "incoming_webhook": {"id": n, "event_type": "t", "error": "e"}}, org)
    notices = admin_api.get(f"{URL}{rule.pk}/notices/").json()["results"]
    assert [n["status"] for n in notices] == ["suppressed", "pending"]
