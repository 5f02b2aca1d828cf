"""HTTP to the Meta Graph API (Marketing API), and nothing else: paths, parameters, paging, report runs.

Every call goes through the connector's ProviderClient (connectors/http.py): retries, the call log with the
token redacted, and Meta's throttles turned into waits (connector.throttled_seconds). Paths carry the API
version (`/v27.0/act_1001/campaigns`): `META_GRAPH_API_VERSION`, one setting for every Meta connector
(connectors/meta_graph.py).

Paging: `{"data": [...], "paging": {"cursors": {"before", "after"}, "next": "<url>"}}`. Meta sends an `after`
cursor even on the last page, so the end is the absence of `paging.next`, never of `after`.

Insights for long ranges run as an async report: `POST /act_{id}/insights` → `{"report_run_id"}`, polled with
`GET /{report_run_id}` until `async_status` is "Job Completed", then read with `GET /{report_run_id}/insights`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from connectors import http as http_module
from connectors.errors import ProviderError, ProviderUnavailable
from connectors.http import ProviderClient

PAGE_LIMIT = 200
CAMPAIGN_FIELDS = ("id,account_id,name,status,effective_status,objective,daily_budget,lifetime_budget,"
                   "updated_time")
AD_SET_FIELDS = ("id,account_id,campaign_id,name,status,effective_status,optimization_goal,daily_budget,"
                 "lifetime_budget,updated_time")
ACCOUNT_FIELDS = "id,account_id,name,currency,timezone_name,account_status"
INSIGHT_FIELDS = ("campaign_id,campaign_name,account_currency,spend,impressions,clicks,actions,action_values,"
                  "date_start,date_stop")
REPORT_POLLS = 30  # polls of a report run before giving up for now (the sync retries later)
REPORT_POLL_SECONDS = 2.0


class MetaAdsClient:
    def __init__(self, http: ProviderClient, version: str):
        self.http = http
        self.version = version

    def path(self, node: str) -> str:
        return f"/{self.version}/{node.lstrip('/')}"

    def get(self, node: str, *, action: str, params: dict[str, Any] | None = None) -> Any:
        return self.http.get(self.path(node), action=action, params=params).json()

    def post(self, node: str, *, action: str, data: dict[str, Any]) -> Any:
        return self.http.post(self.path(node), action=action, data=data).json()

    def page(self, node: str, *, action: str, params: dict[str, Any],
             after: str | None) -> tuple[list[dict], str | None]:
        """One page of an edge and the cursor of the next (None: this was the last)."""
        query = {**params, "limit": PAGE_LIMIT, **({"after": after} if after else {})}
        body = self.get(node, action=action, params=query)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise ProviderError("Meta answered a list without `data`.", transient=False)
        paging = body.get("paging") or {}
        following = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
        return data, following

    # ------------------------------------------------------------------ the calls
    def ad_accounts(self, *, after: str | None) -> tuple[list[dict], str | None]:
        return self.page("me/adaccounts", action="list_ad_accounts", params={"fields": ACCOUNT_FIELDS}, after=after)

    def campaigns(self, account_id: str, *, after: str | None) -> tuple[list[dict], str | None]:
        return self.page(f"act_{account_id}/campaigns", action="list_campaigns",
                         params={"fields": CAMPAIGN_FIELDS}, after=after)

    def ad_sets(self, account_id: str, *, after: str | None) -> tuple[list[dict], str | None]:
        return self.page(f"act_{account_id}/adsets", action="list_ad_sets", params={"fields": AD_SET_FIELDS},
                         after=after)

    def campaigns_by_id(self, ids: list[str]) -> list[dict]:
        """Several campaigns in one call (`GET /?ids=a,b&fields=…` answers an object keyed by id)."""
        body = self.get("", action="get_campaigns", params={"ids": ",".join(ids), "fields": CAMPAIGN_FIELDS})
        return [record for record in (body or {}).values() if isinstance(record, dict)]

    def campaign(self, campaign_id: str) -> dict:
        return self.get(campaign_id, action="get_campaign", params={"fields": CAMPAIGN_FIELDS})

    def update(self, node_id: str, *, action: str, data: dict[str, Any]) -> None:
        """`POST /{id}` with form fields. Meta answers `{"success": true}`; an error is an HTTP error (raised)."""
        body = self.post(node_id, action=action, data=data)
        if isinstance(body, dict) and body.get("success") is False:
            raise ProviderError("Meta did not apply the update.", transient=False)

    @staticmethod
    def insight_params(since: str, until: str) -> dict[str, Any]:
        return {"level": "campaign", "fields": INSIGHT_FIELDS, "time_increment": 1,
                "time_range": json.dumps({"since": since, "until": until}, separators=(",", ":"))}

    def insights(self, account_id: str, since: str, until: str, *, after: str | None) -> tuple[list[dict], str | None]:
        return self.page(f"act_{account_id}/insights", action="get_insights",
                         params=self.insight_params(since, until), after=after)

    def start_report(self, account_id: str, since: str, until: str) -> str:
        body = self.post(f"act_{account_id}/insights", action="start_insights_report",
                         data=self.insight_params(since, until))
        run_id = str((body or {}).get("report_run_id") or "")
        if not run_id:
            raise ProviderError("Meta started no report run.", transient=False)
        return run_id

    def wait_for_report(self, run_id: str) -> None:
        """Poll the report run until Meta says it completed; ProviderUnavailable (transient) if it takes too long,
        ProviderError if Meta says it failed."""
        for attempt in range(REPORT_POLLS):
            body = self.get(run_id, action="poll_insights_report")
            state = str((body or {}).get("async_status") or "")
            if state == "Job Completed":
                return
            if state in ("Job Failed", "Job Skipped"):
                raise ProviderError(f"Meta's insights report {run_id} ended as {state!r}.", transient=False)
            if attempt + 1 < REPORT_POLLS:
                http_module.sleep(REPORT_POLL_SECONDS)
        raise ProviderUnavailable(f"Meta's insights report {run_id} is still running; the sync tries again later.",
                                  transient=True)

    def report_rows(self, run_id: str, *, after: str | None) -> tuple[list[dict], str | None]:
        return self.page(f"{run_id}/insights", action="get_insights_report", params={}, after=after)

    def iter_pages(self, fetch, after: str | None = None) -> Iterator[tuple[list[dict], str | None]]:
        while True:
            data, after = fetch(after)
            yield data, after
            if after is None:
                return
