"""FAN Courier's words ⇄ ours: the one event-code table, and an order's shipment → the `intern-awb` body.

Status table: FAN Courier reports a parcel's history as events (`{id, name,
location, date}`); the latest event's `id` decides the shipment's status here and
nowhere else. Codes marked UNCONFIRMED come from integrators' lists, not from
FAN Courier's own catalogue (`reports/awb-events` returns it; compare the table
with it when in doubt). A code missing from the table keeps the shipment's
status as it was and is recorded as-is, never guessed.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import models

from connectors.mapping import MappingError

ROMANIA = ZoneInfo("Europe/Bucharest")  # FAN Courier's dates carry no zone; they are Romanian local time


class ShipmentStatus(models.TextChoices):
    CREATED = "created", "AWB created"
    PICKED_UP = "picked_up", "Picked up"
    IN_TRANSIT = "in_transit", "In transit"
    OUT_FOR_DELIVERY = "out_for_delivery", "Out for delivery"
    DELIVERY_ATTEMPTED = "delivery_attempted", "Delivery attempted"
    EXCEPTION = "exception", "Exception (address, refusal…)"
    DELIVERED = "delivered", "Delivered"
    RETURNED = "returned", "Returned to sender"


# A shipment in one of these is no longer tracked.
CLOSED_STATUSES = frozenset({ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED})

# FAN Courier event code → (our status, what it means, where the meaning comes from).
EVENT_STATUSES: dict[str, tuple[str, str, str]] = {
    "C0": (ShipmentStatus.PICKED_UP, "Expediție ridicată (picked up)", "PROVIDERS.md"),
    "H3": (ShipmentStatus.IN_TRANSIT, "Sortată (sorted)", "PROVIDERS.md"),
    "H10": (ShipmentStatus.IN_TRANSIT, "În tranzit", "PROVIDERS.md"),
    "H1": (ShipmentStatus.IN_TRANSIT, "Sosită în depozitul de destinație", "PROVIDERS.md"),
    "C1": (ShipmentStatus.OUT_FOR_DELIVERY, "Preluată spre livrare", "PROVIDERS.md"),
    "S1": (ShipmentStatus.OUT_FOR_DELIVERY, "În livrare", "PROVIDERS.md"),
    "S12": (ShipmentStatus.DELIVERY_ATTEMPTED, "Contactat; livrare ulterioară", "PROVIDERS.md"),
    "S2": (ShipmentStatus.DELIVERED, "Livrat", "UNCONFIRMED"),
    "S3": (ShipmentStatus.DELIVERY_ATTEMPTED, "Avizat (notice left)", "UNCONFIRMED"),
    "S4": (ShipmentStatus.EXCEPTION, "Adresă incompletă", "UNCONFIRMED"),
    "S5": (ShipmentStatus.EXCEPTION, "Adresă greșită, destinatar mutat", "UNCONFIRMED"),
    "S6": (ShipmentStatus.EXCEPTION, "Refuz primire", "UNCONFIRMED"),
    "S7": (ShipmentStatus.EXCEPTION, "Refuz plată transport", "UNCONFIRMED"),
    "S9": (ShipmentStatus.IN_TRANSIT, "Redirecționat", "UNCONFIRMED"),
    "S10": (ShipmentStatus.EXCEPTION, "Adresă greșită, fără telefon", "UNCONFIRMED"),
    "S15": (ShipmentStatus.EXCEPTION, "Refuz plată ramburs", "UNCONFIRMED"),
    "S14": (ShipmentStatus.RETURNED, "Restituit", "UNCONFIRMED"),
    "S16": (ShipmentStatus.RETURNED, "Retur la termen", "UNCONFIRMED"),
    "S43": (ShipmentStatus.RETURNED, "Retur", "UNCONFIRMED"),
}


# The shipment statuses above in the order's words (commerce/statuses.py reads this as the connector's
# `order_statuses`). "created" (AWB booked, not yet picked up) is no tracking state: the order stays fulfilled.
ORDER_STATUSES: dict[str, str] = {
    ShipmentStatus.CREATED: "fulfilled",
    ShipmentStatus.PICKED_UP: "shipped",
    ShipmentStatus.IN_TRANSIT: "in_transit",
    ShipmentStatus.OUT_FOR_DELIVERY: "in_transit",
    ShipmentStatus.DELIVERY_ATTEMPTED: "in_transit",
    ShipmentStatus.EXCEPTION: "delivery_failed",
    ShipmentStatus.DELIVERED: "delivered",
    ShipmentStatus.RETURNED: "returned",
}


def event_status(code: str) -> str | None:
    """Our status for a FAN Courier event code; None for a code the table does not know."""
    entry = EVENT_STATUSES.get(str(code or "").strip().upper())
    return str(entry[0]) if entry else None


def parse_date(value: Any) -> datetime | None:
    """`YYYY-MM-DD HH:MM:SS` (or a date alone) in Romanian time → an aware datetime; None when empty or unreadable."""
    text = str(value or "").strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=ROMANIA)
        except ValueError:
            continue
    return None


def latest_event(tracking: dict[str, Any]) -> dict[str, Any] | None:
    """The newest event of one AWB's tracking record (by date; the API's order when dates tie or are missing)."""
    events = [e for e in tracking.get("events") or [] if isinstance(e, dict) and e.get("id")]
    if not events:
        return None
    floor = datetime.min.replace(tzinfo=ROMANIA)
    return max(enumerate(events), key=lambda ie: (parse_date(ie[1].get("date")) or floor, ie[0]))[1]


# ---------------------------------------------------------------------- AWB request
_STREET_NUMBER = re.compile(r"^(?P<street>.*?)[\s,]+(?:nr\.?|num[aă]rul)?\s*(?P<number>\d+[A-Za-z]?(?:[-/]\d+)?)$",
                            re.IGNORECASE)


def split_street(address1: str) -> tuple[str, str]:
    """"Str. Lalelelor nr. 12" → ("Str. Lalelelor", "12"); no trailing number → (address1, "")."""
    text = " ".join(str(address1 or "").split())
    match = _STREET_NUMBER.match(text)
    if not match or not match.group("street"):
        return text, ""
    return match.group("street").rstrip(" ,"), match.group("number")


def money(value: Any) -> float:
    """A Decimal amount as the JSON number FAN Courier takes, rounded to bani."""
    return float(Decimal(str(value or 0)).quantize(Decimal("0.01")))


def awb_request(*, client_id: int, recipient: dict[str, Any], info: dict[str, Any],
                sender: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `POST intern-awb` body for one shipment (the API takes a list; we book one AWB per order)."""
    shipment: dict[str, Any] = {"info": info, "recipient": recipient}
    if sender:
        shipment["sender"] = sender
    return {"clientId": client_id, "shipments": [shipment]}


def awb_result(body: Any) -> dict[str, Any]:
    """The one AWB of an `intern-awb` answer; MappingError when it has none (its `errors` say why)."""
    results = body.get("response") if isinstance(body, dict) else None
    if not isinstance(results, list) or not results or not isinstance(results[0], dict):
        raise MappingError("the answer has no response[0]")
    return results[0]
