"""A signed user.deleted removes exactly that user's integrations, once: tokens revoked, webhooks gone, audited."""

from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from connectors import http
from connectors.oauth2_generic.connector import GenericOAuth2Connector
from events.models import InboundEvent
from events.processing import event_process
from integrations.models import Integration
from tests.events.sender import send, signed, stale
from tests.factories import IntegrationFactory
from tests.integrations.oauth_fakes import CLIENT_ID, CLIENT_SECRET, published, running_oauth_server, subscribe_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(settings, monkeypatch):
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    server = running_oauth_server()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def unsubscribed(monkeypatch):
    """The integrations whose webhook subscriptions were removed, by code."""
    seen: list[str] = []

    def unregister(self):
        seen.append(self.integration.code)
        return 1

    monkeypatch.setattr(GenericOAuth2Connector, "unregister_webhooks", unregister)
    return seen


def connected(org, server, *, user: str, code: str) -> Integration:
    tokens = server.issue()
    return IntegrationFactory(organization=org, provider="oauth2_generic", type="api", code=code,
                              config=server.config(), connected_by=user,
                              credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                              access_token=tokens["access_token"], refresh_token=tokens["refresh_token"])


@pytest.fixture
def integrations(org, other_org, server):
    subscribe_all(org)
    return {
        "mine": [connected(org, server, user="u_1", code="crm-a"), connected(org, server, user="u_1", code="crm-b")],
        "colleague": connected(org, server, user="u_2", code="crm-c"),
        "nobody": connected(org, server, user="", code="crm-d"),
        "same id, other organization": connected(other_org, server, user="u_1", code="crm-e"),
    }


def deliver_all(nudges) -> list[str | None]:
    return [event_process(event_id=pk) for pk in nudges]


def user_deleted(secret: str, *, msg_id: str | None = None, user: str = "u_1", at=None):
    return signed(secret, {"type": "user.deleted", "timestamp": "2026-05-01T09:30:00Z", "data": {"user_id": user}},
                  msg_id=msg_id, at=at)


@pytest.mark.parametrize("same_message_id", [True, False], ids=["redelivered", "sent again"])
def test_sent_three_times_it_removes_that_users_integrations_once(
        org, source, nudges, server, unsubscribed, integrations, same_message_id,
        django_capture_on_commit_callbacks):
    src, secret = source
    with django_capture_on_commit_callbacks(execute=True):
        answers = [send(src.key, *user_deleted(secret, msg_id="msg_user_1" if same_message_id else None))
                   for _ in range(3)]
    assert all(a.status_code in (200, 202) for a in answers)

    outcomes = deliver_all(nudges)

    assert outcomes == ["completed"] * len(nudges) and len(nudges) == (1 if same_message_id else 3)
    mine = [i.pk for i in integrations["mine"]]
    assert not Integration.objects.filter(pk__in=mine).exists()
    left = {integrations[k].pk for k in ("colleague", "nobody", "same id, other organization")}
    assert set(Integration.objects.values_list("pk", flat=True)) == left
    # Each token pair revoked once at the provider, through the connector; each subscription removed once.
    assert sorted(r["token"] for r in server.revoked) == sorted(i.refresh_token for i in integrations["mine"])
    assert sorted(unsubscribed) == ["crm-a", "crm-b"]
    audit = AuditEvent.objects.filter(action="integration.deleted").order_by("target_id")
    assert [(a.target_id, a.organization_id, a.details["reason"], a.details["user_id"]) for a in audit] == [
        (str(pk), org.pk, "user.deleted", "u_1") for pk in sorted(mine)]
    assert all(a.actor_label.startswith("event user.deleted from user-service") for a in audit)
    assert sorted(e["integration"]["id"] for e in published(org, "integration.disconnected")) == sorted(mine)
    first, *later = InboundEvent.objects.order_by("pk")
    assert sorted(r["code"] for r in first.result["removed"]) == ["crm-a", "crm-b"]
    assert all(e.result["removed"] == [] for e in later)


@pytest.mark.parametrize("forge", ["wrong secret", "stale"])
def test_a_forged_or_stale_user_deleted_changes_nothing(org, source, nudges, server, unsubscribed, integrations,
                                                        forge):
    src, secret = source
    if forge == "wrong secret":
        body, headers = user_deleted("whsec_" + "Zm9yZ2VkLXNlY3JldC1mb3JnZWQtc2VjcmV0LTMyYg==")
    else:
        body, headers = user_deleted(secret, at=stale())
    before = set(Integration.objects.values_list("pk", flat=True))

    answer = send(src.key, body, headers)

    assert answer.status_code == 401 and answer.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert not InboundEvent.objects.exists() and nudges == []
    assert set(Integration.objects.values_list("pk", flat=True)) == before
    assert server.revoked == [] and unsubscribed == []
    assert not AuditEvent.objects.filter(action="integration.deleted").exists()


def test_a_user_deleted_without_a_user_fails_at_once(source, nudges, django_capture_on_commit_callbacks):
    src, secret = source
    with django_capture_on_commit_callbacks(execute=True):
        send(src.key, *signed(secret, {"type": "user.deleted", "data": {}}))
    assert deliver_all(nudges) == ["failed"]
    event = InboundEvent.objects.get()
    assert event.status == "failed" and "user_id" in event.error_message and event.retry_count == 0


def test_the_connected_by_filter_lists_a_users_integrations(admin_api, integrations):
    answer = admin_api.get("/api/integrations/?connected_by=u_1")
    assert answer.status_code == 200
    assert sorted(i["code"] for i in answer.json()["results"]) == ["crm-a", "crm-b"]
    assert all(i["connected_by"] == "u_1" for i in answer.json()["results"])
