"""The sandbox's ad platform: a Meta Marketing API look-alike under `/meta/<version>/`.

What it serves (Graph API shapes): the OAuth dialog (it always consents) and `oauth/access_token` (code →
short-lived token, `grant_type=fb_exchange_token` → long-lived token), `me`, `me/adaccounts`,
`act_<id>/campaigns`, `act_<id>/adsets` and `act_<id>/insights` (campaign level, one row per day) with cursor
paging — `paging.cursors.after` on every page, `paging.next` only when there is more — `GET /<campaign id>`,
`GET /?ids=…`, and `POST /<campaign id>` with `status` or `daily_budget`/`lifetime_budget` (minor units; a daily
budget under 1.00 is refused the way Meta refuses it, code 100 with `error_user_msg`).

Throttling: with `throttle_every=n`, every n-th API call is answered HTTP 400, error code 80004, with an
`X-Business-Use-Case-Usage` header whose `estimated_time_to_regain_access` is 0 (try again at once).
Insights are derived from the seed: the same seed, campaign and day always give the same figures. Async
report runs are not simulated (the connector uses them only for ranges over 31 days).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections import Counter
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

ACCOUNT_ID = "1001"
META_CLIENT_ID = "sandbox-meta-app"
META_CLIENT_SECRET = "sandbox-meta-secret"  # noqa: S105 - the simulator's published demo app secret
PAGE_DEFAULT = 25


class MetaError(Exception):
    def __init__(self, status: int, code: int, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": "OAuthException", "code": self.code,
                          "fbtrace_id": secrets.token_hex(6), **self.extra}}


class MetaAdsSimulator:
    def __init__(self, *, seed: int = 1, currency: str = "EUR", campaigns: int = 3, throttle_every: int = 0,
                 client_id: str = META_CLIENT_ID, client_secret: str = META_CLIENT_SECRET):
        self.seed, self.currency, self.throttle_every = seed, currency, throttle_every
        self.client_id, self.client_secret = client_id, client_secret
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.updates: list[tuple[str, str, str]] = []  # (campaign id, field, value) of every accepted POST
        self.codes: set[str] = set()
        self.tokens: dict[str, str] = {}  # token -> "short" | "long"
        stamp = "2026-11-20T10:00:00+0000"
        self.campaigns: dict[str, dict[str, Any]] = {}
        names = ["Spring sale", "Brand awareness", "Retargeting", "New arrivals", "Clearance"]
        for i in range(campaigns):
            cid = f"1202100000000{i + 1:02d}"
            self.campaigns[cid] = {"id": cid, "account_id": ACCOUNT_ID, "name": names[i % len(names)],
                                   "status": "PAUSED" if i == 1 else "ACTIVE",
                                   "effective_status": "PAUSED" if i == 1 else "ACTIVE",
                                   "objective": "OUTCOME_SALES", "daily_budget": str(2500 + 1000 * i),
                                   "updated_time": stamp}
        self.ad_sets = [{"id": f"1202100000001{i + 1:02d}", "account_id": ACCOUNT_ID, "campaign_id": cid,
                         "name": f"{c['name']} — broad", "status": "ACTIVE", "effective_status": c["effective_status"],
                         "optimization_goal": "OFFSITE_CONVERSIONS", "updated_time": stamp}
                        for i, (cid, c) in enumerate(self.campaigns.items())]

    # ------------------------------------------------------------------ hooks for tests and the demo
    def issue_token(self) -> str:
        token = "EAASandboxLong" + secrets.token_hex(12)
        with self.lock:
            self.tokens[token] = "long"
        return token

    def stats(self) -> dict[str, int]:
        with self.lock:
            return {"meta_api_calls": self.counts["api"], "meta_throttled": self.counts["throttled"],
                    "meta_campaign_updates": len(self.updates), "meta_token_exchanges": self.counts["exchanges"]}

    def figures(self, campaign_id: str, day: date) -> dict[str, Any]:
        """The campaign's deterministic figures for a day (minor units of spend → a decimal string)."""
        digest = hashlib.sha256(f"{self.seed}:{campaign_id}:{day.isoformat()}".encode()).digest()
        cents, impressions = 500 + int.from_bytes(digest[:2]) % 5000, 1000 + int.from_bytes(digest[2:4]) % 9000
        clicks, purchases = impressions // (20 + digest[4] % 30), digest[5] % 6
        return {"spend": f"{cents // 100}.{cents % 100:02d}", "impressions": str(impressions), "clicks": str(clicks),
                "actions": [{"action_type": "omni_purchase", "value": str(purchases)}],
                "action_values": [{"action_type": "omni_purchase", "value": f"{purchases * 49.9:.2f}"}]}

    # ------------------------------------------------------------------ dispatch
    def handle(self, method: str, path: str, query: dict[str, str], body: dict[str, Any],
               headers: Any) -> tuple[int, Any, dict[str, str]]:
        """(status, payload, extra headers) for `/<version>/<rest>`; a 302's payload is its Location."""
        version, _, rest = path.lstrip("/").partition("/")
        try:
            if not version.startswith("v"):
                raise MetaError(400, 2635, f"Unknown API version {version!r}.")
            if rest == "dialog/oauth":
                return 302, self._dialog(query), {}
            if rest == "oauth/access_token":
                return 200, self._token(query), {}
            self._authenticate(headers, query)
            with self.lock:
                self.counts["api"] += 1
                throttled = bool(self.throttle_every) and self.counts["api"] % self.throttle_every == 0
                if throttled:
                    self.counts["throttled"] += 1
            if throttled:
                usage = {ACCOUNT_ID: [{"type": "ads_management", "call_count": 100, "total_cputime": 10,
                                       "total_time": 10, "estimated_time_to_regain_access": 0}]}
                return 400, MetaError(400, 80004, "(#80004) There have been too many calls to this ad-account. "
                                      "Wait a bit and try again.", error_subcode=2446079).body(), {
                    "X-Business-Use-Case-Usage": json.dumps(usage)}
            return 200, self._api(method, rest, query, body, headers, version), {}
        except MetaError as exc:
            return exc.status, exc.body(), {}

    def _dialog(self, query: dict[str, str]) -> str:
        if query.get("client_id") != self.client_id or not query.get("redirect_uri"):
            raise MetaError(400, 101, "Error validating application. Invalid application ID.")
        code = "AQ" + secrets.token_hex(16)
        with self.lock:
            self.codes.add(code)
        separator = "&" if urlsplit(query["redirect_uri"]).query else "?"
        return f"{query['redirect_uri']}{separator}{urlencode({'code': code, 'state': query.get('state', '')})}"

    def _token(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("client_id") != self.client_id or query.get("client_secret") != self.client_secret:
            raise MetaError(400, 1, "Error validating client secret.")
        with self.lock:
            if query.get("grant_type") == "fb_exchange_token":
                if self.tokens.get(query.get("fb_exchange_token", "")) is None:
                    raise MetaError(400, 190, "Error validating access token: Session has expired.")
                self.counts["exchanges"] += 1
                token, kind, ttl = "EAASandboxLong" + secrets.token_hex(12), "long", 5183944
            else:
                if query.get("code") not in self.codes:
                    raise MetaError(400, 100, "Invalid verification code format.")
                self.codes.discard(query["code"])
                token, kind, ttl = "EAASandboxShort" + secrets.token_hex(12), "short", 5400
            self.tokens[token] = kind
        return {"access_token": token, "token_type": "bearer", "expires_in": ttl}

    def _authenticate(self, headers: Any, query: dict[str, str]) -> None:
        given = (headers.get("Authorization") or "").removeprefix("Bearer ").strip() or query.get("access_token", "")
        with self.lock:
            known = given in self.tokens
        if not known:
            raise MetaError(400, 190, "Invalid OAuth access token - Cannot parse access token")

    # ------------------------------------------------------------------ the Graph API
    def _api(self, method: str, rest: str, query: dict[str, str], body: dict[str, Any], headers: Any,
             version: str) -> Any:
        host = f"{headers.get('Host') or '127.0.0.1'}/meta/{version}"
        if method == "POST" and rest in self.campaigns:
            return self._update(rest, body)
        if method != "GET":
            raise MetaError(400, 100, "Unsupported post request.")
        if rest == "me":
            return {"id": "10150000000000001", "name": "Sandbox Advertiser"}
        if rest == "me/adaccounts":
            return self._page([{"id": f"act_{ACCOUNT_ID}", "account_id": ACCOUNT_ID, "name": "Sandbox ads",
                                "currency": self.currency, "timezone_name": "Europe/Bucharest", "account_status": 1}],
                              query, host, rest)
        if rest == f"act_{ACCOUNT_ID}/campaigns":
            with self.lock:
                items = [dict(c) for c in self.campaigns.values()]
            return self._page(items, query, host, rest)
        if rest == f"act_{ACCOUNT_ID}/adsets":
            return self._page([dict(a) for a in self.ad_sets], query, host, rest)
        if rest == f"act_{ACCOUNT_ID}/insights":
            return self._page(self._insights(query), query, host, rest)
        if rest == "" and query.get("ids"):
            with self.lock:
                return {i: dict(self.campaigns[i]) for i in query["ids"].split(",") if i in self.campaigns}
        if rest in self.campaigns:
            with self.lock:
                return dict(self.campaigns[rest])
        raise MetaError(400, 100, f"Unsupported get request. Object with ID '{rest}' does not exist.")

    def _insights(self, query: dict[str, str]) -> list[dict[str, Any]]:
        if query.get("level") != "campaign" or query.get("time_increment") != "1":
            raise MetaError(400, 100, "The sandbox serves campaign-level insights by day only.")
        span = json.loads(query.get("time_range") or "{}")
        first, last = date.fromisoformat(span["since"]), date.fromisoformat(span["until"])
        rows = []
        for cid, campaign in sorted(self.campaigns.items()):
            day = first
            while day <= last:
                rows.append({"campaign_id": cid, "campaign_name": campaign["name"], "account_currency": self.currency,
                             **self.figures(cid, day), "date_start": day.isoformat(), "date_stop": day.isoformat()})
                day += timedelta(days=1)
        return rows

    def _update(self, campaign_id: str, body: dict[str, Any]) -> dict[str, Any]:
        changes = {k: str(v) for k, v in body.items() if k in ("status", "daily_budget", "lifetime_budget")}
        if not changes:
            raise MetaError(400, 100, "Invalid parameter")
        if "status" in changes and changes["status"] not in ("ACTIVE", "PAUSED", "ARCHIVED", "DELETED"):
            raise MetaError(400, 100, "Invalid parameter", error_user_msg="Status must be ACTIVE or PAUSED.")
        for field in ("daily_budget", "lifetime_budget"):
            if field in changes and (not changes[field].isdigit() or int(changes[field]) < 100):
                raise MetaError(400, 100, "Invalid parameter", error_subcode=1885272, error_user_title="Budget Too Low",
                                error_user_msg=f"Your budget is too low. The minimum budget is {self.currency} 1.00.")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())
        with self.lock:
            campaign = self.campaigns[campaign_id]
            campaign.update(changes, updated_time=stamp)
            if "status" in changes:
                campaign["effective_status"] = changes["status"]
            self.updates.extend((campaign_id, k, v) for k, v in changes.items())
        return {"success": True}

    @staticmethod
    def _page(items: list[dict[str, Any]], query: dict[str, str], host: str, rest: str) -> dict[str, Any]:
        limit = max(1, min(int(query.get("limit") or PAGE_DEFAULT), 500))
        start = int(base64.urlsafe_b64decode(query["after"]).decode()) if query.get("after") else 0
        chunk = items[start:start + limit]
        end = start + len(chunk)
        cursor = lambda n: base64.urlsafe_b64encode(str(n).encode()).decode()  # noqa: E731
        paging: dict[str, Any] = {"cursors": {"before": cursor(start), "after": cursor(max(end, start))}}
        if end < len(items):  # Meta gives `after` on every page; `next` only when there is more
            params = {k: v for k, v in query.items() if k not in ("after", "access_token")}
            paging["next"] = f"http://{host}/{rest}?{urlencode({**params, 'after': cursor(end)})}"
        return {"data": chunk, "paging": paging}

