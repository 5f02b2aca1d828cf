"""Signed webhooks from the sandbox shop, sent from one background thread.

Each delivery POSTs the resource's REST representation with Shopify's headers;
`X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body under the
webhook secret. A failed delivery is logged and recorded, never raised, and not
retried (a sync's reconciliation pull is what catches up, as with Shopify after
its retries run out).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

from .data import API_VERSION

logger = logging.getLogger(__name__)
_STOP = object()


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def delivery_headers(topic: str, body: bytes, *, secret: str, shop_domain: str, webhook_id: str,
                     event_id: str = "", triggered_at: datetime | None = None) -> dict[str, str]:
    """The headers the sandbox (as Shopify) sends with one signed delivery of `body` (benchmarks sign theirs so)."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Shopify-Captain-Hook",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-API-Version": API_VERSION,
    }
    if event_id:
        headers["X-Shopify-Event-Id"] = event_id
    if triggered_at is not None:
        headers["X-Shopify-Triggered-At"] = triggered_at.isoformat().replace("+00:00", "Z")
    return headers


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class WebhookSender:
    def __init__(self, *, url: str | None, secret: str, shop_domain: str, timeout: float = 5.0):
        self.url, self.secret, self.shop_domain, self.timeout = url, secret, shop_domain, timeout
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=1000)  # what was sent, newest last (for tests)
        self._queue: queue.Queue[Any] = queue.Queue()
        # Never through an environment proxy; a redirect is a failure, as it is for Shopify.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    def send(self, topic: str, payload: dict[str, Any]) -> None:
        """Queue one delivery; nothing is queued when no URL is configured."""
        if self.url:
            self._queue.put((topic, payload, datetime.now(UTC)))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery was attempted; False if that took longer than `timeout`."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                self._deliver(*item)
            finally:
                self._queue.task_done()

    def _deliver(self, topic: str, payload: dict[str, Any], triggered_at: datetime) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        webhook_id = str(uuid.uuid4())
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{topic}/{payload.get('id')}/{triggered_at}"))
        headers = delivery_headers(topic, body, secret=self.secret, shop_domain=self.shop_domain,
                                   webhook_id=webhook_id, event_id=event_id, triggered_at=triggered_at)
        record: dict[str, Any] = {"topic": topic, "webhook_id": webhook_id, "status": None, "error": None}
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310 (http(s) only)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                record["status"] = response.status
        except urllib.error.HTTPError as exc:
            record["status"], record["error"] = exc.code, f"HTTP {exc.code}"
            logger.warning("sandbox webhook %s %s answered %s", topic, webhook_id, exc.code)
        except (OSError, ValueError) as exc:
            record["error"] = str(exc)
            logger.warning("sandbox webhook %s %s failed: %s", topic, webhook_id, exc)
        self.deliveries.append(record)
