"""Connector for X (formerly Twitter), API v2: the connected user, their posts with public metrics, and posting.

The registry key is `twitter`, the name shown everywhere is "X": a one-letter key would be every variable `x`
to the provider-name guard (tests/connectors/test_provider_names.py) and `X_CLIENT_ID` reads as nothing in
an environment file, while "twitter" is unambiguous and still X's own word in its scopes (`tweet.write`).

Connect: OAuth 2.0 authorization code with PKCE (S256) at `https://x.com/i/oauth2/authorize`, scopes
`tweet.read tweet.write users.read offline.access` (without `offline.access` X grants no refresh token); the
code and refresh grants go to `POST https://api.x.com/2/oauth2/token` with the app's client id and secret in
HTTP Basic (a confidential client). Access tokens live 2 hours; each refresh answers a new refresh token and
the old one stops working, so the new one is stored (connectors/tokens.py keeps whatever the grant answers).
Account discovery: `GET /2/users/me` (its id and username go to `config`). The API version is the path's
`/2` (base_url): X has no other current version to choose between.

Posts: `GET /2/users/{id}/tweets?max_results=100&tweet.fields=public_metrics,created_at`, paged with
`pagination_token` = the answer's `meta.next_token`, which the last page leaves out. X bills every post read
(providers/social.md §5), so a sync reads at most `config["max_posts"]` (MAX_POSTS by default) newest posts.
Public metrics become the day's PostMetrics: impressions → views, likes, replies → comments, reposts and
quotes → shares, bookmarks → saves.

Publish: `POST /2/tweets` `{"text": …}` (text only: media needs X's media upload, not built). The text is
checked against X's weighted 280 (text.py) when the post is created, before any call. X takes no idempotency
key, so the attempt checkpoints `sent_at` before the POST; a job retried after a timeout first looks for the
post among the user's posts since then (same text) and adopts it instead of posting twice, and a 403
"duplicate content" after an attempt that may have landed is waited on (transient), not failed.

Rate limits: every answer carries `x-rate-limit-limit|remaining|reset` (reset in Unix seconds, 15-minute or
24-hour windows). A 429 waits until the reset (the HTTP client sleeps up to its MAX_RETRY_AFTER, longer waits
go up as RateLimited for the job to come back); a listing whose window is spent waits the same way before
the next page instead of spending a call on a certain 429. A 401 is retried once after a refresh; a refused
refresh puts the integration in pending_auth (needs re-auth) through connectors/tokens.py and
integrations/health.py; so does one without a refresh token (offline.access not granted), without asking X.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.errors import ApplicationError, CapabilityNotSupported, ValidationError
from connectors import http as provider_http
from connectors.base import AuthKind, ConnectionResult, Connector, OAuthMeta, Page, RateLimitPolicy, TokenSet
from connectors.capabilities import PostLimits, PublishRequest, PublishResult, SocialChannel, SocialPublisher
from connectors.errors import AuthExpired, ProviderError, RateLimited, connection_failure
from connectors.http import elapsed_ms
from connectors.oauth2 import StandardOAuth2

from .text import MAX_WEIGHTED_LENGTH, URL, weighted_length

PAGE_SIZE = 100  # X's largest max_results
MAX_POSTS = 500  # newest posts read per sync, unless config["max_posts"] says otherwise (X bills each read)
RECHECK_PAGE = 20  # posts looked through for an attempt that may have landed
SENT_SKEW = timedelta(minutes=2)  # clocks differ: look a little before the attempt
TWEET_FIELDS = "public_metrics,created_at,author_id"
USER_FIELDS = "profile_image_url,public_metrics"

# Seam for tests: the clock the rate-limit reset is measured against.
clock = time.time


@dataclass(frozen=True)
class WeightedPostLimits(PostLimits):
    """PostLimits with X's weighted length instead of the number of characters (text.py)."""

    def problems(self, *, kind: str, caption: str, title: str, media_urls: list[str]) -> dict[str, list[str]]:
        found = super().problems(kind=kind, caption="", title=title, media_urls=media_urls)
        if "kind" in found:
            return found
        length = weighted_length(caption)
        if not caption.strip():
            found["caption"] = ["X needs the post's text."]
        elif length > self.caption_max:
            found["caption"] = [f"At most {self.caption_max} characters as X counts them (URLs 23, emoji and "
                                f"CJK characters 2 each); this one counts {length}."]
        return found


