"""Meta's Graph API as every connector of a Meta platform speaks it: one version setting, one reading of its
errors and usage headers (the ad accounts' and the Pages' connectors share them; a fix here is a fix for both).

Version: paths carry it (`/v27.0/me/accounts`); `META_GRAPH_API_VERSION` holds it for every Meta connector, so
moving to a new version (Meta keeps each about two years) is one variable.

Errors: `{"error": {"message", "type": "OAuthException", "code", "error_subcode", "fbtrace_id"}}`, mostly with
HTTP 400 whatever the cause. The code decides:
- 190 (and the old 102): the token is expired, revoked or invalid → the HTTP client refreshes once, and a
  refused refresh sends the integration to pending_auth (connectors/tokens.py, integrations/health.py);
- 4, 17, 32, 613, 80000–80014: an app, user, page or ad account over its limit → a wait, never a failure:
  `X-Business-Use-Case-Usage` says how long (`estimated_time_to_regain_access`, minutes); the client sleeps up to
  a minute and retries, a longer wait is RATE_LIMITED for the job to retry later;
- 10 and 200–299: a permission the token lacks → a permanent ProviderError (a retry cannot grant it);
- 506: a duplicate post (the same message posted again within a short while) — the Pages connector decides what
  that means for a publish.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

from django.conf import settings

from connectors.base import OAuthMeta, TokenSet
from connectors.errors import ProviderError
from connectors.oauth2 import token_set

if TYPE_CHECKING:
    import requests

DEFAULT_VERSION = "v27.0"
THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
TOKEN_ERROR_CODES = frozenset({190, 102})
DUPLICATE_POST = 506


def graph_version() -> str:
    """The Graph API version of every Meta call (`META_GRAPH_API_VERSION`)."""
    return str(getattr(settings, "META_GRAPH_API_VERSION", "") or DEFAULT_VERSION)


def is_permission_code(code: int | None) -> bool:
    return code == 10 or (code is not None and 200 <= code <= 299)


def graph_error(response: requests.Response) -> dict[str, Any]:
    """The `error` object of an answer ({} when there is none or the body is no JSON)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def error_code(response: requests.Response) -> int | None:
    """The Graph error code of a refused answer (None for a success or a body without one)."""
    if response.status_code < 400:
        return None
    try:
        return int(graph_error(response).get("code"))
    except (TypeError, ValueError):
        return None


def usage_wait(response: requests.Response) -> float:
    """The longest `estimated_time_to_regain_access` (minutes) in X-Business-Use-Case-Usage, in seconds."""
    try:
        usage = json.loads(response.headers.get("X-Business-Use-Case-Usage") or "{}")
    except ValueError:
        return 0.0
    minutes = [float(entry.get("estimated_time_to_regain_access") or 0)
               for entries in (usage.values() if isinstance(usage, dict) else [])
               for entry in (entries if isinstance(entries, list) else []) if isinstance(entry, dict)]
    return max(minutes, default=0.0) * 60


def throttled_seconds(response: requests.Response) -> float | None:
    """A throttle's wait in seconds (0.0: Meta named none, back off), or None when the answer is no throttle."""
    return usage_wait(response) if error_code(response) in THROTTLE_CODES else None


def is_token_refused(response: requests.Response) -> bool:
    return response.status_code == 401 or error_code(response) in TOKEN_ERROR_CODES


def handshake(query: Mapping[str, str], method: str, tokens: Iterable[str]) -> tuple[int, Any] | None:
    """The subscription check (`GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`): echo the challenge
    when the verify token is one of `tokens`; None (refused, nothing stored) otherwise."""
    mode, token, challenge = (query.get(k, "") for k in ("hub.mode", "hub.verify_token", "hub.challenge"))
    if method.upper() != "GET" or mode != "subscribe" or not token or not challenge or len(challenge) > 256:
        return None
    if not any(expected and hmac.compare_digest(expected.encode(), token.encode()) for expected in tokens):
        return None
    return 200, challenge


class MetaLogin:
    """Meta's login, as every Meta connector runs it (mixed in before the OAuthConnect capability).

    The dialog and token endpoints sit on the one Graph version (on `api_endpoint` when it is set: the
    simulator answers both). A code becomes a short-lived token and at once a long-lived one (~60 days; the
    short one is never stored). Meta has no refresh token: the long-lived token is kept as the refresh
    credential too, and the beat's refresh (which looks for one) renews it by exchanging it again before it
    expires. Each connector names its dialog host (`login_dialog`) and scopes (`login_scopes`).
    """

    login_dialog: ClassVar[str] = ""
    login_scopes: ClassVar[tuple[str, ...]] = ()
    login_name: ClassVar[str] = "Meta"  # how errors name the platform

    def oauth_meta(self) -> OAuthMeta:
        graph = self.resolved_base_url()
        dialog = graph if self.integration.api_endpoint else self.login_dialog
        return OAuthMeta(authorize_url=f"{dialog}/{graph_version()}/dialog/oauth",
                         token_url=f"{graph}/{graph_version()}/oauth/access_token",
                         default_scopes=self.login_scopes, scope_separator=",")

    def authorize_url(self, *, state: str, redirect_uri: str, scopes, code_challenge: str = "", **params: str) -> str:
        client_id, _ = self.oauth_client_credentials()
        query = {"client_id": client_id, "redirect_uri": redirect_uri, "state": state,
                 "scope": ",".join(scopes or self.login_scopes), "response_type": "code"}
        return f"{self.oauth_meta().authorize_url}?{urlencode(query)}"

    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        client_id, client_secret = self.oauth_client_credentials()
        short = self._token_call({"client_id": client_id, "client_secret": client_secret,
                                  "redirect_uri": redirect_uri, "code": code}, action="exchange_code")
        return self._long_lived(short.access_token, action="exchange_long_lived_token")

    def refresh_access_token(self) -> TokenSet:
        """Exchange the current long-lived token for a fresh one; Meta refuses an expired token (code 190), which
        the token module turns into pending_auth."""
        current = self.integration.refresh_token or self.integration.access_token
        if not current:
            raise ProviderError(f"{self.login_name} has no token to exchange: connect the integration again.",
                                transient=False)
        return self._long_lived(current, action="refresh_token")

    def _token_call(self, params: dict[str, str], *, action: str) -> TokenSet:
        response = self.http.get(self.oauth_meta().token_url, action=action, params=params, authenticate=False)
        try:
            body = response.json()
        except ValueError:
            body = None
        return token_set(body, separator=",")

    def _long_lived(self, token: str, *, action: str) -> TokenSet:
        client_id, client_secret = self.oauth_client_credentials()
        long = self._token_call({"grant_type": "fb_exchange_token", "client_id": client_id,
                                 "client_secret": client_secret, "fb_exchange_token": token}, action=action)
        return TokenSet(access_token=long.access_token, refresh_token=long.access_token, expires_at=long.expires_at,
                        token_type="Bearer", scope=self.login_scopes)
