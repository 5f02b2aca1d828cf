"""The Connector contract: what every provider declares, and the plumbing every connector has.

A connector class declares its provider (key, name, type, auth kind, base URL,
rate-limit policy, docs) and what it can do by the capability mixins it
inherits (connectors/capabilities.py: `OAuthConnect`, `WebhookReceiver`,
`OrdersSource`, `StockSink`…), listed before `Connector`. Its `capabilities`
(what `/api/providers/` shows and `supports` answers) are derived from those
mixins, never declared by hand. Everything it sends goes through `self.http`
(connectors/http.py). Callers ask the registry (`registry.supports`) before they
call a capability's method, never `hasattr`.

Wiring a provider needs outside its folder is derived from the registry: its
`urls_module` (routes the provider calls, under /api/), `tasks_module` (Celery
tasks), a folder with `apps.py` is an installed app (its models, migrations and
admin), and `provider_settings` are read by provider key (`provider_setting`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings

from config.beat import PeriodicJob
from config.errors import CapabilityNotSupported
from integrations.encryption import check_readable

if TYPE_CHECKING:
    import requests

    from integrations.models import Integration

    from .errors import AuthExpired
    from .http import ProviderClient


class Capability(StrEnum):
    PRODUCTS = "products"
    ORDERS = "orders"
    INVENTORY = "inventory"
    FULFILLMENTS = "fulfillments"
    SHIPMENTS = "shipments"
    LABELS = "labels"
    RETURNS = "returns"
    CAMPAIGNS = "campaigns"
    PAYMENTS = "payments"
    TAX_LOOKUP = "tax_lookup"
    FILES = "files"
    ORDER_EXPORT = "order_export"
    CONTACTS = "contacts"
    MARKETING_CAMPAIGNS = "marketing_campaigns"  # a CRM's marketing campaigns (MarketingCampaignSource)
    NOTIFY = "notify"
    POSTS = "posts"  # social accounts and their posts, metrics and comments (SocialChannel)
    PUBLISH = "publish"  # publishing posts (SocialPublisher)
    ANALYSIS = "analysis"


class AuthKind(StrEnum):
    OAUTH2 = "oauth2"
    API_KEY = "api_key"
    BASIC = "basic"
    SERVICE_ACCOUNT = "service_account"
    NONE = "none"


@dataclass(frozen=True)
class OAuthMeta:
    authorize_url: str
    token_url: str
    revoke_url: str = ""
    default_scopes: tuple[str, ...] = ()
    scope_separator: str = " "
    pkce: bool = False
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RateLimitPolicy:
    """At most `requests` calls per `per_seconds` for one integration (a token bucket of that size)."""

    requests: int
    per_seconds: float = 1.0


@dataclass
class Page:
    """One page of a pull: the provider's records as dicts, and the cursor that fetches the next page (None: done)."""

    items: list[dict[str, Any]]
    next_cursor: str | None = None


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    latency_ms: int
    detail: str


@dataclass(frozen=True)
class TokenSet:
    """What a token endpoint answered, normalized."""

    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None
    token_type: str = "Bearer"
    scope: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderAccount:
    """An account at the provider that routes its provider-level webhooks (a Shopify shop, an eBay user…).

    `kind` names the namespace (`shopify.shop`): one account of a kind belongs to at most one integration across
    all organizations (integrations/routing.py), so a webhook naming it reaches only that integration.
    """

    kind: str
    id: str


@dataclass(frozen=True)
class WebhookEvent:
    """One normalized event out of a provider's webhook body."""

    event_type: str
    external_id: str
    resource: str
    payload: dict[str, Any]


def provider_setting(key: str, name: str, default: str = "") -> str:
    """A provider's app-wide setting (an OAuth client's id, say), read by its registry key, at call time.

    `settings.PROVIDER_SETTINGS[key][name]` when set, else the environment variable `<KEY>_<NAME>`
    (`SHOPIFY_CLIENT_ID`; a `-` in the key becomes `_`), else `default`. So a deployment that sets a
    variable needs no code, and no settings banner names a provider.
    """
    configured = (getattr(settings, "PROVIDER_SETTINGS", None) or {}).get(key) or {}
    if name in configured:
        return str(configured[name] or "")
    return os.environ.get(provider_setting_variable(key, name), default)


