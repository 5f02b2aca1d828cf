"""`oauth2_generic`: connect an in-house or unlisted OAuth 2.0 server without writing code.

Everything provider-specific comes from the integration:

- `config`: `authorize_url`, `token_url` (required, absolute http(s) URLs),
  `revoke_url` (RFC 7009, optional), `scopes` (a list, or one space-separated
  string), `pkce` (true: RFC 7636 S256; default true, since a server that does
  not know PKCE ignores the parameters), optional `scope_separator` (" "),
  `token_auth` ("post": client_secret_post, the default; "basic":
  client_secret_basic), `authorize_params` (extra query parameters, e.g.
  `{"access_type": "offline"}`), `userinfo_url` (a GET returning the account:
  its name, the connection test).
- `credentials` (encrypted): `client_id`, `client_secret`.
- `api_endpoint`: the API root that relative paths are joined to.

What can go wrong: a missing or malformed config key is a VALIDATION_ERROR at
connect time, naming the key; the server's errors are the protocol's (see
connectors/oauth2.py).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from config.errors import ValidationError
from connectors.base import AuthKind, ConnectionResult, Connector, OAuthMeta
from connectors.errors import ProviderError
from connectors.http import elapsed_ms
from connectors.oauth2 import StandardOAuth2

REQUIRED_URLS = ("authorize_url", "token_url")
NAME_FIELDS = ("name", "display_name", "preferred_username", "email", "login", "username", "sub")


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.username


def oauth_meta_from_config(config: Mapping[str, Any]) -> OAuthMeta:
    """The OAuth endpoints a config describes; ValidationError naming every bad key."""
    errors: dict[str, list[str]] = {}
    for name in REQUIRED_URLS:
        if not _is_http_url(config.get(name)):
            errors[f"config.{name}"] = ["Required: an absolute http(s) URL."]
    if config.get("revoke_url") and not _is_http_url(config["revoke_url"]):
        errors["config.revoke_url"] = ["An absolute http(s) URL, or leave it out."]
    if config.get("userinfo_url") and not _is_http_url(config["userinfo_url"]):
        errors["config.userinfo_url"] = ["An absolute http(s) URL, or leave it out."]
    scopes = config.get("scopes", [])
    if isinstance(scopes, str):
        scopes = scopes.split()
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes):
        errors["config.scopes"] = ["A list of scope names, or one space-separated string."]
    pkce = config.get("pkce", True)
    if not isinstance(pkce, bool):
        errors["config.pkce"] = ["true or false."]
    separator = config.get("scope_separator", " ")
    if not isinstance(separator, str) or not separator:
        errors["config.scope_separator"] = ["A non-empty string."]
    if config.get("token_auth", "post") not in ("post", "basic"):
        errors["config.token_auth"] = ['"post" or "basic".']
    extra = config.get("authorize_params", {})
    if not isinstance(extra, dict) or not all(isinstance(v, str) for v in extra.values()):
        errors["config.authorize_params"] = ["An object of string values."]
    if errors:
        raise ValidationError("The integration's OAuth configuration is incomplete.", details=errors)
    return OAuthMeta(
        authorize_url=config["authorize_url"],
        token_url=config["token_url"],
        revoke_url=config.get("revoke_url") or "",
        default_scopes=tuple(scopes),
        scope_separator=separator,
        pkce=pkce,
        extra_authorize_params=dict(extra),
    )


class GenericOAuth2Connector(StandardOAuth2, Connector):
    key = "oauth2_generic"
    display_name = "Generic OAuth 2.0"
    integration_type = "api"
    auth_kind = AuthKind.OAUTH2
    docs_url = "https://www.rfc-editor.org/rfc/rfc6749"

    def oauth_meta(self) -> OAuthMeta:
        return oauth_meta_from_config(self.integration.config or {})

    def oauth_client_credentials(self) -> tuple[str, str]:
        """Only the integration's own `credentials`: a generic server has no app-wide client in settings."""
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        return str(credentials.get("client_id") or ""), str(credentials.get("client_secret") or "")

    def client_auth_mode(self) -> str:
        return (self.integration.config or {}).get("token_auth", "post")

    def _userinfo(self) -> dict[str, Any] | None:
        url = (self.integration.config or {}).get("userinfo_url")
        if not url:
            return None
        body = self.http.get(url, action="get_userinfo", headers={"Accept": "application/json"}).json()
        return body if isinstance(body, dict) else {}

    def account_display_name(self) -> str:
        info = self._userinfo() or {}
        return next((str(info[k]) for k in NAME_FIELDS if isinstance(info.get(k), (str, int)) and info[k]), "")

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            info = self._userinfo()
        except ProviderError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started), detail=f"{exc.code}: {exc.message}")
        if info is None:
            raise NotImplementedError("Set config.userinfo_url to test the connection.")
        name = next((str(info[k]) for k in NAME_FIELDS if info.get(k)), "")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"Connected{f' as {name}' if name else ''}.")
