"""Amazon Selling Partner API: orders, listings, FBA inventory, shipment confirmation, listing quantities.

Settings an integration carries: `config["marketplace_ids"]` (one region's ids;
the first is the primary: prices, titles and currency come from it) picks the
regional host (marketplaces.py), the sandbox host when `is_test_mode`;
`api_endpoint` overrides both. `config["seller_id"]` is the selling partner id
(listing calls name it; an OAuth connect records it). The app's LWA client id
and secret come from `credentials` (`client_id`, `client_secret`, plus
`application_id` for the consent page), else the settings AMAZON_SP_CLIENT_ID,
AMAZON_SP_CLIENT_SECRET, AMAZON_SP_APPLICATION_ID.

Auth: Login with Amazon. A seller authorizes the app on Seller Central (the
consent page of its marketplace; callback `spapi_oauth_code` and
`selling_partner_id`), or a private seller pastes the refresh token
Seller Central shows for a self-authorized app. The refresh-token grant gives
an access token for an hour (the refresh token is not rotated); it is kept in
`access_token`/`expires_at` and refreshed under the framework's lock a minute
before it expires, or on the first call when there is none yet. Every call
carries it in `x-amz-access-token` (no SigV4 since 2023-10). SP-API refuses an
expired token with 403 `Unauthorized` ("The access token you provided has
expired"), 401 seldom: both refresh once. Refused again after a refresh (the
seller revoked the app, or a role was removed), the call raises AuthExpired
and an active integration goes to `error` with a readable `last_error`; a
refused refresh token sends it to `pending_auth` (connectors/tokens.py).

Orders (the AMAZON_SP_ORDERS_API setting: `2026-01-01` by default, or `v0`,
deprecated and refused after its removal on 2027-03-27; see client.py): on
2026-01-01 the sync reads orders changed since `lastUpdatedAfter` with
searchOrders, 100 per page, each with its items, the next page asked for with
the answer's `pagination.nextToken` as `paginationToken` (searchOrders: 0.0056/s,
burst 20, paced on its own bucket). On v0, getOrders pages with NextToken and
each order's items are one getOrderItems call each (0.5/s burst 30 — the rate
the integration-wide `rate_limit` is set to, so a page of 100 orders takes
about 2½ minutes once the burst is spent). Then, unless `config["refunds"]` is false, the refund phase:
Finances' financial events posted in the same window name the refunded orders,
each read again with its refund events (mapping.py decides refunded or
partially refunded). The cursor is a JSON string `{"phase", "after", "next"}`:
a resumed job continues from Amazon's token.

Notifications: SP-API has no HTTP webhooks; its notifications arrive through
Amazon SQS or EventBridge, which Switchyard does not receive (out of scope, see
README): the scheduled syncs are how changes arrive.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.utils import timezone

from config.errors import ApplicationError, OAuthFailed, ValidationError
from connectors import tokens
from connectors.base import (
    AuthKind,
    ConnectionResult,
    Connector,
    OAuthMeta,
    Page,
    ProviderAccount,
    RateLimitPolicy,
    TokenSet,
    provider_setting_variable,
)
from connectors.capabilities import ShopChannel
from connectors.errors import AuthExpired, ProviderError, connection_failure
from connectors.http import elapsed_ms
from connectors.oauth2 import StandardOAuth2

from . import mapping, marketplaces
from .client import ORDERS_2026_VERSION, ORDERS_VERSION, REGION_HOSTS, SANDBOX_HOSTS, TOKEN_URL, AmazonSPClient

V0_REMOVAL = datetime(2027, 3, 27, tzinfo=UTC)  # Amazon's removal date of Orders v0
DEFAULT_LOOKBACK = timedelta(days=30)  # a first sync without `since` reads this far back
FINISHED_ORDER_STATUSES = ("Canceled", "Unfulfillable")
CARRIER_CODES = {"ups": "UPS", "usps": "USPS", "fedex": "FedEx", "dhl": "DHL"}  # else "Other" + carrierName
TOKEN_WORDS = "access token"  # in a 403's details when the token (not a role) was refused


class AmazonSPConnector(StandardOAuth2, ShopChannel, Connector):
    key = "amazon_sp"
    display_name = "Amazon Selling Partner API"
    integration_type = "ecommerce"
    auth_kind = AuthKind.OAUTH2
    # Stock semantics (README "Stock"):
    # Amazon lowers a merchant-fulfilled quantity as orders are placed; FBA stock is Amazon's own (read only).
    stock_nets_open_orders = True
    base_url = REGION_HOSTS["na"]  # resolved_base_url(): the marketplaces' region
    oauth = OAuthMeta(authorize_url="https://sellercentral.amazon.com/apps/authorize/consent", token_url=TOKEN_URL)
    # getOrderItems' rate (0.5/s, burst 30), the operation a sync calls most; slower ones pace in client.py.
    rate_limit = RateLimitPolicy(requests=30, per_seconds=60.0)
    docs_url = "https://developer-docs.amazon.com/sp-api/"
    # The seller id arrives as `selling_partner_id` in the callback's query, which Amazon does not sign (the
    # browser carries it): a connect does not prove it, so only staff claim it.
    routed_account_kinds = ("amazon_sp.seller",)
    oauth_proves_routed_accounts = False
    # The SP-API app's Login with Amazon client and its application id (Seller Central's consent page).
    # ORDERS_API: `2026-01-01`, or `v0` until Amazon removes it (V0_REMOVAL).
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": "", "APPLICATION_ID": "",
                         "ORDERS_API": ORDERS_2026_VERSION}

    # ------------------------------------------------------------------ plumbing
    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    @property
    def marketplace_ids(self) -> list[str]:
        return marketplaces.marketplace_ids(self.config.get("marketplace_ids"))

    @property
    def seller_id(self) -> str:
        seller = str(self.config.get("seller_id") or "").strip()
        if not seller:
            raise ValidationError("An Amazon integration needs its selling partner id in config['seller_id'] "
                                  "(Seller Central: Account Info → Merchant Token).",
                                  details={"config": ["seller_id is required"]})
        return seller

    def orders_api(self) -> str:
        """The Orders API version order reads use (ORDERS_API); v0 is refused from its removal date on."""
        version = self.setting("ORDERS_API").strip()
        variable = provider_setting_variable(self.key, "ORDERS_API")
        if version not in (ORDERS_2026_VERSION, ORDERS_VERSION):
            raise ValidationError(f"{variable} must be {ORDERS_2026_VERSION} or {ORDERS_VERSION}, not {version!r}.",
                                  details={"ORDERS_API": ["unknown version"]})
        if version == ORDERS_VERSION and timezone.now() >= V0_REMOVAL:
            raise ValidationError(f"Amazon removed Orders v0 on {V0_REMOVAL:%Y-%m-%d}: set {variable} to "
                                  f"{ORDERS_2026_VERSION}.", details={"ORDERS_API": ["v0 was removed"]})
        return version

    @property
    def client(self) -> AmazonSPClient:
        self._ensure_access_token()
        return AmazonSPClient(self.http, pace_key=f"{self.key}:{self.integration.pk}")

    def resolved_base_url(self) -> str:
        if self.integration.api_endpoint:
            return self.integration.api_endpoint.rstrip("/")
        region = marketplaces.region_of(self.marketplace_ids)
        return (SANDBOX_HOSTS if self.integration.is_test_mode else REGION_HOSTS)[region]

    def auth_headers(self) -> dict[str, str]:
        token = self.integration.access_token
        return {"x-amz-access-token": token} if token else {}

    def is_auth_expired(self, response) -> bool:
        if response.status_code == 401:
            return True
        if response.status_code != 403:
            return False
        try:
            errors = response.json().get("errors") or []
        except (ValueError, AttributeError):
            return False
        return any(e.get("code") == "Unauthorized" and TOKEN_WORDS in str(e.get("details") or "").lower()
                   for e in errors if isinstance(e, dict))

    def retry_after_seconds(self, response) -> float | None:
        """Retry-After when sent; else, on a 429, the time one request takes at the `x-amzn-RateLimit-Limit` rate."""
        asked = super().retry_after_seconds(response)
        if asked is not None or response.status_code != 429:
            return asked
        try:
            rate = float(response.headers.get("x-amzn-RateLimit-Limit") or 0)
        except ValueError:
            return None
        return 1.0 / rate if rate > 0 else None

    def _ensure_access_token(self) -> None:
        """A refresh token and no access token yet (a self-authorized app): fetch one, under the refresh lock."""
        integration = self.integration
        if not integration.access_token and integration.refresh_token:
            tokens.refresh_token(self, stale_token="", force=True)

    def credentials_refused_message(self, error: AuthExpired, *, action: str) -> str | None:
        return (f"Amazon refused the access token even after a refresh "
                f"({error.provider_message or f'HTTP {error.status_code}'}); the seller may have "
                f"revoked the app or its roles: authorize it again.")

    # ------------------------------------------------------------------ OAuth (Seller Central consent)
    def application_id(self) -> str:
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        return str(credentials.get("application_id") or self.setting("APPLICATION_ID"))

    def oauth_connect_fields(self, *, shop: str = "") -> dict[str, Any]:
        """`shop` names the marketplace id(s) a new integration sells on (they pick the consent page and host)."""
        if self.integration.pk is None:
            return {"config": {**self.config, "marketplace_ids": marketplaces.marketplace_ids(shop)}}
        if shop and marketplaces.marketplace_ids(shop) != self.marketplace_ids:
            raise ValidationError("The marketplaces are not the integration's.", details={"shop": ["does not match"]})
        return {}

    def authorize_url(self, *, state: str, redirect_uri: str, scopes: tuple[str, ...] | list[str],
                      code_challenge: str = "", **params: str) -> str:
        """Seller Central's consent page of the first marketplace; `version=beta` for a draft app."""
        app_id = self.application_id()
        if not app_id:
            raise ValidationError("Set the app's application id (credentials['application_id'] or "
                                  "AMAZON_SP_APPLICATION_ID) to connect Amazon sellers.",
                                  details={"credentials": ["application_id is required"]})
        query = {"application_id": app_id, "state": state, "redirect_uri": redirect_uri, **params}
        if self.config.get("draft_app"):
            query["version"] = "beta"
        return f"{marketplaces.seller_central(self.marketplace_ids)}/apps/authorize/consent?{urlencode(query)}"

    def callback_code(self, query: Mapping[str, str]) -> str:
        return query.get("spapi_oauth_code", "")

    def validate_callback(self, query: Mapping[str, str]) -> None:
        """The callback must name the seller; an integration already bound to a seller takes only that seller."""
        seller = (query.get("selling_partner_id") or "").strip()
        if not seller:
            raise OAuthFailed("The Amazon callback names no selling_partner_id.")
        known = str(self.config.get("seller_id") or "")
        if known and known != seller:
            raise OAuthFailed("The Amazon callback is for another seller than the integration's.",
                              details={"selling_partner_id": ["does not match"]})
        self._callback_seller = seller

    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        """The code grant (the code lives 5 minutes); the seller id of the callback goes into config."""
        token_set = super().exchange_code(code, redirect_uri=redirect_uri)
        seller = getattr(self, "_callback_seller", "")
        if seller and self.config.get("seller_id") != seller:
            self.integration.config = {**self.config, "seller_id": seller}
            if self.integration.pk is not None:  # the OAuth flow saves only tokens on an existing integration
                type(self.integration).objects.filter(pk=self.integration.pk).update(config=self.integration.config)
        return token_set

    def routed_accounts(self) -> list[ProviderAccount]:
        seller = str(self.config.get("seller_id") or "").strip()
        return [ProviderAccount("amazon_sp.seller", seller)] if seller else []

    def account_display_name(self) -> str:
        found = self.client.marketplace_participations()
        store = next((p.get("storeName") for p in found if p.get("storeName")), "")
        return str(store or f"Amazon seller {self.config.get('seller_id', '')}".strip())

    # ------------------------------------------------------------------ reads
    def test_connection(self) -> ConnectionResult:
        """Read the seller's marketplace participations. Every failure is a result with a readable detail."""
        started = time.monotonic()
        try:
            ids = self.marketplace_ids
            found = self.client.marketplace_participations()
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('Amazon SP-API', exc)}: {exc.code}: {exc.message}")
        participating = {p["marketplace"]["id"]: p for p in found
                         if (p.get("participation") or {}).get("isParticipating") and p.get("marketplace")}
        missing = [i for i in ids if i not in participating]
        if missing:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"Connected, but the seller does not sell on {', '.join(missing)}.")
        names = ", ".join(participating[i]["marketplace"].get("countryCode", i) for i in ids)
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started), detail=f"Connected to Amazon ({names}).")

    def normalize_order(self, record: dict[str, Any]) -> dict[str, Any]:
        """An order as the pull yields it; a bare v0 one (without OrderItems) gets its items fetched first."""
        if "OrderItems" not in record and record.get("AmazonOrderId"):
            record = {**record, "OrderItems": self.client.order_items(str(record["AmazonOrderId"]))}
        return mapping.normalize_order(record)

    def normalize_product(self, record: dict[str, Any]) -> dict[str, Any]:
        return mapping.normalize_product(record, self.marketplace_ids[0])

    def normalize_inventory_level(self, record: dict[str, Any]) -> dict[str, Any]:
        return mapping.normalize_inventory_level(record, str(record.get("_marketplace_id") or self.marketplace_ids[0]))

    def iter_orders(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        refunds = self.config.get("refunds", True) is not False
        state = _read_cursor(cursor, "after") if cursor else {
            "phase": "orders", "after": _iso(since or timezone.now() - DEFAULT_LOOKBACK), "next": ""}
        ids = self.marketplace_ids
        client = self.client
        version = self.orders_api()
        while state["phase"] == "orders":
            if version == ORDERS_2026_VERSION:
                body = client.search_orders_page(ids, last_updated_after=state["after"],
                                                 pagination_token=state["next"])
                orders = list(body.get("orders") or [])
                token = (body.get("pagination") or {}).get("nextToken") or ""
            else:
                payload = client.orders_page(ids, last_updated_after=state["after"], next_token=state["next"])
                orders = [{**o, "OrderItems": client.order_items(o["AmazonOrderId"])}
                          for o in payload.get("Orders") or []]
                token = payload.get("NextToken") or ""
            state = {**state, "next": token} if token else {**state, "phase": "refunds" if refunds else "",
                                                             "next": ""}
            yield Page(items=orders, next_cursor=json.dumps(state) if state["phase"] else None)
        while state["phase"] == "refunds":
            payload = client.financial_events_page(posted_after=state["after"], next_token=state["next"])
            events = (payload.get("FinancialEvents") or {}).get("RefundEventList") or []
            refunded = list(dict.fromkeys(str(e["AmazonOrderId"]) for e in events if e.get("AmazonOrderId")))
            orders = [self._refunded_order(client, order_id) for order_id in refunded]
            token = payload.get("NextToken") or ""
            state = {**state, "next": token} if token else {**state, "phase": ""}
            yield Page(items=orders, next_cursor=json.dumps(state) if state["phase"] else None)

    def _refunded_order(self, client: AmazonSPClient, order_id: str) -> dict[str, Any]:
        return {**self._order(client, order_id), "Refunds": client.order_refunds(order_id)}

    def _order(self, client: AmazonSPClient, order_id: str) -> dict[str, Any]:
        """One order with its OrderItems, in v0's words whichever version read it."""
        if self.orders_api() == ORDERS_2026_VERSION:
            return mapping.from_orders_2026(client.order_2026(order_id))
        return {**client.order(order_id), "OrderItems": client.order_items(order_id)}

    def iter_products(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        """Listings changed since `since`, oldest first, 20 a page, grouped into variation families.

        A family is completed with the members not on the page (searched by SKU, 20 a call), so a product
        always carries all its variants, whichever page named it.
        """
        state = _read_cursor(cursor, "after") if cursor else {"after": _iso(since) if since else "", "next": ""}
        ids = self.marketplace_ids
        client, seller = self.client, self.seller_id
        while True:
            body = client.listings_page(seller, ids, last_updated_after=state["after"], page_token=state["next"])
            families = self._families(client, seller, list(body.get("items") or []))
            token = (body.get("pagination") or {}).get("nextToken") or ""
            state = {**state, "next": token}
            yield Page(items=families, next_cursor=json.dumps(state) if token else None)
            if not token:
                return

    def _families(self, client: AmazonSPClient, seller: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        by_sku = {str(i["sku"]): i for i in items}
        for wanted in (lambda: {mapping.parent_sku(i) for i in by_sku.values()},
                       lambda: {c for i in by_sku.values() for c in mapping.child_skus(i)}):
            missing = sorted(s for s in wanted() if s and s not in by_sku)
            if missing:
                by_sku.update({str(i["sku"]): i for i in client.listings_by_sku(seller, self.marketplace_ids, missing)})
        families: dict[str, list[dict[str, Any]]] = {}
        for item in by_sku.values():
            families.setdefault(mapping.parent_sku(item) or str(item["sku"]), []).append(item)
        return [{"sku": sku, "items": members} for sku, members in families.items()]

    def iter_inventory(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        """FBA stock (getInventorySummaries) per marketplace, at location `AFN:<marketplace>`.

        Merchant-fulfilled stock is the ERP's to push (push_inventory), not to pull. An FBA nextToken is
        short-lived, so a resumed job whose token Amazon refuses reads that marketplace again from its start.
        """
        ids = self.marketplace_ids
        state = _read_cursor(cursor, "start") if cursor else {"m": 0, "start": _iso(since) if since else "",
                                                               "next": ""}
        client = self.client
        while int(state.get("m", 0)) < len(ids):
            marketplace = ids[int(state.get("m", 0))]
            try:
                body = client.inventory_page(marketplace, start=state["start"], next_token=state["next"])
            except ProviderError as exc:
                if not state["next"] or exc.status_code != 400:
                    raise
                state = {**state, "next": ""}  # an expired token: this marketplace from its first page
                continue
            summaries = [{**s, "_marketplace_id": marketplace}
                         for s in (body.get("payload") or {}).get("inventorySummaries") or []]
            token = (body.get("pagination") or {}).get("nextToken") or ""
            state = {**state, "next": token} if token else {**state, "m": int(state.get("m", 0)) + 1, "next": ""}
            done = int(state["m"]) >= len(ids)
            yield Page(items=summaries, next_cursor=None if done else json.dumps(state))

    # ------------------------------------------------------------------ writes
    def stock_locations(self) -> list[dict[str, Any]]:
        """Merchant-fulfilled stock (written with listings patches) and, read only, FBA stock per marketplace."""
        return [{"id": mapping.MFN_LOCATION, "name": "Merchant-fulfilled (DEFAULT)", "pushable": True}] + [
            {"id": f"{mapping.FBA_LOCATION_PREFIX}{m}", "name": f"FBA {m}", "pushable": False}
            for m in self.marketplace_ids]

    def push_inventory(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Set each SKU's merchant-fulfilled quantity with a listings PATCH (one call per SKU, 5/s at Amazon).

        `productType` is the item's `product_type` when known, else `PRODUCT`, which Amazon accepts for
        offer-only attributes. The patch replaces the whole `fulfillment_availability`, so the handling time
        `config["lead_time_to_ship_max_days"]` goes along when set (it would be dropped otherwise).
        A SKU Amazon answers INVALID is reported in `rejected`, and the push fails after the others were sent.
        """
        lead_time = self.config.get("lead_time_to_ship_max_days")
        ids = self.marketplace_ids
        submissions, rejected = [], []
        client, seller = self.client, self.seller_id
        for item in items:
            sku = str(item.get("sku") or item.get("inventory_item_id") or "")
            if not sku or item.get("available") is None:
                raise ValidationError("Every stock item needs a SKU and `available`.",
                                      details={"sku": ["required"], "available": ["required"]})
            availability: dict[str, Any] = {"fulfillment_channel_code": "DEFAULT",
                                            "quantity": max(0, int(item["available"]))}
            if lead_time is not None:
                availability["lead_time_to_ship_max_days"] = int(lead_time)
            body = {"productType": str(item.get("product_type") or "PRODUCT"),
                    "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability",
                                 "value": [availability]}]}
            answer = client.patch_listing(seller, sku, ids, body)
            if answer.get("status") == "ACCEPTED":
                submissions.append(str(answer.get("submissionId") or ""))
            else:
                words = "; ".join(str(i.get("message")) for i in answer.get("issues") or [] if i.get("message"))
                rejected.append({"sku": sku, "issues": words or str(answer.get("status"))})
        if rejected:
            raise ProviderError(f"Amazon rejected the quantity of {len(rejected)} SKU(s): " + "; ".join(
                f"{r['sku']}: {r['issues']}" for r in rejected)[:500], transient=False,
                details={"rejected": rejected})
        return {"updated": len(submissions), "submission_ids": submissions}

    def push_fulfillment(self, fulfillment: dict[str, Any]) -> dict[str, Any]:
        """Confirm a merchant-fulfilled order's shipment with carrier and tracking (confirmShipment, 204).

        `fulfillment`: `order_id` (the AmazonOrderId), optional `lines` ([{line_item_id (OrderItemId) or sku,
        quantity}]; none = every unit not yet shipped), `tracking_number` (required), `carrier_code` (Amazon's
        carrier code) or `carrier` (UPS, USPS, FedEx, DHL become their codes; any other name is sent as
        carrierCode "Other" with carrierName), optional `shipping_method`. The packageReferenceId is derived
        from the order and tracking number, so a retried push edits the same package instead of adding one.
        FBA orders (AFN) are Amazon's to ship and are refused.
        """
        order_id = str(fulfillment.get("order_id") or "")
        number = str(fulfillment.get("tracking_number") or "")
        if not order_id or not number:
            raise ValidationError("An Amazon shipment needs the AmazonOrderId and a tracking number.",
                                  details={"order_id": ["required"], "tracking_number": ["required"]})
        client = self.client
        if self.orders_api() == ORDERS_2026_VERSION:
            order = mapping.from_orders_2026(client.order_2026(order_id))
            fetch_items = lambda: order["OrderItems"]  # noqa: E731 (the items came with the order)
        else:
            order = client.order(order_id)
            fetch_items = lambda: client.order_items(order_id)  # noqa: E731 (only when lines name SKUs)
        if order.get("FulfillmentChannel") == "AFN":
            raise ValidationError(f"Order {order_id} is fulfilled by Amazon (FBA); Amazon ships it.",
                                  details={"order_id": ["AFN order"]})
        if order.get("OrderStatus") in FINISHED_ORDER_STATUSES:
            raise ValidationError(f"Order {order_id} is {order['OrderStatus']} at Amazon; nothing to ship.",
                                  details={"order_id": [str(order["OrderStatus"])]})
        lines = _shipment_lines(order_id, fulfillment.get("lines"), fetch_items)
        carrier = str(fulfillment.get("carrier") or "")
        code = str(fulfillment.get("carrier_code") or CARRIER_CODES.get(carrier.strip().lower(), "Other"))
        package: dict[str, Any] = {
            "packageReferenceId": _package_reference(order_id, number),
            "carrierCode": code,
            "trackingNumber": number,
            "shipDate": _iso(timezone.now()),
            "orderItems": lines,
        }
        if code == "Other":
            package["carrierName"] = carrier or "Other"
        if fulfillment.get("shipping_method"):
            package["shippingMethod"] = str(fulfillment["shipping_method"])
        client.confirm_shipment(order_id, {"marketplaceId": order["MarketplaceId"], "packageDetail": package})
        return {"external_id": package["packageReferenceId"], "status": "confirmed", "tracking_number": number,
                "carrier": package.get("carrierName") or code, "line_items": lines}


# ---------------------------------------------------------------------- helpers
def _shipment_lines(order_id: str, wanted: list[dict[str, Any]] | None, fetch_items) -> list[dict[str, Any]]:
    """[{orderItemId, quantity}]: the wanted lines (by OrderItemId, or by SKU through the order's items)."""
    if wanted and all(line.get("line_item_id") for line in wanted):
        return [{"orderItemId": str(line["line_item_id"]), "quantity": int(line["quantity"])} for line in wanted]
    items = fetch_items()
    if not wanted:
        lines = [{"orderItemId": str(i["OrderItemId"]),
                  "quantity": int(i.get("QuantityOrdered") or 0) - int(i.get("QuantityShipped") or 0)} for i in items]
        lines = [line for line in lines if line["quantity"] > 0]
        if not lines:
            raise ValidationError(f"Order {order_id} has nothing left to ship.", details={"order_id": ["shipped"]})
        return lines
    by_sku = {str(i.get("SellerSKU")): str(i["OrderItemId"]) for i in items if i.get("SellerSKU")}
    chosen = []
    for line in wanted:
        item_id = str(line.get("line_item_id") or by_sku.get(str(line.get("sku") or ""), ""))
        if not item_id:
            raise ValidationError(f"Order {order_id} has no line {line.get('sku')}.", details={"lines": ["unknown"]})
        chosen.append({"orderItemId": item_id, "quantity": int(line["quantity"])})
    return chosen


def _package_reference(order_id: str, tracking_number: str) -> str:
    """A positive number (Amazon takes only those), the same for the same order and tracking number."""
    digest = hashlib.sha256(f"{order_id}:{tracking_number}".encode()).hexdigest()
    return str(int(digest[:9], 16) or 1)


def _read_cursor(cursor: str, key: str) -> dict[str, Any]:
    try:
        state = json.loads(cursor)
        str(state[key]), str(state["next"])
    except (ValueError, TypeError, KeyError):
        raise ValidationError("The Amazon sync cursor is unreadable; start the sync without it.",
                              details={"cursor": ["not an Amazon cursor"]}) from None
    return state


def _iso(value: datetime) -> str:
    """UTC, whole seconds, `Z` (rounded down, so the boundary record comes again)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
