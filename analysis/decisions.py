"""Deciding suggestions: rejecting records the decision; accepting applies it through the owning app's service,
exactly once, even when the worker applying it dies.

Applying a campaign suggestion calls the ad platform, so it cannot share one transaction with the suggestion's
status. It is applied under a lease instead:

1. accepting claims it: one conditional update proposed → accepted stamps `claimed_at` (the lease's start, and
   this attempt's token) and counts the attempt, so accepting twice claims nothing the second time (409);
2. the owning service applies it: a campaign's budget or status through ads.services (the platform first, then
   the campaign, its audit event carrying this suggestion's reason, in one transaction); a price through
   commerce.services and a reorder as a PurchaseNeed, each in one transaction with the status write, so they
   happen with it or not at all;
3. the outcome is written under the token (still accepted with this `claimed_at`): a worker whose lease was
   taken over writes nothing.

A worker that dies between 1 and 3 leaves the suggestion `accepted`. When its lease (APPLY_LEASE) has run out,
the sweep (analysis.tasks.sweep_analyses, beat every 5 minutes, cron `sweep-analyses`) or the next accept of it
takes it over with a new token and finishes it, looking first for what the dead attempt did: a campaign change
the ads service committed left its audit event with this suggestion's reason, or the campaign already holds the
value; failing those, it reads the campaign from the platform (ads.services.campaign_change_confirm), which
covers a push the platform took before the worker died and the ERP never recorded; the change is then recorded,
marked applied, and nothing is sent again. Only when nothing was done is the service called. A platform that
cannot read single campaigns (its connector's `fetch_campaigns` answers nothing) leaves that last window open:
there the recovery sends the same value again, which leaves the platform as it was.

A transient platform failure (throttled past the HTTP client's retries, down) leaves it `accepted` with the
reason: the sweep tries again when the lease runs out, MAX_APPLY_ATTEMPTS attempts in all, then it is `failed`.
A refusal (the platform said no, the value is not valid any more) fails it at once with the reason.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework import status as http_status

from accounts.audit import record_audit
from accounts.models import AuditEvent
from ads.models import Campaign
from ads.services import campaign_budget_set, campaign_change_confirm, campaign_status_set
from commerce.models import Product
from commerce.services.products import product_price_set
from config.errors import ApplicationError
from connectors.errors import is_transient

from .models import ActionKind, PurchaseNeed, Suggestion, SuggestionStatus

logger = logging.getLogger(__name__)

# Longer than one apply can take: a provider push with the HTTP client's retries and backoff is well under it.
APPLY_LEASE = timedelta(minutes=10)
MAX_APPLY_ATTEMPTS = 3
RECOVERY_ACTOR = "analysis sweep (recovered an interrupted apply)"
_CAMPAIGN_AUDIT = {ActionKind.SET_DAILY_BUDGET: "campaign.budget_changed",
                   ActionKind.PAUSE_CAMPAIGN: "campaign.status_changed"}


class SuggestionNotProposed(ApplicationError):
    code = "SUGGESTION_NOT_PROPOSED"
    http_status = http_status.HTTP_409_CONFLICT
    default_message = "Only a proposed suggestion can be accepted or rejected."


class SuggestionApplyAbandoned(ApplicationError):
    code = "SUGGESTION_APPLY_ABANDONED"
    http_status = http_status.HTTP_409_CONFLICT
    default_message = f"The suggestion could not be applied in {MAX_APPLY_ATTEMPTS} attempts."


def _who(request, actor_label: str) -> str:
    user = getattr(request, "user", None)
    return actor_label or str(getattr(user, "api_key", None) or user or "")


def _not_proposed(pk: int) -> SuggestionNotProposed:
    return SuggestionNotProposed(details={"status": Suggestion.objects.get(pk=pk).status})


def suggestion_reject(*, suggestion: Suggestion, request=None, actor_label: str = "") -> Suggestion:
    if not Suggestion.objects.filter(pk=suggestion.pk, status=SuggestionStatus.PROPOSED).update(
            status=SuggestionStatus.REJECTED, decided_by_label=_who(request, actor_label)[:200],
            decided_at=timezone.now()):
        raise _not_proposed(suggestion.pk)
    record_audit(action="suggestion.rejected", request=request, target=suggestion, actor_label=actor_label or None,
                 details={"suggestion": suggestion.pk, "action": suggestion.action})
    suggestion.refresh_from_db()
    return suggestion


def suggestion_accept(*, suggestion: Suggestion, request=None, actor_label: str = "") -> Suggestion:
    """Apply it, once; the suggestion after: `applied`, or still `accepted` when the platform failed for now (the
    sweep retries it). Accepting one whose earlier apply was interrupted (its lease ran out) finishes that apply.
    Raises SuggestionNotProposed (decided already, or being applied now), or the owning service's refusal
    (the suggestion is left `failed` with the reason)."""
    now = timezone.now()
    claimed = Suggestion.objects.filter(pk=suggestion.pk, status=SuggestionStatus.PROPOSED).update(
        status=SuggestionStatus.ACCEPTED, decided_by_label=_who(request, actor_label)[:200], decided_at=now,
        claimed_at=now, apply_attempts=1)
    token = now if claimed else _take_over(suggestion.pk, now)
    if token is None:
        raise _not_proposed(suggestion.pk)
    return _complete(suggestion.pk, token, resumed=not claimed, request=request, actor_label=actor_label or None)


def _stale(now: datetime) -> Q:
    return Q(status=SuggestionStatus.ACCEPTED) & (Q(claimed_at__lt=now - APPLY_LEASE) | Q(claimed_at__isnull=True))


def _take_over(pk: int, now: datetime) -> datetime | None:
    """Lease an accepted suggestion whose attempt's lease ran out; the new token, or None."""
    taken = Suggestion.objects.filter(_stale(now), pk=pk).update(claimed_at=now,
                                                                 apply_attempts=F("apply_attempts") + 1)
    return now if taken else None


