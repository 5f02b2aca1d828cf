"""HTTP calls to FAN Courier's API v2 (https://api.fancourier.ro), through the one provider HTTP client.

Authentication: `POST login` with the account's username and password answers a
bearer token valid 24 h. The token belongs to the FAN Courier company account,
not to one integration, so it is cached per company (client id + username) in
the Django cache — Redis in production, so every worker reuses it — for its
validity less a margin. A 401 means the token was revoked or expired early: it is
dropped and one new login is tried before the call is retried once; a second
401 is AuthExpired. The token is a secret: it travels only in the
Authorization header (redacted by name in IntegrationLog) and the login
answer's `token` field (redacted by name too); it is never logged or raised.

What can go wrong: two workers with no cached token both log in (harmless: the
second token overwrites the first in the cache and both stay valid).
"""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.utils import timezone

from connectors.errors import AuthExpired, ProviderError

from .mapping import parse_date

if TYPE_CHECKING:
    import requests

    from connectors.http import ProviderClient

API_ROOT = "https://api.fancourier.ro"
TOKEN_LIFETIME = timedelta(hours=24)
TOKEN_MARGIN = timedelta(minutes=10)  # stop using a token this long before FAN Courier says it expires
_login_lock = threading.Lock()


class FanCourierClient:
    def __init__(self, http: ProviderClient, *, username: str, password: str, client_id: str):
        self.http = http
        self.username, self.password, self.client_id = username, password, client_id

    # ---------------------------------------------------------------- token
    @property
    def cache_key(self) -> str:
        company = hashlib.sha256(f"{self.client_id}:{self.username}".encode()).hexdigest()[:32]
        return f"fancourier:token:{company}"

    def token(self) -> str:
        """The company's cached token, or a new one from a login."""
        token = cache.get(self.cache_key)
        if token:
            return token
        with _login_lock:  # threads of one worker log in once
            return cache.get(self.cache_key) or self.login()

    def forget_token(self, stale: str) -> None:
        """Drop `stale` from the cache unless another caller already replaced it."""
        if cache.get(self.cache_key) == stale:
            cache.delete(self.cache_key)

    def login(self) -> str:
        """`POST login`; caches and returns the token. AuthExpired when FAN Courier refuses the credentials."""
        try:
            response = self.http.request("POST", "/login", action="login", authenticate=False,
                                         data={"username": self.username, "password": self.password})
        except ProviderError as exc:
            if exc.status_code in (401, 403, 422):
                raise self._refused(exc.provider_message) from None
            raise
        body = _json(response)
        data = body.get("data") if isinstance(body, dict) else None
        token = data.get("token") if isinstance(data, dict) else None
        if body.get("status") != "success" or not token:
            raise self._refused(str(body.get("message") or "") if isinstance(body, dict) else "")
        expires_at = parse_date(data.get("expiresAt")) or timezone.now() + TOKEN_LIFETIME
        seconds = int((min(expires_at, timezone.now() + TOKEN_LIFETIME) - TOKEN_MARGIN - timezone.now())
                      .total_seconds())
        if seconds > 0:
            cache.set(self.cache_key, token, seconds)
        return token

    @staticmethod
    def _refused(provider_message: str) -> AuthExpired:
        detail = f" ({provider_message})" if provider_message else ""
        return AuthExpired(f"FAN Courier refused the username and password{detail}; check them and the client id.",
                           status_code=401, provider_message=provider_message)

    # ---------------------------------------------------------------- calls
    def call(self, method: str, path: str, *, action: str, **kwargs: Any) -> requests.Response:
        """One authenticated call; on a 401 one new login and one retry. A refused login or a second 401 is
        AuthExpired, which the HTTP client records on the integration's health (connectors/http.py)."""
        try:
            return self._call(method, path, action=action, **kwargs)
        except AuthExpired as exc:
            self.http.credentials_refused(exc, action=action)
            raise

    def _call(self, method: str, path: str, *, action: str, **kwargs: Any) -> requests.Response:
        token = self.token()
        try:
            return self.http.request(method, path, action=action, authenticate=False,
                                     headers={"Authorization": f"Bearer {token}"}, **kwargs)
        except ProviderError as exc:
            if exc.status_code != 401:
                raise
        self.forget_token(token)
        token = self.token()
        try:
            return self.http.request(method, path, action=action, authenticate=False,
                                     headers={"Authorization": f"Bearer {token}"}, **kwargs)
        except ProviderError as exc:
            if exc.status_code == 401:
                self.forget_token(token)
                raise AuthExpired("FAN Courier refused a fresh token (HTTP 401 after a new login); check the "
                                  "account's API access.", status_code=401,
                                  provider_message=exc.provider_message) from None
            raise

    def create_awb(self, body: dict[str, Any]) -> dict[str, Any]:
        return _json(self.call("POST", "/intern-awb", action="create_awb", json=body))

    def track(self, awb_numbers: list[str], *, language: str = "ro") -> list[dict[str, Any]]:
        params = {"clientId": self.client_id, "awb[]": list(awb_numbers), "language": language}
        body = _json(self.call("GET", "/reports/awb/tracking", action="track_awbs", params=params))
        return [row for row in body.get("data") or [] if isinstance(row, dict)]

    def label(self, awb_numbers: list[str], *, page_format: str = "A6", language: str = "ro") -> bytes:
        """`GET awb/label` with `pdf=1`: the AWBs' label as PDF bytes. FAN Courier answers JSON
        (`{"status": "fail", "message"}`) instead when it has no label for them: ProviderError with its message."""
        params = {"clientId": self.client_id, "awbs[]": list(awb_numbers), "pdf": 1, "language": language,
                  "format": page_format}
        response = self.call("GET", "/awb/label", action="print_awb_label", params=params)
        content = response.content or b""
        if content.lstrip()[:5] == b"%PDF-":
            return content
        try:
            body = response.json()
        except ValueError:
            body = {}
        message = str(body.get("message") or "") if isinstance(body, dict) else ""
        raise ProviderError(f"FAN Courier gave no label for AWB {', '.join(awb_numbers)}"
                            f"{': ' + message if message else ''}.", status_code=404, provider_message=message)

    def counties(self) -> list[dict[str, Any]]:
        body = _json(self.call("GET", "/reports/counties", action="list_counties"))
        return [row for row in body.get("data") or [] if isinstance(row, dict)]

    def localities(self, county: str) -> list[dict[str, Any]]:
        body = _json(self.call("GET", "/reports/localities", action="list_localities", params={"county": county}))
        return [row for row in body.get("data") or [] if isinstance(row, dict)]


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(f"FAN Courier answered HTTP {response.status_code} with a body that is not JSON.",
                            status_code=response.status_code) from None
    if not isinstance(body, dict):
        raise ProviderError("FAN Courier answered with JSON that is not an object.", status_code=response.status_code)
    return body
