"""Connector for Meta (Facebook/Instagram) ads: the Marketing API of the Graph API, on one version setting.

Connect: OAuth (`ads_management, ads_read, business_management`) with the Meta app of the settings
`META_ADS_CLIENT_ID`/`META_ADS_CLIENT_SECRET` (or the integration's `credentials`). The code is exchanged for a
short-lived user token (about 2 hours), which is at once exchanged (`grant_type=fb_exchange_token`) for a
long-lived one (about 60 days). Meta gives no refresh token: "refreshing" exchanges the current long-lived
token again (it is stored as the refresh token too, so the beat's refresh window finds it), which works only
while it is still valid — an expired one sends the integration to pending_auth
(connectors/tokens.py), and the operator reconnects. The connect records the ad accounts the token reaches
(`me/adaccounts`) in `config["ad_account_ids"]`; they are what webhooks route by (claimed at the connect).

Pulls: ad accounts (`me/adaccounts`), then per account campaigns and ad sets (cursor paging), and insights at
campaign level with `time_increment=1` (one row per campaign and day). A range longer than
`META_ADS_INSIGHTS_ASYNC_AFTER_DAYS` days runs as an async report job. The pull cursor names the account and
Meta's `after`, so a resumed job re-reads from the same page.

Pushes: `POST /{campaign_id}` with `daily_budget`/`lifetime_budget` in the currency's minor units, or `status`
ACTIVE/PAUSED; then the campaign is read back so the ERP keeps what Meta holds.

Throttling: Meta answers HTTP 400 with error code 4, 17, 32, 613 or 80000–80014 when an app, user or ad
account is over its limit; `X-Business-Use-Case-Usage` says how long until access comes back
(`estimated_time_to_regain_access`, minutes). Those are waits (throttled_seconds), not failures: the client
sleeps up to a minute and retries, and a longer wait is raised as RATE_LIMITED so the sync job retries later.
Error code 190 (OAuthException) is an expired or revoked token.

Every call with the token carries `appsecret_proof` (connectors/appsecret_proof.py) when the app secret is
configured, so an app set to "Require App Secret" accepts them and a stolen token alone is useless.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.appsecret_proof import appsecret_proof_params
from connectors.base import (
    AuthKind,
    ConnectionResult,
    Connector,
    OAuthMeta,
    Page,
    ProviderAccount,
    RateLimitPolicy,
    WebhookEvent,
)
from connectors.capabilities import AdsSource, OAuthConnect, WebhookReceiver
from connectors.errors import connection_failure
from connectors.http import elapsed_ms
from connectors.meta_graph import MetaLogin, graph_version, is_token_refused
from connectors.meta_graph import throttled_seconds as graph_throttle
from connectors.schemes import META

from . import mapping, webhooks
from .client import MetaAdsClient

if TYPE_CHECKING:
    import requests

GRAPH = "https://graph.facebook.com"
DIALOG = "https://www.facebook.com"
SCOPES = ("ads_management", "ads_read", "business_management")


class MetaAdsConnector(MetaLogin, OAuthConnect, WebhookReceiver, AdsSource, Connector):
    key = "meta_ads"
    display_name = "Meta Ads"
    integration_type = "advertising"
    auth_kind = AuthKind.OAUTH2
    base_url = GRAPH
    oauth = OAuthMeta(authorize_url=f"{DIALOG}/v27.0/dialog/oauth", token_url=f"{GRAPH}/v27.0/oauth/access_token",
                      default_scopes=SCOPES, scope_separator=",")
    login_dialog = DIALOG
    login_scopes = SCOPES
    webhook_scheme = META
    rate_limit = RateLimitPolicy(requests=10, per_seconds=1.0)
    docs_url = "https://developers.facebook.com/docs/marketing-apis"
    routed_account_kinds = ("meta.ad_account",)
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": "", "WEBHOOK_VERIFY_TOKEN": "",
                         "INSIGHTS_ASYNC_AFTER_DAYS": "31"}

    normalize_ad_account = staticmethod(mapping.normalize_ad_account)
    normalize_campaign = staticmethod(mapping.normalize_campaign)
    normalize_ad_set = staticmethod(mapping.normalize_ad_set)
    normalize_ad_metrics_day = staticmethod(mapping.normalize_insight_day)

    def __init__(self, integration):
        super().__init__(integration)
        self._currencies: dict[str, str] | None = None

    # ------------------------------------------------------------------ plumbing
    @property
    def version(self) -> str:
        return graph_version()

    @property
    def client(self) -> MetaAdsClient:
        return MetaAdsClient(self.http, self.version)

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    def throttled_seconds(self, response: requests.Response) -> float | None:
        return graph_throttle(response)

    def is_auth_expired(self, response: requests.Response) -> bool:
        return is_token_refused(response)

    def auth_params(self) -> dict[str, str]:
        return appsecret_proof_params(self.integration.access_token, self.oauth_client_credentials()[1])

    # ------------------------------------------------------------------ OAuth
    def account_display_name(self) -> str:
        """The Meta user's name; records the ad accounts the token reaches (`config["ad_account_ids"]`)."""
        accounts = self._all_accounts()
        self.integration.config = {**self.config, "ad_account_ids": sorted(accounts)}
        me = self.client.get("me", action="get_me", params={"fields": "id,name"})
        return str((me or {}).get("name") or "")

    def routed_accounts(self) -> list[ProviderAccount]:
        return [ProviderAccount("meta.ad_account", str(i)) for i in self.config.get("ad_account_ids") or [] if i]

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            me = self.client.get("me", action="test_connection", params={"fields": "id,name"})
        except Exception as exc:  # noqa: BLE001 - the test reports any failure, it never raises
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started), detail=connection_failure("Meta", exc))
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"Connected as {(me or {}).get('name') or 'a Meta user'}.")

    # ------------------------------------------------------------------ webhooks
    def webhook_secrets(self) -> list[str]:
        """The Meta app's secret signs deliveries: the integration's webhook_secret, else the app-wide one."""
        _, app_secret = self.oauth_client_credentials()
        return [s for s in (self.integration.webhook_secret, app_secret) if s]

    def webhook_handshake(self, method: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes,
                          *, receive_url: str) -> tuple[int, Any] | None:
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        tokens = [str(credentials.get("verify_token") or ""), self.setting("WEBHOOK_VERIFY_TOKEN")]
        return webhooks.handshake(query, method, tokens)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return webhooks.parse(body)

    # ------------------------------------------------------------------ accounts
    def _all_accounts(self) -> dict[str, dict[str, Any]]:
        accounts: dict[str, dict[str, Any]] = {}
        for data, _ in self.client.iter_pages(lambda after: self.client.ad_accounts(after=after)):
            for record in data:
                accounts[mapping.account_id(record.get("account_id") or record.get("id"))] = record
        return accounts

    def _account_currencies(self) -> dict[str, str]:
        if self._currencies is None:
            self._currencies = {k: str(v.get("currency") or "") for k, v in self._all_accounts().items()}
        return self._currencies

    def _account_ids(self) -> list[str]:
        recorded = [str(i) for i in self.config.get("ad_account_ids") or [] if i]
        return sorted(recorded or self._account_currencies())

    def iter_ad_accounts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        after = cursor
        while True:
            data, after = self.client.ad_accounts(after=after)
            yield Page(data, after)
            if after is None:
                return

    # ------------------------------------------------------------------ per-account pulls
    def _per_account(self, cursor: str | None, fetch) -> Iterator[Page]:
        """Walk every ad account's pages; the cursor is `{"account", "after"}` (JSON) so a resume starts there."""
        state = json.loads(cursor) if cursor else {}
        accounts = self._account_ids()
        if state.get("account") in accounts:
            accounts = accounts[accounts.index(state["account"]):]
        for position, account in enumerate(accounts):
            after = state.get("after") if account == state.get("account") else None
            while True:
                data, after = fetch(account, after)
                currency = self._account_currencies().get(account, "")
                for record in data:
                    record.setdefault("account_currency", currency)
                if after is not None:
                    yield Page(data, json.dumps({"account": account, "after": after}))
                    continue
                following = accounts[position + 1] if position + 1 < len(accounts) else None
                yield Page(data, json.dumps({"account": following}) if following else None)
                break

    def iter_campaigns(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        yield from self._per_account(cursor, lambda account, after: self.client.campaigns(account, after=after))

    def iter_ad_sets(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        yield from self._per_account(cursor, lambda account, after: self.client.ad_sets(account, after=after))

    def iter_ad_metrics(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        """Daily campaign insights from `ad_metrics_start(since)` to today; long ranges as async report runs
        (the run id travels in the cursor, so a resumed job reads the same report)."""
        first, last = self.ad_metrics_start(since), date.today()
        span, threshold = (last - first).days + 1, int(self.setting("INSIGHTS_ASYNC_AFTER_DAYS") or 31)
        runs: dict[str, str] = {}
        if cursor:
            state = json.loads(cursor)
            if state.get("run"):
                runs[state["account"]] = state["run"]

        def fetch(account: str, after: str | None):
            if span <= threshold:
                return self.client.insights(account, first.isoformat(), last.isoformat(), after=after)
            if account not in runs:
                runs[account] = self.client.start_report(account, first.isoformat(), last.isoformat())
                self.client.wait_for_report(runs[account])
            return self.client.report_rows(runs[account], after=after)

        for page in self._per_account(cursor, fetch):
            if page.next_cursor:
                state = json.loads(page.next_cursor)
                if state.get("after") and state["account"] in runs:
                    page.next_cursor = json.dumps({**state, "run": runs[state["account"]]})
            yield page

    def fetch_campaigns(self, external_ids: list[str]) -> list[dict[str, Any]]:
        records = self.client.campaigns_by_id(sorted(set(external_ids)))
        currencies = self._account_currencies()
        for record in records:
            record.setdefault("account_currency", currencies.get(mapping.account_id(record.get("account_id")), ""))
        return records

    # ------------------------------------------------------------------ pushes
    def _read_back(self, external_id: str, currency: str) -> dict[str, Any]:
        record = self.client.campaign(external_id)
        record.setdefault("account_currency", currency or self._account_currencies().get(
            mapping.account_id(record.get("account_id")), ""))
        return mapping.normalize_campaign(record)

    def set_campaign_budget(self, external_id: str, *, daily_budget: Decimal | None = None,
                            lifetime_budget: Decimal | None = None, currency: str = "",
                            account_id: str = "") -> dict[str, Any]:
        field, amount = ("daily_budget", daily_budget) if daily_budget is not None else ("lifetime_budget",
                                                                                          lifetime_budget)
        if amount is None:
            raise ValueError("a budget is required")
        self.client.update(external_id, action="update_campaign_budget",
                           data={field: str(mapping.to_minor(amount, currency))})
        return self._read_back(external_id, currency)

    def set_campaign_status(self, external_id: str, *, status: str, account_id: str = "") -> dict[str, Any]:
        self.client.update(external_id, action="update_campaign_status",
                           data={"status": mapping.TO_META_STATUS[status]})
        return self._read_back(external_id, "")



