"""The sandbox shop's catalogue and order book, generated from a seed, one record at a time.

Nothing is precomputed but a list of integers per order (its `updated_at`), so a
shop of 100,000 orders starts in a fraction of a second and a page of 250 orders
costs a few milliseconds. Every value is a pure function of (seed, index): the
same seed gives the same ids, SKUs, totals and timestamps, so tests and
benchmarks can check that every record arrived exactly once and unchanged.

Ids are derived from the index alone (`order_id(j) = 5_000_000_001 + j`), the
seed decides everything else. What changes at run time (an order touched, paid
or fulfilled, a stock level set) lives in `OrderOverlay` and `ShopState`
(sandbox/state.py) and is laid over the generated record when it is rendered.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

API_VERSION = "2026-10"  # the Admin API version it speaks (the connector's DEFAULT_API_VERSION)
SHOP_TZ = timezone(timedelta(hours=-5))  # the shop's fixed offset; timestamps are rendered in it, like Shopify
EPOCH = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp())
LAST_CREATED = int(datetime(2024, 12, 31, tzinfo=UTC).timestamp())
MAX_UPDATE_LAG = 3 * 24 * 3600  # an order's generated updated_at is at most three days after its created_at

ORDER_ID_BASE = 5_000_000_001
PRODUCT_ID_BASE = 7_000_000_001
VARIANT_ID_BASE = 40_000_000_001
INVENTORY_ITEM_ID_BASE = 45_000_000_001
LINE_ITEM_ID_BASE = 13_000_000_001
FULFILLMENT_ORDER_ID_BASE = 6_000_000_001
FO_LINE_ITEM_ID_BASE = 16_000_000_001
FULFILLMENT_ID_BASE = 30_000_000_001
CUSTOMER_ID_BASE = 20_000_000_001
LOCATION_ID_BASE = 48_000_001
MAX_LINES = 4  # lines per order; line ids are order index * 10 + n, so fewer than 10
MAX_VARIANTS = 3
MAX_IMAGES = 3
IMAGE_ID_BASE = 50_000_000_001

_ORDER, _PRODUCT, _VARIANT, _STOCK, _CREATED, _LAG, _KIND, _COUNT = range(8)
_M64 = (1 << 64) - 1
CENT = Decimal("0.01")
TAX_RATE = Decimal("0.19")

_ADJECTIVES = ("Classic", "Organic", "Linen", "Wool", "Recycled", "Studio", "Travel", "Everyday", "Heritage", "Compact")
_NOUNS = ("Tote", "Mug", "Notebook", "Scarf", "Lamp", "Backpack", "Candle", "Teapot", "Blanket", "Bottle", "Apron")
_VENDORS = ("Northwind", "Acme Goods", "Fabrikam", "Tailspin", "Contoso Home")
_SIZES = ("S", "M", "L")
_FIRST = ("Ana", "Mihai", "Elena", "Andrei", "Ioana", "Dilnoza", "Timur", "Sara", "Lucas", "Mei", "Omar", "Nina")
_LAST = ("Popescu", "Ionescu", "Karimova", "Usmonov", "Smith", "Garcia", "Chen", "Novak", "Kaya", "Weber")
_CITIES = (("Bucharest", "B", "RO", "010011"), ("Cluj-Napoca", "CJ", "RO", "400001"),
           ("Tashkent", "TK", "UZ", "100000"), ("Berlin", "BE", "DE", "10115"), ("Lyon", "ARA", "FR", "69001"))
_SETTLED = ("paid", "partially_refunded", "refunded")  # with everything fulfilled, such an order is closed
_CARRIERS = ("UPS", "DHL", "FedEx", "Fan Courier")


def mix(x: int) -> int:
    """splitmix64: a cheap, well-spread integer hash (about 0.3 µs in CPython)."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def iso(ts: int) -> str:
    """Epoch seconds → Shopify's timestamp form, e.g. 2024-03-01T09:15:00-05:00."""
    return datetime.fromtimestamp(ts, SHOP_TZ).isoformat()


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


