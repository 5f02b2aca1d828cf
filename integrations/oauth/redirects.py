"""Where a browser may be sent back to after an OAuth handshake, and the URL it is sent to.

A client redirect URI is allowed when it falls under one of the prefixes in
`OAUTH_ALLOWED_REDIRECT_URIS`, the organization's `oauth_redirect_uris`, or
this app's own admin (the admin's Connect button comes back there). "Falls
under" is judged on the parsed URL, not the string: same scheme, host and
port, and a path that is the prefix's path or continues it at a `/` — so
`https://app.example.com` does not admit `https://app.example.com.evil.net/`,
nor `/cb` admit `/cbx`. Fragments and user info are refused outright.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.urls import reverse

from accounts.models import Organization

CALLBACK_URL_NAME = "oauth-callback"
RESULT_PARAMS = ("status", "integration_id", "code", "message")


def callback_url(provider: str) -> str:
    """The redirect URI providers are given: `{PUBLIC_BASE_URL}/api/integrations/oauth/callback/{provider}/`."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse(CALLBACK_URL_NAME, kwargs={"provider": provider})


def admin_return_prefix() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("admin:integrations_integration_changelist")


def _origin(parts) -> tuple[str, str, int | None]:
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def under_prefix(uri: str, prefix: str) -> bool:
    try:
        candidate, allowed = urlsplit(uri), urlsplit(prefix.strip())
        if _origin(candidate) != _origin(allowed):
            return False
    except ValueError:  # a port out of range
        return False
    base = allowed.path.rstrip("/")
    return candidate.path == base or candidate.path.startswith(base + "/") or (not base and not candidate.path)


def redirect_uri_allowed(uri: str, organization: Organization) -> bool:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment or "@" in parts.netloc:
        return False
    prefixes: Iterable[str] = [
        *settings.OAUTH_ALLOWED_REDIRECT_URIS,
        *(p for p in (organization.oauth_redirect_uris or []) if isinstance(p, str)),
        admin_return_prefix(),
    ]
    return any(prefix and under_prefix(uri, prefix) for prefix in prefixes)


def result_url(redirect_uri: str, **params: str | int) -> str:
    """`redirect_uri` with the outcome in its query; the client's own query parameters are kept."""
    parts = urlsplit(redirect_uri)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in RESULT_PARAMS]
    query += [(k, str(v)) for k, v in params.items()]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
