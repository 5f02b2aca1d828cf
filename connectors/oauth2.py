"""Plain OAuth 2.0 token calls: the code grant, the refresh grant (RFC 6749) and revocation (RFC 7009).

`StandardOAuth2` is `OAuthConnect` (connectors/capabilities.py) with its
`exchange_code`, `refresh_access_token` and `revoke_token` done over the
connector's `oauth_meta()` and `oauth_client_credentials()`, through `self.http`
(so every token call is logged, redacted and retried like any other). Any
connector may mix it in before `Connector` (the generic OAuth 2.0 provider and
others whose servers speak plain RFC 6749); a provider with quirks overrides one
step, not the whole.

What can go wrong: the token endpoint answers 4xx (`invalid_grant`, a bad
client): ProviderError, permanent, so a refresh sends the integration to
pending_auth (connectors/tokens.py); it answers 2xx without an access token
(some servers put `error` in a 200): the same, permanent; 5xx or no answer:
ProviderUnavailable, transient.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import quote

from django.utils import timezone

from config.errors import ValidationError
from connectors.base import OAuthMeta, TokenSet
from connectors.capabilities import OAuthConnect
from connectors.errors import ProviderError


def token_set(body: Any, *, separator: str = " ") -> TokenSet:
    """A token endpoint's JSON answer as a TokenSet; ProviderError when it holds no access token."""
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str) or not body["access_token"]:
        reason = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
        raise ProviderError(
            f"The token endpoint answered without an access token{f': {reason}' if reason else ''}.",
            provider_message=str(reason or "")[:300],
            transient=False,
        )
    expires_in = body.get("expires_in")
    try:
        expires_at = timezone.now() + timedelta(seconds=int(expires_in)) if expires_in not in (None, "") else None
    except (TypeError, ValueError):
        expires_at = None
    scope = body.get("scope") or ()
    if isinstance(scope, str):
        scope = [s.strip() for s in scope.split(separator)] if separator.strip() else scope.split()
    token_type = str(body.get("token_type") or "Bearer")
    return TokenSet(
        access_token=body["access_token"],
        refresh_token=body.get("refresh_token") or None,
        expires_at=expires_at,
        token_type="Bearer" if token_type.lower() == "bearer" else token_type,
        scope=tuple(str(s) for s in scope if s),
    )


class StandardOAuth2(OAuthConnect):
    """OAuthConnect with RFC 6749/7009 token calls (see the module docstring)."""

    # How the client authenticates at the token endpoint: "post" (client_secret_post) or "basic".
    token_client_auth: ClassVar[str] = "post"

    def client_auth_mode(self) -> str:
        return self.token_client_auth

    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        form = {"grant_type": "authorization_code", "code": code}
        if redirect_uri:
            form["redirect_uri"] = redirect_uri
        if code_verifier:
            form["code_verifier"] = code_verifier
        return self._token_call(form, action="exchange_code")

    def refresh_access_token(self) -> TokenSet:
        if not self.integration.refresh_token:
            raise ValidationError(f"{self.integration.code} has no refresh token; connect it again.")
        form = {"grant_type": "refresh_token", "refresh_token": self.integration.refresh_token}
        return self._token_call(form, action="refresh_token")

    def revoke_token(self) -> bool:
        """Revoke the refresh token (which takes the access token with it at most servers), else the access token."""
        meta = self._meta()
        token = self.integration.refresh_token or self.integration.access_token
        if not meta.revoke_url or not token:
            return False
        hint = "refresh_token" if self.integration.refresh_token else "access_token"
        form, headers = self._client_auth({"token": token, "token_type_hint": hint})
        self.http.post(meta.revoke_url, action="revoke_token", data=form, headers=headers, authenticate=False)
        return True

    # ---------------------------------------------------------------- plumbing
    def _meta(self) -> OAuthMeta:
        meta = self.oauth_meta()
        if meta is None:
            raise ValidationError(f"{self.display_name} has no OAuth endpoints configured.")
        return meta

    def _client_auth(self, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        client_id, client_secret = self.oauth_client_credentials()
        headers = {"Accept": "application/json"}
        if self.client_auth_mode() == "basic":
            # RFC 6749 2.3.1: each part form-encoded before the Basic encoding.
            pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode('ascii')}"
            return form, headers
        form = {**form, "client_id": client_id}
        if client_secret:
            form["client_secret"] = client_secret
        return form, headers

    def _token_call(self, form: dict[str, str], *, action: str) -> TokenSet:
        meta = self._meta()
        form, headers = self._client_auth(form)
        response = self.http.post(meta.token_url, action=action, data=form, headers=headers, authenticate=False)
        try:
            body = response.json()
        except ValueError:
            body = None
        return token_set(body, separator=meta.scope_separator)
