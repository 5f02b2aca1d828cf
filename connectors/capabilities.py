"""The capability mixins a connector is made of: each says what the provider can do, and the methods that do it.

A connector inherits the mixins it implements, before `Connector`:

    class ShopifyConnector(ShopifyOAuth, WebhookReceiver, ShopChannel, Connector): ...

(`ShopChannel` is the five a shop or marketplace implements.) A mixin with a
`capability` adds it to the connector's `capabilities` (what
`supports` answers and `/api/providers/` lists); `OAuthConnect` and
`WebhookReceiver` are ways of connecting and of being called, not capabilities.
A mixin's `required` methods are the ones a connector that declares it must
implement (tests/connectors/test_contract.py checks every registered one); the
stubs here raise NotImplementedError. Callers ask `registry.supports(key,
capability)` (or `isinstance(connector, OAuthConnect)`) before calling.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

from django.conf import settings

from config.errors import CapabilityNotSupported, ValidationError

from .base import Capability, OAuthMeta, Page, TokenSet, WebhookEvent

if TYPE_CHECKING:
    from .schemes import Scheme


class CapabilityMixin:
    capability: ClassVar[Capability | None] = None
    required: ClassVar[tuple[str, ...]] = ()


# ---------------------------------------------------------------- connecting


class OAuthConnect(CapabilityMixin):
    """Connected with OAuth 2.0: integrations/oauth/flow.py drives these.

    A provider's quirks (per-shop URLs, callback HMACs, a code parameter of another name, a short-lived token
    swapped for a long-lived one) live in its overrides, never in the flow. The defaults are plain RFC 6749;
    connectors/oauth2.py has the standard code exchange, refresh and revocation to mix in.
    """

    oauth: ClassVar[OAuthMeta | None] = None
    required = ("exchange_code",)

    def oauth_meta(self) -> OAuthMeta | None:
        """This integration's OAuth endpoints: the class's `oauth`, or built from its config (a generic server)."""
        return self.oauth

    def oauth_client_credentials(self) -> tuple[str, str]:
        """(client_id, client_secret): the integration's own `credentials`, else the provider's app-wide client
        (`provider_settings` CLIENT_ID/CLIENT_SECRET, when it declares them). Empty strings when unset."""
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        if credentials.get("client_id"):
            return str(credentials["client_id"]), str(credentials.get("client_secret") or "")
        if "CLIENT_ID" in self.provider_settings:
            return self.setting("CLIENT_ID"), self.setting("CLIENT_SECRET")
        return "", ""

    def oauth_connect_fields(self, *, shop: str = "") -> dict[str, Any]:
        """Integration fields a connect starts from, given the client's `shop` (a shop platform's api_endpoint).

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
        """Check the callback's query beyond the state (a signed callback, its shop); raise OAuthFailed."""

    def callback_code(self, query: Mapping[str, str]) -> str:
        """The authorization code in the callback's query (some providers call it otherwise)."""
        return query.get("code", "")

    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        """Trade an authorization code for tokens (and, where the provider wants it, a short-lived token for a
        long-lived one)."""
        raise NotImplementedError

    def revoke_token(self) -> bool:
        """Revoke the integration's tokens at the provider; True if a revocation was sent. Default: no endpoint."""
        return False

    def account_display_name(self) -> str:
        """The connected account's name as the provider shows it (a shop's name, a user's email); "" if unknown."""
        return ""

    @classmethod
    def describe(cls) -> dict[str, Any]:
        described = super().describe()
        if cls.oauth is not None:
            described["oauth"] = {"scopes": list(cls.oauth.default_scopes), "pkce": cls.oauth.pkce}
        return described