@dataclass
class OrderOverlay:
    """What happened to a generated order after the shop was seeded."""

    updated_ts: int | None = None
    financial_status: str | None = None
    fulfilled_extra: dict[int, int] = field(default_factory=dict)  # line n → quantity fulfilled since seeding
    fulfillments: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None


@dataclass(frozen=True)
class Location:
    id: int
    name: str


def recent_orders_until(now: float | None = None) -> int:
    """Where a demo shop's orders end: MAX_UPDATE_LAG before this week began (Monday 00:00 UTC), so that every
    order and its update are in the past, all within the last 30 days (what the stock and pricing analyses read),
    and the shop stays the same all week (it moves on once a week, when its orders look updated once)."""
    today = datetime.fromtimestamp(time.time() if now is None else now, tz=UTC).date()
    monday = datetime.combine(today - timedelta(days=today.weekday()), datetime.min.time(), tzinfo=UTC)
    return int(monday.timestamp()) - MAX_UPDATE_LAG


class ShopData:
    """The generated shop. Methods taking an index are pure; `order_updated_ts` is the one precomputed list."""

    def __init__(self, *, seed: int = 1, orders: int = 1000, products: int = 200, locations: int = 2,
                 currency: str = "EUR", name: str | None = None, orders_until: int | None = None):
        """`orders_until` (a timestamp): the orders end then instead of in early 2023, the rest of the shop
        moved along with them (the same shop otherwise); `recent_orders_until()` keeps a demo's sales recent."""
        if orders < 0 or products < 1 or locations < 1:
            raise ValueError("a shop needs at least one product and one location, and no negative orders")
        self.seed = seed
        self.order_count = orders
        self.product_count = products
        self.image_base = "http://127.0.0.1/_sandbox/images"  # the server sets its own address (SandboxServer)
        self.currency = currency
        self.name = name or f"Sandbox Shop {seed}"
        self.domain = f"sandbox-{seed}.myshopify.com"
        self.locations = [Location(LOCATION_ID_BASE + n, ("Main warehouse", "Store front", "Overflow")[n % 3])
                          for n in range(locations)]
        self.spacing = max(1, min(600, (LAST_CREATED - EPOCH) // max(orders, 1)))
        self.epoch = EPOCH if orders_until is None else orders_until - orders * self.spacing
        # updated_at of every order, generated: the only per-order precomputation (a list of ints).
        self.order_updated_ts = [self.order_created_ts(j) + self._h(_LAG, j) % MAX_UPDATE_LAG for j in range(orders)]
        self.max_generated_ts = max(self.order_updated_ts, default=self.epoch)
        self._variant_offsets: list[int] | None = None

    # ------------------------------------------------------------------ hashing
    def _h(self, kind: int, index: int, salt: int = 0) -> int:
        return mix((self.seed & 0xFFFFFF) << 40 ^ kind << 36 ^ salt << 32 ^ index)

    def _rng(self, kind: int, index: int) -> random.Random:
        return random.Random((self.seed << 40) | (kind << 36) | index)

    # ------------------------------------------------------------------ ids
    def order_index(self, order_id: int) -> int | None:
        j = order_id - ORDER_ID_BASE
        return j if 0 <= j < self.order_count else None

    def product_index(self, product_id: int) -> int | None:
        i = product_id - PRODUCT_ID_BASE
        return i if 0 <= i < self.product_count else None

    def inventory_item(self, inventory_item_id: int) -> tuple[int, int] | None:
        """inventory_item_id → (product index, variant k), or None."""
        n = inventory_item_id - INVENTORY_ITEM_ID_BASE
        i, k = divmod(n, 10)
        if n < 0 or i >= self.product_count or k >= self.variant_count(i):
            return None
        return i, k

    def location_index(self, location_id: int) -> int | None:
        n = location_id - LOCATION_ID_BASE
        return n if 0 <= n < len(self.locations) else None

    # ------------------------------------------------------------------ products
    def variant_count(self, i: int) -> int:
        return 1 + self._h(_COUNT, i) % MAX_VARIANTS

    def variant_price(self, i: int, k: int) -> Decimal:
        return Decimal(500 + self._h(_VARIANT, i * 10 + k) % 19500) / 100

    def variant_sku(self, i: int, k: int) -> str:
        return f"SB{self.seed}-{i + 1:05d}-{k + 1}"

    def product_title(self, i: int) -> str:
        h = self._h(_PRODUCT, i)
        return f"{_ADJECTIVES[h % len(_ADJECTIVES)]} {_NOUNS[(h >> 8) % len(_NOUNS)]} {i + 1}"

    def product_created_ts(self, i: int) -> int:
        return self.epoch - 90 * 86400 + self._h(_PRODUCT, i, 1) % (80 * 86400)

    def product_updated_ts(self, i: int) -> int:
        return self.product_created_ts(i) + self._h(_PRODUCT, i, 2) % (9 * 86400)

    def base_available(self, i: int, k: int, loc: int) -> int:
        return self._h(_STOCK, (i * 10 + k) * 8 + loc) % 120

    def product(self, i: int, stock: dict[tuple[int, int], tuple[int, int]] | None = None) -> dict[str, Any]:
        """The REST representation of product i; `stock` maps (inventory_item_id, location_id) → (available, ts)."""
        h = self._h(_PRODUCT, i)
        pid = PRODUCT_ID_BASE + i
        created, updated = self.product_created_ts(i), self.product_updated_ts(i)
        count = self.variant_count(i)
        variants = []
        for k in range(count):
            item_id = INVENTORY_ITEM_ID_BASE + i * 10 + k
            quantity = sum(self.available(i, k, n, stock)[0] for n in range(len(self.locations)))
            variants.append({
                "id": VARIANT_ID_BASE + i * 10 + k,
                "product_id": pid,
                "title": "Default Title" if count == 1 else _SIZES[k],
                "price": money(self.variant_price(i, k)),
                "sku": self.variant_sku(i, k),
                "position": k + 1,
                "compare_at_price": None,
                "option1": "Default Title" if count == 1 else _SIZES[k],
                "barcode": f"59{(self.seed * 7919 + i * 10 + k) % 10**11:011d}",
                "inventory_item_id": item_id,
                "inventory_quantity": quantity,
                "inventory_management": "shopify",
                "requires_shipping": True,
                "created_at": iso(created),
                "updated_at": iso(updated),
            })
        status = "active" if h % 10 < 8 else ("draft" if h % 10 == 8 else "archived")
        return {
            "id": pid,
            "title": self.product_title(i),
            "body_html": f"<p>{self.product_title(i)}, made to last.</p>",
            "vendor": _VENDORS[(h >> 16) % len(_VENDORS)],
            "product_type": _NOUNS[(h >> 8) % len(_NOUNS)],
            "handle": self.product_title(i).lower().replace(" ", "-"),
            "status": status,
            "tags": "sandbox",
            "created_at": iso(created),
            "updated_at": iso(updated),
            "published_at": iso(created) if status == "active" else None,
            "options": [{"id": pid * 10, "product_id": pid, "name": "Title" if count == 1 else "Size", "position": 1}],
            "variants": variants,
            "images": [
                {"id": IMAGE_ID_BASE + i * 10 + n, "product_id": pid, "position": n + 1,
                 "src": f"{self.image_base}/{pid}-{n + 1}.svg", "alt": f"{self.product_title(i)} ({n + 1})",
                 "variant_ids": [], "created_at": iso(created), "updated_at": iso(updated)}
                for n in range(1 + (h >> 24) % MAX_IMAGES)
            ],
        }

    # ------------------------------------------------------------------ inventory
    def _offsets(self) -> list[int]:
        """Prefix sums of variant counts, so inventory levels can be addressed by one flat index."""
        if self._variant_offsets is None:
            offsets, total = [], 0
            for i in range(self.product_count):
                offsets.append(total)
                total += self.variant_count(i)
            offsets.append(total)
            self._variant_offsets = offsets
        return self._variant_offsets

    @property
    def level_count(self) -> int:
        return self._offsets()[-1] * len(self.locations)

    def level_at(self, flat: int) -> tuple[int, int, int]:
        """Flat inventory-level index → (product i, variant k, location n); ordered by item then location."""
        import bisect

        variant, n = divmod(flat, len(self.locations))
        offsets = self._offsets()
        i = bisect.bisect_right(offsets, variant) - 1
        return i, variant - offsets[i], n

    def level_flat(self, i: int, k: int, n: int) -> int:
        return (self._offsets()[i] + k) * len(self.locations) + n

    def available(self, i: int, k: int, n: int, stock=None) -> tuple[int, int]:
        """(available, updated_ts) of variant (i, k) at location n, after any stock set at run time."""
        key = (INVENTORY_ITEM_ID_BASE + i * 10 + k, self.locations[n].id)
        if stock and key in stock:
            return stock[key]
        return self.base_available(i, k, n), self.product_updated_ts(i)

    def inventory_level(self, flat: int, stock=None) -> dict[str, Any]:
        i, k, n = self.level_at(flat)
        available, ts = self.available(i, k, n, stock)
        return {
            "inventory_item_id": INVENTORY_ITEM_ID_BASE + i * 10 + k,
            "location_id": self.locations[n].id,
            "available": available,
            "updated_at": iso(ts),
            "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{self.locations[n].id}"
                                    f"?inventory_item_id={INVENTORY_ITEM_ID_BASE + i * 10 + k}",
        }

    # ------------------------------------------------------------------ orders
    def order_created_ts(self, j: int) -> int:
        return self.epoch + j * self.spacing + self._h(_CREATED, j) % self.spacing

    def order_kind(self, j: int) -> tuple[str, str | None, bool]:
        """(financial_status, fulfillment_status, cancelled) of order j as seeded; cheap, for status filters."""
        r = self._h(_KIND, j) % 100
        if r < 5:
            return "voided", None, True
        if r < 8:
            return "refunded", None, True
        if r < 12:
            return "refunded", "fulfilled", False
        if r < 15:
            return "partially_refunded", "fulfilled", False
        if r < 25:
            return "pending", None, False
        if r < 30:
            return "authorized", None, False
        if r < 32:
            return "partially_paid", None, False
        if r < 62:
            return "paid", "fulfilled", False
        if r < 70:
            return "paid", "partial", False
        return "paid", None, False

    def order_closed(self, j: int) -> bool:
        financial, fulfillment, cancelled = self.order_kind(j)
        return not cancelled and fulfillment == "fulfilled" and financial in _SETTLED

    def order(self, j: int, overlay: OrderOverlay | None = None) -> dict[str, Any]:
        """The REST representation of order j (line items, totals, customer, addresses, fulfillments)."""
        rng = self._rng(_ORDER, j)
        oid = ORDER_ID_BASE + j
        created = self.order_created_ts(j)
        updated = self.order_updated_ts[j]
        financial, fulfillment, cancelled = self.order_kind(j)
        if overlay and overlay.financial_status:
            financial = overlay.financial_status

        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        city, province, country, zip_code = rng.choice(_CITIES)
        address = {
            "first_name": first, "last_name": last, "name": f"{first} {last}",
            "address1": f"{rng.randint(1, 200)} {rng.choice(_LAST)} Street", "address2": None,
            "city": city, "province": province, "province_code": province, "zip": zip_code,
            "country": country, "country_code": country, "phone": f"+40{rng.randint(700000000, 799999999)}",
            "company": None,
        }
        lines, subtotal = [], Decimal(0)
        for n in range(1 + rng.randrange(MAX_LINES)):
            i = rng.randrange(self.product_count)
            k = rng.randrange(self.variant_count(i))
            quantity = 1 + rng.randrange(3)
            price = self.variant_price(i, k)
            subtotal += price * quantity
            base_done = quantity if fulfillment == "fulfilled" or (fulfillment == "partial" and n == 0) else 0
            lines.append({
                "id": LINE_ITEM_ID_BASE + j * 10 + n, "variant_id": VARIANT_ID_BASE + i * 10 + k,
                "product_id": PRODUCT_ID_BASE + i, "sku": self.variant_sku(i, k),
                "title": self.product_title(i), "variant_title": None if self.variant_count(i) == 1 else _SIZES[k],
                "name": self.product_title(i), "quantity": quantity, "price": money(price),
                "total_discount": "0.00", "taxable": True, "requires_shipping": True,
                "fulfillable_quantity": 0 if cancelled else quantity - base_done, "_done": base_done,
            })
        discount = (subtotal * Decimal("0.10")).quantize(CENT) if rng.random() < 0.2 else Decimal(0)
        tax = ((subtotal - discount) * TAX_RATE).quantize(CENT, rounding=ROUND_HALF_UP)
        shipping = Decimal(0) if subtotal >= 100 else Decimal("4.99")
        total = subtotal - discount + tax + shipping
        fulfillments = []
        if any(line["_done"] for line in lines):
            fulfillments.append(self._seeded_fulfillment(j, created, lines, rng))
        if overlay:
            for n, extra in overlay.fulfilled_extra.items():
                lines[n]["_done"] += extra
                lines[n]["fulfillable_quantity"] = max(0, lines[n]["fulfillable_quantity"] - extra)
            fulfillments.extend(overlay.fulfillments)
            if overlay.updated_ts:
                updated = overlay.updated_ts
        for line in lines:
            done = line.pop("_done")
            line["fulfillment_status"] = "fulfilled" if done >= line["quantity"] else ("partial" if done else None)
        if not cancelled and fulfillments:
            fulfillment = "fulfilled" if all(line["fulfillable_quantity"] == 0 for line in lines) else "partial"
        cancelled_at = iso(created + 3600 * (1 + rng.randrange(48))) if cancelled else None
        closed = not cancelled and fulfillment == "fulfilled" and financial in _SETTLED
        refunds = []
        if financial in ("refunded", "partially_refunded"):
            refunds.append({"id": FULFILLMENT_ID_BASE + 5_000_000_000 + j, "order_id": oid,
                            "created_at": iso(min(updated, created + 86400)), "note": "Customer return",
                            "refund_line_items": []})
        customer_id = CUSTOMER_ID_BASE + rng.randrange(max(50, self.order_count // 4))
        email = f"{first}.{last}.{customer_id % 10000}@example.com".lower()
        return {
            "id": oid,
            "admin_graphql_api_id": f"gid://shopify/Order/{oid}",
            "name": f"#{1001 + j}",
            "order_number": 1001 + j,
            "number": 1 + j,
            "email": email,
            "created_at": iso(created),
            "updated_at": iso(updated),
            "processed_at": iso(created),
            "cancelled_at": cancelled_at,
            "cancel_reason": "customer" if cancelled else None,
            "closed_at": iso(self.order_updated_ts[j] if self.order_closed(j) else updated) if closed else None,
            "financial_status": financial,
            "fulfillment_status": fulfillment,
            "currency": self.currency,
            "presentment_currency": self.currency,
            "subtotal_price": money(subtotal - discount),
            "total_line_items_price": money(subtotal),
            "total_discounts": money(discount),
            "total_tax": money(tax),
            "total_shipping_price_set": {"shop_money": {"amount": money(shipping), "currency_code": self.currency}},
            "total_price": money(total),
            "total_price_set": {"shop_money": {"amount": money(total), "currency_code": self.currency},
                                "presentment_money": {"amount": money(total), "currency_code": self.currency}},
            "taxes_included": False,
            "note": overlay.note if overlay else None,
            "tags": "",
            "test": False,
            "customer": {"id": customer_id, "email": email, "first_name": first, "last_name": last},
            "shipping_address": address,
            "billing_address": dict(address),
            "line_items": lines,
            "shipping_lines": [{"id": j + 1, "title": "Standard", "code": "standard", "price": money(shipping)}],
            "refunds": refunds,
            "fulfillments": fulfillments,
        }

    def _seeded_fulfillment(self, j: int, created: int, lines: list[dict], rng: random.Random) -> dict[str, Any]:
        carrier = rng.choice(_CARRIERS)
        number = f"1Z{self._h(_ORDER, j, 3) % 10**12:012d}"
        at = iso(created + 86400)
        return {
            "id": FULFILLMENT_ID_BASE + j * 10, "order_id": ORDER_ID_BASE + j, "status": "success",
            "created_at": at, "updated_at": at, "tracking_company": carrier, "tracking_number": number,
            "tracking_numbers": [number], "tracking_url": f"https://track.example/{number}",
            "line_items": [{"id": line["id"], "quantity": line["_done"]} for line in lines if line["_done"]],
        }
