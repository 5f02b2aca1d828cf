"""Connector for Google Ads: the REST interface of the Google Ads API (version in one setting, v26).

Connect: Google's OAuth 2.0 (scope `https://www.googleapis.com/auth/adwords`, offline access so a refresh token
comes back); access tokens last an hour and are refreshed with the refresh grant (connectors/oauth2.py). Every
call also carries the app's `developer-token` (setting `GOOGLE_ADS_DEVELOPER_TOKEN`, or the integration's
`credentials["developer_token"]`) and, when the customers are reached through a manager account,
`login-customer-id` (the integration's `config["login_customer_id"]`, 10 digits, no dashes). The connect
records the customers the user can reach (`customers:listAccessibleCustomers`) in `config["customer_ids"]`.

Pulls (GAQL through `googleAds:searchStream`, client.py): each customer (`customer`), its campaigns with their
budgets (`campaign`, `campaign_budget`), ad groups, and `metrics.*` by `segments.date` per campaign. GAQL gives
no modification time for these rows, so changes are found by their payload hash. Cursors are `{"account"}`.

Pushes: a budget is its campaign budget's `amountMicros` (`campaignBudgets:mutate`, `updateMask
amount_micros`) — a shared budget changes for every campaign that uses it; a status is `campaigns:mutate`
(`updateMask status`). Mutates are partial-failure: a refused row is reported with Google's words.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from connectors.base import AuthKind, ConnectionResult, Connector, OAuthMeta, Page, RateLimitPolicy
from connectors.capabilities import AdsSource
from connectors.errors import ProviderError, connection_failure
from connectors.http import elapsed_ms
from connectors.oauth2 import StandardOAuth2

from . import mapping
from .client import ACCOUNT_QUERY, AD_GROUP_QUERY, CAMPAIGN_QUERY, METRICS_QUERY, GoogleAdsClient

SCOPE = "https://www.googleapis.com/auth/adwords"


class GoogleAdsConnector(StandardOAuth2, AdsSource, Connector):
    key = "google_ads"
    display_name = "Google Ads"
    integration_type = "advertising"
    auth_kind = AuthKind.OAUTH2
    base_url = "https://googleads.googleapis.com"
    oauth = OAuthMeta(authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
                      token_url="https://oauth2.googleapis.com/token", revoke_url="https://oauth2.googleapis.com/revoke",
                      default_scopes=(SCOPE,), extra_authorize_params={"access_type": "offline", "prompt": "consent"})
    rate_limit = RateLimitPolicy(requests=10, per_seconds=1.0)
    docs_url = "https://developers.google.com/google-ads/api/rest/overview"
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": "", "DEVELOPER_TOKEN": "", "API_VERSION": "v26"}

    normalize_ad_account = staticmethod(mapping.normalize_customer)
    normalize_campaign = staticmethod(mapping.normalize_campaign)
    normalize_ad_set = staticmethod(mapping.normalize_ad_group)
    normalize_ad_metrics_day = staticmethod(mapping.normalize_metrics_row)

    def __init__(self, integration):
        super().__init__(integration)
        self._currencies: dict[str, str] = {}

    # ------------------------------------------------------------------ plumbing
    @property
    def client(self) -> GoogleAdsClient:
        return GoogleAdsClient(self.http, self.setting("API_VERSION") or "v26")

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    def auth_headers(self) -> dict[str, str]:
        headers = super().auth_headers()
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        developer_token = str(credentials.get("developer_token") or self.setting("DEVELOPER_TOKEN"))
        if developer_token:
            headers["developer-token"] = developer_token
        login = str(self.config.get("login_customer_id") or "").replace("-", "")
        if login:
            headers["login-customer-id"] = login
        return headers

    def account_display_name(self) -> str:
        ids = self.client.accessible_customers()
        self.integration.config = {**self.config, "customer_ids": ids}
        return f"{len(ids)} Google Ads account(s)" if ids else ""

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            ids = self.client.accessible_customers()
        except Exception as exc:  # noqa: BLE001 - the test reports any failure, it never raises
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=connection_failure("Google Ads", exc))
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started), detail=f"{len(ids)} customer(s) reachable.")

    # ------------------------------------------------------------------ pulls
    def _customer_ids(self) -> list[str]:
        return sorted(str(i).replace("-", "") for i in self.config.get("customer_ids") or [] if i)

    def _currency(self, customer_id: str) -> str:
        if customer_id not in self._currencies:
            rows = self.client.search_stream(customer_id, ACCOUNT_QUERY, action="get_customer")
            self._currencies[customer_id] = str(((rows[0] if rows else {}).get("customer") or {})
                                                .get("currencyCode") or "")
        return self._currencies[customer_id]

    def _per_customer(self, cursor: str | None, query, *, action: str) -> Iterator[Page]:
        accounts = self._customer_ids()
        state = json.loads(cursor) if cursor else {}
        if state.get("account") in accounts:
            accounts = accounts[accounts.index(state["account"]):]
        for position, account in enumerate(accounts):
            rows = self.client.search_stream(account, query(account), action=action)
            for row in rows:
                row.setdefault("customer_id", account)
                row.setdefault("currency", self._currency(account))
            following = accounts[position + 1] if position + 1 < len(accounts) else None
            yield Page(rows, json.dumps({"account": following}) if following else None)

    def iter_ad_accounts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        yield from self._per_customer(cursor, lambda _: ACCOUNT_QUERY, action="get_customer")

    def iter_campaigns(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        yield from self._per_customer(cursor, lambda _: CAMPAIGN_QUERY, action="list_campaigns")

    def iter_ad_sets(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        yield from self._per_customer(cursor, lambda _: AD_GROUP_QUERY, action="list_ad_groups")

    def iter_ad_metrics(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        first, last = self.ad_metrics_start(since), date.today()
        query = METRICS_QUERY.format(first=first.isoformat(), last=last.isoformat())
        yield from self._per_customer(cursor, lambda _: query, action="get_metrics")

    # ------------------------------------------------------------------ pushes
    def _campaign_row(self, customer_id: str, campaign_id: str) -> dict[str, Any]:
        if not campaign_id.isdigit():
            raise ProviderError(f"{campaign_id!r} is not a Google Ads campaign id.", transient=False)
        rows = self.client.search_stream(customer_id, f"{CAMPAIGN_QUERY} AND campaign.id = {campaign_id}",
                                         action="get_campaign")
        if not rows:
            raise ProviderError(f"Campaign {campaign_id} is not in customer {customer_id}.", transient=False)
        row = rows[0]
        row.update(customer_id=customer_id, currency=self._currency(customer_id))
        return row

    def _customer(self, account_id: str) -> str:
        customer = (account_id or (self._customer_ids() or [""])[0]).replace("-", "")
        if not customer:
            raise ProviderError("The integration names no Google Ads customer.", transient=False)
        return customer

    def set_campaign_budget(self, external_id: str, *, daily_budget: Decimal | None = None,
                            lifetime_budget: Decimal | None = None, currency: str = "",
                            account_id: str = "") -> dict[str, Any]:
        if daily_budget is None:
            raise ProviderError("Google Ads campaign budgets are daily amounts.", transient=False)
        customer = self._customer(account_id)
        budget = (self._campaign_row(customer, external_id).get("campaignBudget") or {}).get("resourceName")
        if not budget:
            raise ProviderError(f"Campaign {external_id} has no campaign budget.", transient=False)
        self.client.mutate_one(customer, "campaignBudgets", {
            "update": {"resourceName": budget, "amountMicros": mapping.to_micros(daily_budget)},
            "updateMask": "amount_micros"}, action="update_campaign_budget")
        return mapping.normalize_campaign(self._campaign_row(customer, external_id))

    def set_campaign_status(self, external_id: str, *, status: str, account_id: str = "") -> dict[str, Any]:
        customer = self._customer(account_id)
        self.client.mutate_one(customer, "campaigns", {
            "update": {"resourceName": f"customers/{customer}/campaigns/{external_id}",
                       "status": mapping.TO_STATUS[status]},
            "updateMask": "status"}, action="update_campaign_status")
        return mapping.normalize_campaign(self._campaign_row(customer, external_id))
