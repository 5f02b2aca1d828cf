"""Connector for Google Drive v3 with a service account.

Credentials: the service account's JSON key, stored encrypted in `credentials` — either as the key file's
object itself or as `{"service_account": "<the key file's text>"}` (one string: the call log's redaction
then hides the whole key without also blanking its public fields, such as the token URL, wherever they
appear). `config.subject` (optional): a user the account acts for by domain-wide delegation.

Token: the JWT bearer grant (RFC 7523). google-auth signs the assertion (`google.auth.crypt.RSASigner`,
`google.auth.jwt.encode`: RS256, `iss` = the account, `aud` = the token URL, `exp` = `iat` + 1 h) and the
assertion is POSTed to https://oauth2.googleapis.com/token through the project's HTTP client, so the grant
is rate limited, retried and logged (the assertion redacted) like every call; google-auth's own transport
is not used. The token is kept encrypted on the integration with its expiry and scopes and renewed under
the token lock (connectors/tokens.py) a minute before it expires, after a 401, or when the scopes needed
changed. A refused grant (a deleted key: `invalid_grant`) puts the integration in pending_auth.

Scopes: `drive.readonly` always (folders, images, downloads); `drive.file` added only when the integration
writes backups (`config.backup.folder_id`): it lets the account create files and see and delete only the
files it created, which is exactly what backups and their retention need — never the rest of the drive.

Config: `folders` (Drive folder ids to scan; their tree and images), `max_depth` (default 5),
`backup` ({"folder_id", "keep"}: syncjobs/backups.py). The backup folder must be in a shared drive the
account is a content manager of (service accounts have no storage quota of their own), or use `subject`.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from django.utils import timezone
from google.auth import crypt, jwt

from config.beat import PeriodicJob
from config.errors import ApplicationError, ValidationError
from connectors import tokens
from connectors.base import AuthKind, ConnectionResult, Connector, RateLimitPolicy, TokenSet
from connectors.capabilities import FileStore
from connectors.errors import AuthExpired, ProviderError, connection_failure
from connectors.http import elapsed_ms

from .client import DriveClient

TOKEN_URL = "https://oauth2.googleapis.com/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
READONLY = "https://www.googleapis.com/auth/drive.readonly"
FILE = "https://www.googleapis.com/auth/drive.file"
ASSERTION_LIFETIME = 3600  # Google's maximum


class GoogleDriveConnector(FileStore, Connector):
    key = "google_drive"
    display_name = "Google Drive"
    integration_type = "storage"
    auth_kind = AuthKind.SERVICE_ACCOUNT
    base_url = "https://www.googleapis.com"
    # Drive's default quota is 12,000 queries a minute per project; one integration stays far below.
    rate_limit = RateLimitPolicy(requests=10, per_seconds=1.0)
    docs_url = "https://developers.google.com/workspace/drive/api/reference/rest/v3"
    tasks_module = "connectors.google_drive.tasks"
    periodic_jobs = (PeriodicJob("drive-scan", "connectors.google_drive.tasks.scan_drive_folders", 3600),)

    # ------------------------------------------------------------------ plumbing
    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    @property
    def client(self) -> DriveClient:
        self.ensure_token()
        return DriveClient(self.http, page_size=int(self.config.get("page_size") or 1000))

    def service_account(self) -> dict[str, Any]:
        """The key file's fields; ValidationError naming what is missing."""
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        raw: Any = credentials.get("service_account", credentials if credentials.get("private_key") else None)
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise ValidationError("credentials.service_account is not the key file's JSON.",
                                      details={"credentials.service_account": ["not JSON"]}) from None
        if not isinstance(raw, dict) or raw.get("type", "service_account") != "service_account":
            raise ValidationError("A Google Drive integration needs a service account's JSON key in credentials.",
                                  details={"credentials": ["service account key required"]})
        missing = [name for name in ("client_email", "private_key") if not raw.get(name)]
        if missing:
            raise ValidationError("The service account key lacks " + ", ".join(missing) + ".",
                                  details={f"credentials.{name}": ["required"] for name in missing})
        return raw

    def scopes(self) -> list[str]:
        backup = self.config.get("backup") if isinstance(self.config.get("backup"), dict) else {}
        return [READONLY, FILE] if backup.get("folder_id") else [READONLY]

    def refresh_access_token(self) -> TokenSet:
        """The JWT grant: an assertion signed with the account's key by google-auth, POSTed by our client."""
        info = self.service_account()
        try:
            signer = crypt.RSASigner.from_service_account_info(info)
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"The service account's private key cannot sign: {type(exc).__name__}.",
                                  details={"credentials.private_key": ["unreadable"]}) from None
        now = int(time.time())
        scopes = self.scopes()
        claims = {"iss": info["client_email"], "scope": " ".join(scopes), "aud": TOKEN_URL, "iat": now,
                  "exp": now + ASSERTION_LIFETIME}
        if self.config.get("subject"):
            claims["sub"] = str(self.config["subject"])
        assertion = jwt.encode(signer, claims).decode()
        response = self.http.request("POST", TOKEN_URL, action="token_grant", authenticate=False,
                                     data={"grant_type": JWT_GRANT, "assertion": assertion})
        try:
            body = response.json()
            token = str(body["access_token"])
            expires_in = int(body.get("expires_in") or ASSERTION_LIFETIME)
        except (ValueError, KeyError, TypeError):
            raise ProviderError("Google's token endpoint answered without an access token.",
                                status_code=response.status_code) from None
        return TokenSet(access_token=token, expires_at=timezone.now() + timedelta(seconds=expires_in),
                        token_type=str(body.get("token_type") or "Bearer"), scope=tuple(scopes))

    def ensure_token(self) -> None:
        """A token before the first call, and a new one when the scopes needed grew (a backup folder was set)."""
        integration = self.integration
        if not integration.access_token or not set(self.scopes()) <= set(integration.scope or []):
            tokens.refresh_token(self, stale_token=integration.access_token, force=True)

    def is_auth_expired(self, response) -> bool:
        return response.status_code == 401  # a revoked or expired token: one new grant and one retry

    def credentials_refused_message(self, error: AuthExpired, *, action: str) -> str | None:
        return None if action == "about" else f"{error.message} Check the service account's key and access."

    # ------------------------------------------------------------------ reads
    def test_connection(self) -> ConnectionResult:
        """A token grant, who the account is, and that each configured folder is reachable (and the backup
        folder writable)."""
        started = time.monotonic()
        try:
            client = self.client
            user = client.about().get("user") or {}
            problems = []
            for folder in self.folder_ids():
                if not client.file(folder).get("mimeType", "").endswith(".folder"):
                    problems.append(f"{folder} is not a folder")
            backup = (self.config.get("backup") or {}).get("folder_id") if isinstance(self.config.get("backup"),
                                                                                     dict) else ""
            if backup and not (client.file(backup).get("capabilities") or {}).get("canAddChildren"):
                problems.append(f"the backup folder {backup} is not writable by the service account")
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('Google Drive', exc)}: {exc.message}")
        who = user.get("emailAddress") or "the service account"
        if problems:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"Connected as {who}, but " + "; ".join(problems) + ".")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started), detail=f"Connected to Google Drive as {who}.")

    def folder_ids(self) -> list[str]:
        folders = self.config.get("folders") or []
        if isinstance(folders, str):
            folders = [folders]
        return [str(f).strip() for f in folders if str(f).strip()]

    def download(self, file_id: str) -> bytes:
        return self.client.download(file_id)

    # ------------------------------------------------------------------ FileStore
    def folder_files(self, folder_id: str) -> list[dict[str, Any]]:
        return [{"id": f["id"], "name": f.get("name", ""), "mime_type": f.get("mimeType", "")}
                for page in self.client.children(folder_id) for f in page]

    def upload_file(self, *, folder_id: str, name: str, content: bytes, mime_type: str) -> dict[str, Any]:
        return self.client.upload(folder_id=folder_id, name=name, content=content, mime_type=mime_type)

    def delete_file(self, file_id: str) -> None:
        self.client.delete(file_id)
