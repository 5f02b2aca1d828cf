"""Every registered connector keeps the contract its capability mixins declare (connectors/capabilities.py).

Capabilities are derived from the mixins, so what a connector claims is what it inherits; these tests check
the other half: that it implements what it inherits, that its way of connecting matches its auth kind, and
that /api/providers/ still shows for each provider what it showed before the contract was split.
"""

from __future__ import annotations

import pytest

from commerce.models import OrderStatus
from connectors import registry
from connectors.base import AuthKind, Capability, Connector
from connectors.capabilities import CapabilityMixin, OAuthConnect, OrdersSource, WebhookReceiver

REGISTERED = sorted(registry.providers().items())

# /api/providers/ "capabilities" per provider, as the 35-method base class declared them (labels and returns added
# with issue 20).
CAPABILITIES = {
    "amazon_sp": ["fulfillments", "inventory", "orders", "products"],
    "anaf": ["tax_lookup"],
    "discord": ["notify"],
    "mailchimp": ["contacts"],
    "hubspot": ["contacts", "marketing_campaigns"],
    "salesforce": ["contacts"],
    "zapier": [],
    "instagram": ["posts", "publish"],
    "tiktok": ["posts", "publish"],
    "youtube": ["posts", "publish"],
    "twitter": ["posts", "publish"],
    "linkedin": ["posts", "publish"],
    "facebook": ["posts", "publish"],
    "anthropic": ["analysis"],
    "sendgrid": ["notify"],
    "slack": ["notify"],
    "click": ["payments"],
    "ebay": ["fulfillments", "inventory", "orders", "products"],
    "fancourier": ["labels", "shipments"],
    "oauth2_generic": [],
    "payme": ["payments"],
    "paypal": ["payments"],
    "meta_ads": ["campaigns"],
    "tiktok_ads": ["campaigns"],
    "google_ads": ["campaigns"],
    "onec": ["inventory", "order_export", "products"],
    "google_drive": ["files"],
    "sandbox": ["fulfillments", "inventory", "orders", "products", "returns"],
    "shopify": ["fulfillments", "inventory", "orders", "products", "returns"],
    "stripe": ["payments"],
    "tiktok_shop": ["fulfillments", "inventory", "labels", "orders", "products"],
    "trendyol": ["fulfillments", "inventory", "labels", "orders", "products", "returns"],
    "woocommerce": ["fulfillments", "inventory", "orders", "products"],
}


def _mixins(cls: type[Connector]) -> list[type[CapabilityMixin]]:
    return [k for k in cls.__mro__ if issubclass(k, CapabilityMixin) and k is not CapabilityMixin]


@pytest.mark.parametrize(("key", "cls"), REGISTERED, ids=[key for key, _ in REGISTERED])
def test_declared_capabilities_are_the_mixins(key, cls):
    declared = {m.__dict__["capability"] for m in _mixins(cls) if m.__dict__.get("capability") is not None}
    assert cls.capabilities == frozenset(declared)
    assert all(cls.supports(c) == (c in declared) for c in Capability)


@pytest.mark.parametrize(("key", "cls"), REGISTERED, ids=[key for key, _ in REGISTERED])
def test_every_mixin_is_implemented(key, cls):
    """A mixin's required methods are the connector's own (or a provider mixin's), not the mixin's stub."""
    for mixin in _mixins(cls):
        for name in mixin.__dict__.get("required", ()):
            assert getattr(cls, name) is not mixin.__dict__[name], f"{key} declares {mixin.__name__} but not {name}"


@pytest.mark.parametrize(("key", "cls"), REGISTERED, ids=[key for key, _ in REGISTERED])
def test_oauth_connect_is_the_oauth2_auth_kind(key, cls):
    assert issubclass(cls, OAuthConnect) == (cls.auth_kind == AuthKind.OAUTH2)


@pytest.mark.parametrize(("key", "cls"), REGISTERED, ids=[key for key, _ in REGISTERED])
def test_a_receiver_can_verify_something(key, cls):
    """A receiver declares a scheme that verifies, or verifies itself: otherwise nothing it is sent is stored."""
    if not issubclass(cls, WebhookReceiver):
        return
    scheme_verifies = cls.webhook_scheme is not None and cls.webhook_scheme.verify is not None
    assert scheme_verifies or cls.verify_webhook is not WebhookReceiver.verify_webhook


@pytest.mark.parametrize(("key", "cls"), REGISTERED, ids=[key for key, _ in REGISTERED])
def test_channel_status_words_map_to_erp_statuses(key, cls):
    if issubclass(cls, OrdersSource):
        assert set(cls.order_statuses.values()) <= set(OrderStatus.values)


def test_providers_show_the_capabilities_they_showed_before_the_split():
    assert {key: cls.describe()["capabilities"] for key, cls in REGISTERED} == CAPABILITIES


def test_capabilities_cannot_be_declared_by_hand():
    with pytest.raises(TypeError, match="capability mixins"):
        type("HandDeclared", (Connector,), {"capabilities": frozenset({Capability.ORDERS})})
