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

from config.errors import CapabilityNotSupported

if TYPE_CHECKING:
    import requests

    from integrations.models import Integration

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

    def __init__(self, integration: Integration):
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
