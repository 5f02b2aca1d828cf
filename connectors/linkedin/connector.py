"""Connector for LinkedIn (a member's profile): discovery through OpenID Connect, text posts through the versioned
Posts API, and the member's post analytics where LinkedIn granted them.

Connect: OAuth 2.0 authorization code at `https://www.linkedin.com/oauth/v2/authorization` (no PKCE for a web
app's confidential client), scopes `openid profile email w_member_social`; the code goes to `POST
https://www.linkedin.com/oauth/v2/accessToken` with the client id and secret in the form. Account discovery:
`GET https://api.linkedin.com/v2/userinfo` → `sub`, whose author URN `urn:li:person:{sub}` is the account's
external id and the author of every post.

Tokens: access tokens live 60 days. LinkedIn grants refresh tokens only to approved partners (365 days from the
first consent, not extended by a refresh; the connect keeps `refresh_token_expires_in` in config as
`refresh_token_expires_at`). With a refresh token the token-refresh job renews the access token like any other;
without one there is nothing to renew with, so the integration must be reconnected within the 60 days:
its health reads `degraded` ("access token expires … (no refresh token)") from 3 days before the expiry
(integrations/health_selectors.py) and `needs_reauth` once it expired, and the first call after the expiry
(or any 401) asks for a refresh, which this connector refuses without calling LinkedIn — so the integration
moves to pending_auth and `integration.error` is sent, once (connectors/tokens.py, integrations/health.py).

Versions: every `/rest/` call sends `LinkedIn-Version: <API_VERSION>` (one provider setting,
`LINKEDIN_API_VERSION`) and `X-Restli-Protocol-Version: 2.0.0`. The default, 202603, is the newest month
LinkedIn's own pages confirm in providers/social.md (sunset 2027-03-16); 202607 is only a third party's word.
A sunset version answers 426, which becomes an error naming the setting to change.

Publish: `POST /rest/posts` `{author, commentary, visibility: PUBLIC, distribution: {feedDistribution:
MAIN_FEED, …}, lifecycleState: PUBLISHED, isReshareDisabledByAuthor: false}` → 201 with the post's URN only in
the `x-restli-id` header. The commentary is "little" text: its reserved characters are backslash-escaped
(LinkedIn otherwise cuts the post at the first one, silently), except in URLs and a `#` that starts a hashtag.
No idempotency key exists, so the attempt checkpoints `sent_at` first; a retry after a timeout posts again
and LinkedIn's 422 DUPLICATE_POST ("Content is a duplicate of urn:li:share:…") names the post the first
attempt created, which is adopted — only after an attempt of ours was sent, so an older post with the same
text still fails the post.

Posts and analytics: listing a member's posts (`GET /rest/posts?q=author`) needs `r_member_social`, which
LinkedIn gives to approved partners only, and `memberCreatorPostAnalytics` (impressions, members reached,
reactions, comments, reshares per post) needs `r_member_postAnalytics`. An app LinkedIn approved for them
lists them in `LINKEDIN_EXTRA_SCOPES` so a connect asks for them. Each is used when the token's granted
scopes include it and skipped otherwise (no call, no failure): the sync then records the account only.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests
from django.utils import timezone

from config.errors import ApplicationError, CapabilityNotSupported
from connectors.base import AuthKind, ConnectionResult, Connector, OAuthMeta, Page, RateLimitPolicy, TokenSet
from connectors.capabilities import PostLimits, PublishRequest, PublishResult, SocialChannel, SocialPublisher
from connectors.errors import ProviderError, connection_failure
from connectors.http import elapsed_ms
from connectors.oauth2 import StandardOAuth2, token_set

API_VERSION = "202603"  # see the module docstring
PAGE_SIZE = 50
LIST_SCOPE = "r_member_social"
ANALYTICS_SCOPE = "r_member_postAnalytics"
# memberCreatorPostAnalytics queryType → PostMetrics field
ANALYTICS = {"IMPRESSION": "views", "MEMBERS_REACHED": "reach", "REACTION": "likes", "COMMENT": "comments",
             "RESHARE": "shares"}
DUPLICATE_OF = re.compile(r"duplicate of (urn:li:(?:share|ugcPost):\d+)", re.IGNORECASE)
RESERVED = re.compile(r"[\\|{}@\[\]()<>*_~]|#(?!\w)")
UNESCAPE = re.compile(r"\\([\\|{}@\[\]()<>*_~#])")
URL = re.compile(r"https?://[^\s]+", re.IGNORECASE)


def little_text(text: str) -> str:
    """`text` as LinkedIn's "little" format shows it verbatim: reserved characters escaped outside URLs."""
    parts, position = [], 0
    for match in URL.finditer(text):
        parts.append(RESERVED.sub(lambda m: "\\" + m.group(0), text[position:match.start()]))
        parts.append(match.group(0))
        position = match.end()
    parts.append(RESERVED.sub(lambda m: "\\" + m.group(0), text[position:]))
    return "".join(parts)


