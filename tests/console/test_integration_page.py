"""The Integration change page's console: masked secrets, Test and Sync now for operators, recent activity."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent
from console.integration_page import RECENT
from integrations.models import Integration
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory, IntegrationLogFactory, OrganizationFactory
from webhooks.models import IncomingWebhook, WebhookEndpoint

pytestmark = pytest.mark.django_db


def change_url(integration):
    return reverse("admin:integrations_integration_change", args=[integration.pk])


def test_an_operator_gets_test_and_sync_now_and_secrets_stay_masked(org, staff, shop_integration):
    page = staff(org, "operator").get(change_url(shop_integration)).content.decode()
    assert 'id="sync-now"' in page and 'id="test-connection"' in page
    options = [f'<option value="{t}">' for t in (JobType.SCHEDULED_SYNC, JobType.SYNC_ORDERS, JobType.SYNC_PRODUCTS)]
    assert all(option in page for option in options)
    assert f'<option value="{JobType.SYNC_CAMPAIGNS}">' not in page  # the sandbox shop has no campaigns
    assert "sk_live_console_secret_4242" not in page and "••••4242" in page
    assert "/static/switchyard/console.js" in page


def test_a_viewer_has_no_sync_or_test_button_and_cannot_post_them(org, staff, shop_integration):
    viewer = staff(org, "viewer")
    page = viewer.get(change_url(shop_integration)).content.decode()
    assert 'id="sync-now"' not in page and 'id="test-connection"' not in page
    assert "need the operator role" in page
    sync = reverse("admin:integrations_integration_sync_now", args=[shop_integration.pk])
    assert viewer.post(sync, {"job_type": JobType.SYNC_ORDERS}).status_code == 403
    assert viewer.post(reverse("admin:integrations_integration_test", args=[shop_integration.pk])).status_code == 403
    assert not SyncJob.objects.exists() and not AuditEvent.objects.exists()


def test_sync_now_starts_the_chosen_job_opens_its_page_and_is_audited(org, staff, shop_integration):
    operator = staff(org, "operator")
    response = operator.post(reverse("admin:integrations_integration_sync_now", args=[shop_integration.pk]),
                             {"job_type": JobType.SYNC_ORDERS})
    job = SyncJob.objects.get()
    assert (job.job_type, job.trigger, job.status) == (JobType.SYNC_ORDERS, Trigger.MANUAL, JobStatus.PENDING)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:syncjobs_syncjob_change", args=[job.pk])

    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.organization, event.ip_address, event.via) == (
        "sync.started", operator.user, org, "198.51.100.23", "admin")
    assert (event.target_type, event.target_id) == ("syncjobs.syncjob", str(job.pk))
    assert event.details == {"integration": "main-shop", "job_type": "sync_orders", "trigger": "manual"}

    again = operator.post(reverse("admin:integrations_integration_sync_now", args=[shop_integration.pk]),
                          {"job_type": JobType.SYNC_ORDERS}, follow=True)
    assert "already pending" in again.content.decode() and SyncJob.objects.count() == 1


def test_sync_now_refuses_a_job_type_the_provider_cannot_run(org, staff, shop_integration):
    response = staff(org, "operator").post(
        reverse("admin:integrations_integration_sync_now", args=[shop_integration.pk]),
        {"job_type": JobType.SYNC_CAMPAIGNS}, follow=True)
    assert "cannot run sync_campaigns" in response.content.decode()
    assert not SyncJob.objects.exists()


def test_another_organizations_integration_is_not_found(org, staff):
    theirs = IntegrationFactory(organization=OrganizationFactory())
    operator = staff(org, "owner")
    sync = reverse("admin:integrations_integration_sync_now", args=[theirs.pk])
    assert operator.post(sync, {"job_type": JobType.SYNC_ORDERS}).status_code == 404
    assert operator.post(reverse("admin:integrations_integration_test", args=[theirs.pk])).status_code == 404
    assert not SyncJob.objects.exists()


def test_the_test_button_answers_json_for_the_inline_result_and_is_audited(org, staff, shop_integration, monkeypatch):
    from connectors.base import ConnectionResult
    from connectors.sandbox.connector import SandboxConnector

    monkeypatch.setattr(SandboxConnector, "test_connection",
                        lambda self: ConnectionResult(ok=False, latency_ms=7,
                                                      detail="401 for key sk_live_console_secret_4242"))
    response = staff(org, "operator").post(reverse("admin:integrations_integration_test", args=[shop_integration.pk]),
                                           HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    answer = response.json()
    assert answer["ok"] is False and answer["latency_ms"] == 7
    assert "sk_live_console_secret_4242" not in answer["detail"] and "401 for key" in answer["detail"]
    event = AuditEvent.objects.get(action="integration.tested")
    assert event.details == {"ok": False, "latency_ms": 7}


def test_recent_tables_show_the_last_rows_with_links_in_bounded_queries(org, staff, shop_integration):
    for n in range(RECENT + 5):
        IntegrationLogFactory(integration=shop_integration, action=f"call_{n:02d}")
        IncomingWebhook.objects.create(integration=shop_integration, organization=org, body=b"{}",
                                       event_type=f"event_{n:02d}", external_id=f"e{n}")
        SyncJob.objects.create(integration=shop_integration, organization=org, job_type=JobType.SYNC_ORDERS,
                               trigger=Trigger.SCHEDULE, status=JobStatus.COMPLETED)
    endpoint = WebhookEndpoint.objects.create(organization=org, integration=shop_integration, events=["*"],
                                              url="https://erp.example/hooks", secret="whsec_never_shown_9876")
    client = staff(org, "viewer")
    with CaptureQueriesContext(connection) as queries:
        page = client.get(change_url(shop_integration)).content.decode()

    assert page.count("<tr><td><a href=\"/admin/syncjobs/syncjob/") == RECENT
    assert "call_14" in page and "call_04" not in page  # newest first, the last RECENT only
    assert "event_14" in page and "event_04" not in page
    assert reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]) in page
    assert "whsec_never_shown_9876" not in page
    assert f"?integration={shop_integration.pk}" in page
    before = len(queries)
    for n in range(20):
        IntegrationLogFactory(integration=shop_integration, action=f"more_{n}")
    with CaptureQueriesContext(connection) as queries:
        client.get(change_url(shop_integration))
    assert len(queries) == before  # rows are read in one slice per table, never one query per row


def test_replacing_a_secret_is_audited_by_name_never_by_value(org, staff, shop_integration):
    admin_client = staff(org, "admin")
    page = admin_client.get(change_url(shop_integration))
    form = page.context["adminform"].form
    data = {name: form.initial.get(name, "") for name in form.fields if not name.endswith(("_new", "_clear"))}
    data.update(scope=json.dumps(form.initial["scope"]), config="{}", metadata="{}", expires_at="",
                api_secret_new="brand_new_secret_value_777", status="active")
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data.pop("organization", None)
    for inline in page.context["inline_admin_formsets"]:  # the schedules, posted back unchanged
        formset = inline.formset
        data.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
        for row in formset.forms:
            data.update({row.add_prefix(k): v for k, v in row.initial.items() if v not in (None, False)})
            data[row.add_prefix("id")] = row.instance.pk
    response = admin_client.post(change_url(shop_integration), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Integration.objects.get(pk=shop_integration.pk).api_secret == "brand_new_secret_value_777"

    event = AuditEvent.objects.get(action="secret.replaced")
    assert event.details == {"secrets": ["api_secret"]} and event.actor == admin_client.user
    trail = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert "brand_new_secret_value_777" not in trail and "sk_live_console_secret_4242" not in trail


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_the_connect_button_is_only_for_roles_that_may_connect(org, staff, shop_integration, role):
    connect = reverse("admin:integrations_integration_connect", args=[shop_integration.pk])
    page = staff(org, role).get(change_url(shop_integration)).content.decode()
    assert f'href="{connect}"' not in page
    assert "Not connected (connecting needs the admin role)" in page
    assert staff(org, role).get(connect).status_code == 403  # what the button would have led to

    page = staff(org, "admin").get(change_url(shop_integration)).content.decode()
    assert f'<a class="button" href="{connect}">Connect</a>' in page
