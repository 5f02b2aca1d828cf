"""The one place providers are registered.

Adding a provider: write `connectors/<provider>/connector.py` with a `Connector`
subclass and add its dotted path to `PROVIDERS` below. Nothing else changes:
`/api/providers/`, the admin's provider choices and every caller read from here,
and so does the wiring: the provider's routes (`urls_module`, included by
connectors/urls.py), its Celery tasks (`tasks_module`, imported by
connectors/tasks.py), its app-level webhook address (its scheme's `app_route`,
webhooks/inbound/routes.py), and, when its folder has an `apps.py`, its Django
app (config/settings.py installs `provider_apps()`).

config/settings.py imports this module before Django is set up, so at import
time it needs nothing but the list: connector classes are imported on first use.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from importlib.util import find_spec
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from config.beat import PeriodicJob
    from integrations.models import Integration

    from .base import Capability, Connector

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
    "connectors.meta_ads.connector.MetaAdsConnector",
    "connectors.tiktok_ads.connector.TikTokAdsConnector",
    "connectors.google_ads.connector.GoogleAdsConnector",
    "connectors.slack.connector.SlackConnector",
    "connectors.discord.connector.DiscordConnector",
    "connectors.sendgrid.connector.SendGridConnector",
    "connectors.mailchimp.connector.MailchimpConnector",
    "connectors.anthropic.connector.AnthropicConnector",
    "connectors.onec.connector.OneCConnector",
    "connectors.google_drive.connector.GoogleDriveConnector",
    "connectors.hubspot.connector.HubSpotConnector",
    "connectors.salesforce.connector.SalesforceConnector",
    "connectors.zapier.connector.ZapierConnector",
    "connectors.instagram.connector.InstagramConnector",
    "connectors.tiktok.connector.TikTokConnector",
    "connectors.youtube.connector.YouTubeConnector",
    "connectors.twitter.connector.TwitterConnector",
    "connectors.linkedin.connector.LinkedInConnector",
    "connectors.facebook.connector.FacebookConnector",
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
        from config.errors import InvalidProvider  # not at import: settings import this module (see above)

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


# ---------------------------------------------------------------- wiring derived from the registry


def provider_apps() -> list[str]:
    """The registered providers' packages that are Django apps (the folder has an `apps.py`).

    Reads only `PROVIDERS` and the file system, so config/settings.py can call it to fill INSTALLED_APPS.
    """
    packages = [path.rsplit(".", 2)[0] for path in PROVIDERS]
    return [package for package in packages if find_spec(f"{package}.apps") is not None]


def urls_modules() -> list[str]:
    """The registered connectors' `urls_module`s, in registry order."""
    return [cls.urls_module for cls in _loaded().values() if cls.urls_module]


def periodic_jobs() -> tuple[PeriodicJob, ...]:
    """Every job on beat's clock: the product's (config.beat.PERIODIC_JOBS), then each provider's `periodic_jobs`.

    Beat's schedules, the cron endpoint and its run-all all read this one list (tests/syncjobs/test_cron_parity.py).
    """
    from config.beat import PERIODIC_JOBS  # not at import: settings import this module (see above)

    return PERIODIC_JOBS + tuple(job for cls in _loaded().values() for job in cls.periodic_jobs)


def import_tasks_modules() -> list[str]:
    """Import every registered connector's `tasks_module` (so Celery knows its tasks); their names."""
    modules = [cls.tasks_module for cls in _loaded().values() if cls.tasks_module]
    for module in modules:
        import_module(module)
    return modules
