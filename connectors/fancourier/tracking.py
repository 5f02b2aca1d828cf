"""Keeping open AWBs' status current and telling subscribers when an order's parcel is delivered.

`track_open_shipments(integration_id=…)` asks FAN Courier about the integration's
open AWBs (least recently checked first, in batches), maps each one's latest
event through the event-code table, and saves what changed. A shipment that
becomes delivered gets `delivered_at` (the event's time) and stops being tracked.
When an AWB's status changed, its events go to the order book
(`order_tracking_record`): the order moves through shipped → in transit →
delivered (or delivery failed, returned) by the connector's `order_statuses`,
each event stored once, older ones ignored, and subscribers hear
`order.shipped` / `order.delivered` / `order.returned` once each.

Called outside any transaction (it calls the provider); each shipment is saved
in its own, so a crash halfway keeps what was done. Running it twice changes
nothing the second time (a delivered shipment is no longer open; an unchanged
status is not re-saved, only `last_checked_at`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.errors import ApplicationError
from connectors.payments import order_book
from integrations.models import Integration, IntegrationStatus

from . import mapping
from .models import Shipment

logger = logging.getLogger(__name__)

TRACK_BATCH = 50  # AWBs per tracking call (UNCONFIRMED: FAN Courier documents no limit; URLs stay short)
TRACK_LIMIT = 500  # AWBs per run and integration; the rest come next run


def fancourier_integrations():
    return Integration.objects.filter(provider="fancourier", status=IntegrationStatus.ACTIVE)


def track_open_shipments(*, integration_id: int, limit: int = TRACK_LIMIT) -> dict[str, Any]:
    """Update this integration's open AWBs; counts of checked, changed, delivered and failed."""
    from connectors import registry

    integration = Integration.objects.select_related("organization").get(pk=integration_id)
    connector = registry.connector_for(integration)
    open_rows = list(Shipment.objects.filter(integration=integration, is_open=True)
                     .order_by("last_checked_at", "pk")[:limit])
    counts = {"checked": 0, "changed": 0, "delivered": 0, "failed": 0}
    for start in range(0, len(open_rows), TRACK_BATCH):
        batch = open_rows[start:start + TRACK_BATCH]
        try:
            records = connector.track([row.awb_number for row in batch])
        except ApplicationError as exc:
            logger.warning("FAN Courier tracking of %s failed: %s", integration.code, exc.code)
            Shipment.objects.filter(pk__in=[row.pk for row in batch]).update(
                check_error=exc.message[:1000], last_checked_at=timezone.now())
            counts["failed"] += len(batch)
            continue
        by_awb = {str(record.get("awbNumber")): record for record in records}
        for row in batch:
            counts["checked"] += 1
            outcome = _apply(row, by_awb.get(row.awb_number))
            if outcome in ("changed", "delivered"):
                counts["changed"] += 1
            if outcome == "delivered":
                counts["delivered"] += 1
    return counts


def _apply(row: Shipment, record: dict[str, Any] | None) -> str:
    now = timezone.now()
    event = mapping.latest_event(record) if record else None
    if event is None:
        Shipment.objects.filter(pk=row.pk).update(last_checked_at=now, check_error="")
        return "unchanged"
    code = str(event.get("id")).upper()
    status = mapping.event_status(code) or row.status
    if code not in mapping.EVENT_STATUSES:
        logger.info("FAN Courier AWB %s has an event code the status table lacks: %s", row.awb_number, code)
    if code == row.status_code and status == row.status:
        Shipment.objects.filter(pk=row.pk).update(last_checked_at=now, check_error="")
        return "unchanged"
    with transaction.atomic():
        row = Shipment.objects.select_for_update().get(pk=row.pk)
        if not row.is_open:  # another run closed it meanwhile
            return "unchanged"
        row.status, row.status_code = status, code
        row.status_name = str(event.get("name") or "")[:200]
        row.status_at = mapping.parse_date(event.get("date"))
        row.is_open = status not in mapping.CLOSED_STATUSES
        row.last_checked_at, row.check_error = now, ""
        delivered = status == mapping.ShipmentStatus.DELIVERED
        if delivered:
            row.delivered_at = row.status_at or now
        row.save()
        if row.order_id:
            order_book().order_tracking_record(order_id=row.order_id, integration_id=row.integration_id,
                                               tracking_number=row.awb_number, events=order_events(record))
    return "delivered" if delivered else "changed"


def order_events(record: dict[str, Any]) -> list[dict[str, Any]]:
    """An AWB's tracking record as the order book takes events: keyed by code and time (FAN Courier gives events
    no id of their own), with the shipment status the code means (blank for a code the table lacks)."""
    events = []
    for event in record.get("events") or []:
        at = mapping.parse_date(event.get("date")) if isinstance(event, dict) else None
        if at is None or not event.get("id"):
            continue
        code = str(event["id"]).strip().upper()
        events.append({"external_id": f"{code}@{at.isoformat()}", "code": code, "occurred_at": at,
                       "status": mapping.event_status(code) or "",
                       "description": " · ".join(str(event.get(k)) for k in ("name", "location") if event.get(k))})
    return events
