"""Helpers for the OAuth tests: a plain RFC 6749/7636/7009 server on 127.0.0.1, and walking a consent in a test.

The sandbox speaks Shopify's OAuth (no PKCE, no revocation); this server is the
"in-house OAuth 2.0 server" the generic provider is for: it checks the PKCE
verifier against the challenge, the client's authentication (post or basic),
the redirect URI of the code, and rotates refresh tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import requests

from webhooks.models import WebhookDelivery, WebhookEndpoint

CLIENT_ID, CLIENT_SECRET = "generic-client-ID1234", "generic-secret-SEC5678"
REDIRECT_URI = "https://app.example.com/oauth/done"


class OAuthServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *, token_ttl: int = 3600):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.token_ttl = token_ttl
        self.codes: dict[str, dict] = {}
        self.access: set[str] = set()
        self.refresh: set[str] = set()
        self.revoked: list[dict] = []
        self.counts = {"code_grants": 0, "refresh_grants": 0, "token_errors": 0}
        self.client_auth_seen: list[str] = []
        self.fail_token_with: int | None = None
        self.fail_revoke_with: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def config(self, **extra) -> dict:
        return {"authorize_url": f"{self.url}/authorize", "token_url": f"{self.url}/token",
                "revoke_url": f"{self.url}/revoke", "userinfo_url": f"{self.url}/userinfo",
                "scopes": ["read", "write"], "pkce": True, **extra}

    def issue(self) -> dict:
        access, refresh = f"at-{secrets.token_hex(8)}", f"rt-{secrets.token_hex(8)}"
        self.access.add(access)
        self.refresh.add(refresh)
        return {"access_token": access, "refresh_token": refresh, "token_type": "bearer",
                "expires_in": self.token_ttl, "scope": "read write"}


class _Handler(BaseHTTPRequestHandler):
    server: OAuthServer

    def log_message(self, *args):
        pass

    def _answer(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        payload = json.dumps(body or {}).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length", 0))
        return {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

    def _client_ok(self, form: dict[str, str]) -> bool:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            self.server.client_auth_seen.append("basic")
            return unquote(client_id) == CLIENT_ID and unquote(secret) == CLIENT_SECRET
        self.server.client_auth_seen.append("post")
        return form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET

    def do_GET(self):
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/authorize":
            code = secrets.token_hex(8)
            with self.server.lock:
                self.server.codes[code] = query
            target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
            return self._answer(302, headers={"Location": target})
        if parts.path == "/userinfo":
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in self.server.access:
                return self._answer(401, {"error": "invalid_token"})
            return self._answer(200, {"sub": "42", "name": "Ada Lovelace", "email": "ada@example.com"})
        return self._answer(404)

    def do_POST(self):
        form = self._form()
        path = urlsplit(self.path).path
        if path == "/revoke":
            if self.server.fail_revoke_with:
                return self._answer(self.server.fail_revoke_with, {"error": "server_error"})
            with self.server.lock:
                self.server.revoked.append(form)
                self.server.refresh.discard(form.get("token", ""))
                self.server.access.discard(form.get("token", ""))
            return self._answer(200)
        if path != "/token":
            return self._answer(404)
        if self.server.fail_token_with:
            return self._answer(self.server.fail_token_with, {"error": "server_error", "error_description": "down"})
        with self.server.lock:
            if not self._client_ok(form):
                self.server.counts["token_errors"] += 1
                return self._answer(401, {"error": "invalid_client"})
            if form.get("grant_type") == "authorization_code":
                started = self.server.codes.pop(form.get("code", ""), None)
                if started is None or started.get("redirect_uri") != form.get("redirect_uri"):
                    self.server.counts["token_errors"] += 1
                    return self._answer(400, {"error": "invalid_grant", "error_description": "bad code"})
                if started.get("code_challenge"):
                    digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                    if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != started["code_challenge"]:
                        self.server.counts["token_errors"] += 1
                        return self._answer(400, {"error": "invalid_grant", "error_description": "PKCE failed"})
                self.server.counts["code_grants"] += 1
                return self._answer(200, self.server.issue())
            if form.get("grant_type") == "refresh_token":
                if form.get("refresh_token") not in self.server.refresh:
                    self.server.counts["token_errors"] += 1
                    return self._answer(400, {"error": "invalid_grant", "error_description": "refresh token revoked"})
                self.server.refresh.discard(form["refresh_token"])
                self.server.counts["refresh_grants"] += 1
                return self._answer(200, self.server.issue())
        return self._answer(400, {"error": "unsupported_grant_type"})


def running_oauth_server(**kwargs):
    server = OAuthServer(**kwargs)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server


def consent(authorization_url: str) -> dict[str, str]:
    """Follow the authorization URL like a browser whose user says yes; the callback query the provider sends."""
    answer = requests.get(authorization_url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def callback_path(provider: str) -> str:
    return f"/api/integrations/oauth/callback/{provider}/"


def outcome(response) -> dict[str, str]:
    """The query of the callback's redirect (to the client's redirect URI)."""
    assert response.status_code == 302, getattr(response, "content", b"")[:500]
    return {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}


def subscribe_all(organization) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(organization=organization, url="https://hooks.example.com/in",
                                          events=["*"], secret="whsec_test")


def published(organization, event: str) -> list[dict]:
    return [d.payload["data"] for d in WebhookDelivery.objects.filter(organization=organization, event=event)]
