"""Channel order statuses → the ERP's one normalized status, per provider, and the transitions people may make.

A connector's `normalize_order` usually already says `status` in the ERP's words.
A channel whose mapping passes its own status through instead is translated
here with the table its connector declares (`OrdersSource.order_statuses`:
the channel's word → ours). An unknown word is not guessed at: the order
is counted as failed with a message naming the word, so a new channel status
shows up in the sync's failures instead of silently becoming "pending".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors import registry
from connectors.capabilities import OrdersSource

from .models import OrderStatus

NORMALIZED = frozenset(OrderStatus.values)

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
    mapped = channel_statuses(provider).get(word)
    if mapped is None:
        raise UnknownChannelStatus(f"unknown order status {word!r} for provider {provider!r}")
    return str(mapped)


def channel_statuses(provider: str) -> Mapping[str, str]:
    """The provider's table of its own status words (empty for a provider that declares none or is unknown)."""
    if not registry.is_registered(provider):
        return {}
    connector = registry.get(provider)
    return connector.order_statuses if issubclass(connector, OrdersSource) else {}


def allowed_transitions(status: str) -> frozenset[str]:
    return TRANSITIONS.get(status, frozenset())