def _owned(pk: int, token: datetime):
    return Suggestion.objects.filter(pk=pk, status=SuggestionStatus.ACCEPTED, claimed_at=token)


def suggestions_recover(*, now: datetime | None = None, limit: int = 100) -> dict[str, int]:
    """The sweep: finish every accepted suggestion whose apply was interrupted (its lease ran out)."""
    now = now or timezone.now()
    counts = {"applied": 0, "failed": 0, "pending": 0}
    for pk in Suggestion.objects.filter(_stale(now)).order_by("claimed_at", "pk").values_list("pk", flat=True)[
            :limit]:
        token = _take_over(pk, now)
        if token is None:
            continue  # another sweep took it
        try:
            status = _complete(pk, token, resumed=True, request=None, actor_label=RECOVERY_ACTOR).status
        except ApplicationError:
            status = SuggestionStatus.FAILED
        except Exception:  # a bug or an outage on one row stops no other: it is tried again, then abandoned
            logger.exception("suggestion %s: the recovered apply crashed", pk)
            status = SuggestionStatus.ACCEPTED
        counts[{"applied": "applied", "failed": "failed"}.get(status, "pending")] += 1
    return counts


def _complete(pk: int, token: datetime, *, resumed: bool, request, actor_label: str | None) -> Suggestion:
    """Apply the suggestion leased with `token`; `resumed`: an earlier attempt was interrupted, look first."""
    suggestion = Suggestion.objects.select_related("organization").get(pk=pk)
    reason = f"suggestion {suggestion.pk}: {suggestion.text}"[:300]
    try:
        done = _already_done(suggestion, reason, request=request, actor_label=actor_label) if resumed else None
        if done is not None:
            applied = done if _mark_applied(pk, token) else None
        elif suggestion.apply_attempts > MAX_APPLY_ATTEMPTS:
            raise SuggestionApplyAbandoned(f"Not applied in {MAX_APPLY_ATTEMPTS} attempts: "
                                           f"{suggestion.error or 'the worker applying it stopped each time.'}")
        else:
            applied = _apply(suggestion, token, reason=reason, request=request, actor_label=actor_label)
    except ApplicationError as exc:
        if is_transient(exc) and suggestion.apply_attempts < MAX_APPLY_ATTEMPTS:
            _owned(pk, token).update(error=f"{exc.message} — it is tried again within "
                                           f"{int(APPLY_LEASE.total_seconds() // 60)} minutes."[:2000])
            suggestion.refresh_from_db()
            return suggestion
        if _owned(pk, token).update(status=SuggestionStatus.FAILED, error=exc.message[:2000]):
            record_audit(action="suggestion.apply_failed", request=request, target=suggestion,
                         actor_label=actor_label,
                         details={"suggestion": pk, "action": suggestion.action, "reason": exc.message[:300]})
        raise
    if applied is not None:  # None: another worker took it over and records the outcome
        record_audit(action="suggestion.applied", request=request, target=suggestion, actor_label=actor_label,
                     details={"suggestion": pk, "action": suggestion.action, "parameters": suggestion.parameters,
                              **applied})
    suggestion.refresh_from_db()
    return suggestion


