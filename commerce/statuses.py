"""Provider status words → the ERP's one normalized order status, per provider, and the transitions people may make.

A connector's `normalize_order` usually already says `status` in the ERP's words.
A channel whose mapping passes its own status through instead is translated
here with the table its connector declares (`order_statuses`: the provider's
word → ours). A courier declares the same table for its tracking words
(`ShipmentCreator.order_statuses`: FAN Courier's "picked_up" → shipped,
"exception" → delivery_failed…), so a parcel's tracking event and a channel's
order status become the order's status through this one function. An unknown
word is not guessed at: the order is counted as failed with a message naming
the word (a tracking event is stored and does not move the order), so a new
status shows up instead of silently becoming "pending".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors import registry

from .models import OrderStatus

NORMALIZED = frozenset(OrderStatus.values)

# Manual changes (PUT /api/orders/{id}/status/, the admin): from → allowed targets. Fulfilment goes through
# fulfill(), which records tracking; a cancelled or refunded order is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.PENDING, OrderStatus.CANCELLED, OrderStatus.REFUNDED}),
    OrderStatus.PARTIALLY_FULFILLED: frozenset({OrderStatus.CANCELLED, OrderStatus.REFUNDED}),
    OrderStatus.FULFILLED: frozenset({OrderStatus.REFUNDED, OrderStatus.SHIPPED, OrderStatus.DELIVERED}),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
    # Tracking sets these; by hand, an operator may confirm what the courier has not reported (a parcel handed
    # over at the counter, a delivery confirmed by phone). Returned comes from a return record (it restocks).
    OrderStatus.SHIPPED: frozenset({OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED, OrderStatus.DELIVERY_FAILED,
                                    OrderStatus.REFUNDED}),
    OrderStatus.IN_TRANSIT: frozenset({OrderStatus.DELIVERED, OrderStatus.DELIVERY_FAILED, OrderStatus.REFUNDED}),
    OrderStatus.DELIVERY_FAILED: frozenset({OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED, OrderStatus.REFUNDED}),
    OrderStatus.DELIVERED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.RETURNED: frozenset({OrderStatus.REFUNDED}),
}


class UnknownChannelStatus(ValueError):
    """The channel used a status word no table knows."""


def normalize_status(*, provider: str, status: Any) -> str:
    """The normalized status for a channel's `status`; UnknownChannelStatus when neither ours nor in its table."""
    word = str(status or "").strip().lower()
    if word in NORMALIZED:
        return word
    mapped = channel_statuses(provider).get(word)
    if mapped is None:
        raise UnknownChannelStatus(f"unknown order status {word!r} for provider {provider!r}")
    return str(mapped)


def channel_statuses(provider: str) -> Mapping[str, str]:
    """The provider's table of its own status words (empty for a provider that declares none or is unknown)."""
    if not registry.is_registered(provider):
        return {}
    table = getattr(registry.get(provider), "order_statuses", None)
    return table if isinstance(table, Mapping) else {}


def allowed_transitions(status: str) -> frozenset[str]:
    return TRANSITIONS.get(status, frozenset())