class WebhookReceiver(CapabilityMixin):
    """The provider calls us with webhooks: verified, stored and processed by webhooks/inbound/.

    Deliveries arrive at `/api/webhooks/receive/<route_key>/`, or at the app-level address of the scheme's
    `app_route`. The defaults follow the declared `webhook_scheme` (connectors/schemes.py): a connector with a
    scheme of its own quirks overrides a method (its secrets, its parse); one that signs nothing checks what it
    registered in `verify_webhook`. Nothing it is sent verifies without a scheme or an override.
    """

    webhook_scheme: ClassVar[Scheme | None] = None
    # Resources of events the commerce handlers do not import (payments, shipments…): the connector acts on them
    # itself. The webhook handler calls `handle_webhook_event` for every parsed event whose `resource` is in
    # `webhook_resources`, inside the webhook's processing transaction.
    webhook_resources: ClassVar[frozenset[str]] = frozenset()

    def webhook_options(self) -> Mapping[str, Any]:
        """The integration's `config["webhook"]` (a configurable scheme's header, encoding, prefix, id headers)."""
        options = (self.integration.config or {}).get("webhook")
        return options if isinstance(options, Mapping) else {}

    def webhook_secrets(self) -> list[str]:
        """The secrets a delivery may be signed with: the integration's `webhook_secret`."""
        return [self.integration.webhook_secret]

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the raw body is signed by the integration (its scheme's check, the signature time window)."""
        scheme = self.webhook_scheme
        if scheme is None:
            return False
        return scheme.check(headers, body, self.webhook_secrets(), self.webhook_options(),
                            tolerance=settings.WEBHOOK_SIGNATURE_TOLERANCE_SECONDS)

    def identify_webhook(self, headers: Mapping[str, str], body: bytes, payload: Any) -> tuple[str, str]:
        """(event type, provider event id) by the scheme, even for a body `parse_webhook` refuses."""
        scheme = self.webhook_scheme
        if scheme is None or scheme.identify is None:
            return "", ""
        return scheme.identify(headers, body, payload, self.webhook_options())

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """The events of a delivery. Default: the whole body as one event of no resource (stored, then ignored).

        Raise ValidationError/ValueError for a body that is not what the provider sends.
        """
        payload = json.loads(body)
        event_type, external_id = self.identify_webhook(headers, body, payload)
        return [WebhookEvent(event_type=event_type, external_id=external_id, resource="",
                             payload=payload if isinstance(payload, dict) else {"data": payload})]

    def webhook_fingerprint(self, headers: Mapping[str, str], body: bytes) -> str:
        """What the signature covers, hashed, for a scheme whose event id is not signed ("" for the others)."""
        scheme = self.webhook_scheme
        return scheme.fingerprint(headers, body) if scheme is not None and scheme.fingerprint is not None else ""

    def webhook_replay_window(self) -> timedelta:
        """How long a stored fingerprint makes a delivery with the same one a replay. Default: no window."""
        return timedelta(0)

    def webhook_signature(self, headers: Mapping[str, str]) -> str:
        """The signature as sent, for the stored row ("" when the scheme has none)."""
        scheme = self.webhook_scheme
        return scheme.signature(headers, self.webhook_options()) if scheme is not None else ""

    def webhook_handshake(self, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes,
                          *, receive_url: str) -> tuple[int, Any] | None:
        """A provider's check of the receive URL, answered before any signature check and storing nothing:
        (HTTP status, body: a str is sent as text/plain, anything else as JSON). None: the request is no
        handshake (a GET is then refused). `receive_url` is this integration's, as subscribed. Default: the
        scheme's handshake, if it has one."""
        scheme = self.webhook_scheme
        if scheme is None or scheme.handshake is None:
            return None
        return scheme.handshake(method, headers, query, body, self.integration)

    # Subscriptions at the provider: made on connect, removed on disconnect (both best effort for the caller: a
    # failure is recorded, and the scheduled syncs reconcile whatever webhooks would have brought). The caller
    # passes the integration's receive URL (integrations.selectors.integration_receive_url).
    def register_webhooks(self, receive_url: str) -> list[str]:
        """Subscribe `receive_url` to the provider's topics; the topics newly subscribed.

        Idempotent: a subscription already in place is kept. Default: nothing to subscribe (the provider sends
        none, or is set up by hand).
        """
        return []

    def unregister_webhooks(self, receive_url: str) -> int:
        """Remove the subscriptions `register_webhooks` made; how many were removed. Default: none."""
        return 0

    def handle_webhook_event(self, event: WebhookEvent) -> dict[str, Any] | None:
        """Act on one event of a resource in `webhook_resources`; a summary for the stored webhook, or None if
        the event asked for nothing (then the webhook is "ignored" unless another event did something).

        Raise ValidationError/ValueError for a payload that can never be handled (the webhook fails at once);
        a transient ApplicationError, or any other exception, is retried with backoff. Default: refuses.
        """
        raise CapabilityNotSupported(f"{self.display_name} does not handle {event.resource} webhooks.")

    @classmethod
    def describe(cls) -> dict[str, Any]:
        described = super().describe()
        described["webhook_scheme"] = cls.webhook_scheme.name if cls.webhook_scheme is not None else None
        return described


# ---------------------------------------------------------------- pulls: a provider record in the ERP's words
# `normalize_*` give the shapes commerce.services upserts (see connectors/sandbox/mapping.py). Raise a ValueError
# subclass naming the field when a record cannot be mapped: the sync counts it as failed.


class ProductsSource(CapabilityMixin):
    capability = Capability.PRODUCTS
    required = ("iter_products", "normalize_product")

    def iter_products(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        raise NotImplementedError

    def normalize_product(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


class OrdersSource(CapabilityMixin):
    capability = Capability.ORDERS
    required = ("iter_orders", "normalize_order")
    # The channel's own status words a webhook may pass through unmapped → the ERP's status (commerce/statuses.py);
    # a connector whose normalize_order already speaks the ERP's words needs none.
    order_statuses: ClassVar[Mapping[str, str]] = {}

    def iter_orders(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        raise NotImplementedError

    def normalize_order(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


class InventorySource(CapabilityMixin):
    capability = Capability.INVENTORY
    required = ("iter_inventory", "normalize_inventory_level")

    def iter_inventory(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        raise NotImplementedError

    def normalize_inventory_level(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


# ---------------------------------------------------------------- pushes and calls


class StockSink(CapabilityMixin):
    capability = Capability.INVENTORY
    required = ("push_inventory", "stock_locations")
    # How many stock items one push_inventory call takes; each batch is recorded as soon as it is confirmed, so
    # a failure part way never re-sends what was already written. 1 where the API writes one level per call.
    inventory_push_batch: ClassVar[int] = 100

    def push_inventory(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Set stock: each item has `available`, `inventory_item_id` (or `sku`) and the channel `location_id`.

        May answer `{"levels": [normalized levels]}` with what the channel now holds (its time included);
        without them, what was sent is taken as confirmed.
        """
        raise NotImplementedError

    def stock_locations(self) -> list[dict[str, Any]]:
        """The channel's stock locations, `[{"id", "name", "pushable"}]`: the ids its levels carry.

        A channel with one stock figure per item answers one location (the id its levels use).
        """
        raise NotImplementedError


class FulfillmentSink(CapabilityMixin):
    capability = Capability.FULFILLMENTS
    required = ("push_fulfillment",)

    def push_fulfillment(self, fulfillment: dict[str, Any]) -> dict[str, Any]:
        """Tell the channel an order shipped: `order_id`, optional `lines`, `tracking_number`, `carrier`…"""
        raise NotImplementedError


class ShipmentCreator(CapabilityMixin):
    capability = Capability.SHIPMENTS
    required = ("create_shipment",)
    # The courier's tracking words → the ERP's order status (commerce/statuses.py: the same table channels
    # declare for their order statuses). A word it lacks is stored with the event and moves nothing.
    order_statuses: ClassVar[Mapping[str, str]] = {}

    def create_shipment(self, shipment: dict[str, Any]) -> dict[str, Any]:
        """Book a shipment with a courier; returns at least `tracking_number` and `carrier`.

        `shipment`: `order` (id, external number, currency, total), `lines` ([{sku, quantity}]), `address`
        (the order's shipping address, personal data: never log it) and `carrier_code` (the service to use).
        """
        raise NotImplementedError


class LabelSource(CapabilityMixin):
    """The provider prints the shipping label of a parcel: a courier's AWB, or a marketplace that ships itself."""

    capability = Capability.LABELS
    required = ("fetch_label",)

    def fetch_label(self, label: dict[str, Any]) -> dict[str, Any]:
        """The label document: `{"content": bytes, "content_type": "application/pdf" | …}`.

        `label`: `tracking_number`, `order_external_id` (the channel's order id), `fulfillment_external_id`.
        ProviderError when the provider has no label for it (yet).
        """
        raise NotImplementedError


class ReturnsSource(CapabilityMixin):
    """The channel reports returns (claims): pulled through the resource table like orders."""

    capability = Capability.RETURNS
    required = ("iter_returns", "normalize_return")

    def iter_returns(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        raise NotImplementedError

    def normalize_return(self, record: dict[str, Any]) -> dict[str, Any]:
        """`{external_id, order_external_id, reason, requested_at, location_id?, lines: [{external_id,
        order_line_external_id, sku, quantity, received}]}`; only `received` lines restock."""
        raise NotImplementedError


class DeliveryNotifier(CapabilityMixin):
    """The channel takes a delivery confirmation for parcels the seller ships itself (no capability of its own:
    it rides on fulfillments)."""

    required = ("push_delivery",)

    def push_delivery(self, delivery: dict[str, Any]) -> dict[str, Any] | None:
        """Tell the channel a parcel was delivered: `order_id`, `tracking_number`, `fulfillment_external_id`,
        `delivered_at`. None when this order is not the seller's to confirm (the channel tracks it itself)."""
        raise NotImplementedError


class ShopChannel(ProductsSource, OrdersSource, InventorySource, StockSink, FulfillmentSink):
    """A shop or marketplace the ERP sells through: its products, orders and stock are pulled; stock levels and
    fulfillments (tracking numbers) are pushed back. Declared as one, since every channel so far does all five."""


class AdsSource(CapabilityMixin):
    """An ad platform: its ad accounts, campaigns, ad sets (ad groups) and daily campaign figures are pulled into
    the ads records (ads/services), and budget and status changes are pushed to it.

    Pulls take `(since=, cursor=)` and yield Pages like the shop pulls; `normalize_*` give ads.services' shapes
    (money in major units as Decimal, `status` in active|paused|archived|deleted, aware `updated_at`). Metrics are
    re-pulled from `ad_metrics_start(since)`: platforms restate the last days, so a pull never starts later than
    AD_METRICS_RESTATEMENT_DAYS ago. The pushes answer the campaign as the platform now holds it (normalized), or
    raise a ProviderError (permanent: the platform refused, its words in `provider_message`).
    """

    capability = Capability.CAMPAIGNS
    required = ("iter_ad_accounts", "normalize_ad_account", "iter_campaigns", "normalize_campaign", "iter_ad_sets",
                "normalize_ad_set", "iter_ad_metrics", "normalize_ad_metrics_day", "set_campaign_budget",
                "set_campaign_status")

    def ad_metrics_start(self, since: datetime | None) -> date:
        """The first day a metrics pull covers: `since`'s day, but never later than the restatement window."""
        window_start = date.today() - timedelta(days=max(1, settings.AD_METRICS_RESTATEMENT_DAYS) - 1)
        return min(since.date(), window_start) if since is not None else window_start

    def iter_ad_accounts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        raise NotImplementedError

    def normalize_ad_account(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def iter_campaigns(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        raise NotImplementedError

    def normalize_campaign(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def iter_ad_sets(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        raise NotImplementedError

    def normalize_ad_set(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def iter_ad_metrics(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        raise NotImplementedError

    def normalize_ad_metrics_day(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def fetch_campaigns(self, external_ids: list[str]) -> list[dict[str, Any]]:
        """The raw records of these campaigns now (a webhook named them). Default: none (the sync catches up)."""
        return []

    def set_campaign_budget(self, external_id: str, *, daily_budget: Decimal | None = None,
                            lifetime_budget: Decimal | None = None, currency: str = "",
                            account_id: str = "") -> dict[str, Any]:
        """Set a campaign's budget (major units of the account's currency); the normalized campaign after.
        `account_id` is the campaign's ad account (the external id) where the platform's calls need it."""
        raise NotImplementedError

    def set_campaign_status(self, external_id: str, *, status: str, account_id: str = "") -> dict[str, Any]:
        """Set a campaign's status (`active` or `paused`); the normalized campaign after."""
        raise NotImplementedError


class PaymentsGateway(CapabilityMixin):
    """Payments reach orders (connectors/payments.py `settle`): from webhooks (a WebhookReceiver whose
    `webhook_resources` name them) or from the gateway calling the endpoints of the connector's `urls_module`."""

    capability = Capability.PAYMENTS


class TaxLookup(CapabilityMixin):
    capability = Capability.TAX_LOOKUP
    required = ("vat_status",)

    def vat_status(self, tax_ids: list[int], *, on: date) -> dict[str, Any]:
        """The registry's answer about each tax id's VAT registration on a day."""
        raise NotImplementedError


# ---------------------------------------------------------------- telling people, and audiences


@dataclass(frozen=True)
class NoticeMessage:
    """An alert to people, in no provider's format: each Notifier renders it (Block Kit, an embed, an email).

    `state` is `alert` (a condition opened), `resolved` (it cleared), `info` (a one-off) or `digest`
    (`items` are the batched notices' messages). `facts` are (label, value) pairs shown under the text.
    """

    title: str
    text: str = ""
    state: str = "alert"
    facts: tuple[tuple[str, str], ...] = ()
    link: str = ""
    items: tuple[NoticeMessage, ...] = ()

    @property
    def headline(self) -> str:
        """The title with its state in words (what a plain-text channel or an email subject shows)."""
        return self.title if self.state != "resolved" or self.title.startswith("Resolved") \
            else f"Resolved: {self.title}"

    def as_text(self) -> str:
        """Plain text: the text, the facts as `label: value` lines, the link, then each digest item."""
        lines = [self.text] if self.text else []
        lines += [f"{label}: {value}" for label, value in self.facts]
        if self.link:
            lines.append(self.link)
        for item in self.items:
            lines.append(f"- {item.headline}" + (f": {item.text}" if item.text else ""))
        return "\n".join(lines)


class Notifier(CapabilityMixin):
    """Sends notices to people (notifications/ picks the integration and the target per rule).

    `target` is the rule's words for where: a channel id, or a comma-separated list of addresses. Raise a
    connectors.errors type for what the provider refused (permanent) or could not take now (transient).
    """

    capability = Capability.NOTIFY
    required = ("send_notice",)
    # What a rule's target means for this provider, for the rule's form and API ("" = no target needed).
    notice_target_help: ClassVar[str] = ""

    def send_notice(self, message: NoticeMessage, *, target: str) -> str:
        """Send one message; the provider's id for it ("" when it gives none)."""
        raise NotImplementedError


class AudienceSink(CapabilityMixin):
    """A mailing audience the ERP's consenting customers are copied into (syncjobs/audiences.py drives it)."""

    capability = Capability.CONTACTS
    required = ("audience_lists", "audience_upsert")
    # The audience pushed to when the integration names none (`config["list_id"]`): a CRM's one contacts store.
    default_audience: ClassVar[str] = ""

    def audience_lists(self) -> list[dict[str, Any]]:
        """The provider's lists: `[{"id", "name", "member_count"}]`."""
        raise NotImplementedError

    def audience_upsert(self, list_id: str, contacts: list[dict[str, str]]) -> dict[str, int]:
        """Add or update each contact (`email`, `first_name`, `last_name`) in the list; counts by outcome."""
class OrderSink(CapabilityMixin):
    """An ERP or accounting system the hub writes the organization's orders into (syncjobs/order_exports.py).

    The pipeline picks the orders and records what the provider answered; the connector makes one document per
    order and must be idempotent by the ERP's order id: asked twice for one order (a retry after a timeout whose
    write did land), it finds the document it made and answers that, never a second one.
    """

    capability = Capability.ORDER_EXPORT
    required = ("push_order",)

    def push_order(self, order: dict[str, Any]) -> dict[str, Any]:
        """Write one order; answer `{"external_id", "number", "created": bool}` (created False: it was there).

        `order`: `id` (the ERP's), `external_number`, `currency`, `placed_at` (aware), `subtotal`, `total`,
        `total_tax`, `total_shipping`, `total_discounts`, `customer_name`, `customer_email`, `channel` (the code
        of the integration it came from) and `lines` ([{`sku`, `title`, `quantity`, `unit_price`, `total`,
        `external_product_id`}]: the product's id at this provider, "" when the provider has not listed it).
        Raise ValidationError for an order the provider can never take (a line whose product it lacks).
        """
        raise NotImplementedError


class FileStore(CapabilityMixin):
    """A file store the hub writes backups into and reads documents from (syncjobs/backups.py).

    Folders and files are named by the store's own ids. The backup pipeline writes each run's files into the
    integration's `config["backup"]["folder_id"]`, and deletes older runs' files, which it finds by listing that
    folder (so the store, not a row of ours, says which backups exist).
    """

    capability = Capability.FILES
    required = ("folder_files", "upload_file", "delete_file")

    def folder_files(self, folder_id: str) -> list[dict[str, Any]]:
        """The files directly in a folder, every page of them: `[{"id", "name", "mime_type", …}]`."""
        raise NotImplementedError

    def upload_file(self, *, folder_id: str, name: str, content: bytes, mime_type: str) -> dict[str, Any]:
        """Create a file in the folder with these bytes; answer at least its `id` and `name`."""
        raise NotImplementedError

    def delete_file(self, file_id: str) -> None:
        """Delete one file (one the hub made); a file already gone is not an error."""
        raise NotImplementedError


# ---------------------------------------------------------------- social platforms
IMAGE_EXTENSIONS = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
                    "webp": "image/webp"}
VIDEO_EXTENSIONS = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}


def media_type_of(url: str) -> str:
    """The MIME type a media URL's file name implies ("" when it implies none): what the limits are checked on."""
    from urllib.parse import urlsplit

    name = urlsplit(url).path.rsplit("/", 1)[-1].lower()
    extension = name.rsplit(".", 1)[-1] if "." in name else ""
    return IMAGE_EXTENSIONS.get(extension) or VIDEO_EXTENSIONS.get(extension) or ""


@dataclass(frozen=True)
class PostLimits:
    """What a platform accepts in one post, checked before any call (social.services.post_create).

    `media_types[kind]` lists the MIME types a post of that kind may carry (by the URL's file name);
    `media_count[kind]` its (min, max) number of media."""

    caption_max: int
    media_types: Mapping[str, tuple[str, ...]]
    media_count: Mapping[str, tuple[int, int]]
    title_max: int = 0  # 0: the platform has no title

    def problems(self, *, kind: str, caption: str, title: str, media_urls: list[str]) -> dict[str, list[str]]:
        """Field → what is wrong; {} when the post fits."""
        found: dict[str, list[str]] = {}
        if kind not in self.media_types:
            found["kind"] = [f"This platform publishes {', '.join(sorted(self.media_types))}, not {kind}."]
            return found
        if len(caption) > self.caption_max:
            found["caption"] = [f"At most {self.caption_max} characters (this one has {len(caption)})."]
        if title and not self.title_max:
            found["title"] = ["This platform has no title; put it in the caption."]
        elif self.title_max and len(title) > self.title_max:
            found["title"] = [f"At most {self.title_max} characters (this one has {len(title)})."]
        low, high = self.media_count.get(kind, (0, 0))
        if not low <= len(media_urls) <= high:
            found["media_urls"] = [f"A {kind} takes {low}–{high} media (got {len(media_urls)})."]
        allowed = self.media_types[kind]
        wrong = [url for url in media_urls if media_type_of(url) not in allowed]
        if wrong:
            found.setdefault("media_urls", []).append(
                f"A {kind} takes {', '.join(allowed)} (judged by the file name); not: {', '.join(wrong[:3])}.")
        return found


@dataclass(frozen=True)
class PublishRequest:
    """One post to publish. `state` is the checkpoint a previous attempt saved (empty on the first)."""

    request_id: str
    account_external_id: str
    kind: str
    caption: str
    media_urls: tuple[str, ...]
    title: str = ""
    state: Mapping[str, Any] = None  # type: ignore[assignment]


@dataclass(frozen=True)
class PublishResult:
    """What an attempt reached. `done` False: the platform is still processing (call again later, with the state
    the attempt checkpointed); `external_id` is set once the platform names the post."""

    done: bool
    external_id: str = ""
    permalink: str = ""
    published_at: datetime | None = None


class SocialChannel(CapabilityMixin):
    """A social platform's accounts and posts, pulled through the one import path (syncjobs/resources.py).

    `normalize_social_account` answers `{"external_id", "handle", "name", "followers", "picture_url"}`;
    `normalize_post` answers `{"external_id", "account_external_id", "kind", "caption", "title", "media_urls",
    "permalink", "published_at", "metrics": {"date", "views", "likes", "comments", "shares", "saves", "reach"} |
    None, "comments": [{"external_id", "author", "text", "like_count", "commented_at"}]}` (social.services writes
    them)."""

    capability = Capability.POSTS
    required = ("iter_social_accounts", "normalize_social_account", "iter_posts", "normalize_post")

    def iter_social_accounts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        raise NotImplementedError

    def normalize_social_account(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def iter_posts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        raise NotImplementedError

    def normalize_post(self, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def fetch_posts(self, external_ids: list[str]) -> list[dict[str, Any]]:
        """These posts read now, raw (for a webhook that says a post changed without its new state). Default:
        none — the platform has no single reads, and the next sync brings the change."""
        return []


class SocialPublisher(CapabilityMixin):
    """Publishes posts. `publish_post` must be safe to call again after a timeout: before any step that creates
    something at the platform it calls `checkpoint(state)` with what it needs to resume, and when called with that
    state it resumes instead of creating a second post."""

    capability = Capability.PUBLISH
    required = ("publish_post",)
    post_limits: ClassVar[PostLimits]

    def publish_post(self, request: PublishRequest, checkpoint: Any) -> PublishResult:
        raise NotImplementedError


# ---------------------------------------------------------------- analysis
@dataclass(frozen=True)
class AnalysisQuestion:
    """One structured question for a language model: figures in `prompt`, the answer as the input of the one tool
    `tool_name` whose JSON schema is `schema` (so the answer is data, not prose to parse)."""

    system: str
    prompt: str
    tool_name: str
    tool_description: str
    schema: dict[str, Any]
    max_tokens: int


@dataclass(frozen=True)
class AnalysisAnswer:
    tool_input: Any  # the model's tool input, unvalidated (None: it did not call the tool)
    model: str
    input_tokens: int
    output_tokens: int
    cost_estimate: Decimal  # USD at the model's list price
    stop_reason: str = ""


class Analyst(CapabilityMixin):
    """A language model that answers analysis questions in structured form (analysis/ asks it; without one, or
    when it fails, the rule-based analyzer answers)."""

    capability = Capability.ANALYSIS
    required = ("analyze", "available_models", "model_name")

    def model_name(self) -> str:
        """The model this integration asks (its config, else the provider's default)."""
        raise NotImplementedError

    def available_models(self) -> list[dict[str, str]]:
        """The models the provider lists for this key: `[{"id", "display_name"}]`."""
        raise NotImplementedError

    def analyze(self, question: AnalysisQuestion) -> AnalysisAnswer:
        """Ask once; raise a connectors.errors type when the provider refused or failed."""
        raise NotImplementedError
