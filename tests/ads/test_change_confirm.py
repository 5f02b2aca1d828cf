"""Confirming a change a crash kept from being recorded: the platform is read, nothing is sent; the ERP records
the change only when the platform holds exactly it, and says None when it holds something else or cannot say."""

from __future__ import annotations

from decimal import Decimal

import pytest
import responses

from accounts.models import AuditEvent
from ads.models import Campaign
from ads.services import campaign_change_confirm
from connectors import registry
from tests.ads.support import CAMPAIGN_ID, GRAPH, meta

pytestmark = pytest.mark.django_db


def _platform_holds(**fields):
    record = {**meta("campaigns__by_id")["body"][CAMPAIGN_ID], **fields}
    responses.add("GET", f"{GRAPH}/", json={CAMPAIGN_ID: record})
    meta.replay("GET", f"{GRAPH}/me/adaccounts", "ad_accounts__page1")
    meta.replay("GET", f"{GRAPH}/me/adaccounts", "ad_accounts__page2")


@responses.activate
def test_a_budget_the_platform_holds_is_recorded_without_a_push(campaign):
    _platform_holds(daily_budget="4000", status="ACTIVE")
    confirmed = campaign_change_confirm(campaign=campaign, daily_budget="40.00", reason="suggestion 7: x",
                                        actor_label="analysis sweep")
    assert confirmed is not None and Campaign.objects.get().daily_budget == Decimal("40.00")
    assert [call.request.method for call in responses.calls] == ["GET", "GET", "GET"]  # reads only
    assert AuditEvent.objects.get(action="campaign.budget_changed").details == {
        "changes": {"daily_budget": {"from": "25.00", "to": "40.00"}}, "reason": "suggestion 7: x"}


@responses.activate
def test_a_platform_holding_something_else_changes_nothing(campaign):
    _platform_holds(daily_budget="2500", status="PAUSED")
    assert campaign_change_confirm(campaign=campaign, daily_budget="40.00", reason="x") is None
    assert campaign_change_confirm(campaign=campaign, status="active", reason="x") is None  # Meta says paused
    assert Campaign.objects.get().daily_budget == Decimal("25.00")
    assert not AuditEvent.objects.filter(action__startswith="campaign.").exists()


def test_a_platform_without_single_reads_cannot_confirm(campaign, monkeypatch):
    monkeypatch.setattr(registry.get(campaign.integration.provider), "fetch_campaigns", lambda self, ids: [])
    assert campaign_change_confirm(campaign=campaign, daily_budget="40.00", reason="x") is None
    assert Campaign.objects.get().daily_budget == Decimal("25.00")
