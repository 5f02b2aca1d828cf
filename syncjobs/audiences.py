"""Audience pushes: the ERP's customers who consented to email marketing, copied into a mailing audience.

Who consented is what the channels said with their orders (`Order.customer_accepts_marketing`, filled by the
order normalizers that carry it): per address, the latest order with a known answer decides, so a buyer who
withdrew consent on a later order is not sent. Nobody with an unknown answer is sent. The audience is the
integration's `config["list_id"]` (GET of the lists records them in `metadata["audiences"]` for choosing), or the
connector's `default_audience` (a CRM's contacts, which need no choosing).
Only addresses whose deciding order changed since the last push go (`metadata["audience_pushed_at"]`), unless
`full`. The connector's upsert is idempotent (by the subscriber's id), so a retried push sends nothing twice
that matters.

Hourly (`push-audiences`), every active integration an operator has started an audience on is pushed again:
one with a list chosen (`config["list_id"]`) or pushed by hand once (`audience_pushed_at`). A CRM connected only
for its campaigns, never pushed, is left alone: copying customers into it is the operator's decision, once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from commerce.models import Order
from config.errors import CapabilityNotSupported, ValidationError
from connectors import registry
from connectors.base import Capability
from integrations.metadata import integration_metadata_write
from integrations.models import Integration, IntegrationStatus

BATCH = 500


def consenting_customers(*, organization_id: int, changed_since: datetime | None = None) -> list[dict[str, str]]:
    """`[{email, first_name, last_name}]` of customers whose latest order with a known consent said yes."""
    rows = (Order.objects.filter(organization_id=organization_id, customer_accepts_marketing__isnull=False)
            .exclude(customer_email="").order_by("placed_at", "id")
            .values_list("customer_email", "customer_name", "customer_accepts_marketing", "updated_at"))
    latest: dict[str, tuple[str, bool, datetime]] = {}
    for email, name, consent, updated_at in rows.iterator():
        latest[email.strip().lower()] = (name, consent, updated_at)
    found = []
    for email, (name, consent, updated_at) in sorted(latest.items()):
        if not consent or (changed_since is not None and updated_at < changed_since):
            continue
        first, _, last = (name or "").partition(" ")
        found.append({"email": email, "first_name": first, "last_name": last})
    return found


def _connector(integration: Integration):
    if not registry.supports(integration.provider, Capability.CONTACTS):
        raise CapabilityNotSupported(f"{integration.provider} has no audiences.")
    return registry.connector_for(integration)


def integrations_pushing_audiences() -> list[int]:
    """The active integrations whose audience is kept current (see above), by id."""
    providers = [key for key, cls in registry.providers().items() if cls.supports(Capability.CONTACTS)]
    rows = Integration.objects.filter(provider__in=providers, status=IntegrationStatus.ACTIVE).values_list(
        "pk", "config", "metadata")
    return [pk for pk, config, metadata in rows.order_by("pk")
            if (isinstance(config, dict) and config.get("list_id"))
            or (isinstance(metadata, dict) and metadata.get("audience_pushed_at"))]


def audiences_refresh(*, integration: Integration) -> list[dict[str, Any]]:
    """Read the provider's lists into `metadata["audiences"]` (what an operator picks `config["list_id"]` from)."""
    lists = _connector(integration).audience_lists()
    integration_metadata_write(integration, values={"audiences": lists})
    return lists


def audience_push(*, integration: Integration, full: bool = False) -> dict[str, int]:
    connector = _connector(integration)
    list_id = str((integration.config or {}).get("list_id") or connector.default_audience)
    if not list_id:
        raise ValidationError("Choose the audience first: config.list_id (see metadata.audiences).",
                              details={"config.list_id": ["required"]})
    started = timezone.now()
    pushed_at = None if full else parse_datetime(str((integration.metadata or {}).get("audience_pushed_at") or ""))
    contacts = consenting_customers(organization_id=integration.organization_id, changed_since=pushed_at)
    counts = {"upserted": 0, "failed": 0}
    for start in range(0, len(contacts), BATCH):
        for key, value in connector.audience_upsert(list_id, contacts[start:start + BATCH]).items():
            counts[key] = counts.get(key, 0) + value
    integration_metadata_write(integration, values={"audience_pushed_at": started.isoformat(),
                                                    "audience_last_push": counts})
    return counts
