"""Changing a campaign's budget or status from the ERP: the platform first, the ERP record only if it accepted.

`campaign_budget_set` and `campaign_status_set` are the one way anything in Switchyard changes a campaign: the
API's PATCH, the admin, and (issue 23) an accepted AI suggestion all call them. Each:

1. checks the request (VALIDATION_ERROR, nothing sent), and that the integration can take it
   (INTEGRATION_INACTIVE, CAPABILITY_NOT_SUPPORTED);
2. asks the platform through the connector, outside any transaction (a slow platform holds no lock);
3. if the platform refused, raises CampaignChangeRefused with the platform's words and leaves the campaign as it
   was (an audit event `campaign.change_refused` records the attempt); a transient failure (throttled, down)
   is raised as the connectors' RateLimited / ProviderUnavailable, also changing nothing;
4. if it accepted, in one transaction: writes the campaign as the platform now holds it, moves its ExternalRef
   to that version (so an older sync page cannot undo the change), records the audit event
   (`campaign.budget_changed` / `campaign.status_changed`, from → to, and the reason given) and publishes the
   outbound `campaign.updated` event.

`campaign_change_confirm` is for a caller resuming a change a crash interrupted (an accepted AI suggestion,
analysis/decisions.py): it reads the campaign from the platform and, when the platform already holds the
change, records it exactly as step 4 does, sending nothing, so the change is not pushed a second time.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from rest_framework import status as http_status

from accounts.audit import record_audit
from commerce.models import ExternalRef, ResourceType
from commerce.services.refs import payload_hash
from config.errors import ApplicationError, CapabilityNotSupported, IntegrationInactive, ValidationError
from connectors import registry
from connectors.base import Capability
from connectors.errors import ProviderError
from integrations.events import publish
from integrations.models import IntegrationStatus
from integrations.payloads import integration_summary

from ..models import Campaign, DeliveryStatus

SETTABLE_STATUSES = (DeliveryStatus.ACTIVE, DeliveryStatus.PAUSED)
BUDGET_PLACES = Decimal("0.01")


class CampaignChangeRefused(ApplicationError):
    """The ad platform refused the change; the campaign in the ERP is as it was. `details.reason` is the
    platform's own words."""

    code = "CAMPAIGN_CHANGE_REFUSED"
    http_status = http_status.HTTP_422_UNPROCESSABLE_ENTITY
    default_message = "The ad platform refused the change."


def campaign_payload(campaign: Campaign) -> dict[str, Any]:
    """The campaign as events and the API's summaries show it."""
    return {"id": campaign.pk, "external_id": campaign.external_id, "name": campaign.name,
            "integration": integration_summary(campaign.integration), "status": campaign.status,
            "effective_status": campaign.effective_status, "currency": campaign.currency,
            "daily_budget": _text(campaign.daily_budget), "lifetime_budget": _text(campaign.lifetime_budget)}


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount.quantize(BUDGET_PLACES))


def _connector(campaign: Campaign):
    integration = campaign.integration
    if integration.status != IntegrationStatus.ACTIVE:
        raise IntegrationInactive(f"The integration is {integration.status}: activate or reconnect it first.",
                                  details={"integration_status": integration.status})
    if not registry.is_registered(integration.provider) or not registry.get(integration.provider).supports(
            Capability.CAMPAIGNS):
        raise CapabilityNotSupported(f"{integration.provider} does not manage campaigns.")
    return registry.connector_for(integration)


