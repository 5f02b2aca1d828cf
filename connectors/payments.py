"""What the payment connectors share: the order book they act on, money in minor units, inbound call logs.

The order book. Gateways (and the courier, for cash on delivery and delivery
events) act on the ERP's orders, which live in `commerce`, a floor above this
one. So they do it through `OrderBook`, a port declared here and implemented by
commerce (`commerce/services/order_book.py`), which installs it when the app
registry is ready (`CommerceConfig.ready`), as `integrations/events.py` has the
webhooks app install its recorder. The book answers plain values (`OrderFacts`:
id, standing, total, currency), never commerce's rows, and it alone changes an
order (mark paid, mark refunded) or announces one (`order.updated`).

Which order a payment is for. Gateways carry the merchant's order reference
(Stripe `metadata.order_id`, PayPal `custom_id`, Payme's `account`, Click's
`merchant_trans_id`). The payment integration's `config` says how to read it:
`order_lookup` is `external_number` (default: the number the shop shows, e.g.
`1001`) or `id` (the ERP order id); `order_channel`, optionally, is the code of
the shop integration the orders come from, when several channels could share a
number. The order is searched in the payment integration's organization only.

What can go wrong: the payment arrives before the order was imported (the shop's
webhook or sync is late). `OrderNotFound` is transient, so an incoming webhook
is retried with backoff until the order exists, or fails visibly. No book
installed (commerce not installed or not ready) is `ImproperlyConfigured`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol

from django.core.exceptions import ImproperlyConfigured

from config.errors import ApplicationError, ValidationError
from integrations.models import IntegrationLog, LogDirection

if TYPE_CHECKING:
    from integrations.models import Integration

logger = logging.getLogger(__name__)

# ISO 4217 currencies without minor units (Stripe's "zero-decimal" list; amounts are sent as whole units).
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                          "VUV", "XAF", "XOF", "XPF"})


# ---------------------------------------------------------------- the order book (port)
# Where an order stands, as payments see it: awaiting payment, paid, shipped (partly or fully; fulfilled is
# final), or closed (cancelled or refunded: no payment may reach it any more).
OrderStanding = Literal["pending", "paid", "shipped", "closed"]
PaymentOutcome = Literal["changed", "unchanged", "refused"]


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What a gateway may know of an order: plain values read when asked (under the row lock if locked)."""

    id: int
    standing: OrderStanding
    total: Decimal
    currency: str


class OrderBook(Protocol):
    """The ERP's orders as payment and shipping connectors use them; commerce implements and installs it."""

    def order_find(self, *, organization_id: int, channel: str, pk: int | None = None,
                   external_number: str | None = None) -> list[OrderFacts]:
        """Orders of the organization (of the channel integration `channel`, when given) with that id or
        external number; at most two, so that a caller can tell "none" and "several" from "one"."""
        ...

    def order_get(self, *, organization_id: int, order_id: Any, lock: bool = False) -> OrderFacts | None:
        """The organization's order `order_id`, or None; `lock` holds its row until the caller's transaction ends
        (call it inside one), so that concurrent payments of one order take turns."""
        ...

    def order_mark_paid(self, *, order_id: int) -> PaymentOutcome:
        """A pending order becomes paid ("changed"); paid or further: "unchanged"; cancelled/refunded: "refused"."""
        ...

    def order_mark_refunded(self, *, order_id: int) -> PaymentOutcome:
        """An open or shipped order becomes refunded ("changed"); refunded already: "unchanged"; else "refused"."""
        ...

    def order_updated_publish(self, *, order_id: int, extra: dict[str, Any]) -> None:
        """Announce `order.updated` with the order's event payload plus `extra` blocks (e.g. `delivery`), to the
        order's organization, in the caller's transaction."""
        ...

    def order_tracking_record(self, *, order_id: int, integration_id: int, tracking_number: str,
                              events: list[dict[str, Any]]) -> dict[str, Any]:
        """Store a courier's tracking events of one parcel of the order (each `external_id`, aware `occurred_at`,
        `status` in the courier's words, `code`, `description`) and move the order by the new ones: each event
        once, older ones ignored, `order.shipped`/`order.delivered`/`order.returned` once each. In the caller's
        transaction. Returns counts (stored, applied, ignored) and the order's status."""
        ...


_installed: dict[str, OrderBook] = {}


def order_book_install(book: OrderBook) -> None:
    """Called once by the commerce app; a second call (tests reloading apps) replaces the first."""
    _installed["book"] = book


