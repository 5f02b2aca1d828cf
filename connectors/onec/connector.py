"""Connector for 1C:Enterprise infobases over the standard OData interface (`…/odata/standard.odata`).

Where it is: `api_endpoint` = the infobase's OData root, ending in `/odata/standard.odata`
(`https://erp.example.com/trade/odata/standard.odata`). The 1C administrator publishes the interface and the
entity sets it may read ("Set up standard OData interface"); the connection test names any the mapping needs
that are not published. Credentials: `api_key` = the 1C user name, `api_secret` = its password, sent as HTTP
Basic auth on every call, so the endpoint must be https (plain http only for an allowlisted loopback host).
A 401 cannot be refreshed: the integration goes to error with a message saying to check the user.

What it does, each by the field names of `config.mapping` (mapping.py has the defaults):
- products: `Catalog_Nomenclature` (groups excluded), `Ref_Key` as the external id of the listing, the
  variant and the stock item; the SKU from the mapped attribute.
- stock: the Balance virtual table of an accumulation register (default ТоварыНаСкладах /
  `AccumulationRegister_GoodsInWarehouses/Balance`, resource `InStock`), summed per item and warehouse over
  the register's other dimensions; each warehouse is a channel location the operator maps to an ERP location.
- sales orders: `Document_SalesOrder` with its lines in the `Goods` tabular section, written by the order
  export (syncjobs/order_exports.py). Idempotent by our order id in a 1C attribute (`SwitchyardOrderId` by
  default): looked up before every create, so a retried push — even one whose first POST timed out after 1C
  had written it — finds the document instead of making a second.

Paging: `$top` (config `page_size`, default 500) and `$skip` with a stable `$orderby`; the cursor is the skip.
Times: 1C's dates carry no zone; see mapping.py (`config.time_zone` / ONEC_TIME_ZONE, default Europe/Bucharest).
"""

from __future__ import annotations

import base64
import ipaddress
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from config.errors import ApplicationError, ValidationError
from connectors.base import AuthKind, ConnectionResult, Connector, Page, RateLimitPolicy
from connectors.capabilities import InventorySource, OrderSink, ProductsSource
from connectors.errors import AuthExpired, ProviderError, connection_failure
from connectors.http import elapsed_ms

from . import mapping
from .client import ODataClient, quoted

ROOT_SUFFIX = "/odata/standard.odata"
DEFAULT_PAGE_SIZE = 500