def _budget(value: Any, field: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(details={field: ["Not a number."]}) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationError(details={field: ["Must be more than 0."]})
    if amount != amount.quantize(BUDGET_PLACES):
        raise ValidationError(details={field: ["At most 2 decimal places."]})
    return amount


def _refused(campaign: Campaign, exc: ProviderError, *, action: str, requested: dict[str, Any], request,
             actor_label: str | None) -> CampaignChangeRefused:
    reason = exc.provider_message or exc.message
    record_audit(action="campaign.change_refused", request=request, target=campaign, actor_label=actor_label,
                 details={"change": action, "requested": requested, "reason": reason[:300]})
    platform = registry.get(campaign.integration.provider).display_name
    return CampaignChangeRefused(
        f"{platform} refused the {action} change of campaign {campaign.name or campaign.external_id}: {reason}",
        details={"campaign": campaign.pk, "requested": requested, "reason": reason,
                 "current": {"status": campaign.status, "daily_budget": _text(campaign.daily_budget),
                             "lifetime_budget": _text(campaign.lifetime_budget)}})


def _apply(campaign: Campaign, after: dict[str, Any], expected: dict[str, Any], *, action: str, reason: str,
           request, actor_label: str | None) -> Campaign:
    """Write what the platform accepted (its answer wins; what was asked where it said nothing), in one transaction
    with the ref's version, the audit event and campaign.updated."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().select_related("integration").get(pk=campaign.pk)
        before = {"status": locked.status, "daily_budget": _text(locked.daily_budget),
                  "lifetime_budget": _text(locked.lifetime_budget)}
        for field, asked in expected.items():
            held = after.get(field)  # what the platform now holds, when it said
            setattr(locked, field, asked if held is None else held)
        if after.get("effective_status"):
            locked.effective_status = str(after["effective_status"])[:40]
        if after.get("updated_at") is not None:
            locked.external_updated_at = after["updated_at"]
            ExternalRef.objects.filter(integration=locked.integration, resource_type=ResourceType.CAMPAIGN,
                                       external_id=locked.external_id).update(
                external_updated_at=after["updated_at"], payload_hash=payload_hash(after))
        locked.save()
        now = {"status": locked.status, "daily_budget": _text(locked.daily_budget),
               "lifetime_budget": _text(locked.lifetime_budget)}
        changes = {key: {"from": before[key], "to": now[key]} for key in now if before[key] != now[key]}
        record_audit(action=action, request=request, target=locked, actor_label=actor_label,
                     details={"changes": changes, "reason": reason[:300]})
        publish("campaign.updated", {"campaign": campaign_payload(locked), "changes": changes},
                locked.organization, locked.integration)
    return locked


def campaign_budget_set(*, campaign: Campaign, daily_budget: Decimal | str | None = None,
                        lifetime_budget: Decimal | str | None = None, reason: str = "", request=None,
                        actor_label: str | None = None) -> Campaign:
    """Set a campaign's daily or lifetime budget (major units of the campaign's currency, e.g. Decimal("25.00")).

    Give exactly one of the two. `reason` is kept in the audit trail (an accepted suggestion names itself there);
    `request` (an API or admin request) or `actor_label` (a background caller: "suggestion 12") says who.
    Returns the campaign as saved. Raises, changing nothing: ValidationError (bad amount, both or neither),
    IntegrationInactive, CapabilityNotSupported, CampaignChangeRefused (the platform said no: `details.reason`),
    or a transient connectors error (RateLimited, ProviderUnavailable: try again later).
    """
    daily, lifetime = _budget(daily_budget, "daily_budget"), _budget(lifetime_budget, "lifetime_budget")
    if (daily is None) == (lifetime is None):
        raise ValidationError("Give either daily_budget or lifetime_budget.",
                              details={"daily_budget": ["Give this or lifetime_budget, not both."]})
    connector = _connector(campaign)
    requested = {"daily_budget": _text(daily)} if daily is not None else {"lifetime_budget": _text(lifetime)}
    try:
        after = connector.set_campaign_budget(campaign.external_id, daily_budget=daily, lifetime_budget=lifetime,
                                              currency=campaign.currency, account_id=campaign.ad_account.external_id)
    except ProviderError as exc:
        if exc.transient:
            raise
        raise _refused(campaign, exc, action="budget", requested=requested, request=request,
                       actor_label=actor_label) from exc
    expected = {"daily_budget": daily} if daily is not None else {"lifetime_budget": lifetime}
    return _apply(campaign, after or {}, expected, action="campaign.budget_changed", reason=reason,
                  request=request, actor_label=actor_label)


def campaign_status_set(*, campaign: Campaign, status: str, reason: str = "", request=None,
                        actor_label: str | None = None) -> Campaign:
    """Pause (`paused`) or resume (`active`) a campaign at its platform, then in the ERP.

    Same contract as `campaign_budget_set`. Setting the status it already has sends nothing and changes nothing.
    """
    if status not in SETTABLE_STATUSES:
        raise ValidationError(details={"status": [f"Must be one of {', '.join(SETTABLE_STATUSES)}."]})
    if campaign.status == status:
        return campaign
    connector = _connector(campaign)
    try:
        after = connector.set_campaign_status(campaign.external_id, status=status,
                                              account_id=campaign.ad_account.external_id)
    except ProviderError as exc:
        if exc.transient:
            raise
        raise _refused(campaign, exc, action="status", requested={"status": status}, request=request,
                       actor_label=actor_label) from exc
    return _apply(campaign, after or {}, {"status": status}, action="campaign.status_changed", reason=reason,
                  request=request, actor_label=actor_label)


def campaign_change_confirm(*, campaign: Campaign, daily_budget: Decimal | str | None = None,
                            status: str | None = None, reason: str = "", request=None,
                            actor_label: str | None = None) -> Campaign | None:
    """Record a budget or status change the platform already holds (sent before a crash, never recorded).

    Give one of the two. Reads the campaign from the platform (the connector's `fetch_campaigns`); when it holds
    the value, writes the campaign, audit event and campaign.updated as after a push and returns the campaign.
    None when it does not, or the platform has no single reads: the caller sends the change. Raises as
    `campaign_budget_set` before any push (inactive integration, no campaigns capability, transient errors)."""
    expected: dict[str, Any] = ({"daily_budget": _budget(daily_budget, "daily_budget")} if status is None
                                else {"status": status})
    connector = _connector(campaign)
    held = [normalized for normalized in map(connector.normalize_campaign,
                                             connector.fetch_campaigns([campaign.external_id]))
            if str(normalized.get("external_id")) == campaign.external_id]
    if not held or any(held[0].get(field) != value for field, value in expected.items()):
        return None
    after = held[0]
    action = "campaign.status_changed" if status is not None else "campaign.budget_changed"
    return _apply(campaign, after, expected, action=action, reason=reason, request=request, actor_label=actor_label)