class TwitterConnector(StandardOAuth2, SocialChannel, SocialPublisher, Connector):
    key = "twitter"
    display_name = "X"
    integration_type = "social"
    auth_kind = AuthKind.OAUTH2
    base_url = "https://api.x.com/2"
    oauth = OAuthMeta(
        authorize_url="https://x.com/i/oauth2/authorize",
        token_url="https://api.x.com/2/oauth2/token",
        default_scopes=("tweet.read", "tweet.write", "users.read", "offline.access"),
        pkce=True,
    )
    token_client_auth = "basic"
    rate_limit = RateLimitPolicy(requests=5, per_seconds=1.0)  # X's real limits are per 15 min; its headers pace
    docs_url = "https://docs.x.com/x-api/posts/creation-of-a-post"
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": ""}
    post_limits = WeightedPostLimits(caption_max=MAX_WEIGHTED_LENGTH, media_types={"post": ()},
                                     media_count={"post": (0, 0)})

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    # ------------------------------------------------------------------ connect
    def _me(self, action: str = "get_me") -> dict[str, Any]:
        return self.http.get("/users/me", action=action, params={"user.fields": USER_FIELDS}).json()["data"]

    def account_display_name(self) -> str:
        user = self._me()
        self.integration.config = {**self.config, "user_id": str(user["id"]),
                                   "username": str(user.get("username") or "")}
        return f"@{user['username']}" if user.get("username") else str(user.get("name") or "")

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            user = self._me("test_connection")
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('X', exc)}: {exc.message}")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started), detail=f"X @{user.get('username', '?')}")

    def credentials_refused_message(self, error: AuthExpired, *, action: str) -> str | None:
        """A 401 that a fresh token did not cure (the app lost access, the user was suspended)."""
        if action == "test_connection":
            return None  # a connection test reports it itself
        return f"X refused the access token in {action}; reconnect the integration. ({error.message})"

    def refresh_access_token(self) -> TokenSet:
        if not self.integration.refresh_token:
            # X grants one only with offline.access; without it the 2-hour token cannot be renewed. Refused (no
            # call), so the integration goes to pending_auth and the operator reconnects (connectors/tokens.py).
            raise CapabilityNotSupported(f"X granted {self.integration.code} no refresh token (offline.access was "
                                         "not granted): reconnect the integration.")
        return super().refresh_access_token()

    # ------------------------------------------------------------------ rate limits
    def retry_after_seconds(self, response: requests.Response) -> float | None:
        """`Retry-After` when sent; else, on a 429, the seconds until `x-rate-limit-reset`."""
        asked = super().retry_after_seconds(response)
        if asked is not None or response.status_code != 429:
            return asked
        return _until_reset(response)

    def _wait_for_window(self, response: requests.Response) -> None:
        """Before the next page: a spent window (`x-rate-limit-remaining: 0`) is waited out, not hit."""
        if response.headers.get("x-rate-limit-remaining") != "0":
            return
        wait = _until_reset(response)
        if wait is None:
            return
        if wait > provider_http.MAX_RETRY_AFTER:
            raise RateLimited(f"X's rate-limit window is spent for {round(wait)} s more.", retry_after=wait)
        provider_http.sleep(wait)

    # ------------------------------------------------------------------ the user and their posts
    def _user_id(self) -> str:
        if not self.config.get("user_id"):
            self.account_display_name()
        return str(self.config["user_id"])

    def iter_social_accounts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        yield Page([self._me()])

    def normalize_social_account(self, record: dict[str, Any]) -> dict[str, Any]:
        metrics = record.get("public_metrics") or {}
        return {"external_id": str(record["id"]),
                "handle": f"@{record['username']}" if record.get("username") else "",
                "name": str(record.get("name") or ""), "followers": metrics.get("followers_count"),
                "picture_url": str(record.get("profile_image_url") or "")}

    def _tweets(self, user_id: str, params: dict[str, Any], *, action: str) -> requests.Response:
        return self.http.get(f"/users/{user_id}/tweets", action=action,
                             params={"tweet.fields": TWEET_FIELDS, **params})

    def iter_posts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        user_id = self._user_id()
        budget = int(self.config.get("max_posts") or MAX_POSTS)
        while budget > 0:
            params: dict[str, Any] = {"max_results": max(5, min(PAGE_SIZE, budget))}
            if cursor:
                params["pagination_token"] = cursor
            response = self._tweets(user_id, params, action="list_tweets")
            body = response.json()
            tweets = body.get("data") or []
            budget -= len(tweets)
            cursor = (body.get("meta") or {}).get("next_token") if budget > 0 else None
            yield Page([{**tweet, "_account": user_id} for tweet in tweets], next_cursor=cursor)
            if not cursor:
                return
            self._wait_for_window(response)

    def normalize_post(self, record: dict[str, Any]) -> dict[str, Any]:
        metrics = record.get("public_metrics")
        username = self.config.get("username") or "i"
        created = record.get("created_at")
        return {"external_id": str(record["id"]),
                "account_external_id": str(record.get("author_id") or record.get("_account") or ""),
                "kind": "post", "caption": html.unescape(str(record.get("text") or "")),
                "permalink": f"https://x.com/{username}/status/{record['id']}",
                "published_at": parse_datetime(created) if created else None,
                "metrics": {"date": timezone.localdate(), "views": metrics.get("impression_count") or 0,
                            "likes": metrics.get("like_count") or 0, "comments": metrics.get("reply_count") or 0,
                            "shares": (metrics.get("retweet_count") or 0) + (metrics.get("quote_count") or 0),
                            "saves": metrics.get("bookmark_count") or 0} if metrics else None}

    # ------------------------------------------------------------------ publishing
    def publish_post(self, request: PublishRequest, checkpoint: Any) -> PublishResult:
        problems = self.post_limits.problems(kind=request.kind, caption=request.caption, title=request.title,
                                             media_urls=list(request.media_urls))
        if problems:
            raise ValidationError("This post does not fit X's limits.", details=problems)
        state = request.state or {}
        if state.get("tweet_id"):
            return self._published(str(state["tweet_id"]))
        sent_at = state.get("sent_at")
        if sent_at:  # an earlier attempt may have landed: its answer was lost
            found = self._find_sent(request.caption, since=parse_datetime(sent_at))
            if found:
                checkpoint({"tweet_id": found})
                return self._published(found)
        else:
            checkpoint({"sent_at": timezone.now().isoformat()})
        try:
            response = self.http.post("/tweets", action="create_tweet", json={"text": request.caption})
        except ProviderError as exc:
            if sent_at and exc.status_code == 403 and "duplicate" in (exc.provider_message or "").lower():
                # Our earlier attempt landed but is not listed yet: come back rather than fail or post again.
                raise ProviderError("X says the post exists already; waiting for it to be listed.",
                                    transient=True, status_code=403) from exc
            raise
        tweet_id = str(response.json()["data"]["id"])
        checkpoint({"tweet_id": tweet_id})
        return self._published(tweet_id)

    def _find_sent(self, text: str, *, since: datetime | None) -> str:
        """The id of the user's post with this text created since the attempt, or ""."""
        params: dict[str, Any] = {"max_results": RECHECK_PAGE}
        if since is not None:
            params["start_time"] = (since - SENT_SKEW).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = self._tweets(self._user_id(), params, action="find_sent_tweet").json()
        wanted = _comparable(text)
        return next((str(t["id"]) for t in body.get("data") or [] if _comparable(t.get("text") or "") == wanted), "")

    def _published(self, tweet_id: str) -> PublishResult:
        username = self.config.get("username") or "i"
        return PublishResult(done=True, external_id=tweet_id, permalink=f"https://x.com/{username}/status/{tweet_id}")


def _until_reset(response: requests.Response) -> float | None:
    reset = response.headers.get("x-rate-limit-reset")
    if not reset or not reset.isdigit():
        return None
    return max(0.0, int(reset) - clock())


def _comparable(text: str) -> str:
    """A post's text as X stores it, made comparable to what we sent: X escapes `&<>` and rewrites URLs to t.co."""
    return " ".join(URL.sub("<url>", html.unescape(text)).split())