class OneCConnector(ProductsSource, InventorySource, OrderSink, Connector):
    key = "onec"
    display_name = "1C:Enterprise (OData)"
    integration_type = "erp"
    auth_kind = AuthKind.BASIC
    base_url = ""  # every infobase is its own: api_endpoint
    # A 1C server is one process pool shared with its users: stay polite.
    rate_limit = RateLimitPolicy(requests=5, per_seconds=1.0)
    docs_url = "https://its.1c.ru/db/v8318doc#bookmark:dev:TI000001358"
    provider_settings = {"TIME_ZONE": "Europe/Bucharest"}

    # ------------------------------------------------------------------ plumbing
    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    @property
    def client(self) -> ODataClient:
        return ODataClient(self.http)

    def fields(self, section: str) -> dict[str, Any]:
        return mapping.merged_mapping(self.config)[section]

    @property
    def zone(self) -> ZoneInfo:
        """The 1C server's time zone: `config.time_zone`, else ONEC_TIME_ZONE, else Europe/Bucharest."""
        name = str(self.config.get("time_zone") or self.setting("TIME_ZONE") or "Europe/Bucharest")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"{name!r} is not a time zone (config.time_zone, an IANA name such as "
                                  "Europe/Bucharest).", details={"config.time_zone": ["unknown time zone"]}) from None

    @property
    def page_size(self) -> int:
        try:
            return max(1, int(self.config.get("page_size") or DEFAULT_PAGE_SIZE))
        except (TypeError, ValueError):
            raise ValidationError("config.page_size must be a number.",
                                  details={"config.page_size": ["not a number"]}) from None

    def resolved_base_url(self) -> str:
        url = (self.integration.api_endpoint or "").rstrip("/")
        if not url.endswith(ROOT_SUFFIX):
            raise ValidationError(
                f"A 1C integration's api_endpoint is the infobase's OData root, ending in {ROOT_SUFFIX} "
                "(https://host/infobase/odata/standard.odata).",
                details={"api_endpoint": [f"must end in {ROOT_SUFFIX}"]})
        parts = urlsplit(url)
        if parts.scheme == "https" or (parts.scheme == "http" and _allowlisted_loopback(parts.hostname or "")):
            return url
        raise ValidationError("The 1C user's password is sent with every request, so api_endpoint must use https://.",
                              details={"api_endpoint": ["must be https"]})

    def auth_headers(self) -> dict[str, str]:
        user, password = self.integration.api_key, self.integration.api_secret
        if not (user and password):
            raise ValidationError("A 1C integration needs the 1C user (api_key) and its password (api_secret).",
                                  details={"api_key": ["required"], "api_secret": ["required"]})
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
                "Accept": "application/json"}

    def is_auth_expired(self, response) -> bool:
        return response.status_code == 401  # a password does not expire by itself: nothing to refresh

    def credentials_refused_message(self, error: AuthExpired, *, action: str) -> str | None:
        if action == "service_document":
            return None  # the connection test reports it in its result
        return (f"1C refused the user and password ({error.provider_message or 'HTTP 401'}); check the 1C user "
                "(api_key), its password (api_secret) and its right to the OData interface.")

    # ------------------------------------------------------------------ reads
    def test_connection(self) -> ConnectionResult:
        """The service document: credentials, reachability, and whether the mapped entity sets are published."""
        started = time.monotonic()
        try:
            published = set(self.client.entity_sets())
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('the 1C infobase', exc)}: {exc.message}")
        wanted = self.entity_sets()
        missing = [name for name in wanted if name not in published]
        if missing:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail="Connected, but 1C does not publish " + ", ".join(missing) + ": add them in "
                                           "1C's standard OData interface settings (or fix config.mapping).")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"Connected to 1C ({len(published)} entity sets published; "
                                       f"{', '.join(wanted)} found).")

    def entity_sets(self) -> list[str]:
        """The entity sets the mapping reads and writes (a virtual table's register, without `/Balance`)."""
        sets = [self.fields("products")["entity"], self.fields("stock")["entity"].split("/")[0],
                self.fields("stock")["warehouses"], self.fields("orders")["entity"]]
        return list(dict.fromkeys(name for name in sets if name))

    def iter_products(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        """The whole catalogue every time (1C keeps no change time on items); unchanged items cost a hash compare."""
        fields = self.fields("products")
        return self._pages(fields["entity"], action="list_products", filter=str(fields.get("filter") or ""),
                           orderby="Ref_Key", cursor=cursor)

    def normalize_product(self, record: dict[str, Any]) -> dict[str, Any]:
        return mapping.normalize_product(record, self.fields("products"))

    def iter_inventory(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        """Every balance row read first, then summed per (item, warehouse): a register with more dimensions
        (series, characteristics) has several rows per pair, on any page. Yields the sums in pages; the cursor is
        the offset of the next page of sums."""
        fields = self.fields("stock")
        totals: dict[tuple[str, str], Decimal] = {}
        orderby = f"{fields['product']},{fields['warehouse']}"
        for page in self._pages(fields["entity"], action="list_stock", orderby=orderby, cursor=None):
            for row in page.items:
                key = mapping.stock_key(row, fields)
                totals[key] = totals.get(key, Decimal(0)) + mapping.stock_quantity(row, fields)
        levels = [{"item": item, "warehouse": warehouse, "quantity": str(quantity)}
                  for (item, warehouse), quantity in sorted(totals.items())]
        size = self.page_size
        # A resumed job asks for the page after its checkpoint: the sums are read again, the pages written skipped.
        for start in range(_skip(cursor), max(len(levels), 1), size):
            yield Page(items=levels[start:start + size],
                       next_cursor=None if start + size >= len(levels) else str(start + size))

    def normalize_inventory_level(self, record: dict[str, Any]) -> dict[str, Any]:
        return mapping.normalize_inventory_level(record)

    def stock_locations(self) -> list[dict[str, Any]]:
        """1C's warehouses (the ids its balances carry); read only: the hub never writes 1C's stock."""
        fields = self.fields("stock")
        rows = [row for page in self._pages(fields["warehouses"], action="list_warehouses", orderby="Ref_Key",
                                            cursor=None) for row in page.items]
        return [{"id": str(row["Ref_Key"]), "name": str(row.get("Description") or ""), "pushable": False}
                for row in rows if row.get("Ref_Key") and not row.get("IsFolder")]

    def _pages(self, entity: str, *, action: str, orderby: str, cursor: str | None,
               filter: str = "") -> Iterator[Page]:
        skip = _skip(cursor)
        size = self.page_size
        previous: list[dict[str, Any]] | None = None
        while True:
            items = self.client.list(entity, action=action, filter=filter, orderby=orderby, top=size, skip=skip)
            if items and items == previous:  # a server (or proxy) that ignores $skip would loop for ever
                raise ProviderError(f"1C answered the same page of {entity} for $skip={skip}: paging is not honoured.")
            previous = items
            done = len(items) < size
            yield Page(items=items, next_cursor=None if done else str(skip + size))
            if done:
                return
            skip += size

    # ------------------------------------------------------------------ writes
    def find_sales_order(self, order_id: str) -> dict[str, Any] | None:
        """The (not deleted) document carrying our order id, if 1C has one."""
        fields = self.fields("orders")
        found = self.client.list(
            fields["entity"], action="find_sales_order",
            filter=f"{fields['order_id']} eq {quoted(order_id)} and DeletionMark eq false",
            select=",".join(["Ref_Key", fields["number"], fields["date"]]), top=2)
        return found[0] if found else None

    def push_order(self, order: dict[str, Any]) -> dict[str, Any]:
        """One Document_SalesOrder per ERP order: looked up by our id first, created only when 1C has none."""
        fields = self.fields("orders")
        order_id = str(order["id"])
        existing = self.find_sales_order(order_id)
        if existing is not None:
            return self._answer(existing, fields, created=False)
        unlisted = sorted({str(line.get("sku") or "?") for line in order.get("lines") or []
                           if not line.get("external_product_id")})
        if unlisted:
            raise ValidationError(f"1C does not list the SKUs {', '.join(unlisted)} (import 1C's products first, or "
                                  "add them in 1C); the order was not sent.", details={"skus": unlisted})
        if not order.get("lines"):
            raise ValidationError("An order without lines is not sent to 1C.", details={"lines": ["empty"]})
        body = mapping.sales_order(order, fields, self.zone)
        created = self.client.create(fields["entity"], body, action="create_sales_order")
        if fields.get("post") and created.get("Ref_Key"):
            self.client.post_document(fields["entity"], str(created["Ref_Key"]), action="post_sales_order")
        return self._answer(created, fields, created=True)

    def _answer(self, document: dict[str, Any], fields: dict[str, Any], *, created: bool) -> dict[str, Any]:
        ref = str(document.get("Ref_Key") or "")
        if not ref:
            raise ValidationError("1C answered a sales order without a Ref_Key.")
        date = document.get(fields["date"])
        return {"external_id": ref, "number": str(document.get(fields["number"]) or "").strip(), "created": created,
                "date": mapping.aware(date, self.zone, fields["date"], f"1C document {ref}") if date else None}


def _skip(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return max(0, int(cursor))
    except ValueError:
        raise ValidationError("The 1C sync cursor is unreadable; start the sync without it.",
                              details={"cursor": ["not a $skip offset"]}) from None


def _allowlisted_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback and host.strip("[]") in settings.OUTBOUND_URL_ALLOWLIST
