"""A CRM's marketing campaigns: the import writer (called by syncjobs/resources.py) and creating one at the CRM.

The import is the structure import's (structure.py): claim and lock the page's ExternalRefs, leave alone what
is older (`updated_at`) or identical (payload hash), write the rest in one statement. A campaign created from the
API is asked of the CRM first and then written through the same writer from the CRM's answer, so the row the
next sync finds is that one (same ExternalRef, same payload hash: `unchanged`), never a second.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import transaction

from accounts.audit import record_audit
from commerce.models import ResourceType
from commerce.services.refs import UpsertResult
from config.errors import CapabilityNotSupported, IntegrationInactive, ValidationError
from connectors import registry
from connectors.base import Capability
from connectors.errors import ProviderError
from integrations.models import Integration, IntegrationStatus

from ..models import MarketingCampaign
from .structure import BadRecord, _text, _upsert

NAME_MAX = 300


def _day(record: dict[str, Any], key: str) -> date | None:
    value = record.get(key)
    if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
        raise BadRecord(f"{key} must be a date")
    return value


def _marketing_row(record: dict[str, Any], parents: dict[str, int]) -> dict[str, Any]:
    created = record.get("created_at")
    if created is not None and not isinstance(created, datetime):
        raise BadRecord("created_at must be a datetime")
    return {"name": _text(record, "name", NAME_MAX), "status": _text(record, "status", 40),
            "start_date": _day(record, "start_date"), "end_date": _day(record, "end_date"),
            "notes": str(record.get("notes") or ""), "external_created_at": created}


@transaction.atomic
def upsert_marketing_campaigns(*, integration: Integration, campaigns: list[dict]) -> UpsertResult:
    """Create or update a page of marketing campaigns (`external_id`, `name`, `status`, `start_date`,
    `end_date`, `notes`, `created_at`, `updated_at`); an older version than the one written changes nothing."""
    return _upsert(integration, campaigns, model=MarketingCampaign, resource_type=ResourceType.MARKETING_CAMPAIGN,
                   row=_marketing_row)


def marketing_campaign_create(*, integration: Integration, name: str, start_date: date | None = None,
                              end_date: date | None = None, notes: str = "", request=None) -> MarketingCampaign:
    """Create a campaign at the CRM, then write the CRM's answer as the ERP's row (with an audit event).

    Refused before any call: an empty name or one over 300 characters, an end before the start
    (VALIDATION_ERROR), an integration not active (INTEGRATION_INACTIVE) or whose provider keeps no marketing
    campaigns (CAPABILITY_NOT_SUPPORTED). What the CRM refuses is its ProviderError, nothing written.
    """
    name = (name or "").strip()
    problems: dict[str, list[str]] = {}
    if not name:
        problems["name"] = ["A campaign needs a name."]
    elif len(name) > NAME_MAX:
        problems["name"] = [f"At most {NAME_MAX} characters."]
    if start_date and end_date and end_date < start_date:
        problems["end_date"] = ["Ends before it starts."]
    if problems:
        raise ValidationError(details=problems)
    if not registry.is_registered(integration.provider) or not registry.get(integration.provider).supports(
            Capability.MARKETING_CAMPAIGNS):
        raise CapabilityNotSupported(f"{integration.provider} keeps no marketing campaigns.",
                                     details={"integration": [f"{integration.code} cannot create campaigns"]})
    if integration.status != IntegrationStatus.ACTIVE:
        raise IntegrationInactive(f"The integration is {integration.status}: activate or reconnect it first.",
                                  details={"integration_status": integration.status})
    connector = registry.connector_for(integration)
    raw = connector.create_marketing_campaign(name=name, start_date=start_date, end_date=end_date, notes=notes)
    try:
        record = connector.normalize_marketing_campaign(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise ProviderError(f"The CRM's answer to the create names no campaign: {exc}") from None
    with transaction.atomic():
        result = upsert_marketing_campaigns(integration=integration, campaigns=[record])
        if result.failed:
            raise ProviderError(f"The CRM's answer could not be stored: {result.failed[0]['error']}")
        campaign = MarketingCampaign.objects.get(integration=integration, external_id=record["external_id"])
        record_audit(action="marketing_campaign.created", request=request, target=campaign,
                     details={"integration": integration.code, "external_id": campaign.external_id, "name": name})
    return campaign
