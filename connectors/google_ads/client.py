"""HTTP to the Google Ads API (REST), and nothing else: GAQL through `googleAds:searchStream`, the mutates.

`POST /v{N}/customers/{cid}/googleAds:searchStream {"query"}` answers a JSON array of batches, each
`{"results": [...], "fieldMask", "requestId"}`: all rows of the query in one answer (no page tokens; the paged
`:search` refuses `pageSize`). Mutates are sent with `partialFailure: true`: the rows Google accepted are
applied, and each refused one comes back in `partialFailureError.details[].errors[]` with the operation's
index in `location.fieldPathElements` — `failures_of` turns that into one entry per row.
Numbers: int64 fields (ids, `costMicros`, `impressions`) are JSON strings; doubles (`conversions`) numbers.
"""

from __future__ import annotations

from typing import Any

from connectors.errors import ProviderError
from connectors.http import ProviderClient

ACCOUNT_QUERY = ("SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.time_zone, "
                 "customer.status FROM customer")
CAMPAIGN_QUERY = ("SELECT campaign.id, campaign.name, campaign.status, campaign.serving_status, "
                  "campaign.advertising_channel_type, campaign_budget.resource_name, campaign_budget.amount_micros, "
                  "campaign_budget.total_amount_micros FROM campaign WHERE campaign.status != 'REMOVED'")
AD_GROUP_QUERY = ("SELECT ad_group.id, ad_group.name, ad_group.status, ad_group.campaign, campaign.id "
                  "FROM ad_group WHERE ad_group.status != 'REMOVED'")
METRICS_QUERY = ("SELECT campaign.id, segments.date, metrics.cost_micros, metrics.impressions, metrics.clicks, "
                 "metrics.conversions, metrics.conversions_value FROM campaign "
                 "WHERE segments.date BETWEEN '{first}' AND '{last}'")


def failures_of(body: dict[str, Any]) -> dict[int, str]:
    """{operation index: Google's message} for the rows a partial-failure mutate refused."""
    failure = body.get("partialFailureError") if isinstance(body, dict) else None
    if not failure:
        return {}
    found: dict[int, str] = {}
    for detail in failure.get("details") or []:
        for error in (detail or {}).get("errors") or []:
            elements = ((error.get("location") or {}).get("fieldPathElements") or [])
            index = next((e.get("index", 0) for e in elements if e.get("fieldName") == "operations"), 0)
            found.setdefault(int(index), str(error.get("message") or failure.get("message") or "refused"))
    return found or {0: str(failure.get("message") or "refused")}


class GoogleAdsClient:
    def __init__(self, http: ProviderClient, version: str):
        self.http, self.version = http, version

    def customer_path(self, customer_id: str, method: str) -> str:
        return f"/{self.version}/customers/{customer_id}/{method}"

    def accessible_customers(self) -> list[str]:
        body = self.http.get(f"/{self.version}/customers:listAccessibleCustomers",
                             action="list_accessible_customers").json()
        return [name.rsplit("/", 1)[-1] for name in body.get("resourceNames") or []]

    def search_stream(self, customer_id: str, query: str, *, action: str) -> list[dict[str, Any]]:
        batches = self.http.post(self.customer_path(customer_id, "googleAds:searchStream"), action=action,
                                 json={"query": query}).json()
        if isinstance(batches, dict):  # a single batch
            batches = [batches]
        return [row for batch in batches or [] for row in (batch or {}).get("results") or []]

    def mutate(self, customer_id: str, resource: str, operations: list[dict[str, Any]], *,
               action: str) -> tuple[list[dict[str, Any]], dict[int, str]]:
        """(results, {index: why}) of a partial-failure mutate of `resource` (`campaigns`, `campaignBudgets`)."""
        body = self.http.post(self.customer_path(customer_id, f"{resource}:mutate"), action=action,
                              json={"operations": operations, "partialFailure": True}).json()
        return list(body.get("results") or []), failures_of(body)

    def mutate_one(self, customer_id: str, resource: str, operation: dict[str, Any], *, action: str) -> None:
        _, failures = self.mutate(customer_id, resource, [operation], action=action)
        if failures:
            raise ProviderError(f"Google Ads refused the change: {failures[0]}", provider_message=failures[0],
                                transient=False)
