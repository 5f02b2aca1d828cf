"""Connector for HubSpot (CRM API v3): contacts searched and upserted by email, marketing campaigns listed, and the
ERP's consenting customers copied into the contacts (syncjobs/audiences.py, the same push as a mailing audience).

Connect: OAuth 2.0 (`https://app.hubspot.com/oauth/authorize` → `POST https://api.hubapi.com/oauth/v1/token`,
form body, the app's client in HUBSPOT_CLIENT_ID / HUBSPOT_CLIENT_SECRET). Access tokens live 30 minutes
(`expires_in: 1800`), so the refresh grant is routine: connectors/http.py refreshes a token about to expire, and
once more on a 401. A refresh token HubSpot refuses (`BAD_REFRESH_TOKEN`, an uninstalled app) puts the integration
in pending_auth through integrations/health.py (connectors/tokens.py). After the exchange
`GET /account-info/v3/details` names the portal (`portalId`), kept in `config["hub_id"]`.

Contacts: `POST /crm/v3/objects/contacts/search` (filter `email EQ …`) and
`POST /crm/v3/objects/contacts/batch/upsert` with `idProperty: "email"` (≤100 inputs a call): idempotent by the
address, so a retried push creates nobody twice. Who is sent is decided upstream (customers whose latest order
carried marketing consent). HubSpot's "audience" is the portal's contacts: one pseudo-list, `contacts`.

Campaigns (MarketingCampaignSource): `GET /marketing/v3/campaigns` paged by `after` until `paging.next` is
absent, into the ads app's MarketingCampaign rows through the one import path (job type
`sync_marketing_campaigns`); `POST /marketing/v3/campaigns` creates one (`{"properties": {"hs_name", …}}`).

Rate limits: 100 requests / 10 s per portal for OAuth apps, announced in `X-HubSpot-RateLimit-Max`, `-Remaining`,
`-Interval-Milliseconds` (and `-Daily-Remaining`). A 429 without `Retry-After` waits the rest of the interval;
an exhausted daily quota waits for midnight, which connectors/http.py does not sleep on (RateLimited goes up).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, ClassVar

import requests

from config.errors import ApplicationError
from connectors.base import AuthKind, ConnectionResult, Connector, OAuthMeta, Page, RateLimitPolicy, TokenSet
from connectors.capabilities import AudienceSink, MarketingCampaignSource
from connectors.errors import ProviderError, connection_failure
from connectors.http import elapsed_ms
from connectors.oauth2 import StandardOAuth2

BATCH = 100  # HubSpot's largest batch upsert
CONTACTS = "contacts"  # the one audience: the portal's contacts
CONTACT_PROPERTIES = ("email", "firstname", "lastname")
# The daily quota resets at the portal's midnight (its time zone is not told): an hour is longer than any call
# sleeps, so the caller gets RateLimited and reschedules.
DAILY_WAIT = 3600.0
CAMPAIGN_PAGE = 100
CAMPAIGN_PROPERTIES = ("hs_name", "hs_campaign_status", "hs_start_date", "hs_end_date", "hs_notes")


class HubSpotConnector(StandardOAuth2, AudienceSink, MarketingCampaignSource, Connector):
    default_audience = CONTACTS
    key = "hubspot"
    display_name = "HubSpot"
    integration_type = "crm"
    auth_kind = AuthKind.OAUTH2
    base_url = "https://api.hubapi.com"
    oauth = OAuthMeta(
        authorize_url="https://app.hubspot.com/oauth/authorize",
        token_url="https://api.hubapi.com/oauth/v1/token",
        default_scopes=("crm.objects.contacts.read", "crm.objects.contacts.write", "marketing.campaigns.read",
                        "marketing.campaigns.write"),
    )
    rate_limit = RateLimitPolicy(requests=100, per_seconds=10.0)
    docs_url = "https://developers.hubspot.com/docs/api/crm/contacts"
    provider_settings: ClassVar = {"CLIENT_ID": "", "CLIENT_SECRET": ""}

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    # ------------------------------------------------------------------ connect
    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        """The code grant, then the portal the token belongs to (its id and time zone, for the operator).

        Asked of `GET /account-info/v3/details` with the token in the Authorization header (redacted in the call
        log), not of `/oauth/v1/access-tokens/{token}`, which would put the token in a logged URL."""
        tokens = super().exchange_code(code, redirect_uri=redirect_uri)
        body = self.http.get("/account-info/v3/details", action="account_info", authenticate=False,
                             headers={"Authorization": f"Bearer {tokens.access_token}"}).json()
        if isinstance(body, dict) and body.get("portalId"):
            self.integration.config = {**self.config, "hub_id": str(body["portalId"]),
                                       "time_zone": str(body.get("timeZone") or "")}
            if self.integration.pk is not None:  # the OAuth flow saves only tokens on an existing integration
                type(self.integration).objects.filter(pk=self.integration.pk).update(config=self.integration.config)
        return tokens

    def account_display_name(self) -> str:
        hub_id = str(self.config.get("hub_id") or "")
        return f"HubSpot portal {hub_id}" if hub_id else ""

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            self.http.get("/crm/v3/objects/contacts", action="ping", params={"limit": 1})
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('HubSpot', exc)}: {exc.message}")
        portal = self.account_display_name() or "HubSpot (portal unknown)"
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started), detail=f"{portal}: contacts readable")

    def retry_after_seconds(self, response: requests.Response) -> float | None:
        """`Retry-After` when sent; else, on a 429, the rest of the exhausted window (10 s, or the day)."""
        asked = super().retry_after_seconds(response)
        if asked is not None or response.status_code != 429:
            return asked
        headers = response.headers
        if headers.get("X-HubSpot-RateLimit-Daily-Remaining") == "0":
            return DAILY_WAIT
        interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        if headers.get("X-HubSpot-RateLimit-Remaining") == "0" and interval and interval.isdigit():
            return int(interval) / 1000
        return None

    # ------------------------------------------------------------------ contacts
    def contact_find(self, email: str) -> dict[str, Any] | None:
        """The contact with this address (`{id, properties}`), or None."""
        body = self.http.post("/crm/v3/objects/contacts/search", action="search_contacts", json={
            "filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ",
                                           "value": email.strip().lower()}]}],
            "properties": list(CONTACT_PROPERTIES), "limit": 1}).json()
        results = body.get("results") or []
        return results[0] if results else None

    def contacts_upsert(self, contacts: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Create or update contacts by email, ≤100 a call; HubSpot's results (`id`, `new`, `properties`)."""
        results: list[dict[str, Any]] = []
        for start in range(0, len(contacts), BATCH):
            inputs = [{"id": c["email"].strip().lower(), "idProperty": "email", "properties": _properties(c)}
                      for c in contacts[start:start + BATCH]]
            body = self.http.post("/crm/v3/objects/contacts/batch/upsert", action="upsert_contacts",
                                  json={"inputs": inputs}).json()
            results += body.get("results") or []
        return results

    def audience_lists(self) -> list[dict[str, Any]]:
        """The portal's contacts as the one audience (its size from a search that returns no rows)."""
        body = self.http.post("/crm/v3/objects/contacts/search", action="count_contacts",
                              json={"filterGroups": [], "limit": 1, "properties": ["email"]}).json()
        return [{"id": CONTACTS, "name": "HubSpot contacts", "member_count": int(body.get("total") or 0)}]

    def audience_upsert(self, list_id: str, contacts: list[dict[str, str]]) -> dict[str, int]:
        """Batches of 100; a batch HubSpot refuses as a whole for its input (400, 409) counts as failed, and so do
        the inputs a 207 answer leaves out of its results; the rest go on. A refused token, a missing scope or
        HubSpot down stops the push (the next one sends them again)."""
        counts = {"upserted": 0, "failed": 0}
        for start in range(0, len(contacts), BATCH):
            batch = contacts[start:start + BATCH]
            try:
                done = len(self.contacts_upsert(batch))
            except ProviderError as exc:
                if exc.transient or exc.status_code in (401, 403):
                    raise
                counts["failed"] += len(batch)
                continue
            # 207 Multi-Status: the inputs HubSpot refused are in `errors`, the others in `results`.
            counts["upserted"] += done
            counts["failed"] += max(0, len(batch) - done)
        return counts

    # ------------------------------------------------------------------ campaigns
    def iter_marketing_campaigns(self, *, since: datetime | None = None,
                                 cursor: str | None = None) -> Iterator[Page]:
        """Every campaign, a page of 100 at a time, `after` as the page's cursor. HubSpot filters this list by
        nothing useful (no updated-since), so each sync walks it all; a portal has tens of campaigns, and the
        writer's payload hash leaves the unchanged ones alone."""
        after = cursor or ""
        while True:
            params: dict[str, Any] = {"limit": CAMPAIGN_PAGE, "properties": ",".join(CAMPAIGN_PROPERTIES)}
            if after:
                params["after"] = after
            body = self.http.get("/marketing/v3/campaigns", action="get_campaigns", params=params).json()
            after = str(((body.get("paging") or {}).get("next") or {}).get("after") or "")
            yield Page(list(body.get("results") or []), next_cursor=after or None)
            if not after:
                return

    def normalize_marketing_campaign(self, record: dict[str, Any]) -> dict[str, Any]:
        properties = record.get("properties") or {}
        return {"external_id": str(record["id"]), "name": str(properties.get("hs_name") or ""),
                "status": str(properties.get("hs_campaign_status") or ""),
                "start_date": _day(properties.get("hs_start_date")), "end_date": _day(properties.get("hs_end_date")),
                "notes": str(properties.get("hs_notes") or ""),
                "created_at": _instant(record.get("createdAt")), "updated_at": _instant(record.get("updatedAt"))}

    def create_marketing_campaign(self, *, name: str, start_date: date | None = None, end_date: date | None = None,
                                  notes: str = "") -> dict[str, Any]:
        """`POST /marketing/v3/campaigns` with only the properties given (needs `marketing.campaigns.write`).

        Not idempotent at HubSpot: the HTTP client does not replay a POST whose answer timed out, so a timeout
        reaches the operator instead of a second campaign."""
        properties = {"hs_name": name}
        if start_date:
            properties["hs_start_date"] = start_date.isoformat()
        if end_date:
            properties["hs_end_date"] = end_date.isoformat()
        if notes:
            properties["hs_notes"] = notes
        return self.http.post("/marketing/v3/campaigns", action="create_campaign",
                              json={"properties": properties}).json()


def _day(value: Any) -> date | None:
    """HubSpot's campaign dates are `YYYY-MM-DD`; a malformed one is ValueError (the import counts it failed)."""
    return date.fromisoformat(str(value)[:10]) if value else None


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _properties(contact: dict[str, str]) -> dict[str, str]:
    properties = {"email": contact["email"].strip().lower()}
    for ours, theirs in (("first_name", "firstname"), ("last_name", "lastname")):
        if contact.get(ours):
            properties[theirs] = contact[ours]
    return properties
