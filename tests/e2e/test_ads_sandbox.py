"""End to end on real HTTP: connect a Meta ad account in the sandbox over OAuth, sync its structure, sync 30
days of metrics through throttling, pause a campaign from the API and find it paused in the sandbox, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from ads.models import AdAccount, AdSet, Campaign, CampaignMetricsDay
from integrations.models import Integration, IntegrationStatus
from sandbox.ads import META_CLIENT_ID, META_CLIENT_SECRET
from sandbox.server import SandboxServer
from syncjobs.models import JobStatus, JobType
from syncjobs.services import sync_job_run, sync_job_start
from tests.factories import IntegrationFactory
from tests.integrations.oauth_fakes import callback_path, consent, outcome

REDIRECT = "https://erp.example.com/integrations/connected"


@pytest.mark.e2e
@pytest.mark.django_db
def test_connect_sync_structure_and_30_days_then_pause_once(settings, provider_settings, org, admin_api,
                                                           operator_api):
    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    settings.OAUTH_ALLOWED_REDIRECT_URIS = ["https://erp.example.com/integrations/"]
    provider_settings("meta_ads", CLIENT_ID=META_CLIENT_ID, CLIENT_SECRET=META_CLIENT_SECRET)
    with SandboxServer(port=0, seed=3, orders=5, products=3, meta_throttle_every=5) as sandbox:
        pending = IntegrationFactory(organization=org, provider="meta_ads", type="advertising",
                                     status=IntegrationStatus.PENDING_AUTH, api_endpoint=sandbox.url + "/meta")
        # 1. connect: initiate, consent at the sandbox's dialog, callback; code → short → long-lived token
        started = admin_api.post("/api/integrations/oauth/initiate/", {
            "provider": "meta_ads", "redirect_uri": REDIRECT, "integration_id": pending.pk}, format="json")
        assert started.status_code == 201, started.json()
        query = consent(started.json()["authorization_url"])
        result = outcome(Client().get(callback_path("meta_ads"), query))
        assert result["status"] == "success", result
        integration = Integration.objects.get(pk=pending.pk)
        assert integration.status == IntegrationStatus.ACTIVE
        assert integration.access_token.startswith("EAASandboxLong")
        assert integration.expires_at > timezone.now() + timedelta(days=59)
        assert integration.config["ad_account_ids"] == ["1001"]
        assert sandbox.stats()["meta_token_exchanges"] == 1

        # 2. structure, then 30 days of figures, through the engine (throttled every 5th call: waited, retried)
        job = sync_job_start(integration=integration, trigger="api", job_type=JobType.SYNC_CAMPAIGNS, enqueue=False)
        job = sync_job_run(job_id=job.pk)
        assert job.status == JobStatus.COMPLETED, job.error_message
        assert (AdAccount.objects.count(), Campaign.objects.count(), AdSet.objects.count()) == (1, 3, 3)
        since = timezone.now() - timedelta(days=29)
        job = sync_job_start(integration=integration, trigger="api", job_type=JobType.SYNC_AD_METRICS, since=since,
                             enqueue=False)
        job = sync_job_run(job_id=job.pk)
        assert job.status == JobStatus.COMPLETED, job.error_message
        assert CampaignMetricsDay.objects.count() == 3 * 30 and job.records_failed == 0
        assert sandbox.stats()["meta_throttled"] >= 1

        # 3. pause from the API: the sandbox sees exactly one update, and the ERP shows what it holds
        campaign = Campaign.objects.get(name="Spring sale")
        assert campaign.status == "active" and campaign.daily_budget == 25
        answer = operator_api.patch(f"/api/campaigns/{campaign.pk}/", {"status": "paused"}, format="json")
        assert answer.status_code == 200, answer.json()
        assert answer.json()["status"] == "paused"
        assert sandbox.meta.updates == [(campaign.external_id, "status", "PAUSED")]
        assert sandbox.meta.campaigns[campaign.external_id]["status"] == "PAUSED"
        again = operator_api.patch(f"/api/campaigns/{campaign.pk}/", {"status": "paused"}, format="json")
        assert again.status_code == 200 and len(sandbox.meta.updates) == 1  # already paused: nothing sent


@pytest.mark.e2e
@pytest.mark.django_db
def test_make_run_s_demo_has_a_connected_ad_account_whose_scheduled_sync_brings_campaigns(settings, tmp_path):
    from django.core.management import call_command

    from console.management.commands.setup_demo import DEMO_ADS, meta_token_file

    settings.OUTBOUND_URL_ALLOWLIST = ["127.0.0.1"]
    settings.VAR_DIR = str(tmp_path)
    with SandboxServer(port=0, seed=1, orders=5, products=3) as sandbox:
        settings.PROVIDER_SETTINGS = {"sandbox": {"URL": sandbox.url}}
        call_command("setup_demo", stdout=open(tmp_path / "out.txt", "w"))  # noqa: SIM115
        sandbox.meta.tokens[meta_token_file().read_text()] = "long"  # what --seed-meta-token does
        ads = Integration.objects.get(code=DEMO_ADS)
        assert ads.status == IntegrationStatus.ACTIVE and ads.auto_sync_enabled
        job = sync_job_start(integration=ads, trigger="schedule", enqueue=False)
        job = sync_job_run(job_id=job.pk)
        assert job.status == JobStatus.COMPLETED, job.error_message
        assert Campaign.objects.filter(integration=ads).count() == 3
        assert CampaignMetricsDay.objects.filter(campaign__integration=ads).exists()
