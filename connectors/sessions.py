"""One pooled `requests.Session` per integration, kept for the life of the process.

Reusing a session keeps TCP/TLS connections to the provider open between calls
(and between Celery tasks run by the same worker). Sessions are cached per
integration id, at most `MAX_SESSIONS` of them (least recently used closed
first), and forgotten in a forked child (Celery's prefork pool) so that two
processes never share a socket.

Redirects are followed only within the same origin (scheme, host, port): the
origin was checked against the outbound allowlist and holds the auth headers
we added, so a redirect elsewhere (a different host, or the metadata service)
is returned to the caller as the 3xx response instead of being followed.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

MAX_SESSIONS = 256
POOL_CONNECTIONS = 4  # distinct hosts per integration (API, token endpoint, CDN…)
POOL_MAXSIZE = 32  # concurrent connections per host (threads sharing the session)
USER_AGENT = "Switchyard/1.0 (+integration hub)"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(parts.scheme)


class ProviderSession(requests.Session):
    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is None:
            return None
        absolute = urljoin(resp.url, target if isinstance(target, str) else target.decode("latin-1"))
        return target if _origin(absolute) == _origin(resp.url) else None


def new_session() -> ProviderSession:
    session = ProviderSession()
    adapter = HTTPAdapter(pool_connections=POOL_CONNECTIONS, pool_maxsize=POOL_MAXSIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.max_redirects = 5
    return session


_sessions: OrderedDict[int, ProviderSession] = OrderedDict()
_lock = threading.Lock()


def session_for(integration_id: int | None) -> ProviderSession:
    """The shared session of an integration (a fresh one for an unsaved integration)."""
    if integration_id is None:
        return new_session()
    with _lock:
        session = _sessions.get(integration_id)
        if session is None:
            session = _sessions[integration_id] = new_session()
            while len(_sessions) > MAX_SESSIONS:
                _, evicted = _sessions.popitem(last=False)
                evicted.close()
        else:
            _sessions.move_to_end(integration_id)
        return session


def close_sessions() -> None:
    """Close and forget every cached session (tests; a worker shutting down)."""
    with _lock:
        while _sessions:
            _sessions.popitem()[1].close()


def _forget_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    _sessions.clear()  # the parent's sockets are not ours to use or close


os.register_at_fork(after_in_child=_forget_in_child)
