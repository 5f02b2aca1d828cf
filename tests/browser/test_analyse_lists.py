"""The campaign list's analysis action and its "Analyse all" button in a real browser: select a campaign, run the
action, follow the message's link to the queued run; then analyse all. No worker: the nudge is recorded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ads.models import AdAccount, Campaign
from analysis import services
from analysis.models import AnalysisRun
from tests.factories import IntegrationFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_an_operator_analyses_the_selected_campaign_and_then_all(transactional_db, live_server, login, output_dir,
                                                                 org, monkeypatch):
    nudged = []
    monkeypatch.setattr(services, "nudge_on_commit", lambda task, args: nudged.append(args[0]))
    ads = IntegrationFactory(organization=org, provider="meta_ads", type="advertising", code="ads-ro")
    account = AdAccount.objects.create(organization=org, integration=ads, external_id="1001", name="Shop RO",
                                       currency="RON")
    boots, _ = (Campaign.objects.create(organization=org, integration=ads, ad_account=account, external_id=key,
                                        name=name, status="active", daily_budget=Decimal("20.00"), currency="RON")
                for key, name in (("c1", "Winter boots"), ("c2", "Gloves")))
    page = login(MembershipFactory(organization=org, role="operator").user)

    page.goto(f"{live_server.url}/admin/ads/campaign/")
    page.check(f"input.action-select[value='{boots.pk}']")
    page.select_option("select[name=action]", "analyse")
    page.click("button[name=index]")
    link = page.locator(".messagelist a")
    link.wait_for()
    run = AnalysisRun.objects.get()
    assert (run.kind, run.scope, run.trigger) == ("campaigns", {"campaigns": [boots.pk]}, "console")
    assert link.inner_text() == f"Campaigns analysis #{run.pk}" and nudged == [run.pk]
    page.screenshot(path=str(output_dir / "queued.png"), full_page=True)
    link.click()
    page.wait_for_url(f"{live_server.url}/admin/analysis/analysisrun/{run.pk}/change/")

    page.goto(f"{live_server.url}/admin/ads/campaign/")
    page.click("#analyse-all-campaigns")
    page.wait_for_url(f"{live_server.url}/admin/analysis/analysisrun/")
    everything = AnalysisRun.objects.exclude(pk=run.pk).get()
    assert (everything.kind, everything.scope) == ("campaigns", {})
    assert f"Campaigns analysis #{everything.pk}" in page.locator(".messagelist").inner_text()
