"""A Stripe payment event in the ERP's words: which order, paid or refunded, how much.

Where the order reference is: the object's `metadata[<key>]` (`config["metadata_key"]`,
default `order_id`); a Checkout Session's `client_reference_id` too. A charge
does not inherit its PaymentIntent's metadata, so a charge without one names
its `payment_intent`, which the connector fetches (one call).

Amounts are in the currency's smallest unit (cents; whole units for JPY and
the other zero-decimal currencies) and currencies lower-case.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.payments import from_minor_units


@dataclass(frozen=True)
class PaymentChange:
    action: str  # "paid" or "refunded"; "" = the event asks for nothing
    reference: str
    amount: Decimal | None
    currency: str
    provider_id: str
    payment_intent: str = ""  # where to look for the reference when the object has none


NOTHING = PaymentChange("", "", None, "", "")


def _reference(obj: dict[str, Any], key: str) -> str:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return str(metadata.get(key) or obj.get("client_reference_id") or "").strip()


def _money(obj: dict[str, Any], field: str) -> tuple[Decimal | None, str]:
    currency = str(obj.get("currency") or "").upper()
    value = obj.get(field)
    if value is None or not currency:
        return None, currency
    return from_minor_units(int(value), currency), currency


def payment_change(event: dict[str, Any], *, metadata_key: str = "order_id") -> PaymentChange:
    """What a payment event means for an order (NOTHING for a failed, partial or not-yet-paid one)."""
    event_type = event.get("type")
    obj = (event.get("data") or {}).get("object") or {}
    ident = str(obj.get("id") or "")
    if event_type == "payment_intent.succeeded":
        amount, currency = _money(obj, "amount_received")
        return PaymentChange("paid", _reference(obj, metadata_key), amount, currency, ident)
    if event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("payment_status") != "paid":
            return NOTHING  # async methods (bank debits) complete later with async_payment_succeeded
        amount, currency = _money(obj, "amount_total")
        return PaymentChange("paid", _reference(obj, metadata_key), amount, currency, ident,
                             str(obj.get("payment_intent") or ""))
    if event_type == "charge.succeeded":
        if obj.get("payment_intent") or not obj.get("paid"):
            return NOTHING  # a PaymentIntent's charge: payment_intent.succeeded says it
        amount, currency = _money(obj, "amount_captured" if obj.get("captured") else "amount")
        return PaymentChange("paid", _reference(obj, metadata_key), amount, currency, ident)
    if event_type == "charge.refunded":
        amount, currency = _money(obj, "amount_refunded")
        return PaymentChange("refunded", _reference(obj, metadata_key), amount, currency, ident,
                             str(obj.get("payment_intent") or ""))
    return NOTHING