def _mark_applied(pk: int, token: datetime) -> bool:
    return bool(_owned(pk, token).update(status=SuggestionStatus.APPLIED, applied_at=timezone.now(), error=""))


def _already_done(suggestion: Suggestion, reason: str, *, request, actor_label: str | None) -> dict[str, Any] | None:
    """What an interrupted attempt already did to the campaign (None: nothing, or not a campaign action). Prices
    and purchase needs commit with the status, so an interrupted attempt left nothing of them.

    In the ERP first: the ads service's audit event with this suggestion's reason (its transaction committed), or
    the campaign already holding the value. Then at the platform (ads.services.campaign_change_confirm): a push it
    took before the worker died, which the ERP never recorded, is recorded now instead of sent again."""
    audit_action = _CAMPAIGN_AUDIT.get(suggestion.action)
    if audit_action is None:
        return None
    campaign = Campaign.objects.select_related("integration", "ad_account").get(pk=suggestion.campaign_id)
    if AuditEvent.objects.filter(action=audit_action, target_type=Campaign._meta.label_lower,
                                 target_id=str(campaign.pk), details__reason=reason).exists():
        return {"campaign": campaign.pk, "recovered": "the change was made before the interruption"}
    if suggestion.action == ActionKind.SET_DAILY_BUDGET:
        change: dict[str, Any] = {"daily_budget": suggestion.parameters["daily_budget"]}
        holds = campaign.daily_budget == Decimal(change["daily_budget"])
    else:
        change, holds = {"status": "paused"}, campaign.status == "paused"
    if holds:
        return {"campaign": campaign.pk, "recovered": "the campaign already held the value"}
    if campaign_change_confirm(campaign=campaign, reason=reason, request=request, actor_label=actor_label,
                               **change) is not None:
        return {"campaign": campaign.pk, "recovered": "the platform already held the change"}
    return None


def _apply(suggestion: Suggestion, token: datetime, *, reason: str, request,
           actor_label: str | None) -> dict[str, Any] | None:
    """Apply through the owning service and mark it applied; what was touched (None: the lease was lost)."""
    params = suggestion.parameters
    if suggestion.action in _CAMPAIGN_AUDIT:
        campaign = Campaign.objects.select_related("integration", "ad_account").get(pk=suggestion.campaign_id)
        if suggestion.action == ActionKind.SET_DAILY_BUDGET:
            campaign_budget_set(campaign=campaign, daily_budget=params["daily_budget"], reason=reason,
                                request=request, actor_label=actor_label)
        else:
            campaign_status_set(campaign=campaign, status="paused", reason=reason, request=request,
                                actor_label=actor_label)
        return {"campaign": campaign.pk} if _mark_applied(suggestion.pk, token) else None
    with transaction.atomic():
        if not list(_owned(suggestion.pk, token).select_for_update().values_list("pk", flat=True)):
            return None
        if suggestion.action == ActionKind.SET_PRICE:
            product = Product.objects.get(pk=suggestion.product_id)
            product_price_set(product=product, price=Decimal(params["price"]), reason=reason, request=request,
                              actor_label=actor_label)
            touched: dict[str, Any] = {"product": product.pk}
        else:
            need = PurchaseNeed.objects.create(organization=suggestion.organization,
                                               product_id=suggestion.product_id, quantity=int(params["quantity"]),
                                               suggestion=suggestion, needed_by=date.fromisoformat(params["needed_by"]))
            touched = {"product": suggestion.product_id, "purchase_need": need.pk}
        _mark_applied(suggestion.pk, token)
    return touched