def provider_setting_variable(key: str, name: str) -> str:
    """The environment variable of a provider setting: `<KEY>_<NAME>`."""
    return f"{key.upper().replace('-', '_')}_{name}"


class Connector:
    key: ClassVar[str]
    display_name: ClassVar[str]
    integration_type: ClassVar[str]
    auth_kind: ClassVar[AuthKind] = AuthKind.API_KEY
    # Derived from the capability mixins the class inherits (__init_subclass__); never set by hand.
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    base_url: ClassVar[str] = ""
    rate_limit: ClassVar[RateLimitPolicy | None] = None
    docs_url: ClassVar[str] = ""
    # The Integration secret fields (integrations.models.SECRET_FIELDS) this provider reads: encrypted at rest,
    # write-only in the API and the admin (shown once, then masked), redacted by value from the call log, replaced
    # to rotate. The admin shows inputs for these alone (console/forms.py); None: guessed from auth_kind, which
    # offers inputs the provider never reads. Keep anything secret out of `config`, which is shown in the clear.
    secret_fields: ClassVar[tuple[str, ...] | None] = None
    # The provider's app-wide settings, name → default, read with `self.setting(name)` (see provider_setting);
    # .env.example lists each as <KEY>_<NAME> (tests/test_env_example.py checks it).
    provider_settings: ClassVar[Mapping[str, str]] = {}
    # Registry-derived wiring (connectors/urls.py, connectors/tasks.py): the dotted module of the routes the
    # provider calls (included under /api/; an OPENAPI_PATHS dict in it documents them) and of its Celery tasks.
    urls_module: ClassVar[str | None] = None
    tasks_module: ClassVar[str | None] = None
    # Jobs on beat's clock (and /api/cron/<slug>/) that this provider runs; its data migration schedules them.
    periodic_jobs: ClassVar[tuple[PeriodicJob, ...]] = ()
    # This provider's own default cadence of a per-integration schedule, minutes by job type (`sync_products`:
    # 60), where it differs from the product's table (syncjobs/cadences.py). Operators may still change each.
    schedule_minutes: ClassVar[Mapping[str, int]] = {}
    # Stock semantics, read for the source of any order (commerce.services.stock.holds_stock): whether the
    # quantity the channel reports and accepts is already net of its own open orders (it drops when an order is
    # placed): then, while the channel is the source of its stock, its orders reserve nothing in the ERP.
    stock_nets_open_orders: ClassVar[bool] = False
    # The kinds of provider account an integration of this provider is connected as (ProviderAccount.kind), and
    # whether a completed OAuth connect is the provider's proof of them (False: the id comes from something the
    # user's browser could alter, so only staff can claim it).
    routed_account_kinds: ClassVar[tuple[str, ...]] = ()
    oauth_proves_routed_accounts: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("secret_fields")
        if declared is not None:  # a typo would hide the input the provider needs
            from integrations.models import SECRET_FIELDS  # here: the registry is read before the apps are ready

            if unknown := sorted(set(declared) - set(SECRET_FIELDS)):
                raise TypeError(f"{cls.__name__}.secret_fields names {', '.join(unknown)}, which are not encrypted "
                                f"Integration fields ({', '.join(SECRET_FIELDS)}).")
        if "capabilities" in cls.__dict__:
            raise TypeError(f"{cls.__name__} declares `capabilities`; inherit the capability mixins instead "
                            "(connectors/capabilities.py).")
        cls.capabilities = frozenset(
            klass.__dict__["capability"] for klass in cls.__mro__ if klass.__dict__.get("capability") is not None
        )

    def __init__(self, integration: Integration):
        # A secret under a key this process's ring lacks (integrations/encryption.py) must never reach a provider:
        # every call, test, refresh and webhook check starts here, so each answers SECRETS_UNREADABLE instead.
        check_readable(integration)
        self.integration = integration
        self._http: ProviderClient | None = None

    # -------------------------------------------------------------- plumbing
    @property
    def http(self) -> ProviderClient:
        """The one HTTP client, bound to this integration (pooled session, retries, log, rate limit)."""
        if self._http is None:
            from .http import ProviderClient

            self._http = ProviderClient(self)
        return self._http

    def setting(self, name: str) -> str:
        """One of this provider's declared `provider_settings`; KeyError for a name it does not declare."""
        return provider_setting(self.key, name, self.provider_settings[name])

    def resolved_base_url(self) -> str:
        """The integration's api_endpoint wins over the provider's base URL (staging, proxies, sandboxes, tests)."""
        return (self.integration.api_endpoint or self.base_url).rstrip("/")

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a call. Default: a bearer access token, or nothing."""
        token = self.integration.access_token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def auth_params(self) -> dict[str, str]:
        """Query parameters that authenticate a call beside `auth_headers` (a proof derived from the token), asked
        again on every attempt so that a refreshed token gets its own. Default: none."""
        return {}

    def refresh_access_token(self) -> TokenSet:
        """Get a new access token (a refresh grant, or a client-credentials one). Called by the HTTP client under a
        lock (connectors/tokens.py)."""
        raise CapabilityNotSupported(f"{self.display_name} has no token refresh.")

    def retry_after_seconds(self, response: requests.Response) -> float | None:
        """How long the provider asks us to wait, from its headers. Providers with their own headers override."""
        value = response.headers.get("Retry-After")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                return None

    def throttled_seconds(self, response: requests.Response) -> float | None:
        """Whether a response other than a 429 is the provider saying "too many calls", and how long to wait.

        Some providers throttle with another status (Meta: HTTP 400 with error code 17 or 80004; TikTok: HTTP 200
        with code 40100). None: not a throttle (the default). A number: treated like a 429 (connectors/http.py):
        waited on and retried, or raised as RateLimited when longer than the client waits; 0 means "unknown",
        so the client's backoff decides.
        """
        return None

    def is_auth_expired(self, response: requests.Response) -> bool:
        """Whether a response means the access token expired (so one refresh and one retry may help)."""
        return response.status_code == 401 and self.auth_kind == AuthKind.OAUTH2

    def credentials_refused_message(self, error: AuthExpired, *, action: str) -> str | None:
        """What an operator reads in `last_error` when the provider refused the credentials in the call `action`
        (connectors/http.py then puts an active integration in error and sends integration.error, once).

        None leaves the integration's health alone: the default, for providers whose refused tokens go
        through a refresh (connectors/tokens.py sends those to pending_auth), and what a connector answers for
        calls that report a refusal to their caller instead (a connection test, an unsubscription).
        """
        return None

    def routed_accounts(self) -> list[ProviderAccount]:
        """The provider accounts this integration is connected as, of the kinds in `routed_account_kinds`.

        Read from what a connect recorded (config, api_endpoint); [] while unknown. Declaring them does not
        route anything: an account routes to an integration only once claimed (integrations/routing.py).
        """
        return []

    def test_connection(self) -> ConnectionResult:
        raise NotImplementedError

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Receivers parse (WebhookReceiver). Kept here while webhooks/inbound/handlers.py compares a connector's
        parse_webhook with this one; nothing else calls it."""
        raise CapabilityNotSupported(f"{self.display_name} does not receive webhooks.")

    # -------------------------------------------------------------- what it can do
    @classmethod
    def supports(cls, capability: Capability | str) -> bool:
        return Capability(capability) in cls.capabilities

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """What `/api/providers/` shows about this provider (the mixins fill in their parts)."""
        return {
            "key": cls.key,
            "display_name": cls.display_name,
            "integration_type": cls.integration_type,
            "auth_kind": cls.auth_kind.value,
            "capabilities": sorted(c.value for c in cls.capabilities),
            "webhook_scheme": None,
            "oauth": None,
            "rate_limit": None
            if cls.rate_limit is None
            else {"requests": cls.rate_limit.requests, "per_seconds": cls.rate_limit.per_seconds},
            "docs_url": cls.docs_url,
        }
