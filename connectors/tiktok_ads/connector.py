"""Connector for TikTok Ads: the Business (Marketing) API v1.3 (version in one setting).

Connect: TikTok's authorization page (`/portal/auth?app_id&state&redirect_uri`) calls back with `auth_code`
(not `code`), which `POST oauth2/access_token/ {app_id, secret, auth_code}` trades for a long-term access token
— no refresh token and no expiry given; when TikTok refuses it (code 40105) the integration goes to error and
an operator reconnects. The app is the settings `TIKTOK_ADS_CLIENT_ID` (app id) and `TIKTOK_ADS_CLIENT_SECRET`,
or the integration's `credentials`. The connect records the authorized advertisers (`oauth2/advertiser/get/`)
in `config["advertiser_ids"]`.

Pulls: advertisers (`advertiser/info/`: name, currency, time zone), then per advertiser campaigns and ad groups
(`page`/`page_size`, until `page_info.total_page`), and the integrated report by campaign and day
(`report/integrated/get/`, BASIC, AUCTION_CAMPAIGN, 30 days per request). Cursors are `{"account", "page"}`.

Pushes: `campaign/status/update/` with `operation_status` ENABLE/DISABLE and `campaign/update/` with `budget`
(major units; the campaign's `budget_mode` decides whether it is daily or total), then the campaign is read
back. Errors come in a `code` envelope with HTTP 200 (client.py): 40100 is a throttle (waited on and retried),
40105 a refused token.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from connectors.base import AuthKind, ConnectionResult, Connector, OAuthMeta, Page, RateLimitPolicy, TokenSet
from connectors.capabilities import AdsSource, OAuthConnect
from connectors.errors import AuthExpired, ProviderError, connection_failure
from connectors.http import elapsed_ms

from . import mapping
from .client import RATE_LIMITED, REPORT_DAYS, TOKEN_REFUSED, TikTokAdsClient, envelope_code

if TYPE_CHECKING:
    import requests

API = "https://business-api.tiktok.com"
AUTHORIZE = f"{API}/portal/auth"


class TikTokAdsConnector(OAuthConnect, AdsSource, Connector):
    key = "tiktok_ads"
    display_name = "TikTok Ads"
    integration_type = "advertising"
    auth_kind = AuthKind.OAUTH2
    base_url = API
    oauth = OAuthMeta(authorize_url=AUTHORIZE, token_url=f"{API}/open_api/v1.3/oauth2/access_token/")
    rate_limit = RateLimitPolicy(requests=10, per_seconds=1.0)
    docs_url = "https://business-api.tiktok.com/portal/docs"
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": "", "API_VERSION": "v1.3"}

    normalize_ad_account = staticmethod(mapping.normalize_advertiser)
    normalize_campaign = staticmethod(mapping.normalize_campaign)
    normalize_ad_set = staticmethod(mapping.normalize_ad_group)
    normalize_ad_metrics_day = staticmethod(mapping.normalize_report_row)

    def __init__(self, integration):
        super().__init__(integration)
        self._currencies: dict[str, str] | None = None

    # ------------------------------------------------------------------ plumbing
    @property
    def client(self) -> TikTokAdsClient:
        return TikTokAdsClient(self.http, self.setting("API_VERSION") or "v1.3")

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    def auth_headers(self) -> dict[str, str]:
        token = self.integration.access_token
        return {"Access-Token": token} if token else {}

    def throttled_seconds(self, response: requests.Response) -> float | None:
        return 0.0 if envelope_code(response) == RATE_LIMITED else None

    def is_auth_expired(self, response: requests.Response) -> bool:
        return response.status_code == 401 or envelope_code(response) == TOKEN_REFUSED

    def credentials_refused_message(self, error: AuthExpired, *, action: str) -> str | None:
        return "TikTok refused the access token (code 40105): reconnect the integration."

    # ------------------------------------------------------------------ OAuth
    def authorize_url(self, *, state: str, redirect_uri: str, scopes=(), code_challenge: str = "", **params) -> str:
        app_id, _ = self.oauth_client_credentials()
        base = f"{self.integration.api_endpoint.rstrip('/')}/portal/auth" if self.integration.api_endpoint \
            else AUTHORIZE
        return f"{base}?{urlencode({'app_id': app_id, 'state': state, 'redirect_uri': redirect_uri})}"

    def callback_code(self, query: Mapping[str, str]) -> str:
        return query.get("auth_code", "")

    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        app_id, secret = self.oauth_client_credentials()
        data = self.client.access_token(app_id, secret, code)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise ProviderError("TikTok answered without an access token.", transient=False)
        ids = [str(i) for i in data.get("advertiser_ids") or []]
        self.integration.config = {**self.config, "advertiser_ids": ids}
        scope = tuple(str(s) for s in data.get("scope") or [])
        return TokenSet(access_token=token, refresh_token=None, expires_at=None, scope=scope)

    def account_display_name(self) -> str:
        app_id, secret = self.oauth_client_credentials()
        advertisers = self.client.advertisers(app_id, secret)
        self.integration.config = {**self.config, "advertiser_ids": [str(a["advertiser_id"]) for a in advertisers]}
        return str(advertisers[0].get("advertiser_name") or "") if advertisers else ""

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            self.client.advertiser_info(self._advertiser_ids()[:1])
        except Exception as exc:  # noqa: BLE001 - the test reports any failure, it never raises
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=connection_failure("TikTok", exc))
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started), detail="TikTok answered.")

    # ------------------------------------------------------------------ pulls
    def _advertiser_ids(self) -> list[str]:
        return sorted(str(i) for i in self.config.get("advertiser_ids") or [] if i)

    def _currency(self, advertiser_id: str) -> str:
        if self._currencies is None:
            self._currencies = {str(a["advertiser_id"]): str(a.get("currency") or "")
                                for a in self.client.advertiser_info(self._advertiser_ids())}
        return self._currencies.get(advertiser_id, "")

    def iter_ad_accounts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        yield Page(self.client.advertiser_info(self._advertiser_ids()), None)

    def _per_advertiser(self, cursor: str | None, fetch) -> Iterator[Page]:
        state = json.loads(cursor) if cursor else {}
        accounts = self._advertiser_ids()
        if state.get("account") in accounts:
            accounts = accounts[accounts.index(state["account"]):]
        for position, account in enumerate(accounts):
            page = int(state.get("page") or 1) if account == state.get("account") else 1
            while True:
                items, following = fetch(account, page)
                for item in items:
                    item.setdefault("currency", self._currency(account))
                if following is not None:
                    yield Page(items, json.dumps({"account": account, "page": following}))
                    page = following
                    continue
                after = accounts[position + 1] if position + 1 < len(accounts) else None
                yield Page(items, json.dumps({"account": after, "page": 1}) if after else None)
                break

    def iter_campaigns(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        yield from self._per_advertiser(cursor, lambda account, page: self.client.campaigns(account, page))

    def iter_ad_sets(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        yield from self._per_advertiser(cursor, lambda account, page: self.client.ad_groups(account, page))

    def iter_ad_metrics(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        """The report by campaign and day from `ad_metrics_start(since)` to today, 30 days per request."""
        first, last = self.ad_metrics_start(since), date.today()
        windows = []
        while first <= last:
            windows.append((first, min(first + timedelta(days=REPORT_DAYS - 1), last)))
            first += timedelta(days=REPORT_DAYS)

        def fetch(account: str, page: int):
            # `page` counts across windows: window i, page p is i * 10_000 + p (a resumed job finds both).
            index, inner = divmod(page, 10_000)
            start, end = windows[index]
            items, following = self.client.report(account, start.isoformat(), end.isoformat(), inner or 1)
            if following is not None:
                return items, index * 10_000 + following
            return items, ((index + 1) * 10_000 + 1 if index + 1 < len(windows) else None)

        yield from self._per_advertiser(cursor, fetch)

    # ------------------------------------------------------------------ pushes
    def _advertiser_of(self, campaign_id: str, account_id: str = "") -> tuple[str, dict[str, Any]]:
        """The campaign's advertiser and its record now (the given advertiser first, then every authorized one)."""
        for account in ([account_id] if account_id else []) + [a for a in self._advertiser_ids() if a != account_id]:
            found, _ = self.client.campaigns(account, 1, ids=[campaign_id])
            if found:
                return account, found[0]
        raise ProviderError(f"No authorized advertiser has campaign {campaign_id}.", transient=False)

    def _read_back(self, account: str, campaign_id: str) -> dict[str, Any]:
        found, _ = self.client.campaigns(account, 1, ids=[campaign_id])
        if not found:
            return {}
        found[0].setdefault("currency", self._currency(account))
        return mapping.normalize_campaign(found[0])

    def set_campaign_budget(self, external_id: str, *, daily_budget: Decimal | None = None,
                            lifetime_budget: Decimal | None = None, currency: str = "",
                            account_id: str = "") -> dict[str, Any]:
        account, record = self._advertiser_of(external_id, account_id)
        wanted = "BUDGET_MODE_DAY" if daily_budget is not None else "BUDGET_MODE_TOTAL"
        if record.get("budget_mode") != wanted:
            kind = "daily" if daily_budget is not None else "lifetime"
            raise ProviderError(f"The campaign's budget is not a {kind} budget at TikTok.",
                                provider_message=f"budget_mode is {record.get('budget_mode')}", transient=False)
        amount = daily_budget if daily_budget is not None else lifetime_budget
        self.client.campaign_budget(account, external_id, f"{amount:.2f}")
        return self._read_back(account, external_id)

    def set_campaign_status(self, external_id: str, *, status: str, account_id: str = "") -> dict[str, Any]:
        account = account_id or self._advertiser_of(external_id)[0]
        self.client.campaign_status(account, external_id, mapping.TO_OPERATION_STATUS[status])
        return self._read_back(account, external_id)
