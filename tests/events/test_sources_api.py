"""Event sources through the API: the secret shown once, masked afterwards, rotatable; admins only; per tenant."""

from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from events.models import EventSource, InboundEvent
from tests.events.sender import send, signed

pytestmark = pytest.mark.django_db


def test_create_shows_the_secret_once_and_the_intake_path(admin_api, org):
    answer = admin_api.post("/api/event-sources/", {"name": "user-service"}, format="json")

    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["secret"].startswith("whsec_") and body["key"].startswith("evs_")
    assert body["intake_path"] == f"/api/events/?source={body['key']}"
    shown = admin_api.get(f"/api/event-sources/{body['id']}/").json()
    assert "secret" not in shown and shown["secret_masked"].endswith(body["secret"][-4:])
    assert body["secret"] not in str(admin_api.get("/api/event-sources/").json())
    assert AuditEvent.objects.filter(action="event_source.created", target_id=str(body["id"])).exists()
    # The secret it showed is the one that verifies.
    assert send(body["key"], *signed(body["secret"], {"type": "user.deleted", "data": {"user_id": "x"}})
                ).status_code == 202


def test_rotate_answers_a_new_secret(admin_api, source):
    src, old = source
    answer = admin_api.post(f"/api/event-sources/{src.pk}/rotate-secret/")
    assert answer.status_code == 200
    assert answer.json()["secret"] not in (old, "") and answer.json()["previous_secret_expires_at"]
    assert AuditEvent.objects.filter(action="event_source.secret_rotated").count() == 1


def test_a_deactivated_source_is_refused(admin_api, source):
    src, secret = source
    assert admin_api.patch(f"/api/event-sources/{src.pk}/", {"is_active": False}, format="json").status_code == 200
    assert send(src.key, *signed(secret, {"type": "user.deleted", "data": {"user_id": "x"}})).status_code == 401


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_manage_sources(api_client_for, org, source, role):
    client = api_client_for(org, role)
    assert client.get("/api/event-sources/").status_code == 200
    assert client.post("/api/event-sources/", {"name": "x"}, format="json").status_code == 403
    assert client.post(f"/api/event-sources/{source[0].pk}/rotate-secret/").status_code == 403


def test_another_organizations_source_and_events_are_not_found(api_client_for, other_org, source):
    src, secret = source
    send(src.key, *signed(secret, {"type": "user.deleted", "data": {"user_id": "x"}}))
    client = api_client_for(other_org, "admin")
    assert client.get(f"/api/event-sources/{src.pk}/").status_code == 404
    assert client.delete(f"/api/event-sources/{src.pk}/").status_code == 404
    assert client.get(f"/api/inbound-events/{InboundEvent.objects.get().pk}/").status_code == 404
    assert client.get("/api/inbound-events/").json()["results"] == []
    assert EventSource.objects.filter(pk=src.pk).exists()


def test_received_events_are_listed_with_their_payload(viewer_api, source):
    src, secret = source
    send(src.key, *signed(secret, {"type": "invoice.paid", "data": {"id": 7}}))
    [row] = viewer_api.get("/api/inbound-events/?status=ignored").json()["results"]
    assert row["event_type"] == "invoice.paid" and row["payload"]["data"] == {"id": 7}
