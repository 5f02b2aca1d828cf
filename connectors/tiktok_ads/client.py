"""HTTP to TikTok's Business (Marketing) API v1.3, and nothing else: paths, the `code` envelope, paging.

TikTok answers HTTP 200 even on errors: `{"code": 0, "message": "OK", "request_id", "data": {...}}`, where any
other `code` is an error. The connector tells the HTTP client which codes are throttles (40100: wait and
retry) and which a refused token (40105); `data_of` turns the rest into typed errors: 40xxx are the request's
fault (permanent, the message says why), 5xxxx TikTok's (transient). Paths end with a slash (TikTok requires
it); the token travels in the `Access-Token` header.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from connectors.errors import ProviderError, ProviderUnavailable
from connectors.http import ProviderClient

PAGE_SIZE = 100
RATE_LIMITED, TOKEN_REFUSED = 40100, 40105
CAMPAIGN_FIELDS = ["campaign_id", "campaign_name", "advertiser_id", "budget", "budget_mode", "operation_status",
                   "secondary_status", "objective_type", "create_time", "modify_time"]
AD_GROUP_FIELDS = ["adgroup_id", "adgroup_name", "campaign_id", "advertiser_id", "budget", "budget_mode",
                   "operation_status", "secondary_status", "optimization_goal", "bid_price", "modify_time"]
REPORT_METRICS = ["spend", "impressions", "clicks", "conversion", "complete_payment_roas"]
REPORT_DAYS = 30  # TikTok serves at most 30 days per request when the dimension is the day


def envelope_code(response: requests.Response) -> int | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


def data_of(response: requests.Response) -> dict[str, Any]:
    """The envelope's `data`; ProviderError (permanent, 4xxxx) or ProviderUnavailable (5xxxx) for `code != 0`."""
    try:
        body = response.json()
    except ValueError:
        raise ProviderError("TikTok answered something that is not JSON.", transient=False) from None
    code = body.get("code")
    if code == 0:
        data = body.get("data")
        return data if isinstance(data, dict) else {}
    message = str(body.get("message") or "")[:300]
    details = {"code": code, "request_id": body.get("request_id")}
    if isinstance(code, int) and code >= 50000:
        raise ProviderUnavailable(f"TikTok could not answer (code {code}): {message}", provider_message=message,
                                  transient=True, details=details)
    raise ProviderError(f"TikTok refused the call (code {code}): {message}", provider_message=message,
                        transient=False, details=details)


class TikTokAdsClient:
    def __init__(self, http: ProviderClient, version: str):
        self.http, self.version = http, version

    def path(self, endpoint: str) -> str:
        return f"/open_api/{self.version}/{endpoint.strip('/')}/"

    def get(self, endpoint: str, *, action: str, params: dict[str, Any], authenticate: bool = True) -> dict:
        query = {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in params.items()}
        return data_of(self.http.get(self.path(endpoint), action=action, params=query, authenticate=authenticate))

    def post(self, endpoint: str, *, action: str, body: dict[str, Any], authenticate: bool = True) -> dict:
        return data_of(self.http.post(self.path(endpoint), action=action, json=body, authenticate=authenticate))

    # ------------------------------------------------------------------ the calls
    def access_token(self, app_id: str, secret: str, auth_code: str) -> dict:
        return self.post("oauth2/access_token", action="exchange_code", authenticate=False,
                         body={"app_id": app_id, "secret": secret, "auth_code": auth_code})

    def advertisers(self, app_id: str, secret: str) -> list[dict]:
        data = self.get("oauth2/advertiser/get", action="list_advertisers",
                        params={"app_id": app_id, "secret": secret})
        return list(data.get("list") or [])

    def advertiser_info(self, advertiser_ids: list[str]) -> list[dict]:
        data = self.get("advertiser/info", action="get_advertisers", params={
            "advertiser_ids": advertiser_ids,
            "fields": ["advertiser_id", "name", "currency", "timezone", "status"]})
        return list(data.get("list") or [])

    def page(self, endpoint: str, advertiser_id: str, page: int, *, action: str, fields: list[str],
             filtering: dict[str, Any] | None = None) -> tuple[list[dict], int | None]:
        """One page and the number of the next (None: last), by `page_info.total_page`."""
        params: dict[str, Any] = {"advertiser_id": advertiser_id, "page": page, "page_size": PAGE_SIZE,
                                  "fields": fields}
        if filtering:
            params["filtering"] = filtering
        data = self.get(endpoint, action=action, params=params)
        info = data.get("page_info") or {}
        total = int(info.get("total_page") or 0)
        return list(data.get("list") or []), (page + 1 if page < total else None)

    def campaigns(self, advertiser_id: str, page: int, *, ids: list[str] | None = None):
        return self.page("campaign/get", advertiser_id, page, action="list_campaigns", fields=CAMPAIGN_FIELDS,
                         filtering={"campaign_ids": ids} if ids else None)

    def ad_groups(self, advertiser_id: str, page: int):
        return self.page("adgroup/get", advertiser_id, page, action="list_ad_groups", fields=AD_GROUP_FIELDS)

    def report(self, advertiser_id: str, first: str, last: str, page: int) -> tuple[list[dict], int | None]:
        data = self.get("report/integrated/get", action="get_report", params={
            "advertiser_id": advertiser_id, "report_type": "BASIC", "data_level": "AUCTION_CAMPAIGN",
            "dimensions": ["campaign_id", "stat_time_day"], "metrics": REPORT_METRICS, "start_date": first,
            "end_date": last, "page": page, "page_size": PAGE_SIZE})
        total = int((data.get("page_info") or {}).get("total_page") or 0)
        return list(data.get("list") or []), (page + 1 if page < total else None)

    def campaign_status(self, advertiser_id: str, campaign_id: str, operation_status: str) -> dict:
        return self.post("campaign/status/update", action="update_campaign_status", body={
            "advertiser_id": advertiser_id, "campaign_ids": [campaign_id], "operation_status": operation_status})

    def campaign_budget(self, advertiser_id: str, campaign_id: str, budget: str) -> dict:
        return self.post("campaign/update", action="update_campaign_budget", body={
            "advertiser_id": advertiser_id, "campaign_id": campaign_id, "budget": budget})
