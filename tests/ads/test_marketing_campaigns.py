"""A CRM's marketing campaigns: the `sync_marketing_campaigns` schedule pulls them through the one import path into
MarketingCampaign rows tied by ExternalRef; the API lists them and creates one at the CRM (the CRM first, its
answer stored, the next sync finding it unchanged); the admin lists them. HubSpot is the CRM at hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import responses
from django.utils import timezone

from accounts.models import AuditEvent
from ads.models import MarketingCampaign
from commerce.models import ExternalRef
from connectors.sessions import close_sessions
from syncjobs.models import JobStatus, JobType, SyncJob, SyncSchedule
from syncjobs.scheduler import syncs_run_due
from syncjobs.services import sync_job_run, sync_job_start
from syncjobs.tasks import run_sync_job
from tests.connectors.support import Recorded, sent_json
from tests.factories import IntegrationFactory, MembershipFactory

pytestmark = pytest.mark.django_db
hubspot = Recorded("hubspot")
CAMPAIGNS = "https://api.hubapi.com/marketing/v3/campaigns"
SPRING = "0b1d7f80-3e1e-4a2c-9f61-22b6cbd1b9a1"
CREATED = "edb9b6c3-d2e2-4ca8-8396-832262aed0d4"


@pytest.fixture
def crm(org, public_dns, sleeps, settings):
    settings.PROVIDER_SETTINGS = {"hubspot": {"CLIENT_ID": "hs-client", "CLIENT_SECRET": "hs-secret"}}
    yield IntegrationFactory(organization=org, provider="hubspot", type="crm", code="hubspot", status="active",
                             auto_sync_enabled=True, access_token="hs-access-token-1234",
                             refresh_token="hs-refresh", expires_at=timezone.now() + timedelta(minutes=25))
    close_sessions()


@pytest.fixture
def jobs_sent(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(run_sync_job, "apply_async", lambda args, **options: sent.append(args[0]))
    return sent


def both_pages():
    hubspot.replay("GET", CAMPAIGNS, "campaigns__page1")
    hubspot.replay("GET", CAMPAIGNS, "campaigns__page2")


@responses.activate
def test_the_schedule_starts_the_sync_which_imports_every_page_with_its_refs(
        crm, jobs_sent, django_capture_on_commit_callbacks):
    schedules = dict(SyncSchedule.objects.filter(integration=crm).values_list("job_type", "every_minutes"))
    assert schedules == {JobType.SYNC_MARKETING_CAMPAIGNS: 360, "check_health": 15}

    with django_capture_on_commit_callbacks(execute=True):
        syncs_run_due(now=timezone.now())
    [job] = SyncJob.objects.filter(integration=crm)
    assert (job.job_type, job.trigger, jobs_sent) == (JobType.SYNC_MARKETING_CAMPAIGNS, "schedule", [job.pk])

    both_pages()
    job = sync_job_run(job_id=job.pk)
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert (job.records_created, job.records_failed) == (2, 0)
    spring = MarketingCampaign.objects.get(external_id=SPRING)
    assert (spring.name, spring.status, spring.start_date, spring.end_date, spring.organization_id) == (
        "Spring sale", "in_progress", date(2026, 3, 1), date(2026, 3, 31), crm.organization_id)
    ref = ExternalRef.objects.get(integration=crm, resource_type="marketing_campaign", external_id=SPRING)
    assert ref.object_id == spring.pk and ref.external_updated_at.isoformat() == "2026-03-02T08:00:00+00:00"

    again = sync_job_start(integration=crm, trigger="api", job_type=JobType.SYNC_MARKETING_CAMPAIGNS,
                           enqueue=False)
    responses.reset()
    both_pages()
    again = sync_job_run(job_id=again.pk)
    assert (again.records_created, again.records_updated, again.records_unchanged) == (0, 0, 2)
    assert MarketingCampaign.objects.count() == 2


def test_providers_without_marketing_campaigns_get_no_such_schedule(org):
    shop = IntegrationFactory(organization=org, provider="sandbox")
    assert not SyncSchedule.objects.filter(integration=shop, job_type=JobType.SYNC_MARKETING_CAMPAIGNS).exists()


def test_the_list_is_the_tenant_s_and_filters_by_integration(crm, viewer_api, other_org):
    MarketingCampaign.objects.create(organization=crm.organization, integration=crm, external_id="a", name="Mine")
    stranger = IntegrationFactory(organization=other_org, provider="hubspot", type="crm")
    theirs = MarketingCampaign.objects.create(organization=other_org, integration=stranger, external_id="b",
                                              name="Theirs")
    rows = viewer_api.get("/api/marketing-campaigns/").json()["results"]
    assert [(r["name"], r["integration_code"]) for r in rows] == [("Mine", "hubspot")]
    assert viewer_api.get("/api/marketing-campaigns/", {"integration": stranger.pk}).json()["results"] == []
    assert viewer_api.get(f"/api/marketing-campaigns/{theirs.pk}/").status_code == 404


@responses.activate
def test_create_asks_the_crm_then_stores_its_answer_and_the_next_sync_finds_it_unchanged(
        crm, operator_api, viewer_api):
    body = {"integration": crm.pk, "name": "Winter drop", "start_date": "2026-12-10", "end_date": "2027-01-15",
            "notes": "Launch of the winter range"}
    assert viewer_api.post("/api/marketing-campaigns/", body, format="json").status_code == 403
    hubspot.replay("POST", CAMPAIGNS, "campaign_create__ok")
    answer = operator_api.post("/api/marketing-campaigns/", body, format="json")
    assert answer.status_code == 201, answer.json()
    assert sent_json(responses.calls[0]) == {"properties": {
        "hs_name": "Winter drop", "hs_start_date": "2026-12-10", "hs_end_date": "2027-01-15",
        "hs_notes": "Launch of the winter range"}}
    created = answer.json()
    assert (created["external_id"], created["name"], created["end_date"]) == (CREATED, "Winter drop", "2027-01-15")
    assert AuditEvent.objects.filter(action="marketing_campaign.created").count() == 1

    responses.reset()
    responses.add("GET", CAMPAIGNS, json={"results": [hubspot("campaign_create__ok")["body"]]})
    job = sync_job_start(integration=crm, trigger="api", job_type=JobType.SYNC_MARKETING_CAMPAIGNS, enqueue=False)
    job = sync_job_run(job_id=job.pk)
    assert (job.records_created, job.records_unchanged) == (0, 1)
    assert MarketingCampaign.objects.filter(external_id=CREATED).count() == 1


@responses.activate
@pytest.mark.parametrize(("body", "field"), [
    ({"name": ""}, "name"),
    ({"name": "x", "start_date": "2026-12-10", "end_date": "2026-12-01"}, "end_date"),
    ({"name": "x", "colour": "red"}, "colour"),
])
def test_bad_input_is_refused_before_any_call(crm, operator_api, body, field):
    answer = operator_api.post("/api/marketing-campaigns/", {"integration": crm.pk, **body}, format="json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert field in answer.json()["error"]["details"]
    assert len(responses.calls) == 0 and not MarketingCampaign.objects.exists()


@responses.activate
def test_what_cannot_create_is_told_and_nothing_is_stored(crm, operator_api, org, other_org):
    shop = IntegrationFactory(organization=org, provider="sandbox", code="shop")
    refused = operator_api.post("/api/marketing-campaigns/", {"integration": shop.pk, "name": "x"}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "CAPABILITY_NOT_SUPPORTED"
    foreign = IntegrationFactory(organization=other_org, provider="hubspot", type="crm")
    missing = operator_api.post("/api/marketing-campaigns/", {"integration": foreign.pk, "name": "x"},
                                format="json")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "INTEGRATION_NOT_FOUND"
    crm.status = "pending_auth"
    crm.save()
    inactive = operator_api.post("/api/marketing-campaigns/", {"integration": crm.pk, "name": "x"}, format="json")
    assert inactive.status_code == 409 and inactive.json()["error"]["code"] == "INTEGRATION_INACTIVE"
    assert len(responses.calls) == 0

    crm.status = "active"
    crm.save()
    hubspot.replay("POST", CAMPAIGNS, "campaign_create__missing_scope")
    scope = operator_api.post("/api/marketing-campaigns/", {"integration": crm.pk, "name": "x"}, format="json")
    assert scope.status_code == 502 and scope.json()["error"]["code"] == "PROVIDER_ERROR"
    assert "scopes" in scope.json()["error"]["message"]
    assert not MarketingCampaign.objects.exists()


def test_the_admin_lists_them(crm, client, org):
    MarketingCampaign.objects.create(organization=org, integration=crm, external_id="a", name="Spring sale",
                                     status="in_progress", start_date=date(2026, 3, 1))
    client.force_login(MembershipFactory(organization=org, role="viewer").user)
    page = client.get("/admin/ads/marketingcampaign/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Spring sale" in text and "in_progress" in text
