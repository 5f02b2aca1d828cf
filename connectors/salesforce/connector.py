"""Connector for Salesforce (REST API): SOQL queries paged by `nextRecordsUrl`, and the ERP's consenting customers
upserted as Contacts or Leads by an external id field.

Connect: the OAuth 2.0 web server flow at `{LOGIN_URL}/services/oauth2/authorize` → `/services/oauth2/token`
(LOGIN_URL is `https://login.salesforce.com`, or `https://test.salesforce.com` for sandboxes; the connected app's
client in SALESFORCE_CLIENT_ID / SALESFORCE_CLIENT_SECRET; scopes `api refresh_token`, `prompt=consent` so a
refresh token is issued). The token answer names the org's `instance_url`: every API call goes there, so it is
kept in `config["instance_url"]` (and replaced when a refresh names another). Salesforce does not say when an
access token expires (the org's session timeout): a 401 `INVALID_SESSION_ID` is the signal, and
connectors/http.py then refreshes once and retries. A refresh Salesforce refuses (`invalid_grant`: the refresh
token revoked or expired) puts the integration in pending_auth through integrations/health.py
(connectors/tokens.py), and so does a refused session with no refresh token to try; a 401 that a fresh token
does not cure puts an active integration in error with what Salesforce said (`credentials_refused_message`).

The API version lives in one provider setting, SALESFORCE_API_VERSION (`v67.0`, Summer '26); paths are
`/services/data/{version}/…`.

Query: `GET …/query?q=<SOQL>` → `{totalSize, done, nextRecordsUrl?, records}`; `nextRecordsUrl` (a path on the
instance) is followed until `done`.

Upsert: `PATCH …/sobjects/{Contact|Lead}/{ExtIdField__c}/{value}` with the fields (never the external id itself,
it is in the path): 201 `created: true`, 200 `created: false` (204 from old versions), 300 when several records
carry the value (refused: nothing is written). The field is `config["external_id_field"]` (default
`Switchyard_Email__c`, a text field marked External ID and Unique that the admin adds to Contact and Lead) and the
value is the customer's lowercased email, so a retried push updates the same record.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar
from urllib.parse import quote

import requests
from django.utils import timezone

from config.errors import ApplicationError, ValidationError
from connectors.base import AuthKind, ConnectionResult, Connector, OAuthMeta, RateLimitPolicy, TokenSet
from connectors.capabilities import AudienceSink
from connectors.errors import AuthExpired, ProviderError, connection_failure
from connectors.http import elapsed_ms
from connectors.oauth2 import StandardOAuth2, token_set

DEFAULT_EXTERNAL_ID_FIELD = "Switchyard_Email__c"
OBJECTS = ("Contact", "Lead")
COUNTS = {"Contact": "SELECT COUNT() FROM Contact", "Lead": "SELECT COUNT() FROM Lead"}
LEAD_COMPANY = "[not provided]"  # Lead.Company is required; a shop's customer rarely names one


class SalesforceConnector(StandardOAuth2, AudienceSink, Connector):
    default_audience = "Contact"
    key = "salesforce"
    display_name = "Salesforce"
    integration_type = "crm"
    auth_kind = AuthKind.OAUTH2
    oauth = OAuthMeta(authorize_url="https://login.salesforce.com/services/oauth2/authorize",
                      token_url="https://login.salesforce.com/services/oauth2/token",
                      revoke_url="https://login.salesforce.com/services/oauth2/revoke",
                      default_scopes=("api", "refresh_token"),
                      extra_authorize_params={"prompt": "consent"})
    rate_limit = RateLimitPolicy(requests=25, per_seconds=1.0)  # concurrency, not a published rate: be gentle
    docs_url = "https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/"
    provider_settings: ClassVar = {"CLIENT_ID": "", "CLIENT_SECRET": "", "LOGIN_URL": "https://login.salesforce.com",
                                   "API_VERSION": "v67.0"}

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    def oauth_meta(self) -> OAuthMeta:
        login = self.setting("LOGIN_URL").rstrip("/")
        return OAuthMeta(authorize_url=f"{login}/services/oauth2/authorize",
                         token_url=f"{login}/services/oauth2/token", revoke_url=f"{login}/services/oauth2/revoke",
                         default_scopes=self.oauth.default_scopes,
                         extra_authorize_params=self.oauth.extra_authorize_params)

    def resolved_base_url(self) -> str:
        if self.integration.api_endpoint:
            return self.integration.api_endpoint.rstrip("/")
        instance = str(self.config.get("instance_url") or "")
        if not instance.startswith("https://"):
            raise ValidationError("The Salesforce instance is unknown: connect the integration again.",
                                  details={"config.instance_url": ["unknown"]})
        return instance.rstrip("/")

    def api_path(self, path: str) -> str:
        return f"/services/data/{self.setting('API_VERSION')}/{path.lstrip('/')}"

    # ------------------------------------------------------------------ connect
    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return self._tokens_with_instance(form, action="exchange_code")

    def refresh_access_token(self) -> TokenSet:
        if not self.integration.refresh_token:
            # Asked after Salesforce refused the session: with nothing to refresh, only a new connect helps
            # (a ProviderError, so connectors/tokens.py moves the integration to pending_auth).
            raise AuthExpired(f"Salesforce refused the session of {self.integration.code} and it has no refresh "
                              "token; connect it again.", transient=False)
        form = {"grant_type": "refresh_token", "refresh_token": self.integration.refresh_token}
        return self._tokens_with_instance(form, action="refresh_token")

    def _tokens_with_instance(self, form: dict[str, str], *, action: str) -> TokenSet:
        """A token call, keeping the `instance_url` (and identity URL) it names in `config`."""
        meta = self._meta()
        form, headers = self._client_auth(form)
        response = self.http.post(meta.token_url, action=action, data=form, headers=headers, authenticate=False)
        try:
            body = response.json()
        except ValueError:
            body = None
        tokens = token_set(body, separator=meta.scope_separator)
        instance = str(body.get("instance_url") or "")
        if not instance.startswith("https://"):
            raise ProviderError("Salesforce's token answer named no https instance_url.", transient=False)
        self.integration.config = {**self.config, "instance_url": instance.rstrip("/"),
                                   "identity_url": str(body.get("id") or self.config.get("identity_url") or "")}
        if self.integration.pk is not None:  # token calls save only the token fields
            type(self.integration).objects.filter(pk=self.integration.pk).update(
                config=self.integration.config, updated_at=timezone.now())
        return tokens

    def account_display_name(self) -> str:
        return str(self.config.get("instance_url") or "").removeprefix("https://")

    def is_auth_expired(self, response: requests.Response) -> bool:
        """401 is Salesforce's `INVALID_SESSION_ID` (the session timed out or was revoked)."""
        return response.status_code == 401

    def credentials_refused_message(self, error: AuthExpired, *, action: str) -> str | None:
        if action == "ping":
            return None  # the connection test reports it to whoever asked
        return (f"Salesforce refused the session of {self.integration.code} ({error.provider_message or 'HTTP 401'})"
                " and no refresh cured it: connect the integration again.")

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            response = self.http.get(self.api_path("limits"), action="ping")
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('Salesforce', exc)}: {exc.message}")
        usage = response.headers.get("Sforce-Limit-Info", "")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"Salesforce {self.account_display_name()}" + (f" ({usage})" if usage else ""))

    # ------------------------------------------------------------------ query
    def query(self, soql: str) -> list[dict[str, Any]]:
        """Every record the SOQL query returns (its pages followed by `nextRecordsUrl` until `done`)."""
        records: list[dict[str, Any]] = []
        body = self.http.get(self.api_path("query"), action="query", params={"q": soql}).json()
        while True:
            records += body.get("records") or []
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                return records
            body = self.http.get(str(next_url), action="query_more").json()

    # ------------------------------------------------------------------ upsert
    def external_id_field(self) -> str:
        field = str(self.config.get("external_id_field") or DEFAULT_EXTERNAL_ID_FIELD)
        if not field.replace("_", "").isalnum():
            raise ValidationError("config.external_id_field is not a field name.",
                                  details={"config.external_id_field": ["not a field name"]})
        return field

    def upsert(self, sobject: str, value: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Create or update the one `sobject` whose external id field holds `value`: `{id, created}`.

        300 (several records hold the value) is refused as a ProviderError: which one to write is the admin's
        call, and writing none is the safe answer."""
        path = self.api_path(f"sobjects/{sobject}/{self.external_id_field()}/{quote(value, safe='')}")
        response = self.http.request("PATCH", path, action=f"upsert_{sobject.lower()}", json=fields)
        if response.status_code == 300:
            raise ProviderError(f"Several Salesforce {sobject} records have {self.external_id_field()} = {value!r};"
                                " none was changed.", status_code=300, transient=False)
        body = response.json() if response.content else {}
        return {"id": str(body.get("id") or ""), "created": bool(body.get("created", False))}

    def audience_lists(self) -> list[dict[str, Any]]:
        """The objects customers can become: Contact (default) or Lead (`config["list_id"]`), with their counts."""
        found = []
        for sobject, soql in COUNTS.items():
            body = self.http.get(self.api_path("query"), action="count", params={"q": soql}).json()
            found.append({"id": sobject, "name": f"Salesforce {sobject}s",
                          "member_count": int(body.get("totalSize") or 0)})
        return found

    def audience_upsert(self, list_id: str, contacts: list[dict[str, str]]) -> dict[str, int]:
        """One PATCH per customer; a record Salesforce refuses (a bad value, a duplicate: 400, 300) is counted as
        failed and the rest go on. The session refused, a missing field or object (404), or Salesforce down stops
        the push."""
        if list_id not in OBJECTS:
            raise ValidationError(f"Salesforce customers go to Contact or Lead, not {list_id!r}.",
                                  details={"config.list_id": [f"one of {', '.join(OBJECTS)}"]})
        counts = {"upserted": 0, "failed": 0}
        for contact in contacts:
            email = contact["email"].strip().lower()
            fields = {"Email": email, "FirstName": contact.get("first_name") or "",
                      "LastName": contact.get("last_name") or contact.get("first_name") or email}
            if list_id == "Lead":
                fields["Company"] = LEAD_COMPANY
            try:
                self.upsert(list_id, email, fields)
            except ProviderError as exc:
                if exc.transient or exc.status_code in (401, 403, 404):
                    raise
                counts["failed"] += 1
                continue
            counts["upserted"] += 1
        return counts