def order_book() -> OrderBook:
    try:
        return _installed["book"]
    except KeyError:
        raise ImproperlyConfigured("No order book: the commerce app is not installed or not ready.") from None


class OrderNotFound(ApplicationError):
    """No order (or more than one) matches the gateway's reference; transient: the order may not be imported yet."""

    code = "ORDER_NOT_FOUND"
    http_status = 404
    default_message = "No order matches the payment's reference."
    transient = True


def order_lookup_config(integration: Integration) -> tuple[str, str]:
    config = integration.config if isinstance(integration.config, dict) else {}
    lookup = str(config.get("order_lookup") or "external_number")
    if lookup not in ("external_number", "id"):
        raise ValidationError("config['order_lookup'] must be external_number or id.",
                              details={"config": ["order_lookup"]})
    return lookup, str(config.get("order_channel") or "")


def find_order(integration: Integration, reference: Any) -> OrderFacts:
    """The one order of the integration's organization that `reference` names; OrderNotFound otherwise."""
    reference = str(reference or "").strip()
    if not reference:
        raise OrderNotFound("The payment carries no order reference.", details={"reference": ""})
    lookup, channel = order_lookup_config(integration)
    if lookup == "id":
        if not reference.isdigit():
            raise OrderNotFound(f"Order reference {reference!r} is not an order id.", details={"reference": reference})
        found = order_book().order_find(organization_id=integration.organization_id, channel=channel,
                                        pk=int(reference))
    else:
        found = order_book().order_find(organization_id=integration.organization_id, channel=channel,
                                        external_number=reference.lstrip("#"))
    if len(found) != 1:
        why = "matches several orders" if found else "matches no order"
        raise OrderNotFound(f"Order reference {reference!r} {why}.", details={"reference": reference})
    return found[0]


def minor_units(amount: Decimal, currency: str) -> int:
    """An amount in the currency's smallest unit (cents, tiyin); whole units for zero-decimal currencies."""
    return int(amount if currency.upper() in ZERO_DECIMAL else amount * 100)


def from_minor_units(value: int, currency: str) -> Decimal:
    return Decimal(value) if currency.upper() in ZERO_DECIMAL else Decimal(value) / 100


def settle(integration: Integration, *, reference: Any, action: str, amount: Decimal | None = None,
           currency: str = "", provider_id: str = "") -> dict[str, Any]:
    """Apply a gateway's "paid" or "refunded" to the referenced order; the summary an IncomingWebhook keeps.

    `amount` (major units) must cover the order's total, in its currency, for a payment to count (a partial
    payment is reported as `amount_mismatch` and changes nothing); a refund counts only when it covers the
    total (a partial refund leaves the order paid). Raises OrderNotFound (transient) for an unknown order.
    """
    order = find_order(integration, reference)
    summary: dict[str, Any] = {"order": order.id, "action": action, "provider_id": provider_id}
    if amount is not None:
        if currency and currency.upper() != order.currency.upper():
            return {"payment": {**summary, "outcome": "currency_mismatch"}}
        if amount < order.total:
            return {"payment": {**summary, "outcome": "amount_mismatch" if action == "paid" else "partial_refund"}}
    if action == "paid":
        outcome = order_book().order_mark_paid(order_id=order.id)
    elif action == "refunded":
        outcome = order_book().order_mark_refunded(order_id=order.id)
    else:
        raise ValueError(f"unknown payment action {action!r}")
    return {"payment": {**summary, "outcome": outcome}}


def log_inbound(integration: Integration, *, action: str, path: str, request: Any, response: Any,
                status_code: int = 200, error: str = "") -> None:
    """One inbound IntegrationLog row for a gateway's call to us (Payme, Click): redacted; never fatal."""
    from connectors.redaction import Redactor

    redactor = Redactor.for_integration(integration)
    try:
        IntegrationLog.objects.create(
            integration=integration, organization_id=integration.organization_id, action=action[:64],
            direction=LogDirection.INBOUND, method="POST", endpoint=path[:1000],
            request={"body": redactor.data(request)}, response={"body": redactor.data(response, request=False)},
            status_code=status_code, error_message=redactor.text(error)[:2000],
        )
    except Exception as exc:  # noqa: BLE001 - the provider's answer matters more than its log line
        logger.warning("IntegrationLog row for an inbound %s call not written: %s", action, type(exc).__name__)
