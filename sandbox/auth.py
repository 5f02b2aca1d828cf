"""The sandbox's OAuth 2.0 server and its leaky-bucket rate limiter, Shopify-shaped.

Authorization codes are single use and live a minute. Access tokens expire after
`token_ttl` seconds (0: never, like Shopify's classic offline tokens); refresh
tokens rotate on every use, so a refresh token that was used once is refused.
Given a `token_file`, the live access and refresh tokens are kept there, so a
restarted sandbox still accepts the tokens integrations were given.
The bucket is kept per app (client id), as Shopify keeps it per app and store:
a refresh does not buy a fresh bucket.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

logger = logging.getLogger(__name__)

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
CODE_TTL = 60
REFRESH_TOKEN_TTL = 90 * 86400


@dataclass
class Grant:
    client_id: str
    scope: str
    expires_at: float | None  # None: never


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str):
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class OAuthServer:
    def __init__(self, *, client_id: str, client_secret: str, token_ttl: int = 3600,
                 scopes: str = "read_products,write_products,read_orders,read_inventory,write_inventory,"
                               "read_merchant_managed_fulfillment_orders,write_merchant_managed_fulfillment_orders",
                 shop_domain: str = "sandbox.myshopify.com", clock: Callable[[], float] = time.time,
                 token_file: Path | str | None = None):
        self.client_id, self.client_secret = client_id, client_secret
        self.token_ttl, self.default_scopes, self.shop_domain, self.clock = token_ttl, scopes, shop_domain, clock
        self.lock = threading.Lock()
        self.codes: dict[str, tuple[str, str, float]] = {}  # code → (redirect_uri, scope, expires)
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, Grant] = {}
        self.counts: Counter[str] = Counter()
        self.token_file = Path(token_file) if token_file else None
        self._load()

    # ------------------------------------------------------------------ tokens kept across restarts
    def _load(self) -> None:
        """The tokens a previous run left in `token_file` (unreadable or missing: none; expired ones dropped)."""
        if self.token_file is None or not self.token_file.exists():
            return
        try:
            kept = json.loads(self.token_file.read_text())
            now = self.clock()
            for kind in ("access", "refresh"):
                for token, grant in kept.get(kind, {}).items():
                    if grant.get("expires_at") is None or grant["expires_at"] > now:
                        getattr(self, kind)[token] = Grant(**grant)
        except (OSError, ValueError, TypeError) as exc:
            logger.warning("sandbox: could not read the tokens kept in %s (%s); starting without them",
                           self.token_file, exc)

    def _save(self) -> None:
        """Write the live tokens to `token_file` (called with the lock held), replacing it in one rename."""
        if self.token_file is None:
            return
        now = self.clock()
        body = {kind: {token: asdict(grant) for token, grant in getattr(self, kind).items()
                       if grant.expires_at is None or grant.expires_at > now}
                for kind in ("access", "refresh")}
        self.token_file.parent.mkdir(parents=True, exist_ok=True)
        partial = self.token_file.with_suffix(".tmp")
        partial.write_text(json.dumps(body))
        os.chmod(partial, 0o600)
        partial.replace(self.token_file)

    # ------------------------------------------------------------------ authorize
    def authorize(self, query: dict[str, str]) -> str:
        """The redirect URL for an authorize request (no login page: the shop owner always says yes)."""
        if query.get("client_id") != self.client_id:
            raise OAuthError(400, "invalid_client", "Unknown client_id.")
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri.startswith(("http://", "https://")):
            raise OAuthError(400, "invalid_request", "redirect_uri must be an absolute http(s) URL.")
        scope = query.get("scope") or self.default_scopes
        code = secrets.token_hex(16)
        with self.lock:
            self.codes[code] = (redirect_uri, scope, self.clock() + CODE_TTL)
        params = {"code": code, "host": "c2FuZGJveA", "shop": self.shop_domain, "timestamp": str(int(self.clock()))}
        if "state" in query:
            params["state"] = query["state"]
        params["hmac"] = install_hmac(params, self.client_secret)
        separator = "&" if "?" in redirect_uri else "?"
        return redirect_uri + separator + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())

    # ------------------------------------------------------------------ token endpoint
    def token(self, form: dict[str, Any]) -> dict[str, Any]:
        """Answer the token endpoint: an authorization_code or refresh_token grant."""
        with self.lock:
            self.counts["token_requests"] += 1
        if form.get("client_id") != self.client_id or not hmac.compare_digest(
            str(form.get("client_secret", "")), self.client_secret
        ):
            raise OAuthError(400, "invalid_client", "Client authentication failed.")
        grant_type = form.get("grant_type") or ("authorization_code" if "code" in form else "")
        with self.lock:
            if grant_type == "authorization_code":
                entry = self.codes.pop(str(form.get("code", "")), None)
                if entry is None or entry[2] < self.clock():
                    raise OAuthError(400, "invalid_grant", "The authorization code is invalid or expired.")
                self.counts["code_grants"] += 1
                return self._issue(entry[1])
            if grant_type == "refresh_token":
                grant = self.refresh.pop(str(form.get("refresh_token", "")), None)
                if grant is None or (grant.expires_at is not None and grant.expires_at < self.clock()):
                    self.counts["refresh_failures"] += 1
                    raise OAuthError(400, "invalid_grant", "The refresh token is invalid, expired or already used.")
                self.counts["refresh_grants"] += 1
                return self._issue(grant.scope)  # saves, the used refresh token gone with it
        raise OAuthError(400, "unsupported_grant_type", f"grant_type {grant_type!r} is not supported.")

    def seed_refresh_token(self, token: str, scope: str | None = None) -> None:
        """Accept `token` once as a refresh token, so an app set up before this server started can connect.

        The demo (`make run`) gives its integration this token; the first call refreshes it into real tokens.
        """
        with self.lock:
            self.refresh[token] = Grant(self.client_id, scope or self.default_scopes, self.clock() + REFRESH_TOKEN_TTL)
            self._save()

    def issue(self, scope: str | None = None) -> dict[str, Any]:
        """Tokens without a handshake (tests and the demo set-up use this)."""
        with self.lock:
            return self._issue(scope or self.default_scopes)

    def _issue(self, scope: str) -> dict[str, Any]:
        now = self.clock()
        access = "shpat_" + secrets.token_hex(16)
        expires = now + self.token_ttl if self.token_ttl > 0 else None
        self.access[access] = Grant(self.client_id, scope, expires)
        body: dict[str, Any] = {"access_token": access, "scope": scope}
        if expires is not None:
            refresh = "shprt_" + secrets.token_hex(16)
            self.refresh[refresh] = Grant(self.client_id, scope, now + REFRESH_TOKEN_TTL)
            body.update(expires_in=self.token_ttl, refresh_token=refresh, refresh_token_expires_in=REFRESH_TOKEN_TTL)
        self._save()
        return body

    # ------------------------------------------------------------------ checking calls
    def check(self, token: str | None) -> Grant | None:
        if not token:
            return None
        with self.lock:
            grant = self.access.get(token)
        if grant is None or (grant.expires_at is not None and grant.expires_at <= self.clock()):
            return None
        return grant

    def expire_all(self) -> int:
        """Expire every access token now (refresh tokens stay good). Returns how many were live."""
        with self.lock:
            now, live = self.clock(), 0
            for grant in self.access.values():
                if grant.expires_at is None or grant.expires_at > now:
                    live += 1
                grant.expires_at = now - 1
            self._save()
            return live


def install_hmac(params: dict[str, str], secret: str) -> str:
    """Shopify's install/callback HMAC: sorted k=v joined by &, without `hmac`/`signature`, hex HMAC-SHA256."""

    def esc(value: str, key: bool) -> str:
        value = value.replace("%", "%25").replace("&", "%26")
        return value.replace("=", "%3D") if key else value

    message = "&".join(f"{esc(k, True)}={esc(v, False)}" for k, v in sorted(params.items())
                       if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


class LeakyBucket:
    """Shopify's REST limiter: each call adds one; the bucket leaks `leak_rate` per second; full means 429."""

    def __init__(self, size: int, leak_rate: float, clock: Callable[[], float] = time.monotonic):
        self.size, self.leak_rate, self.clock = size, leak_rate, clock
        self.lock = threading.Lock()
        self.levels: dict[str, tuple[float, float]] = {}  # key → (level, at)

    def take(self, key: str) -> tuple[bool, int, float]:
        """(allowed, level to report, seconds to wait if refused)."""
        with self.lock:
            now = self.clock()
            level, at = self.levels.get(key, (0.0, now))
            level = max(0.0, level - (now - at) * self.leak_rate)
            if level + 1 > self.size:
                self.levels[key] = (level, now)
                return False, self.size, (level + 1 - self.size) / self.leak_rate
            level += 1
            self.levels[key] = (level, now)
            return True, min(self.size, math.ceil(level)), 0.0
