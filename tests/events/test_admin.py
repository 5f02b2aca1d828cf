"""Event sources and received events in the admin: the secret shown once, events read-only, failed ones retried."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from events.models import EventSource, InboundEvent
from tests.events.sender import send, signed
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def staff_client(organization, role="admin"):
    client = Client()
    client.force_login(MembershipFactory(organization=organization, role=role).user)
    return client


def test_adding_a_source_shows_its_secret_once(org):
    page = staff_client(org).post(reverse("admin:events_eventsource_add"),
                                  {"organization": org.pk, "name": "content-service", "is_active": "on"})
    source = EventSource.objects.get()
    assert page.status_code == 200 and source.secret in page.content.decode()
    assert f"/api/events/?source={source.key}" in page.content.decode()
    change = staff_client(org, "viewer").get(reverse("admin:events_eventsource_change", args=[source.pk]))
    assert change.status_code == 200 and source.secret not in change.content.decode()
    assert AuditEvent.objects.filter(action="event_source.created").count() == 1


def test_received_events_are_listed_and_failed_ones_retried(org, source, nudges):
    src, secret = source
    send(src.key, *signed(secret, {"type": "user.deleted", "data": {"user_id": "u_1"}}))
    event = InboundEvent.objects.get()
    InboundEvent.objects.filter(pk=event.pk).update(status="failed", error_message="boom")
    client = staff_client(org, "operator")

    listing = client.get(reverse("admin:events_inboundevent_changelist"))
    assert listing.status_code == 200 and "user.deleted" in listing.content.decode()
    assert client.get(reverse("admin:events_inboundevent_change", args=[event.pk])).status_code == 200
    client.post(reverse("admin:events_inboundevent_changelist"),
                {"action": "retry", "_selected_action": [event.pk]})

    assert InboundEvent.objects.get(pk=event.pk).status == "pending"
    assert AuditEvent.objects.filter(action="inbound_event.retried").count() == 1


def test_another_organizations_events_are_not_shown(org, other_org, source, nudges):
    src, secret = source
    send(src.key, *signed(secret, {"type": "user.deleted", "data": {"user_id": "u_1"}}, msg_id="msg_secretive"))
    listing = staff_client(other_org, "admin").get(reverse("admin:events_inboundevent_changelist"))
    assert listing.status_code == 200 and "msg_secretive" not in listing.content.decode()
    assert "msg_secretive" in staff_client(org, "viewer").get(
        reverse("admin:events_inboundevent_changelist")).content.decode()
