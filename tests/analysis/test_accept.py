"""Deciding suggestions: accepting applies through the owning service once, with an audit event; rejecting
changes nothing; a platform's refusal leaves the suggestion failed with its words."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import responses
from responses import matchers

from accounts.models import AuditEvent
from ads.models import Campaign
from analysis import decisions
from analysis.models import AnalysisRun, PurchaseNeed, Suggestion
from commerce.models import Product
from tests.ads.support import CAMPAIGN_ID, GRAPH, meta

pytestmark = pytest.mark.django_db


def _suggest(org, **fields):
    run = AnalysisRun.objects.create(organization=org, kind="campaigns", status="completed", source="rules")
    return Suggestion.objects.create(organization=org, run=run, text="x", confidence=Decimal("0.7"), source="rules",
                                     **fields)


@responses.activate
def test_accepting_a_budget_changes_the_campaign_through_the_ads_service_and_pushes_it_once(org, campaign):
    post = meta.replay("POST", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__update_ok",
                       match=[matchers.urlencoded_params_matcher({"daily_budget": "4000"})])
    meta.replay("GET", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__after_budget")
    suggestion = _suggest(org, campaign=campaign, action="set_daily_budget",
                          parameters={"daily_budget": "40.00", "from": "25.00", "currency": "RON"})
    decided = decisions.suggestion_accept(suggestion=suggestion, actor_label="operator ana")
    assert decided.status == "applied" and decided.applied_at is not None
    assert Campaign.objects.get().daily_budget == Decimal("40.00")
    assert post.call_count == 1
    with pytest.raises(decisions.SuggestionNotProposed):
        decisions.suggestion_accept(suggestion=suggestion, actor_label="operator ana")
    assert post.call_count == 1  # the second accept pushed nothing
    changed = AuditEvent.objects.get(action="campaign.budget_changed")
    assert changed.details["reason"] == f"suggestion {suggestion.pk}: x"
    applied = AuditEvent.objects.get(action="suggestion.applied")
    assert applied.details == {"suggestion": suggestion.pk, "action": "set_daily_budget",
                               "parameters": {"daily_budget": "40.00", "from": "25.00", "currency": "RON"},
                               "campaign": campaign.pk}


@responses.activate
def test_a_refused_budget_leaves_the_suggestion_failed_with_the_platform_s_words(org, campaign):
    meta.replay("POST", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__budget_refused")
    suggestion = _suggest(org, campaign=campaign, action="set_daily_budget",
                          parameters={"daily_budget": "1.00", "from": "25.00", "currency": "RON"})
    with pytest.raises(decisions.ApplicationError):
        decisions.suggestion_accept(suggestion=suggestion)
    suggestion.refresh_from_db()
    assert suggestion.status == "failed" and "minimum budget" in suggestion.error
    assert Campaign.objects.get().daily_budget == Decimal("25.00")


def test_accepting_a_price_sets_it_with_an_audit_event(org):
    product = Product.objects.create(organization=org, sku="SKU-A", price=Decimal("100.00"), currency="RON")
    suggestion = _suggest(org, product=product, action="set_price",
                          parameters={"price": "120.00", "from": "100.00", "currency": "RON"})
    decisions.suggestion_accept(suggestion=suggestion, actor_label="operator ana")
    assert Product.objects.get().price == Decimal("120.00")
    assert AuditEvent.objects.get(action="product.price_changed").details == {
        "changes": {"price": {"from": "100.0000", "to": "120.00"}}, "reason": f"suggestion {suggestion.pk}: x"}


def test_accepting_a_reorder_raises_a_purchase_need(org):
    product = Product.objects.create(organization=org, sku="SKU-C", price=Decimal("30.00"), currency="RON")
    suggestion = _suggest(org, product=product, action="reorder", parameters={"quantity": 74,
                                                                               "needed_by": "2026-12-08"})
    decisions.suggestion_accept(suggestion=suggestion, actor_label="operator ana")
    need = PurchaseNeed.objects.get()
    assert (need.product, need.quantity, need.needed_by, need.is_open, need.suggestion) == (
        product, 74, date(2026, 12, 8), True, suggestion)


def test_rejecting_changes_nothing_and_cannot_be_accepted_after(org):
    product = Product.objects.create(organization=org, sku="SKU-A", price=Decimal("100.00"), currency="RON")
    suggestion = _suggest(org, product=product, action="set_price",
                          parameters={"price": "120.00", "from": "100.00", "currency": "RON"})
    decisions.suggestion_reject(suggestion=suggestion, actor_label="operator ana")
    assert Suggestion.objects.get().status == "rejected" and Product.objects.get().price == Decimal("100.00")
    with pytest.raises(decisions.SuggestionNotProposed):
        decisions.suggestion_accept(suggestion=suggestion)
    assert Product.objects.get().price == Decimal("100.00")
