"""Slack Web API calls, through the one HTTP client: HTTP only, Slack's `{ok: false, error}` made an error.

Slack answers HTTP 200 with `ok: false` for most failures (`channel_not_found`, `not_in_channel`,
`invalid_auth`, `token_revoked`): those are permanent ProviderErrors (AuthExpired for the token ones, so the
integration's health shows it). Rate limits come as HTTP 429 with Retry-After, which connectors/http.py honours.
"""

from __future__ import annotations

from typing import Any

from connectors.errors import AuthExpired, ProviderError
from connectors.http import ProviderClient

TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"})


def checked(body: Any, *, action: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ProviderError(f"Slack answered {action} with no JSON object.", transient=False)
    if body.get("ok") is not True:
        error = str(body.get("error") or "unknown_error")
        kind = AuthExpired if error in TOKEN_ERRORS else ProviderError
        raise kind(f"Slack refused {action}: {error}.", provider_message=error, transient=False)
    return body


class SlackClient:
    def __init__(self, http: ProviderClient):
        self.http = http

    def call(self, method: str, *, json: dict[str, Any] | None = None, params: dict[str, str] | None = None,
             data: dict[str, str] | None = None, authenticate: bool = True) -> dict[str, Any]:
        if json is not None or data is not None:
            response = self.http.post(f"/{method}", action=method, json=json, data=data, authenticate=authenticate)
        else:
            response = self.http.get(f"/{method}", action=method, params=params, authenticate=authenticate)
        try:
            body = response.json()
        except ValueError:
            body = None
        try:
            return checked(body, action=method)
        except AuthExpired as exc:  # a 200 saying the token is dead: the health records it like a 401
            self.http.credentials_refused(exc, action=method)
            raise

    def post_message(self, *, channel: str, text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
        return self.call("chat.postMessage", json={"channel": channel, "text": text, "blocks": blocks})

    def user_email(self, user_id: str) -> str:
        """The member's email (scope users:read.email); "" when Slack has none for them (a bot, a guest)."""
        body = self.call("users.info", params={"user": user_id})
        return str(((body.get("user") or {}).get("profile") or {}).get("email") or "")

    def auth_test(self) -> dict[str, Any]:
        return self.call("auth.test", json={})
