"""Channel order statuses → the ERP's one normalized status, per provider, and the transitions people may make.

A connector's `normalize_order` usually already says `status` in the ERP's words
(the sandbox's mapping does). A channel whose mapping passes its own status
through instead is translated here with its table: `STATUS_TABLES[provider]`
maps the channel's word to ours. An unknown word is not guessed at: the order
is counted as failed with a message naming the word, so a new channel status
shows up in the sync's failures instead of silently becoming "pending".
"""

from __future__ import annotations

from typing import Any

from .models import OrderStatus

NORMALIZED = frozenset(OrderStatus.values)

# Per provider: the channel's status word → ours. Shopify-shaped channels (the sandbox) split the state over
# financial_status and fulfillment_status; the mapping collapses them, and this table covers the raw words a
# webhook handler may pass through unchanged.
STATUS_TABLES: dict[str, dict[str, str]] = {
    "sandbox": {
        "pending": OrderStatus.PENDING,
        "authorized": OrderStatus.PENDING,
        "partially_paid": OrderStatus.PENDING,
        "paid": OrderStatus.PAID,
        "partially_refunded": OrderStatus.PAID,
        "refunded": OrderStatus.REFUNDED,
        "voided": OrderStatus.CANCELLED,
        "cancelled": OrderStatus.CANCELLED,
        "partial": OrderStatus.PARTIALLY_FULFILLED,
        "fulfilled": OrderStatus.FULFILLED,
    },
}

# Manual changes (PUT /api/orders/{id}/status/, the admin): from → allowed targets. Fulfilment goes through
# fulfill(), which records tracking; a cancelled or refunded order is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.PENDING, OrderStatus.CANCELLED, OrderStatus.REFUNDED}),
    OrderStatus.PARTIALLY_FULFILLED: frozenset({OrderStatus.CANCELLED, OrderStatus.REFUNDED}),
    OrderStatus.FULFILLED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
}


class UnknownChannelStatus(ValueError):
    """The channel used a status word no table knows."""


def normalize_status(*, provider: str, status: Any) -> str:
    """The normalized status for a channel's `status`; UnknownChannelStatus when neither ours nor in its table."""
    word = str(status or "").strip().lower()
    if word in NORMALIZED:
        return word
    mapped = STATUS_TABLES.get(provider, {}).get(word)
    if mapped is None:
        raise UnknownChannelStatus(f"unknown order status {word!r} for provider {provider!r}")
    return str(mapped)


def allowed_transitions(status: str) -> frozenset[str]:
    return TRANSITIONS.get(status, frozenset())