def plain_text(text: str) -> str:
    """Little text read back as the words a person wrote (the escapes removed)."""
    return UNESCAPE.sub(lambda m: m.group(1), text)


class LinkedInConnector(StandardOAuth2, SocialChannel, SocialPublisher, Connector):
    key = "linkedin"
    display_name = "LinkedIn"
    integration_type = "social"
    auth_kind = AuthKind.OAUTH2
    base_url = "https://api.linkedin.com"
    oauth = OAuthMeta(
        authorize_url="https://www.linkedin.com/oauth/v2/authorization",
        token_url="https://www.linkedin.com/oauth/v2/accessToken",
        default_scopes=("openid", "profile", "email", "w_member_social"),
    )
    rate_limit = RateLimitPolicy(requests=5, per_seconds=1.0)
    docs_url = "https://learn.microsoft.com/linkedin/marketing/community-management/shares/posts-api"
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": "", "API_VERSION": API_VERSION, "EXTRA_SCOPES": ""}
    post_limits = PostLimits(caption_max=3000, media_types={"post": ()}, media_count={"post": (0, 0)})

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    def oauth_meta(self) -> OAuthMeta:
        """The default scopes plus `LINKEDIN_EXTRA_SCOPES` (the partner-only ones LinkedIn approved for this app:
        asking for a scope the app lacks makes LinkedIn refuse the whole authorization, so none by default)."""
        extra = tuple(s for s in self.setting("EXTRA_SCOPES").replace(",", " ").split() if s)
        return replace(self.oauth, default_scopes=(*self.oauth.default_scopes, *extra)) if extra else self.oauth

    def api_version(self) -> str:
        return self.setting("API_VERSION") or API_VERSION

    # ------------------------------------------------------------------ tokens
    def _token_call(self, form: dict[str, str], *, action: str) -> TokenSet:
        """LinkedIn lists granted scopes comma-separated. A refresh token's own lifetime is kept in config at the
        connect (a refresh does not extend it, and connectors/tokens.py stores only the token fields)."""
        meta = self._meta()
        form, headers = self._client_auth(form)
        body = self.http.post(meta.token_url, action=action, data=form, headers=headers, authenticate=False).json()
        if isinstance(body, dict) and isinstance(body.get("scope"), str):
            body = {**body, "scope": body["scope"].replace(",", " ")}
        tokens = token_set(body)
        lasts = body.get("refresh_token_expires_in")
        if action == "exchange_code" and tokens.refresh_token and str(lasts or "").isdigit():
            expires = timezone.now() + timedelta(seconds=int(lasts))
            self.integration.config = {**self.config, "refresh_token_expires_at": expires.isoformat()}
        return tokens

    def refresh_access_token(self) -> TokenSet:
        if not self.integration.refresh_token:
            # Not a call: LinkedIn gave this app no refresh token (approved partners only). Refused, so the
            # integration goes to pending_auth and the operator is told to reconnect (connectors/tokens.py).
            raise CapabilityNotSupported(
                f"LinkedIn granted {self.integration.code} no refresh token (LinkedIn gives them to approved "
                "partners only): reconnect the integration to get a new 60-day token.")
        return super().refresh_access_token()

    def _granted(self, scope: str) -> bool:
        return scope in (self.integration.scope or [])

    # ------------------------------------------------------------------ versioned calls
    def _rest(self, method: str, path: str, *, action: str, **kwargs: Any) -> requests.Response:
        version = self.api_version()
        headers = {"LinkedIn-Version": version, "X-Restli-Protocol-Version": "2.0.0", **kwargs.pop("headers", {})}
        try:
            return self.http.request(method, path, action=action, headers=headers, **kwargs)
        except ProviderError as exc:
            if exc.status_code == 426:
                raise ProviderError(
                    f"LinkedIn no longer serves API version {version} (HTTP 426: sunset); set LINKEDIN_API_VERSION "
                    "to a current month (YYYYMM) and try again.", status_code=426, transient=False,
                    provider_message=exc.provider_message, details={"LINKEDIN_API_VERSION": [version]},
                ) from exc
            raise

    # ------------------------------------------------------------------ connect
    def _userinfo(self) -> dict[str, Any]:
        return self.http.get("/v2/userinfo", action="get_userinfo").json()

    def account_display_name(self) -> str:
        user = self._userinfo()
        self.integration.config = {**self.config, "person_urn": f"urn:li:person:{user['sub']}"}
        return str(user.get("name") or user.get("email") or "")

    def _person_urn(self) -> str:
        if not self.config.get("person_urn"):
            self.account_display_name()
        return str(self.config["person_urn"])

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            user = self._userinfo()
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('LinkedIn', exc)}: {exc.message}")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started), detail=f"LinkedIn {user.get('name', '?')}")

    # ------------------------------------------------------------------ account, posts, analytics
    def iter_social_accounts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        yield Page([self._userinfo()])

    def normalize_social_account(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"external_id": f"urn:li:person:{record['sub']}", "handle": str(record.get("email") or ""),
                "name": str(record.get("name") or ""), "followers": None,
                "picture_url": str(record.get("picture") or "")}

    def iter_posts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        if not self._granted(LIST_SCOPE):
            yield Page([])  # LinkedIn lets this app read no posts of the member (see the module docstring)
            return
        author = self._person_urn()
        start = int(cursor or 0)
        analytics = self._granted(ANALYTICS_SCOPE)
        while True:
            body = self._rest("GET", f"/rest/posts?q=author&author={quote(author, safe='')}&count={PAGE_SIZE}"
                              f"&start={start}", action="list_posts").json()
            posts = body.get("elements") or []
            records = [{**post, "_account": author, "_analytics": self._analytics(post["id"]) if analytics else None}
                       for post in posts]
            total = (body.get("paging") or {}).get("total")
            start += len(posts)
            more = len(posts) == PAGE_SIZE and (total is None or start < int(total))
            yield Page(records, next_cursor=str(start) if more else None)
            if not more:
                return

    def _analytics(self, urn: str) -> dict[str, int]:
        """The post's lifetime totals, one call per metric (the finder takes one queryType)."""
        kind = "ugc" if ":ugcPost:" in urn else "share"
        totals = {}
        for query_type, field in ANALYTICS.items():
            body = self._rest("GET", f"/rest/memberCreatorPostAnalytics?q=entity&entity=({kind}:"
                              f"{quote(urn, safe='')})&queryType={query_type}&aggregation=TOTAL",
                              action="post_analytics").json()
            totals[field] = sum(int(e.get("count") or 0) for e in body.get("elements") or [])
        return totals

    def normalize_post(self, record: dict[str, Any]) -> dict[str, Any]:
        published = record.get("publishedAt") or record.get("createdAt")
        analytics = record.get("_analytics")
        return {"external_id": str(record["id"]),
                "account_external_id": str(record.get("author") or record.get("_account") or ""),
                "kind": "post", "caption": plain_text(str(record.get("commentary") or "")),
                "permalink": f"https://www.linkedin.com/feed/update/{record['id']}/",
                "published_at": datetime.fromtimestamp(int(published) / 1000, tz=UTC) if published else None,
                "metrics": {"date": timezone.localdate(), **analytics} if analytics is not None else None}

    # ------------------------------------------------------------------ publishing
    def publish_post(self, request: PublishRequest, checkpoint: Any) -> PublishResult:
        state = request.state or {}
        if state.get("post_urn"):
            return _published(str(state["post_urn"]))
        sent_before = bool(state.get("sent_at"))
        if not sent_before:
            checkpoint({"sent_at": timezone.now().isoformat()})
        body = {"author": request.account_external_id or self._person_urn(),
                "commentary": little_text(request.caption), "visibility": "PUBLIC",
                "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                                 "thirdPartyDistributionChannels": []},
                "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False}
        try:
            response = self._rest("POST", "/rest/posts", action="create_post", json=body)
        except ProviderError as exc:
            duplicate = DUPLICATE_OF.search(exc.provider_message or "") if exc.status_code == 422 else None
            if not (duplicate and sent_before):
                raise
            urn = duplicate.group(1)  # the post our earlier attempt created; its answer was lost
        else:
            urn = response.headers.get("x-restli-id", "")
            if not urn:
                raise ProviderError("LinkedIn created the post but named no URN (no x-restli-id header).",
                                    transient=False)
        checkpoint({"post_urn": urn})
        return _published(urn)


def _published(urn: str) -> PublishResult:
    return PublishResult(done=True, external_id=urn, permalink=f"https://www.linkedin.com/feed/update/{urn}/")
