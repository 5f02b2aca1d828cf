"""The one place providers are registered.

Adding a provider: write `connectors/<provider>/connector.py` with a `Connector`
subclass and add its dotted path to `PROVIDERS` below. Nothing else changes:
`/api/providers/`, the admin's provider choices and every caller read from here.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

from config.errors import InvalidProvider

from .base import Capability, Connector

if TYPE_CHECKING:
    from integrations.models import Integration

PROVIDERS: list[str] = [
    "connectors.sandbox.connector.SandboxConnector",
    "connectors.oauth2_generic.connector.GenericOAuth2Connector",
    "connectors.shopify.connector.ShopifyConnector",
    "connectors.woocommerce.connector.WooCommerceConnector",
    "connectors.trendyol.connector.TrendyolConnector",
    "connectors.amazon_sp.connector.AmazonSPConnector",
    "connectors.ebay.connector.EbayConnector",
    "connectors.fancourier.connector.FanCourierConnector",
    "connectors.anaf.connector.AnafConnector",
    "connectors.tiktok_shop.connector.TikTokShopConnector",
    "connectors.stripe.connector.StripeConnector",
    "connectors.payme.connector.PaymeConnector",
    "connectors.click.connector.ClickConnector",
    "connectors.paypal.connector.PayPalConnector",
]

_extra: dict[str, type[Connector]] = {}


@cache
def _loaded() -> dict[str, type[Connector]]:
    found: dict[str, type[Connector]] = {}
    for path in PROVIDERS:
        cls = import_string(path)
        if cls.key in found:
            raise RuntimeError(f"Provider key {cls.key!r} is registered twice.")
        found[cls.key] = cls
    return found


def providers() -> dict[str, type[Connector]]:
    return {**_loaded(), **_extra}


def register(cls: type[Connector]) -> type[Connector]:
    """Register a connector class at run time (tests use this for fakes)."""
    _extra[cls.key] = cls
    return cls


def unregister(key: str) -> None:
    _extra.pop(key, None)


def get(key: str) -> type[Connector]:
    try:
        return providers()[key]
    except KeyError:
        raise InvalidProvider(
            f"Unknown provider {key!r}.", details={"provider": [f"{key!r} is not registered"]}
        ) from None


def is_registered(key: str) -> bool:
    return key in providers()


def supports(key: str, capability: Capability | str) -> bool:
    return get(key).supports(capability)


def connector_for(integration: Integration) -> Connector:
    return get(integration.provider)(integration)


def provider_choices() -> list[tuple[str, str]]:
    return sorted(((k, c.display_name) for k, c in providers().items()), key=lambda kv: kv[1].lower())
