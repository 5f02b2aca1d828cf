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
from typing import TYPE_CHECKING, Any

from django.conf import settings

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
