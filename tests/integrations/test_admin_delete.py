"""Deleting integrations in the admin: through integration_delete (unsubscribe, revoke, integration.disconnected),
audited, one at a time, and a confirmation page whose cost does not grow with the integration's call log."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent
from connectors import http
from console.admin import integrations as integrations_admin
from integrations.models import Integration, IntegrationLog
from tests.factories import IntegrationFactory, MembershipFactory
from tests.integrations.oauth_fakes import CLIENT_ID, CLIENT_SECRET, published, running_oauth_server, subscribe_all

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:integrations_integration_changelist")
LOG_TABLE = IntegrationLog._meta.db_table


def delete_url(integration) -> str:
    return reverse("admin:integrations_integration_delete", args=[integration.pk])


def staff_client(organization, role: str = "admin") -> Client:
    client = Client(REMOTE_ADDR="198.51.100.7")
    client.user = MembershipFactory(organization=organization, role=role).user
    client.force_login(client.user)
    return client


@pytest.fixture
def server(settings, monkeypatch):
    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    server = running_oauth_server()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def connect(org, server):
    """`connect()` → a new OAuth integration of `org` holding live tokens at the fake provider."""
    subscribe_all(org)

    def make() -> Integration:
        tokens = server.issue()
        return IntegrationFactory(organization=org, provider="oauth2_generic", type="api", config=server.config(),
                                  credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                                  access_token=tokens["access_token"], refresh_token=tokens["refresh_token"],
                                  scope=["read"], token_type="Bearer")

    return make


def add_logs(integration, count: int) -> None:
    IntegrationLog.objects.bulk_create(
        IntegrationLog(integration=integration, organization=integration.organization, action="orders.list",
                       method="GET", endpoint="/orders", status_code=200)
        for _ in range(count)
    )


def test_deleting_from_the_change_page_revokes_publishes_and_is_audited(org, server, connect):
    integration = connect()
    add_logs(integration, 3)  # the read-only log admin no longer vetoes the delete of what cascades
    admin = staff_client(org)

    answer = admin.post(delete_url(integration), {"post": "yes"})

    assert answer.status_code == 302 and answer["Location"] == CHANGELIST
    assert not Integration.objects.filter(pk=integration.pk).exists() and not IntegrationLog.objects.exists()
    assert [r["token"] for r in server.revoked] == [integration.refresh_token]
    [event] = published(org, "integration.disconnected")
    assert event["integration"]["id"] == integration.pk and event["reason"] == "deleted"
    audit = AuditEvent.objects.get(action="integration.deleted")
    assert (audit.target_id, audit.target_repr, audit.organization_id) == (
        str(integration.pk), str(integration), org.pk)
    assert (audit.actor_id, audit.ip_address, audit.via) == (admin.user.pk, "198.51.100.7", "admin")
    assert integration.refresh_token not in str(audit.details) and integration.access_token not in str(audit.details)


def test_delete_selected_goes_through_the_service_one_integration_at_a_time(org, server, connect, monkeypatch):
    first, second = connect(), connect()
    untouched = IntegrationFactory(organization=org)
    calls = []
    real_delete = integrations_admin.integration_delete
    monkeypatch.setattr(integrations_admin, "integration_delete",
                        lambda *, integration: calls.append(integration.pk) or real_delete(integration=integration))
    admin = staff_client(org)
    data = {"action": "delete_selected", "_selected_action": [first.pk, second.pk]}

    confirmation = admin.post(CHANGELIST, data)
    assert confirmation.status_code == 200 and calls == [] and Integration.objects.count() == 3
    answer = admin.post(CHANGELIST, {**data, "post": "yes"})

    assert answer.status_code == 302
    assert sorted(calls) == sorted([first.pk, second.pk])
    assert list(Integration.objects.values_list("pk", flat=True)) == [untouched.pk]
    assert sorted(r["token"] for r in server.revoked) == sorted([first.refresh_token, second.refresh_token])
    assert sorted(e["integration"]["id"] for e in published(org, "integration.disconnected")) == sorted(
        [first.pk, second.pk])
    assert sorted(AuditEvent.objects.filter(action="integration.deleted").values_list("target_id", flat=True)) == \
        sorted([str(first.pk), str(second.pk)])


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_delete(org, role):
    integration = IntegrationFactory(organization=org)
    client = staff_client(org, role)
    assert client.post(delete_url(integration), {"post": "yes"}).status_code == 403
    client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [integration.pk], "post": "yes"})
    assert Integration.objects.filter(pk=integration.pk).exists() and not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_provider_is_called_outside_any_transaction(monkeypatch):
    """integration_delete calls the provider before its own atomic delete; Django's delete view must not wrap it."""
    from tests.factories import OrganizationFactory

    org = OrganizationFactory()
    integration = IntegrationFactory(organization=org)
    seen = []
    real_delete = integrations_admin.integration_delete

    def spy(*, integration):
        seen.append(connection.in_atomic_block)
        real_delete(integration=integration)

    monkeypatch.setattr(integrations_admin, "integration_delete", spy)
    assert staff_client(org).post(delete_url(integration), {"post": "yes"}).status_code == 302
    assert seen == [False] and not Integration.objects.exists()


def test_the_confirmation_page_summarizes_related_rows_in_bounded_queries(org, monkeypatch):
    integration = IntegrationFactory(organization=org)
    add_logs(integration, 2)
    admin = staff_client(org)
    admin.get(delete_url(integration))  # warm the session and the per-process caches

    with CaptureQueriesContext(connection) as few:
        page = admin.get(delete_url(integration))
    assert page.status_code == 200
    assert "Integration logs: 2" in page.content.decode()

    add_logs(integration, 300)
    with CaptureQueriesContext(connection) as many:
        page = admin.get(delete_url(integration))
    html = page.content.decode()

    # One capped count per kind of related row (logs, jobs, orders, schedules, campaigns, posts…): as many
    # queries for 302 logs as for 2.
    assert page.status_code == 200 and len(many) == len(few) < 45
    log_queries = [q["sql"] for q in many.captured_queries if LOG_TABLE in q["sql"]]
    assert log_queries and all("LIMIT" in sql and "COUNT(" in sql for sql in log_queries), log_queries
    assert "Integration logs: 302" in html
    assert not re.search(r"/admin/integrations/integrationlog/\d+/", html)  # no row listed one by one
    assert "Cannot delete" not in html and 'type="submit"' in html

    monkeypatch.setattr(integrations_admin, "DELETE_SUMMARY_CAP", 100)
    assert "Integration logs: more than 100" in admin.get(delete_url(integration)).content.decode()


def test_the_delete_selected_confirmation_is_summarized_too(org):
    first, second = IntegrationFactory(organization=org), IntegrationFactory(organization=org)
    add_logs(first, 5)
    add_logs(second, 7)
    with CaptureQueriesContext(connection) as queries:
        page = staff_client(org).post(CHANGELIST, {"action": "delete_selected",
                                                   "_selected_action": [first.pk, second.pk]})
    html = page.content.decode()
    assert page.status_code == 200 and "Integration logs: 12" in html and "Integrations: 2" in html
    assert str(first) in html and str(second) in html
    assert all("LIMIT" in q["sql"] for q in queries.captured_queries if LOG_TABLE in q["sql"])
