"""The Connector contract: what a provider declares and what it can do.

A connector class declares its provider (key, name, type, auth kind,
capabilities, OAuth metadata, webhook scheme, rate-limit policy) and implements
the methods of the capabilities it claims. Everything it sends goes through
`self.http` (connectors/http.py). A method of a capability it lacks raises
`CapabilityNotSupported`; callers ask the registry (`registry.supports`) before
they call, never `hasattr`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

from django.conf import settings

from config.errors import CapabilityNotSupported, ValidationError

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
    CAMPAIGNS = "campaigns"
    PAYMENTS = "payments"
    TAX_LOOKUP = "tax_lookup"
    FILES = "files"
    CONTACTS = "contacts"
    NOTIFY = "notify"


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


class Connector:
    key: ClassVar[str]
    display_name: ClassVar[str]
    integration_type: ClassVar[str]
    auth_kind: ClassVar[AuthKind] = AuthKind.API_KEY
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    base_url: ClassVar[str] = ""
    oauth: ClassVar[OAuthMeta | None] = None
    webhook_scheme: ClassVar[str | None] = None
    rate_limit: ClassVar[RateLimitPolicy | None] = None
    docs_url: ClassVar[str] = ""
    # Stock (Capability.INVENTORY). Whether the quantity the channel reports and accepts is already net of its own
    # open orders (it drops when an order is placed): then, while the channel is the source of its stock, its
    # orders reserve nothing in the ERP (commerce.services.stock.holds_stock). Each shop connector states it.
    stock_nets_open_orders: ClassVar[bool] = False
    # How many stock items one push_inventory call takes; each batch is recorded as soon as it is confirmed, so
    # a failure part way never re-sends what was already written. 1 where the API writes one level per call.
    inventory_push_batch: ClassVar[int] = 100
    # The kinds of provider account an integration of this provider is connected as (ProviderAccount.kind), and
    # whether a completed OAuth connect is the provider's proof of them (False: the id comes from something the
    # user's browser could alter, so only staff can claim it).
    routed_account_kinds: ClassVar[tuple[str, ...]] = ()
    oauth_proves_routed_accounts: ClassVar[bool] = True

    def __init__(self, integration: Integration):
        # A secret under a key this process's ring lacks (integrations/encryption.py) must never reach a provider:
        # every call, test, refresh and webhook check starts here, so each answers SECRETS_UNREADABLE instead.
        from integrations.encryption import check_readable

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

    def resolved_base_url(self) -> str:
        """The integration's api_endpoint wins over the provider's base URL (staging, proxies, sandboxes, tests)."""
        return (self.integration.api_endpoint or self.base_url).rstrip("/")

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a call. Default: a bearer access token, or nothing."""
        token = self.integration.access_token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def refresh_access_token(self) -> TokenSet:
        """Trade the refresh token for a new access token. Called by the HTTP client under a lock."""
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

    # -------------------------------------------------------------- OAuth connect
    # integrations/oauth/flow.py drives these. A provider's quirks (per-shop URLs, callback HMACs, a code
    # parameter of another name, a short-lived token swapped for a long-lived one) live in its overrides,
    # never in the flow. The defaults are plain RFC 6749; connectors/oauth2_generic/protocol.py has the
    # standard code exchange, refresh and revocation for a connector to mix in.
    def oauth_meta(self) -> OAuthMeta | None:
        """This integration's OAuth endpoints: the class's `oauth`, or built from its config (oauth2_generic)."""
        return self.oauth

    def oauth_client_credentials(self) -> tuple[str, str]:
        """(client_id, client_secret): the integration's own `credentials`, else settings `<KEY>_CLIENT_ID/_SECRET`.

        Read at call time, so a deployment that sets the variables needs no migration; empty strings when unset.
        """
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        if credentials.get("client_id"):
            return str(credentials["client_id"]), str(credentials.get("client_secret") or "")
        prefix = self.key.upper().replace("-", "_")
        return (str(getattr(settings, f"{prefix}_CLIENT_ID", "") or ""),
                str(getattr(settings, f"{prefix}_CLIENT_SECRET", "") or ""))

    def oauth_connect_fields(self, *, shop: str = "") -> dict[str, Any]:
        """Integration fields a connect starts from, given the client's `shop` (Shopify: the shop's api_endpoint).

        Raise ValidationError for a shop the provider does not take or accept. Default: no shops.
        """
        if shop:
            raise ValidationError(f"{self.display_name} has no shops.",
                                  details={"shop": ["Not used by this provider."]})
        return {}

    def authorize_url(self, *, state: str, redirect_uri: str, scopes: tuple[str, ...] | list[str],
                      code_challenge: str = "", **params: str) -> str:
        """Where the browser goes to consent: RFC 6749 4.1.1, with an RFC 7636 S256 challenge when one is given."""
        meta = self.oauth_meta()
        if meta is None:
            raise CapabilityNotSupported(f"{self.display_name} is not connected with OAuth.")
        client_id, _ = self.oauth_client_credentials()
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state,
                 **meta.extra_authorize_params, **params}
        if scopes:
            query["scope"] = meta.scope_separator.join(scopes)
        if code_challenge:
            query.update(code_challenge=code_challenge, code_challenge_method="S256")
        url = self.http.url_for(meta.authorize_url)
        return f"{url}{'&' if '?' in url else '?'}{urlencode(query)}"

    def validate_callback(self, query: Mapping[str, str]) -> None:
        """Check the callback's query beyond the state (Shopify: HMAC and shop); raise OAuthFailed. Default: nothing."""

    def callback_code(self, query: Mapping[str, str]) -> str:
        """The authorization code in the callback's query (TikTok calls it `auth_code`)."""
        return query.get("code", "")

    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        """Trade an authorization code for tokens (Meta: then swap the short-lived token for a long-lived one)."""
        raise CapabilityNotSupported(f"{self.display_name} has no authorization code exchange.")

    def revoke_token(self) -> bool:
        """Revoke the integration's tokens at the provider; True if a revocation was sent. Default: no endpoint."""
        return False

    def account_display_name(self) -> str:
        """The connected account's name as the provider shows it (a shop's name, a user's email); "" if unknown."""
        return ""

    def routed_accounts(self) -> list[ProviderAccount]:
        """The provider accounts this integration is connected as, of the kinds in `routed_account_kinds`.

        Read from what a connect recorded (config, api_endpoint); [] while unknown. Declaring them does not
        route anything: an account routes to an integration only once claimed (integrations/routing.py).
        """
        return []

    # -------------------------------------------------------------- capabilities
    @classmethod
    def supports(cls, capability: Capability | str) -> bool:
        return Capability(capability) in cls.capabilities

    def _unsupported(self, capability: Capability):
        return CapabilityNotSupported(
            f"{self.display_name} does not support {capability.value}.",
            details={"provider": self.key, "capability": capability.value},
        )

    def test_connection(self) -> ConnectionResult:
        raise NotImplementedError

    def iter_products(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        raise self._unsupported(Capability.PRODUCTS)

    def iter_orders(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        raise self._unsupported(Capability.ORDERS)

    def iter_inventory(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        raise self._unsupported(Capability.INVENTORY)

    def push_inventory(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Set stock: each item has `available`, `inventory_item_id` (or `sku`) and the channel `location_id`.

        May answer `{"levels": [normalized levels]}` with what the channel now holds (its time included);
        without them, what was sent is taken as confirmed.
        """
        raise self._unsupported(Capability.INVENTORY)

    def stock_locations(self) -> list[dict[str, Any]]:
        """The channel's stock locations, `[{"id", "name", "pushable"}]`: the ids its levels carry.

        A channel with one stock figure per item answers one location (the id its levels use).
        """
        raise self._unsupported(Capability.INVENTORY)

    def push_fulfillment(self, fulfillment: dict[str, Any]) -> dict[str, Any]:
        raise self._unsupported(Capability.FULFILLMENTS)

    def create_shipment(self, shipment: dict[str, Any]) -> dict[str, Any]:
        """Book a shipment with a courier (Capability.SHIPMENTS); returns at least `tracking_number` and `carrier`.

        `shipment`: `order` (id, external number, currency, total), `lines` ([{sku, quantity}]), `address`
        (the order's shipping address, personal data: never log it) and `carrier_code` (the service to use).
        """
        raise self._unsupported(Capability.SHIPMENTS)

    # A provider record in the ERP's words (the shapes commerce.services upserts; see connectors/sandbox/mapping.py).
    # Raise a ValueError subclass naming the field when a record cannot be mapped: the sync counts it as failed.
    def normalize_order(self, record: dict[str, Any]) -> dict[str, Any]:
        raise self._unsupported(Capability.ORDERS)

    def normalize_product(self, record: dict[str, Any]) -> dict[str, Any]:
        raise self._unsupported(Capability.PRODUCTS)

    def normalize_inventory_level(self, record: dict[str, Any]) -> dict[str, Any]:
        raise self._unsupported(Capability.INVENTORY)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        raise CapabilityNotSupported(f"{self.display_name} does not receive webhooks.")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        raise CapabilityNotSupported(f"{self.display_name} does not receive webhooks.")

    def webhook_handshake(self, method: str, headers: Mapping[str, str], query: Mapping[str, str],
                          body: bytes) -> tuple[int, Any] | None:
        """A provider's check of the receive URL (eBay's `GET ?challenge_code=…`): (HTTP status, JSON body).

        The receive view asks this before verifying a delivery; None means the request is no handshake and
        is handled as usual (a GET is then refused). Default: None.
        """
        return None

    # Webhook subscriptions at the provider: made on connect, removed on disconnect (both best effort for the
    # caller: a failure is recorded, and the scheduled syncs reconcile whatever webhooks would have brought).
    def register_webhooks(self) -> list[str]:
        """Subscribe this integration's receive URL to the provider's topics; the topics newly subscribed.

        Idempotent: a subscription already in place is kept. Default: nothing to
        subscribe (the provider sends none, or is set up by hand).
        """
        return []

    def unregister_webhooks(self) -> int:
        """Remove the subscriptions `register_webhooks` made; how many were removed. Default: none."""
        return 0

    # Webhook events of resources the commerce handlers do not import (payments, shipments…): the connector
    # acts on them itself. webhooks/inbound/handlers.py calls `handle_webhook_event` for every parsed event
    # whose `resource` is in `webhook_resources`, inside the webhook's processing transaction.
    webhook_resources: ClassVar[frozenset[str]] = frozenset()

    def handle_webhook_event(self, event: WebhookEvent) -> dict[str, Any] | None:
        """Act on one event of a resource in `webhook_resources`; a summary for the stored webhook, or None if
        the event asked for nothing (then the webhook is "ignored" unless another event did something).

        Raise ValidationError/ValueError for a payload that can never be handled (the webhook fails at once);
        a transient ApplicationError, or any other exception, is retried with backoff. Default: refuses.
        """
        raise CapabilityNotSupported(f"{self.display_name} does not handle {event.resource} webhooks.")

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """What `/api/providers/` shows about this provider."""
        return {
            "key": cls.key,
            "display_name": cls.display_name,
            "integration_type": cls.integration_type,
            "auth_kind": cls.auth_kind.value,
            "capabilities": sorted(c.value for c in cls.capabilities),
            "webhook_scheme": cls.webhook_scheme,
            "oauth": None
            if cls.oauth is None
            else {"scopes": list(cls.oauth.default_scopes), "pkce": cls.oauth.pkce},
            "rate_limit": None
            if cls.rate_limit is None
            else {"requests": cls.rate_limit.requests, "per_seconds": cls.rate_limit.per_seconds},
            "docs_url": cls.docs_url,
        }
