"""Shopify's OAuth install checks, for a Shopify connector and the sandbox (which speaks Shopify's OAuth).

Shopify differs from plain RFC 6749 in three ways the connect flow must not know
about, so they live here as overrides of the Connector contract (`ShopifyOAuth`):

- the authorize and token URLs are on each shop's own host, so a connect starts
  from a shop domain, checked against `^[a-z0-9][a-z0-9-]*\\.myshopify\\.com$`
  (lower-cased first; no `@`, no port, no path: anything else could send the
  browser, and our client secret, somewhere else);
- the callback query is signed: drop `hmac` (and `signature`), sort the rest,
  join `k=v` with `&` (escaping `%`, `&` and, in keys, `=`), HMAC-SHA256 with the
  client secret, hex; compared in constant time, and refused when its
  `timestamp` is older than a day (Shopify's own libraries allow 24 h);
- the callback's `shop` must be the shop the connect started with.

`check_shop_domain = False` turns the two shop checks off for a connector whose
shop is not on myshopify.com (the sandbox listens on 127.0.0.1); the HMAC and
timestamp are always checked.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

from config.errors import OAuthFailed, ValidationError
from connectors.capabilities import OAuthConnect

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
CALLBACK_MAX_AGE_SECONDS = 24 * 3600
CALLBACK_MAX_FUTURE_SECONDS = 5 * 60  # clock skew between Shopify and us
_UNSIGNED = ("hmac", "signature")


def valid_shop_domain(shop: str) -> bool:
    """Whether `shop` is a bare `<name>.myshopify.com` host (lower case; no scheme, port, path or user)."""
    return bool(SHOP_DOMAIN.fullmatch(shop or ""))


def normalized_shop(shop: str) -> str:
    """`Foo.MyShopify.com ` → `foo.myshopify.com`; anything that is not a valid shop domain raises ValidationError."""
    value = (shop or "").strip().lower()
    if not valid_shop_domain(value):
        raise ValidationError(
            "The shop must be a <name>.myshopify.com domain.",
            details={"shop": ["Enter the shop's myshopify.com domain, e.g. my-store.myshopify.com."]},
        )
    return value


def callback_hmac(params: Mapping[str, str], secret: str) -> str:
    """Shopify's HMAC of an install or callback query (hex), over every parameter but `hmac` and `signature`."""

    def escape(value: str, *, key: bool) -> str:
        value = value.replace("%", "%25").replace("&", "%26")
        return value.replace("=", "%3D") if key else value

    message = "&".join(
        f"{escape(k, key=True)}={escape(v, key=False)}" for k, v in sorted(params.items()) if k not in _UNSIGNED
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_callback(params: Mapping[str, str], secret: str, *, now: float | None = None) -> None:
    """Raise OAuthFailed unless the query carries a valid HMAC made with `secret` and a timestamp under a day old."""
    given = params.get("hmac", "")
    if not secret or not given:
        raise OAuthFailed("The callback is not signed.", details={"hmac": ["missing"]})
    if not hmac.compare_digest(callback_hmac(params, secret), given.lower()):
        raise OAuthFailed("The callback's signature does not match.", details={"hmac": ["does not match"]})
    try:
        stamp = int(params.get("timestamp", ""))
    except ValueError:
        raise OAuthFailed("The callback has no valid timestamp.", details={"timestamp": ["missing or invalid"]})
    age = (time.time() if now is None else now) - stamp
    if age > CALLBACK_MAX_AGE_SECONDS or age < -CALLBACK_MAX_FUTURE_SECONDS:
        raise OAuthFailed("The callback is too old.", details={"timestamp": ["outside the accepted window"]})


class ShopifyOAuth(OAuthConnect):
    """OAuthConnect the Shopify way; mix in before `Connector`.

    Client credentials: the integration's `api_key`/`api_secret` (the app's id and
    secret, as the sandbox connector keeps them), else OAuthConnect's default
    (`credentials`, then the provider settings CLIENT_ID/CLIENT_SECRET).
    """

    check_shop_domain: ClassVar[bool] = True

    def oauth_client_credentials(self) -> tuple[str, str]:
        integration = self.integration
        if integration.api_key:
            return integration.api_key, integration.api_secret
        return super().oauth_client_credentials()

    def oauth_connect_fields(self, *, shop: str = "") -> dict[str, Any]:
        if self.check_shop_domain:
            if not shop and self.integration.api_endpoint:
                return {}
            return {"api_endpoint": f"https://{normalized_shop(shop)}"}
        if not shop:
            return {}
        parts = urlsplit(shop.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            raise ValidationError("The shop must be the shop's URL.", details={"shop": ["Enter an http(s) URL."]})
        return {"api_endpoint": shop.strip().rstrip("/")}

    def authorize_url(self, *, state: str, redirect_uri: str, scopes, code_challenge: str = "", **params: str) -> str:
        """`https://{shop}/admin/oauth/authorize?client_id=&scope=a,b&redirect_uri=&state=` (no PKCE at Shopify)."""
        meta = self.oauth_meta()
        client_id, _ = self.oauth_client_credentials()
        query = {"client_id": client_id, "scope": meta.scope_separator.join(scopes), "redirect_uri": redirect_uri,
                 "state": state, **meta.extra_authorize_params, **params}
        return f"{self.http.url_for(meta.authorize_url)}?{urlencode(query)}"

    def validate_callback(self, query: Mapping[str, str]) -> None:
        _, secret = self.oauth_client_credentials()
        verify_callback(query, secret)
        if not self.check_shop_domain:
            return
        shop = (query.get("shop") or "").lower()
        if not valid_shop_domain(shop):
            raise OAuthFailed("The callback names a shop outside myshopify.com.", details={"shop": ["invalid"]})
        expected = (urlsplit(self.integration.api_endpoint).hostname or "").lower()
        if shop != expected:
            raise OAuthFailed("The callback is for another shop.", details={"shop": ["does not match"]})
