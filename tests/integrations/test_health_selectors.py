"""integrations/health_selectors.py: one health computation, from every source, for a page of integrations."""

from __future__ import annotations

import base64
import os
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.health_selectors import Health, integration_health, integrations_health
from integrations.models import Integration
from syncjobs.models import JobStatus, JobType, SyncJob, Trigger
from tests.factories import IntegrationFactory, IntegrationLogFactory
from webhooks.models import IncomingStatus, IncomingWebhook, WebhookEndpoint

pytestmark = pytest.mark.django_db


def incoming(integration, status, *, n=1, error="", received_ago=timedelta(minutes=5)):
    for _ in range(n):
        IncomingWebhook.objects.create(integration=integration, organization=integration.organization, body=b"{}",
                                       status=status, error_message=error, retry_count=1 if error else 0,
                                       received_at=timezone.now() - received_ago)


def failing_endpoint(organization, integration=None):
    return WebhookEndpoint.objects.create(organization=organization, integration=integration,
                                          url="https://receiver.example/hook", events=["*"], secret="whsec_x",
                                          failing_since=timezone.now() - timedelta(hours=1))


def test_a_quiet_active_integration_is_ok(org):
    report = integration_health(IntegrationFactory(organization=org))
    assert (report.state, report.label, report.reasons) == (Health.OK, "OK", [])


def test_webhooks_retrying_after_an_error_count_as_failing(org):
    integration = IntegrationFactory(organization=org)
    incoming(integration, IncomingStatus.PENDING, n=3, error="ProviderUnavailable: the shop answered 503")
    incoming(integration, IncomingStatus.PENDING, n=2)  # a plain backlog: not a failure
    report = integration_health(integration)
    assert report.state == Health.DEGRADED
    assert report.reasons == ["3 incoming webhook(s) retrying after errors"]
    assert (report.facts.webhooks_pending, report.facts.webhooks_retrying) == (5, 3)


def test_failed_webhooks_count_for_a_day(org):
    integration = IntegrationFactory(organization=org)
    incoming(integration, IncomingStatus.FAILED, error="KeyError: 'id'", received_ago=timedelta(hours=30))
    assert integration_health(integration).state == Health.OK
    incoming(integration, IncomingStatus.FAILED, error="KeyError: 'id'")
    assert integration_health(integration).reasons == ["1 incoming webhook(s) failed in 24 h"]


def test_a_failing_organization_wide_endpoint_degrades_every_integration_of_the_organization(org, other_org):
    mine, also_mine = IntegrationFactory(organization=org), IntegrationFactory(organization=org)
    theirs = IntegrationFactory(organization=other_org)
    failing_endpoint(org)
    failing_endpoint(org, integration=mine)
    reports = integrations_health([mine, also_mine, theirs])
    assert reports[mine.pk].reasons == ["1 outgoing endpoint(s) of this integration failing",
                                        "1 organization-wide outgoing endpoint(s) failing"]
    assert reports[also_mine.pk].reasons == ["1 organization-wide outgoing endpoint(s) failing"]
    assert reports[theirs.pk].state == Health.OK


def test_most_calls_failing_is_an_error(org):
    integration = IntegrationFactory(organization=org)
    for code in (500, 500, 502, 200, 503, 200):
        IntegrationLogFactory(integration=integration, status_code=code)
    report = integration_health(integration)
    assert (report.state, report.reasons) == (Health.ERROR, ["67% of calls failed in 24 h"])


def test_states_come_from_the_status_and_the_token(org):
    now = timezone.now()
    waiting = IntegrationFactory(organization=org, status="pending_auth")
    expired = IntegrationFactory(organization=org, access_token="t", expires_at=now - timedelta(hours=3))
    refreshable = IntegrationFactory(organization=org, access_token="t", refresh_token="r",
                                     expires_at=now - timedelta(hours=3))
    expiring = IntegrationFactory(organization=org, access_token="t", expires_at=now + timedelta(days=1))
    paused = IntegrationFactory(organization=org, status="inactive")
    broken = IntegrationFactory(organization=org, status="error", last_error="PROVIDER_ERROR: 500")
    reports = integrations_health([waiting, expired, refreshable, expiring, paused, broken])

    assert reports[waiting.pk].state == Health.REAUTH
    assert reports[expired.pk].state == Health.REAUTH
    assert "no refresh token" in reports[expired.pk].reasons[0]
    assert reports[refreshable.pk].state == Health.OK  # the refresh renews it
    assert reports[expiring.pk].state == Health.DEGRADED
    assert "access token expires" in reports[expiring.pk].reasons[0]
    assert (reports[paused.pk].state, reports[paused.pk].label) == (Health.PAUSED, "Paused")
    assert reports[broken.pk].reasons == ["PROVIDER_ERROR: 500"]


def test_a_paused_integration_still_lists_its_problems(org):
    integration = IntegrationFactory(organization=org, status="inactive")
    incoming(integration, IncomingStatus.PENDING, error="boom")
    assert integration_health(integration).reasons == ["switched off (inactive): activate it to sync",
                                                       "1 incoming webhook(s) retrying after errors"]


def test_a_failed_last_sync_degrades_and_a_running_one_is_named(org):
    integration = IntegrationFactory(organization=org)
    SyncJob.objects.create(integration=integration, organization=org, job_type=JobType.SYNC_ORDERS,
                           trigger=Trigger.SCHEDULE, status=JobStatus.FAILED)
    report = integration_health(integration)
    assert report.state == Health.DEGRADED and report.reasons == ["last sync failed"]
    assert report.facts.last_job_status == JobStatus.FAILED


def test_secrets_under_a_key_the_ring_lacks_make_it_red_without_decrypting(org, settings):
    old, new = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    with override_settings(ENCRYPTION_KEYS=[new, old]):
        integration = IntegrationFactory(organization=org, api_key="secret-value", status="inactive")
    settings.ENCRYPTION_KEYS = [old]
    loaded = Integration.objects.defer("api_key").get(pk=integration.pk)
    report = integration_health(loaded)
    assert report.state == Health.ERROR and "SECRETS_UNREADABLE" in report.reasons[0]
    assert report.facts.unreadable_key_ids and report.as_dict()["secrets_readable"] is False


def test_a_page_costs_the_same_queries_for_2_or_20_integrations(org):
    def populate(n):
        for _ in range(n):
            integration = IntegrationFactory(organization=org)
            IntegrationLogFactory(integration=integration, status_code=500)
            incoming(integration, IncomingStatus.PENDING, error="boom")
            failing_endpoint(org, integration)

    def queries() -> int:
        integrations = list(Integration.objects.filter(organization=org))
        with CaptureQueriesContext(connection) as captured:
            integrations_health(integrations)
        return len(captured)

    populate(2)
    few = queries()
    populate(18)
    assert few == queries() == 5  # calls, secrets' key ids, webhooks, endpoints, jobs
