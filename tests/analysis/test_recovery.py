"""An accepted suggestion whose worker died is applied exactly once: the sweep (or the next accept) takes over
an apply whose lease ran out, looks for what the dead attempt did, and calls the service only if it did
nothing. The Meta budget push is counted on the mocked Graph API."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import responses
from django.db.models import F
from django.utils import timezone
from responses import matchers

from accounts.models import AuditEvent
from ads.models import Campaign
from ads.services import campaign_budget_set
from analysis import decisions
from analysis.models import AnalysisRun, Suggestion
from commerce.models import Product
from connectors.errors import ProviderUnavailable
from tests.ads.support import CAMPAIGN_ID, GRAPH, meta

pytestmark = pytest.mark.django_db
LATER = decisions.APPLY_LEASE + timedelta(minutes=1)


class WorkerDied(BaseException):
    """The process stops here: nothing after it runs, nothing catches it (not an Exception)."""


def _budget_suggestion(org, campaign) -> Suggestion:
    run = AnalysisRun.objects.create(organization=org, kind="campaigns", status="completed", source="rules")
    return Suggestion.objects.create(organization=org, run=run, campaign=campaign, action="set_daily_budget",
                                     text="Lower Spring sale to 40.00", confidence=Decimal("0.7"), source="rules",
                                     parameters={"daily_budget": "40.00", "from": "25.00", "currency": "RON"})


def _meta_budget_push():
    post = meta.replay("POST", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__update_ok",
                       match=[matchers.urlencoded_params_matcher({"daily_budget": "4000"})])
    meta.replay("GET", f"{GRAPH}/{CAMPAIGN_ID}", "campaign__after_budget")
    return post


def _meta_holds(daily_budget_minor: str):
    """Meta's answer to reading the campaign by id (GET /?ids=…), and the accounts' currencies it needs."""
    record = {**meta("campaigns__by_id")["body"][CAMPAIGN_ID], "status": "ACTIVE", "effective_status": "ACTIVE",
              "daily_budget": daily_budget_minor}
    read = responses.add("GET", f"{GRAPH}/", json={CAMPAIGN_ID: record})
    meta.replay("GET", f"{GRAPH}/me/adaccounts", "ad_accounts__page1")
    meta.replay("GET", f"{GRAPH}/me/adaccounts", "ad_accounts__page2")
    return read


def _lease_runs_out(suggestion: Suggestion) -> None:
    Suggestion.objects.filter(pk=suggestion.pk).update(claimed_at=F("claimed_at") - LATER)


@responses.activate
def test_a_worker_dying_between_claim_and_push_is_recovered_by_the_sweep_and_pushed_once(org, campaign,
                                                                                          monkeypatch):
    post = _meta_budget_push()
    read = _meta_holds("2500")  # Meta still has 25.00: the push never left
    suggestion = _budget_suggestion(org, campaign)
    real_push = decisions.campaign_budget_set

    def die_before_pushing(**kwargs):
        raise WorkerDied

    monkeypatch.setattr(decisions, "campaign_budget_set", die_before_pushing)
    with pytest.raises(WorkerDied):
        decisions.suggestion_accept(suggestion=suggestion, actor_label="operator ana")
    stuck = Suggestion.objects.get()
    assert (stuck.status, stuck.apply_attempts, post.call_count) == ("accepted", 1, 0)
    assert stuck.claimed_at is not None

    monkeypatch.setattr(decisions, "campaign_budget_set", real_push)  # a live worker runs the sweep
    assert decisions.suggestions_recover() == {"applied": 0, "failed": 0, "pending": 0}  # its lease still runs
    assert post.call_count == 0
    assert decisions.suggestions_recover(now=timezone.now() + LATER) == {"applied": 1, "failed": 0, "pending": 0}
    recovered = Suggestion.objects.get()
    assert (recovered.status, recovered.apply_attempts) == ("applied", 2)
    assert Campaign.objects.get().daily_budget == Decimal("40.00")
    assert (read.call_count, post.call_count) == (1, 1)

    # Swept again, accepted again: nothing more reaches Meta.
    assert decisions.suggestions_recover(now=timezone.now() + 2 * LATER) == {"applied": 0, "failed": 0,
                                                                             "pending": 0}
    with pytest.raises(decisions.SuggestionNotProposed):
        decisions.suggestion_accept(suggestion=suggestion)
    assert post.call_count == 1
    assert AuditEvent.objects.filter(action="campaign.budget_changed").count() == 1
    applied = AuditEvent.objects.get(action="suggestion.applied")
    assert applied.actor_label == decisions.RECOVERY_ACTOR and applied.details["campaign"] == campaign.pk


@responses.activate
def test_a_worker_dying_after_the_push_is_not_pushed_again(org, campaign, monkeypatch):
    post = _meta_budget_push()
    suggestion = _budget_suggestion(org, campaign)
    real_push = decisions.campaign_budget_set

    def push_then_die(**kwargs):
        real_push(**kwargs)  # Meta took it and the ads service wrote the campaign; the status write never ran
        raise WorkerDied

    monkeypatch.setattr(decisions, "campaign_budget_set", push_then_die)
    with pytest.raises(WorkerDied):
        decisions.suggestion_accept(suggestion=suggestion, actor_label="operator ana")
    assert Suggestion.objects.get().status == "accepted" and post.call_count == 1

    monkeypatch.setattr(decisions, "campaign_budget_set", real_push)
    assert decisions.suggestions_recover(now=timezone.now() + LATER)["applied"] == 1
    assert Suggestion.objects.get().status == "applied"
    assert post.call_count == 1  # found the ads service's audit event for this suggestion: nothing sent again
    assert AuditEvent.objects.get(action="suggestion.applied").details["recovered"] == (
        "the change was made before the interruption")


@responses.activate
def test_the_next_accept_of_a_stuck_suggestion_finishes_it_once(org, campaign, monkeypatch, operator_api):
    post = _meta_budget_push()
    _meta_holds("2500")
    suggestion = _budget_suggestion(org, campaign)
    real_push = decisions.campaign_budget_set
    monkeypatch.setattr(decisions, "campaign_budget_set", lambda **kwargs: (_ for _ in ()).throw(WorkerDied()))
    with pytest.raises(WorkerDied):
        decisions.suggestion_accept(suggestion=suggestion)
    monkeypatch.setattr(decisions, "campaign_budget_set", real_push)

    busy = operator_api.post(f"/api/suggestions/{suggestion.pk}/accept/")  # its lease still runs: maybe alive
    assert busy.status_code == 409 and busy.json()["error"]["details"] == {"status": "accepted"}
    assert post.call_count == 0
    _lease_runs_out(suggestion)
    answer = operator_api.post(f"/api/suggestions/{suggestion.pk}/accept/")
    assert answer.status_code == 200, answer.json()
    assert (answer.json()["status"], answer.json()["apply_attempts"]) == ("applied", 2)
    assert post.call_count == 1
    assert operator_api.post(f"/api/suggestions/{suggestion.pk}/accept/").status_code == 409
    assert post.call_count == 1


def test_a_transient_failure_stays_accepted_and_the_sweep_applies_it_later(org, campaign, monkeypatch,
                                                                         operator_api):
    suggestion = _budget_suggestion(org, campaign)
    pushes = []

    def throttled_then_ok(**kwargs):
        pushes.append(kwargs["daily_budget"])
        if len(pushes) == 1:
            raise ProviderUnavailable("Meta Ads is unavailable (503).")
        Campaign.objects.filter(pk=kwargs["campaign"].pk).update(daily_budget=Decimal(kwargs["daily_budget"]))

    monkeypatch.setattr(decisions, "campaign_budget_set", throttled_then_ok)
    asked = []
    monkeypatch.setattr(decisions, "campaign_change_confirm", lambda **kwargs: asked.append(kwargs["reason"]))
    answer = operator_api.post(f"/api/suggestions/{suggestion.pk}/accept/")
    assert answer.status_code == 202
    assert answer.json()["status"] == "accepted" and "unavailable (503)" in answer.json()["error"]
    assert decisions.suggestions_recover(now=timezone.now() + LATER)["applied"] == 1
    assert Suggestion.objects.get().status == "applied" and Suggestion.objects.get().error == ""
    assert pushes == ["40.00", "40.00"] and len(asked) == 1  # Meta was asked first: it did not hold 40.00


def test_an_apply_that_keeps_dying_is_failed_after_the_last_attempt(org, campaign, monkeypatch):
    suggestion = _budget_suggestion(org, campaign)
    monkeypatch.setattr(decisions, "campaign_change_confirm", lambda **kwargs: None)  # Meta: not held
    monkeypatch.setattr(decisions, "campaign_budget_set", lambda **kwargs: (_ for _ in ()).throw(WorkerDied()))
    with pytest.raises(WorkerDied):
        decisions.suggestion_accept(suggestion=suggestion)
    now = timezone.now()
    for attempt in range(2, decisions.MAX_APPLY_ATTEMPTS + 1):
        now += LATER
        with pytest.raises(WorkerDied):
            decisions.suggestions_recover(now=now)
        assert Suggestion.objects.get().apply_attempts == attempt
    assert decisions.suggestions_recover(now=now + LATER) == {"applied": 0, "failed": 1, "pending": 0}
    failed = Suggestion.objects.get()
    assert failed.status == "failed" and failed.error.startswith(f"Not applied in {decisions.MAX_APPLY_ATTEMPTS}")
    assert AuditEvent.objects.get(action="suggestion.apply_failed").details["suggestion"] == suggestion.pk


def test_a_price_interrupted_mid_apply_left_nothing_and_is_applied_once(org, monkeypatch):
    product = Product.objects.create(organization=org, sku="SKU-A", price=Decimal("100.00"), currency="RON")
    run = AnalysisRun.objects.create(organization=org, kind="pricing", status="completed", source="rules")
    suggestion = Suggestion.objects.create(organization=org, run=run, product=product, action="set_price", text="x",
                                           confidence=Decimal("0.6"), source="rules",
                                           parameters={"price": "120.00", "from": "100.00", "currency": "RON"})
    real_mark = decisions._mark_applied

    def die_before_the_status(pk, token):
        raise WorkerDied

    monkeypatch.setattr(decisions, "_mark_applied", die_before_the_status)
    with pytest.raises(WorkerDied):
        decisions.suggestion_accept(suggestion=suggestion)
    assert Product.objects.get().price == Decimal("100.00")  # the price and the status commit together or not
    assert not AuditEvent.objects.filter(action="product.price_changed").exists()
    monkeypatch.setattr(decisions, "_mark_applied", real_mark)
    assert decisions.suggestions_recover(now=timezone.now() + LATER)["applied"] == 1
    assert Product.objects.get().price == Decimal("120.00")
    assert AuditEvent.objects.filter(action="product.price_changed").count() == 1


@responses.activate
def test_one_stuck_before_the_lease_existed_is_recovered_without_a_second_push(org, campaign):
    """Accepted by the release before this one (no claimed_at, no attempts counted) after its push went through."""
    post = _meta_budget_push()
    suggestion = _budget_suggestion(org, campaign)
    campaign_budget_set(campaign=campaign, daily_budget="40.00",
                        reason=f"suggestion {suggestion.pk}: {suggestion.text}")
    Suggestion.objects.filter(pk=suggestion.pk).update(status="accepted")
    assert post.call_count == 1
    assert decisions.suggestions_recover()["applied"] == 1
    assert Suggestion.objects.get().status == "applied" and post.call_count == 1


@responses.activate
def test_a_push_meta_took_before_the_worker_died_unrecorded_is_recorded_not_sent_again(org, campaign, monkeypatch):
    from ads.services import changes

    post = _meta_budget_push()
    suggestion = _budget_suggestion(org, campaign)
    real_record = changes._apply

    def die_before_recording(*args, **kwargs):
        raise WorkerDied  # Meta answered 200; the ads service's transaction never ran

    monkeypatch.setattr(changes, "_apply", die_before_recording)
    with pytest.raises(WorkerDied):
        decisions.suggestion_accept(suggestion=suggestion, actor_label="operator ana")
    monkeypatch.setattr(changes, "_apply", real_record)
    assert post.call_count == 1 and Campaign.objects.get().daily_budget == Decimal("25.00")
    assert not AuditEvent.objects.filter(action="campaign.budget_changed").exists()

    read = _meta_holds("4000")
    assert decisions.suggestions_recover(now=timezone.now() + LATER)["applied"] == 1
    assert (read.call_count, post.call_count) == (1, 1)  # read, found 40.00 there: not sent again
    assert Campaign.objects.get().daily_budget == Decimal("40.00")
    changed = AuditEvent.objects.get(action="campaign.budget_changed")
    assert changed.details == {"changes": {"daily_budget": {"from": "25.00", "to": "40.00"}},
                               "reason": f"suggestion {suggestion.pk}: {suggestion.text}"}
    assert AuditEvent.objects.get(action="suggestion.applied").details["recovered"] == (
        "the platform already held the change")
