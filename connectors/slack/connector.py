"""Connector for Slack: notices as Block Kit messages, and the `/switchyard` slash command.

Connect: OAuth v2 (`https://slack.com/oauth/v2/authorize` → `oauth.v2.access`), the app's client id and secret
in SLACK_CLIENT_ID / SLACK_CLIENT_SECRET; the bot token (`xoxb-…`, no expiry unless token rotation is on) is
stored encrypted as the access token, the workspace (`team.id`, `team.name`) and the bot user in `config`.
Scopes: `chat:write` (post), `commands` (the slash command), `users:read` and `users:read.email` (who typed it).

Notices: `chat.postMessage` to the rule's target channel (an id like C0123ABCD; invite the bot to it).

The slash command (commands.py) is signed with the app's signing secret (SLACK_SIGNING_SECRET) and reaches the
integration whose workspace sent it.
"""

from __future__ import annotations

import time
from typing import Any

from config.errors import ApplicationError, ValidationError
from connectors.base import AuthKind, ConnectionResult, Connector, OAuthMeta, RateLimitPolicy, TokenSet
from connectors.capabilities import NoticeMessage, Notifier
from connectors.errors import connection_failure
from connectors.http import elapsed_ms
from connectors.oauth2 import StandardOAuth2, token_set

from . import blocks
from .client import SlackClient, checked

SCOPES = ("chat:write", "commands", "users:read", "users:read.email")


class SlackConnector(StandardOAuth2, Notifier, Connector):
    key = "slack"
    display_name = "Slack"
    integration_type = "api"
    auth_kind = AuthKind.OAUTH2
    base_url = "https://slack.com/api"
    oauth = OAuthMeta(authorize_url="https://slack.com/oauth/v2/authorize",
                      token_url="https://slack.com/api/oauth.v2.access", default_scopes=SCOPES, scope_separator=",")
    rate_limit = RateLimitPolicy(requests=5, per_seconds=5.0)  # chat.postMessage: ~1 a second, short bursts allowed
    docs_url = "https://api.slack.com/methods/chat.postMessage"
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": "", "SIGNING_SECRET": ""}
    urls_module = "connectors.slack.urls"
    notice_target_help = "A channel id (C0123ABCD) the app's bot was invited to."

    @property
    def client(self) -> SlackClient:
        return SlackClient(self.http)

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    # ------------------------------------------------------------------ connect
    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        """`oauth.v2.access`: Slack answers 200 with `ok: false` on a bad code; the workspace goes into config."""
        form, headers = self._client_auth({"code": code, **({"redirect_uri": redirect_uri} if redirect_uri else {})})
        response = self.http.post(self.oauth.token_url, action="exchange_code", data=form, headers=headers,
                                  authenticate=False)
        body = checked(response.json(), action="oauth.v2.access")
        team = body.get("team") or {}
        self.integration.config = {**self.config, "team_id": str(team.get("id") or ""),
                                   "team_name": str(team.get("name") or ""),
                                   "bot_user_id": str(body.get("bot_user_id") or "")}
        if self.integration.pk is not None:  # the OAuth flow saves only tokens on an existing integration
            type(self.integration).objects.filter(pk=self.integration.pk).update(config=self.integration.config)
        return token_set(body, separator=",")

    def refresh_access_token(self) -> TokenSet:
        raise ValidationError("Slack bot tokens do not expire; connect the workspace again if it was revoked.")

    def account_display_name(self) -> str:
        return str(self.config.get("team_name") or "")

    def credentials_refused_message(self, error, *, action: str) -> str | None:
        return None if action == "auth.test" else \
            f"Slack refused the bot token ({error.provider_message}); connect the workspace again."

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            body = self.client.auth_test()
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('Slack', exc)}: {exc.message}")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"Connected to Slack workspace {body.get('team')} as {body.get('user')}.")

    # ------------------------------------------------------------------ notices
    def send_notice(self, message: NoticeMessage, *, target: str) -> str:
        channel = target.strip()
        if not channel:
            raise ValidationError("The rule names no Slack channel.", details={"target": ["a channel id"]})
        body = self.client.post_message(channel=channel, text=blocks.fallback_text(message),
                                        blocks=blocks.blocks(message))
        return str(body.get("ts") or "")
