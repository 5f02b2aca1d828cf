"""Connector for Discord: notices as embeds, through a channel's incoming webhook (or a bot).

Two ways to connect, both stored encrypted:
- an incoming webhook (Channel settings → Integrations → Webhooks): its URL
  `https://discord.com/api/webhooks/{id}/{token}` in `credentials["webhook_url"]` (the token in it is the secret);
  a rule's target may name a thread id of that channel, or be empty;
- a bot: its token in `api_key` (sent as `Authorization: Bot …`), the rule's target a channel id
  (`POST /channels/{id}/messages`; the bot needs Send Messages there).

Rate limits: Discord answers 429 with `retry_after` (seconds, fractional) in the body and `Retry-After` in the
headers; the body's value is the precise one and is what connectors/http.py waits (up to its MAX_RETRY_AFTER).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from config.errors import ApplicationError, ValidationError
from connectors.base import AuthKind, ConnectionResult, Connector, RateLimitPolicy
from connectors.capabilities import NoticeMessage, Notifier
from connectors.errors import connection_failure
from connectors.http import elapsed_ms

from . import embeds

API = "https://discord.com/api/v10"
WEBHOOK_HOSTS = frozenset({"discord.com", "discordapp.com", "canary.discord.com", "ptb.discord.com"})


class DiscordConnector(Notifier, Connector):
    key = "discord"
    display_name = "Discord"
    integration_type = "api"
    auth_kind = AuthKind.API_KEY
    base_url = API
    rate_limit = RateLimitPolicy(requests=5, per_seconds=2.0)  # a webhook's documented bucket: 5 per 2 s
    docs_url = "https://discord.com/developers/docs/resources/webhook#execute-webhook"
    notice_target_help = "Webhook: empty, or a thread id. Bot: the channel id."

    def webhook_url(self) -> str:
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        url = str(credentials.get("webhook_url") or "")
        if url:
            parts = urlsplit(url)
            if parts.scheme != "https" or parts.hostname not in WEBHOOK_HOSTS or "/api/webhooks/" not in parts.path:
                raise ValidationError("credentials.webhook_url is not a Discord webhook URL.",
                                      details={"credentials.webhook_url": ["https://discord.com/api/webhooks/…"]})
        return url

    def auth_headers(self) -> dict[str, str]:
        token = self.integration.api_key
        return {"Authorization": f"Bot {token}"} if token and not self.webhook_url() else {}

    def retry_after_seconds(self, response) -> float | None:
        """The body's `retry_after` (fractional seconds), else the Retry-After header."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("retry_after"), (int, float)):
            return max(0.0, float(body["retry_after"]))
        return super().retry_after_seconds(response)

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            url = self.webhook_url()
            if url:
                body = self.http.get(url, action="get_webhook", authenticate=False).json()
                detail = f"Discord webhook {body.get('name')!r} of channel {body.get('channel_id')}."
            elif self.integration.api_key:
                body = self.http.get("/users/@me", action="get_bot").json()
                detail = f"Discord bot {body.get('username')}."
            else:
                raise ValidationError("Set credentials.webhook_url (a channel webhook) or api_key (a bot token).")
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('Discord', exc)}: {exc.message}")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started), detail=f"Connected: {detail}")

    def send_notice(self, message: NoticeMessage, *, target: str) -> str:
        body: dict[str, Any] = embeds.payload(message)
        url, target = self.webhook_url(), target.strip()
        if url:
            params = {"wait": "true", **({"thread_id": target} if target else {})}
            response = self.http.post(url, action="execute_webhook", params=params, json=body, authenticate=False)
        elif self.integration.api_key and target:
            response = self.http.post(f"/channels/{target}/messages", action="create_message", json=body)
        else:
            raise ValidationError("A Discord bot needs the rule's target channel id; or set a webhook URL.",
                                  details={"target": ["a channel id"]})
        try:
            return str((response.json() or {}).get("id") or "")
        except ValueError:
            return ""
