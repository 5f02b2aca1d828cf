"""The sandbox shop: a real HTTP server that answers like Shopify's Admin API (REST, and GraphQL for products).

Plain `http.server` (HTTP/1.1, keep-alive, one thread per connection), no Django
in the request path, so it is fast and runs anywhere. Start it with
`python manage.py run_sandbox`, or in a test::

    with SandboxServer(port=0, seed=7, orders=500, rate_limit=10) as sandbox:
        tokens = sandbox.issue_tokens()
        requests.get(sandbox.url + f"/admin/api/{API_VERSION}/orders.json?status=any",
                     headers={"X-Shopify-Access-Token": tokens["access_token"]})

It also plays an ad platform (Meta's Marketing API shapes, sandbox/ads.py) under `/meta/<version>/`.
Besides the Shopify endpoints it has a small admin surface for tests and demos
(no authentication: it only ever listens on a developer's machine):
`GET /` (what it serves), `GET /_sandbox/stats`, `POST /_sandbox/mutate
{"orders": n}`, `POST /_sandbox/expire_tokens`, `POST /_sandbox/tokens`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import re
import socket
import threading
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .ads import MetaAdsSimulator
from .auth import INVALID_TOKEN, LeakyBucket, OAuthError, OAuthServer
from .data import API_VERSION, ORDER_ID_BASE, ShopData
from .graphql import GraphQLApi
from .state import Listing, ShopError, ShopState
from .webhooks import WebhookSender

logger = logging.getLogger(__name__)

API_PREFIX = "/admin/api/"
MAX_LIMIT, DEFAULT_LIMIT = 250, 50
MAX_BODY = 1024 * 1024
DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET = "sandbox-client-id", "sandbox-client-secret"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(pattern), name)
    for method, pattern, name in (
        ("GET", r"shop\.json", "shop"),
        ("GET", r"products\.json", "products"),
        ("GET", r"products/count\.json", "products_count"),
        ("GET", r"products/(?P<id>\d+)\.json", "product"),
        ("GET", r"orders\.json", "orders"),
        ("GET", r"orders/count\.json", "orders_count"),
        ("GET", r"orders/(?P<id>\d+)\.json", "order"),
        ("GET", r"orders/(?P<id>\d+)/fulfillment_orders\.json", "fulfillment_orders"),
        ("POST", r"fulfillments\.json", "fulfillments_create"),
        ("GET", r"locations\.json", "locations"),
        ("GET", r"inventory_levels\.json", "inventory_levels"),
        ("POST", r"inventory_levels/set\.json", "inventory_set"),
        ("POST", r"graphql\.json", "graphql"),
    )
]


class SandboxServer:
    """The simulator: shop state, OAuth server, rate limiter, webhook sender and the HTTP server around them."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 8765, seed: int = 1, orders: int = 1000,
                 products: int = 200, locations: int = 2, currency: str = "EUR",
                 client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET,
                 token_ttl: int = 3600, rate_limit: int = 40, leak_rate: float = 2.0,
                 webhook_url: str | None = None, webhook_secret: str | None = None,
                 token_file: str | None = None, meta_throttle_every: int = 0, orders_until: int | None = None):
        self.data = ShopData(seed=seed, orders=orders, products=products, locations=locations, currency=currency,
                             orders_until=orders_until)
        self.state = ShopState(self.data)
        self.oauth = OAuthServer(client_id=client_id, client_secret=client_secret, token_ttl=token_ttl,
                                 shop_domain=self.data.domain, token_file=token_file)
        self.bucket = LeakyBucket(rate_limit, leak_rate)
        # Shopify signs webhooks with the app's client secret; a separate secret may be given.
        self.webhooks = WebhookSender(url=webhook_url, secret=webhook_secret or client_secret,
                                      shop_domain=self.data.domain)
        # The ad platform side (sandbox/ads.py): Meta-shaped, under /meta/<version>/.
        self.meta = MetaAdsSimulator(seed=seed, currency=currency, throttle_every=meta_throttle_every)
        self.counts: Counter[str] = Counter()
        self.counts_lock = threading.Lock()
        self.stock_write_log: list[tuple[int, int, int]] = []  # (inventory_item_id, location_id, available)
        self._page_key = hashlib.sha256(f"sandbox-page-info-{seed}".encode()).digest()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.sandbox = self
        self._thread: threading.Thread | None = None
        self.data.image_base = f"{self.url}/_sandbox/images"
        self.graphql = GraphQLApi(self.state, self.url)

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SandboxServer:
        """Serve from a background thread (tests); returns self."""
        self.webhooks.start()
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sandbox-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve from this thread until interrupted (the management command)."""
        self.webhooks.start()
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self.stop()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
            self._thread = None
        self._httpd.close_connections()
        self._httpd.server_close()
        self.webhooks.stop()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test and demo hooks
    def issue_tokens(self, scope: str | None = None) -> dict[str, Any]:
        """Tokens as the token endpoint would answer them, without the OAuth handshake."""
        return self.oauth.issue(scope)

    def expire_tokens(self) -> int:
        """Expire every access token now, so the next call with one gets 401 and the client must refresh."""
        return self.oauth.expire_all()

    def touch_orders(self, n: int) -> list[int]:
        """Change n orders (updated_at moves to now) and send their webhooks; returns their ids."""
        ids, hooks = self.state.touch_orders(n)
        for topic, payload in hooks:
            self.webhooks.send(topic, payload)
        return ids

    def stats(self) -> dict[str, int]:
        """Counters: requests, api_calls, throttled (429s), unauthorized (401s), token_requests, code_grants,
        refresh_grants, refresh_failures, stock_writes (accepted inventory_levels/set calls), webhooks_sent."""
        with self.counts_lock:
            counts = Counter(self.counts)
        counts.update(self.oauth.counts)
        for name in ("requests", "api_calls", "throttled", "unauthorized", "token_requests", "code_grants",
                     "refresh_grants", "refresh_failures", "stock_writes"):
            counts.setdefault(name, 0)  # every documented counter is there, zero or not
        counts["webhooks_sent"] = len(self.webhooks.deliveries)
        counts.update(self.meta.stats())
        return dict(counts)

    def record_stock_write(self, level: dict[str, Any]) -> None:
        """Note one accepted stock write (`stock_writes` in stats; `stock_write_log` lists them, newest last)."""
        with self.counts_lock:
            self.counts["stock_writes"] += 1
            self.stock_write_log.append((level["inventory_item_id"], level["location_id"], level["available"]))

    def count(self, name: str, n: int = 1) -> None:
        with self.counts_lock:
            self.counts[name] += n

    # ------------------------------------------------------------------ page_info
    def encode_page_info(self, payload: dict[str, Any]) -> str:
        raw = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=")
        mac = hmac.new(self._page_key, raw, hashlib.sha256).digest()[:9]
        return raw.decode() + "." + base64.urlsafe_b64encode(mac).decode()

    def decode_page_info(self, token: str, resource: str) -> dict[str, Any]:
        raw, _, mac = token.partition(".")
        expected = base64.urlsafe_b64encode(hmac.new(self._page_key, raw.encode(), hashlib.sha256).digest()[:9])
        try:
            if not hmac.compare_digest(mac.encode(), expected):
                raise ValueError
            payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            if payload["r"] != resource:
                raise ValueError
            return payload
        except (ValueError, KeyError, TypeError):
            raise ShopError(400, {"page_info": ["Invalid value."]}) from None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: SandboxServer

    def __init__(self, *args: Any, **kwargs: Any):
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def close_connections(self) -> None:
        """Hang up on idle keep-alive connections so their threads end with the server."""
        with self.connections_lock:
            for conn in list(self.open_connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SwitchyardSandbox/1.0"
    disable_nagle_algorithm = True
    timeout = 30  # idle keep-alive connections close after this
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.open_connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's signature)
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # ------------------------------------------------------------------ plumbing
    def _handle(self, method: str) -> None:
        sandbox = self.server.sandbox
        sandbox.count("requests")
        parts = urlsplit(self.path)
        self.query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.extra_headers: dict[str, str] = {"X-Request-Id": str(uuid.uuid4())}
        try:
            body = self._read_body()
            if parts.path.startswith("/meta/"):
                status, payload, headers = sandbox.meta.handle(method, parts.path[len("/meta"):], self.query, body,
                                                               self.headers)
                self.extra_headers.update(headers)
            elif parts.path.startswith(API_PREFIX):
                status, payload = self._api(method, parts.path[len(API_PREFIX):], body)
            else:
                status, payload = self._other(method, parts.path, body)
        except ShopError as exc:
            status, payload = exc.status, {"errors": exc.errors}
        except OAuthError as exc:
            status, payload = exc.status, exc.body()
        except Exception:  # noqa: BLE001 (a simulator bug must answer 500, not hang the client)
            logger.exception("sandbox failed on %s %s", method, self.path)
            status, payload = 500, {"errors": "Internal Server Error"}
        self._send(status, payload)

    def _read_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ShopError(413, "Request body too large")
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        if "application/x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
            return dict(parse_qsl(raw.decode(), keep_blank_values=True))
        try:
            body = json.loads(raw)
        except ValueError:
            raise ShopError(400, "Invalid JSON in request body") from None
        if not isinstance(body, dict):
            raise ShopError(400, "Request body must be a JSON object")
        return body

    def _send(self, status: int, payload: Any) -> None:
        if isinstance(payload, RawBody):
            self.send_response(status)
            self.send_header("Content-Type", payload.content_type)
            self.send_header("Content-Length", str(len(payload.data)))
            self.end_headers()
            self.wfile.write(payload.data)
            return
        if status == 302:
            self.send_response(302)
            self.send_header("Location", payload)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        raw = payload.data if isinstance(payload, JsonBytes) else json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in self.extra_headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    # ------------------------------------------------------------------ non-API paths
    def _other(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        sandbox = self.server.sandbox
        if method == "GET" and path == "/admin/oauth/authorize":
            return 302, sandbox.oauth.authorize(self.query)
        if method == "POST" and path == "/admin/oauth/access_token":
            return 200, sandbox.oauth.token({**self.query, **body})
        if method == "GET" and path == "/":
            return 200, {
                "sandbox": f"Switchyard sandbox shop (Shopify Admin API {API_VERSION}: REST, GraphQL products)",
                "shop": sandbox.data.domain, "orders": sandbox.data.order_count,
                "products": sandbox.data.product_count, "client_id": sandbox.oauth.client_id,
                "api": f"{API_PREFIX}{API_VERSION}/", "oauth": ["/admin/oauth/authorize", "/admin/oauth/access_token"],
                "ads": "Meta Marketing API shapes under /meta/<version>/ (sandbox/ads.py)",
                "admin": ["GET /_sandbox/stats", "POST /_sandbox/mutate", "POST /_sandbox/expire_tokens",
                          "POST /_sandbox/tokens"],
            }
        if method == "GET" and (found := _BULK_FILE.fullmatch(path)):
            return 200, RawBody(sandbox.graphql.bulk_file(int(found.group(1))).encode(), "application/jsonl")
        if method == "GET" and (found := _IMAGE.fullmatch(path)):
            return 200, RawBody(_svg(found.group(1)), "image/svg+xml")
        if method == "GET" and path == "/_sandbox/stats":
            return 200, sandbox.stats()
        if method == "POST" and path == "/_sandbox/mutate":
            n = body.get("orders", 1)
            if not isinstance(n, int) or not 0 <= n <= 10_000:
                raise ShopError(400, {"orders": ["must be an integer between 0 and 10000"]})
            return 200, {"touched": sandbox.touch_orders(n)}
        if method == "POST" and path == "/_sandbox/expire_tokens":
            return 200, {"expired": sandbox.expire_tokens()}
        if method == "POST" and path == "/_sandbox/tokens":
            return 200, sandbox.issue_tokens(body.get("scope"))
        return 404, {"errors": "Not Found"}

    # ------------------------------------------------------------------ the Admin API
    def _api(self, method: str, rest: str, body: dict[str, Any]) -> tuple[int, Any]:
        sandbox = self.server.sandbox
        version, _, resource_path = rest.partition("/")
        grant = sandbox.oauth.check(self.headers.get("X-Shopify-Access-Token"))
        if grant is None:
            sandbox.count("unauthorized")
            return 401, {"errors": INVALID_TOKEN}
        allowed, level, wait = sandbox.bucket.take(grant.client_id)
        self.extra_headers["X-Shopify-Shop-Api-Call-Limit"] = f"{level}/{sandbox.bucket.size}"
        self.extra_headers["X-Shopify-API-Version"] = API_VERSION
        if not allowed:
            sandbox.count("throttled")
            self.extra_headers["Retry-After"] = f"{max(0.01, math.ceil(wait * 100) / 100):.2f}"
            rate = f"{sandbox.bucket.leak_rate:g}"
            return 429, {"errors": f"Exceeded {rate} calls per second for api client. "
                                   "Reduce request rates to resume uninterrupted service."}
        sandbox.count("api_calls")
        if version != API_VERSION:
            return 404, {"errors": "Not Found"}
        for route_method, pattern, name in _ROUTES:
            match = pattern.fullmatch(resource_path)
            if match:
                if route_method != method:
                    return 406, {"errors": "Not Acceptable"}
                return getattr(self, f"_api_{name}")(body, **match.groupdict())
        return 404, {"errors": "Not Found"}

    def _api_shop(self, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"shop": self.server.sandbox.state.shop()}

    def _api_locations(self, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"locations": self.server.sandbox.state.locations()}

    def _api_orders(self, body: dict[str, Any]) -> tuple[int, Any]:
        return self._page("orders", self.server.sandbox.state.orders_listing)

    def _api_products(self, body: dict[str, Any]) -> tuple[int, Any]:
        return self._page("products", self.server.sandbox.state.products_listing)

    def _api_inventory_levels(self, body: dict[str, Any]) -> tuple[int, Any]:
        return self._page("inventory_levels", self.server.sandbox.state.levels_listing)

    def _api_orders_count(self, body: dict[str, Any]) -> tuple[int, Any]:
        listing = self.server.sandbox.state.orders_listing(self.query)
        return 200, {"count": sum(1 for _ in listing.forward(0))}

    def _api_products_count(self, body: dict[str, Any]) -> tuple[int, Any]:
        listing = self.server.sandbox.state.products_listing(self.query)
        return 200, {"count": sum(1 for _ in listing.forward(0))}

    def _api_order(self, body: dict[str, Any], id: str) -> tuple[int, Any]:  # noqa: A002
        j = self.server.sandbox.data.order_index(int(id))
        if j is None:
            return 404, {"errors": "Not Found"}
        return 200, {"order": self.server.sandbox.state.order(j)}

    def _api_product(self, body: dict[str, Any], id: str) -> tuple[int, Any]:  # noqa: A002
        i = self.server.sandbox.data.product_index(int(id))
        if i is None:
            return 404, {"errors": "Not Found"}
        return 200, {"product": self.server.sandbox.state.product(i)}

    def _api_fulfillment_orders(self, body: dict[str, Any], id: str) -> tuple[int, Any]:  # noqa: A002
        j = self.server.sandbox.data.order_index(int(id))
        if j is None:
            return 404, {"errors": "Not Found"}
        return 200, {"fulfillment_orders": self.server.sandbox.state.fulfillment_orders(j)}

    def _api_fulfillments_create(self, body: dict[str, Any]) -> tuple[int, Any]:
        sandbox = self.server.sandbox
        fulfillment, hooks = sandbox.state.create_fulfillment(body)
        for topic, payload in hooks:
            sandbox.webhooks.send(topic, payload)
        return 201, {"fulfillment": fulfillment}

    def _api_graphql(self, body: dict[str, Any]) -> tuple[int, Any]:
        return 200, self.server.sandbox.graphql.answer(body)

    def _api_inventory_set(self, body: dict[str, Any]) -> tuple[int, Any]:
        sandbox = self.server.sandbox
        level, hooks = sandbox.state.set_inventory(body)
        sandbox.record_stock_write(level)
        for topic, payload in hooks:
            sandbox.webhooks.send(topic, payload)
        return 200, {"inventory_level": level}

    # ------------------------------------------------------------------ pagination
    def _page(self, resource: str, listing_for) -> tuple[int, Any]:
        """One page of a list, keyset-paged; `Link` carries opaque page_info for the next/previous page."""
        sandbox, query = self.server.sandbox, self.query
        limit = _limit(query.get("limit"))
        fields = [f for f in query.get("fields", "").split(",") if f]
        if "page_info" in query:
            stray = sorted(set(query) - {"page_info", "limit", "fields"})
            if stray:
                raise ShopError(400, {"page_info": [f"page_info may only be combined with limit and fields, "
                                                    f"not {', '.join(stray)}"]})
            cursor = sandbox.decode_page_info(query["page_info"], resource)
            filters, direction, key = cursor["q"], cursor["d"], cursor["k"]
        else:
            filters = {k: v for k, v in query.items() if k not in ("limit", "fields")}
            direction, key = "next", -1
        with sandbox.state.lock:
            listing: Listing = listing_for(filters)
            if direction == "next":
                indices = list(islice(listing.forward(key + 1), limit + 1))
                more = len(indices) > limit
                indices = indices[:limit]
                has_next, has_prev = more, key >= 0
            else:
                indices = list(islice(listing.backward(key - 1), limit + 1))
                more = len(indices) > limit
                indices = indices[:limit][::-1]
                has_next, has_prev = True, more
            # Whole orders go out as their cached bytes (state.order_json); other lists and field picks as dicts.
            encoded = resource == "orders" and not fields
            items = [sandbox.state.order_json(j) if encoded else listing.render(j) for j in indices]
        if fields:
            items = [{k: v for k, v in item.items() if k in fields} for item in items]
        links = []
        if indices and has_prev:
            links.append(self._link(resource, filters, "prev", indices[0], limit, fields, "previous"))
        if indices and has_next:
            links.append(self._link(resource, filters, "next", indices[-1], limit, fields, "next"))
        if links:
            self.extra_headers["Link"] = ", ".join(links)
        if encoded:
            return 200, JsonBytes(b'{"%s":[%s]}' % (resource.encode(), b",".join(items)))
        return 200, {resource: items}

    def _link(self, resource, filters, direction, key, limit, fields, rel) -> str:
        token = self.server.sandbox.encode_page_info({"r": resource, "q": filters, "d": direction, "k": key})
        params = {"limit": limit, **({"fields": ",".join(fields)} if fields else {}), "page_info": token}
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f'<http://{host}{API_PREFIX}{API_VERSION}/{resource}.json?{urlencode(params)}>; rel="{rel}"'


_BULK_FILE = re.compile(r"/_sandbox/bulk/(\d+)\.jsonl")
_IMAGE = re.compile(r"/_sandbox/images/(\d+-\d+)\.svg")


class RawBody:
    """A non-JSON answer (a JSONL export, an image)."""

    def __init__(self, data: bytes, content_type: str):
        self.data, self.content_type = data, content_type


class JsonBytes:
    """A JSON answer already encoded (a page of cached orders): sent as is, with the JSON answers' headers."""

    def __init__(self, data: bytes):
        self.data = data


def _svg(name: str) -> bytes:
    """A product picture: a square in a colour of its own, labelled with its product and position."""
    hue = int(hashlib.sha256(name.encode()).hexdigest()[:4], 16) % 360
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400"><rect width="400" height="400" '
            f'fill="hsl({hue},55%,70%)"/><text x="200" y="210" font-size="36" text-anchor="middle" '
            f'font-family="sans-serif">{name}</text></svg>').encode()


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise ShopError(400, {"limit": [f"must be an integer between 1 and {MAX_LIMIT}"]})
    return int(value)


__all__ = ["SandboxServer", "ORDER_ID_BASE", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET"]
