"""Connector for Mailchimp (Marketing API 3.0): audiences, and the ERP's consenting customers upserted into one.

Connect: OAuth 2.0 (`https://login.mailchimp.com/oauth2/authorize` → `/oauth2/token`, the app's client in
MAILCHIMP_CLIENT_ID / MAILCHIMP_CLIENT_SECRET). Mailchimp has no scopes and its tokens do not expire (no refresh
token). Each account lives in one data centre: after the exchange `GET https://login.mailchimp.com/oauth2/metadata`
(`Authorization: OAuth <token>`) names it (`dc`, `api_endpoint`), kept in `config["dc"]`; the API root is then
`https://<dc>.api.mailchimp.com/3.0`. An API key (`…-us6`) in `api_key` works too: its suffix is the data centre
and it is sent as Basic auth.

Audiences: `GET /lists` (paged by `count`/`offset` up to `total_items`). Members: `PUT /lists/{id}/members/{hash}`
where the hash is the MD5 of the lowercased address, with `status_if_new: subscribed` — a member who
unsubscribed at Mailchimp stays unsubscribed (their status is not sent). Who is sent is decided upstream
(syncjobs/audiences.py: customers whose latest order carried marketing consent).
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from config.errors import ApplicationError, ValidationError
from connectors.base import AuthKind, ConnectionResult, Connector, OAuthMeta, RateLimitPolicy, TokenSet
from connectors.capabilities import AudienceSink
from connectors.errors import ProviderError, connection_failure
from connectors.http import elapsed_ms
from connectors.oauth2 import StandardOAuth2

METADATA_URL = "https://login.mailchimp.com/oauth2/metadata"
PAGE = 1000  # Mailchimp's largest `count`


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: the MD5 hex digest of the lowercased address."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()  # noqa: S324 - Mailchimp's id, not security


class MailchimpConnector(StandardOAuth2, AudienceSink, Connector):
    key = "mailchimp"
    display_name = "Mailchimp"
    integration_type = "email"
    auth_kind = AuthKind.OAUTH2
    oauth = OAuthMeta(authorize_url="https://login.mailchimp.com/oauth2/authorize",
                      token_url="https://login.mailchimp.com/oauth2/token")
    rate_limit = RateLimitPolicy(requests=10, per_seconds=1.0)  # Mailchimp allows 10 simultaneous connections
    docs_url = "https://mailchimp.com/developer/marketing/api/list-members/"
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": ""}

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    def data_centre(self) -> str:
        dc = str(self.config.get("dc") or "")
        if not dc and "-" in (self.integration.api_key or ""):
            dc = self.integration.api_key.rsplit("-", 1)[1]
        return dc

    def resolved_base_url(self) -> str:
        if self.integration.api_endpoint:
            return self.integration.api_endpoint.rstrip("/")
        dc = self.data_centre()
        if not dc.isalnum():
            raise ValidationError("The Mailchimp data centre is unknown: connect again, or use an API key ending "
                                  "in -<dc>.", details={"config.dc": ["unknown"]})
        return f"https://{dc}.api.mailchimp.com/3.0"

    def auth_headers(self) -> dict[str, str]:
        if self.integration.access_token:
            return {"Authorization": f"Bearer {self.integration.access_token}"}
        if self.integration.api_key:
            pair = base64.b64encode(f"switchyard:{self.integration.api_key}".encode()).decode("ascii")
            return {"Authorization": f"Basic {pair}"}
        return {}

    # ------------------------------------------------------------------ connect
    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        """The code grant (tokens never expire: `expires_in: 0` means none), then the account's data centre."""
        tokens = super().exchange_code(code, redirect_uri=redirect_uri)
        tokens = TokenSet(access_token=tokens.access_token, token_type=tokens.token_type)
        body = self.http.get(METADATA_URL, action="oauth_metadata", authenticate=False,
                             headers={"Authorization": f"OAuth {tokens.access_token}"}).json()
        dc = str(body.get("dc") or "") if isinstance(body, dict) else ""
        if not dc.isalnum():
            raise ProviderError("Mailchimp's metadata named no data centre.", transient=False)
        self.integration.config = {**self.config, "dc": dc, "account_name": str(body.get("accountname") or "")}
        if self.integration.pk is not None:  # the OAuth flow saves only tokens on an existing integration
            type(self.integration).objects.filter(pk=self.integration.pk).update(config=self.integration.config)
        return tokens

    def refresh_access_token(self) -> TokenSet:
        raise ValidationError("Mailchimp tokens do not expire; connect the account again if it was revoked.")

    def account_display_name(self) -> str:
        return str(self.config.get("account_name") or "")

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            body = self.http.get("/ping", action="ping").json()
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('Mailchimp', exc)}: {exc.message}")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"Mailchimp ({self.data_centre()}): {body.get('health_status', 'ok')}")

    # ------------------------------------------------------------------ audiences
    def audience_lists(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            body = self.http.get("/lists", action="get_lists", params={
                "count": PAGE, "offset": offset,
                "fields": "lists.id,lists.name,lists.stats.member_count,total_items"}).json()
            lists = body.get("lists") or []
            found += [{"id": str(item["id"]), "name": str(item.get("name") or ""),
                       "member_count": int((item.get("stats") or {}).get("member_count") or 0)} for item in lists]
            offset += len(lists)
            if not lists or offset >= int(body.get("total_items") or 0):
                return found

    def audience_upsert(self, list_id: str, contacts: list[dict[str, str]]) -> dict[str, int]:
        """One PUT per contact (idempotent by the subscriber hash); a contact Mailchimp refuses (a fake-looking
        or compliance-blocked address: 400) is counted as failed, the rest go on."""
        counts = {"upserted": 0, "failed": 0}
        for contact in contacts:
            email = contact["email"].strip()
            body: dict[str, Any] = {"email_address": email, "status_if_new": "subscribed"}
            merge = {k: v for k, v in (("FNAME", contact.get("first_name")), ("LNAME", contact.get("last_name")))
                     if v}
            if merge:
                body["merge_fields"] = merge
            try:
                self.http.put(f"/lists/{list_id}/members/{subscriber_hash(email)}", action="upsert_member",
                              json=body)
            except ProviderError as exc:
                if exc.transient or exc.status_code in (401, 403, 404):
                    raise  # Mailchimp down, or the token or the list gone: no point trying the next one
                counts["failed"] += 1
                continue
            counts["upserted"] += 1
        return counts
