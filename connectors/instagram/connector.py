"""Connector for Instagram (Instagram API with Instagram Login, graph.instagram.com): a professional account's
profile, media with insights, and publishing (feed images, reels, stories, carousels).

Connect: OAuth 2.0 at `https://www.instagram.com/oauth/authorize` (comma-separated `instagram_business_*`
scopes; Instagram does not take PKCE), the code traded at `POST https://api.instagram.com/oauth/access_token`
for a 1-hour token, then at `GET /access_token?grant_type=ig_exchange_token` for a 60-day one. The account is
discovered with `GET /me` (its id and username are kept in `config`).

Refresh: `GET /refresh_access_token?grant_type=ig_refresh_token&access_token=<long-lived token>` presents the
long-lived token itself (Instagram has no separate refresh token; it must be ≥24 h old and unexpired). So the
connector keeps that token as the integration's refresh token too, and the beat refresh (which refreshes any
token not refreshed for OAUTH_REFRESH_MAX_AGE_HOURS, 24 by default) renews it daily, long before 60 days.
A token Instagram refuses (HTTP 401, or error code 190) is retried once after a refresh; a refused refresh puts
the integration in pending_auth (needs reauth) through connectors/tokens.py and integrations/health.py.

Media: `GET /me/media?fields=…&limit=` paged by `paging.cursors.after` (no `next` on the last page); each
item's insights `GET /{media}/insights?metric=views,reach,likes,comments,shares,saved` — an empty `data`, or
Meta's `(#10) Not enough viewers`, is no metrics, not a failure. A media with comments has them read
(`GET /{media}/comments`, paged the same way, the newest COMMENT_PAGES pages) and imported with its post as
Comment rows (`instagram_business_manage_comments`).

Publish: `POST /{ig-user}/media` creates a container (`image_url`; `video_url` + `media_type=REELS`;
`media_type=STORIES`; carousel items with `is_carousel_item=true` then `media_type=CAROUSEL&children=a,b`),
`GET /{container}?fields=status_code` until FINISHED (IN_PROGRESS: the job comes back later), then
`POST /{ig-user}/media_publish?creation_id=`. Each container id is checkpointed before the next step, so a job
retried after a timeout reuses them (a container in ERROR or EXPIRED is forgotten when the post fails, so an
operator's retry makes a new one); a container already PUBLISHED (the publish answered, the answer was lost)
is matched to the account's newest media by caption instead of being published again. The rolling 24-hour
quota (`GET /{ig-user}/content_publishing_limit`) is read before a container is made.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import requests
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.errors import ApplicationError, ValidationError
from connectors.appsecret_proof import appsecret_proof_params
from connectors.base import AuthKind, ConnectionResult, Connector, OAuthMeta, Page, RateLimitPolicy, TokenSet
from connectors.capabilities import (
    PostLimits,
    PublishRequest,
    PublishResult,
    SocialChannel,
    SocialPublisher,
    media_type_of,
)
from connectors.errors import ProviderError, connection_failure
from connectors.http import elapsed_ms
from connectors.oauth2 import StandardOAuth2, token_set

SHORT_TOKEN_URL = "https://api.instagram.com/oauth/access_token"
MEDIA_FIELDS = "id,caption,media_type,media_product_type,media_url,permalink,timestamp,like_count,comments_count"
INSIGHT_METRICS = "views,reach,likes,comments,shares,saved"
COMMENT_FIELDS = "id,text,username,like_count,timestamp"
COMMENT_PAGES = 10  # pages of 50 comments read per media and sync: the newest 500
PAGE_SIZE = 50
TOKEN_INVALID = 190  # Meta's OAuthException code for an expired, revoked or invalid token

KIND_MEDIA_TYPE = {"reel": "REELS", "story": "STORIES", "carousel": "CAROUSEL"}
IMAGE, VIDEOS = ("image/jpeg",), ("video/mp4", "video/quicktime")


class InstagramConnector(StandardOAuth2, SocialChannel, SocialPublisher, Connector):
    key = "instagram"
    display_name = "Instagram"
    integration_type = "social"
    auth_kind = AuthKind.OAUTH2
    base_url = "https://graph.instagram.com"
    oauth = OAuthMeta(
        authorize_url="https://www.instagram.com/oauth/authorize",
        token_url=SHORT_TOKEN_URL,
        default_scopes=("instagram_business_basic", "instagram_business_content_publish",
                        "instagram_business_manage_insights", "instagram_business_manage_comments"),
        scope_separator=",",
    )
    rate_limit = RateLimitPolicy(requests=10, per_seconds=1.0)
    docs_url = "https://developers.facebook.com/docs/instagram-platform/content-publishing"
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": ""}
    post_limits = PostLimits(
        caption_max=2200,
        media_types={"post": IMAGE, "reel": VIDEOS, "story": IMAGE + VIDEOS, "carousel": IMAGE + VIDEOS},
        media_count={"post": (1, 1), "reel": (1, 1), "story": (1, 1), "carousel": (2, 10)},
    )

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    def is_auth_expired(self, response: requests.Response) -> bool:
        if response.status_code == 401:
            return True
        try:
            error = response.json().get("error") or {}
        except (ValueError, AttributeError):
            return False
        return isinstance(error, dict) and error.get("code") == TOKEN_INVALID

    def auth_params(self) -> dict[str, str]:  # Meta's appsecret_proof, when the app secret is configured
        return appsecret_proof_params(self.integration.access_token, self.oauth_client_credentials()[1])

    # ------------------------------------------------------------------ connect
    def exchange_code(self, code: str, *, redirect_uri: str = "", code_verifier: str = "") -> TokenSet:
        """The code for a 1-hour token, that for a 60-day one (kept as the refresh credential too: see above)."""
        client_id, client_secret = self.oauth_client_credentials()
        body = self.http.post(SHORT_TOKEN_URL, action="exchange_code", authenticate=False, data={
            "client_id": client_id, "client_secret": client_secret, "grant_type": "authorization_code",
            "redirect_uri": redirect_uri, "code": code}).json()
        if isinstance(body, dict) and isinstance(body.get("data"), list) and body["data"]:
            body = body["data"][0]  # the documented shape wraps the answer in `data`
        short = token_set(body)
        long_lived = self.http.get("/access_token", action="exchange_long_lived_token", authenticate=False, params={
            "grant_type": "ig_exchange_token", "client_secret": client_secret,
            "access_token": short.access_token}).json()
        return self._long_lived(long_lived, scope=short.scope)

    def refresh_access_token(self) -> TokenSet:
        token = self.integration.refresh_token or self.integration.access_token
        if not token:
            raise ValidationError(f"{self.integration.code} has no Instagram token; connect it again.")
        body = self.http.get("/refresh_access_token", action="refresh_token", authenticate=False, params={
            "grant_type": "ig_refresh_token", "access_token": token}).json()
        return self._long_lived(body, scope=tuple(self.integration.scope or ()))

    @staticmethod
    def _long_lived(body: Any, *, scope: tuple[str, ...]) -> TokenSet:
        tokens = token_set(body)
        return TokenSet(access_token=tokens.access_token, refresh_token=tokens.access_token,
                        expires_at=tokens.expires_at, token_type="Bearer", scope=tokens.scope or scope)

    def account_display_name(self) -> str:
        """Account discovery: `GET /me` names the professional account; its id and username go to config."""
        profile = self._profile()
        self.integration.config = {**self.config, "user_id": str(profile.get("user_id") or profile["id"]),
                                   "username": str(profile.get("username") or "")}
        return f"@{profile.get('username')}" if profile.get("username") else str(profile.get("name") or "")

    def _profile(self) -> dict[str, Any]:
        return self.http.get("/me", action="get_profile", params={
            "fields": "id,user_id,username,name,account_type,profile_picture_url,followers_count,media_count",
        }).json()

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            profile = self._profile()
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('Instagram', exc)}: {exc.message}")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"Instagram @{profile.get('username', '?')}")

    def user_id(self) -> str:
        user_id = str(self.config.get("user_id") or "")
        if not user_id:
            user_id = str(self._profile().get("user_id") or "")
        return user_id or "me"

    # ------------------------------------------------------------------ accounts and media
    def iter_social_accounts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        yield Page([self._profile()])

    def normalize_social_account(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"external_id": str(record.get("user_id") or record["id"]),
                "handle": f"@{record['username']}" if record.get("username") else "",
                "name": str(record.get("name") or ""), "followers": record.get("followers_count"),
                "picture_url": str(record.get("profile_picture_url") or "")}

    def iter_posts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        account = self.user_id()
        while True:
            params: dict[str, Any] = {"fields": MEDIA_FIELDS, "limit": PAGE_SIZE}
            if cursor:
                params["after"] = cursor
            body = self.http.get("/me/media", action="list_media", params=params).json()
            items = [{**item, "_account": account, "_insights": self._insights(item),
                      "_comments": self._comments(item)} for item in body.get("data") or []]
            paging = body.get("paging") or {}
            cursor = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
            yield Page(items, next_cursor=cursor)
            if not cursor:
                return

    def _insights(self, media: dict[str, Any]) -> dict[str, int]:
        """A media's lifetime insights; {} when Instagram has none (too few viewers, too new, a lapsed story)."""
        try:
            body = self.http.get(f"/{media['id']}/insights", action="media_insights",
                                 params={"metric": INSIGHT_METRICS}).json()
        except ProviderError as exc:
            if exc.status_code == 400:
                return {}
            raise
        values: dict[str, int] = {}
        for metric in body.get("data") or []:
            points = metric.get("values") or [{}]
            total = (metric.get("total_value") or {}).get("value", points[-1].get("value", 0))
            values[str(metric.get("name"))] = int(total or 0)
        return values

    def _comments(self, media: dict[str, Any]) -> list[dict[str, Any]]:
        """A media's comments (`GET /{media}/comments`, paged by `after`), read only when it has some."""
        if not int(media.get("comments_count") or 0):
            return []
        comments: list[dict[str, Any]] = []
        after = None
        for _ in range(COMMENT_PAGES):
            params: dict[str, Any] = {"fields": COMMENT_FIELDS, "limit": PAGE_SIZE}
            if after:
                params["after"] = after
            body = self.http.get(f"/{media['id']}/comments", action="list_comments", params=params).json()
            comments.extend(item for item in body.get("data") or [] if isinstance(item, dict) and item.get("id"))
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after") if paging.get("next") else None
            if not after:
                break
        return comments

    def normalize_post(self, record: dict[str, Any]) -> dict[str, Any]:
        insights = record.get("_insights") or {}
        product = str(record.get("media_product_type") or "")
        kind = {"REELS": "reel", "STORY": "story"}.get(product) or (
            "carousel" if record.get("media_type") == "CAROUSEL_ALBUM" else "post")
        metrics = None
        if insights or record.get("like_count") is not None:
            metrics = {"date": timezone.localdate(), "views": insights.get("views", 0),
                       "likes": insights.get("likes", record.get("like_count") or 0),
                       "comments": insights.get("comments", record.get("comments_count") or 0),
                       "shares": insights.get("shares", 0), "saves": insights.get("saved", 0),
                       "reach": insights.get("reach", 0)}
        return {"external_id": str(record["id"]), "account_external_id": str(record.get("_account") or ""),
                "kind": kind, "caption": str(record.get("caption") or ""),
                "media_urls": [record["media_url"]] if record.get("media_url") else [],
                "permalink": str(record.get("permalink") or ""),
                "published_at": parse_datetime(record["timestamp"]) if record.get("timestamp") else None,
                "metrics": metrics,
                "comments": [{"external_id": str(c["id"]), "author": str(c.get("username") or ""),
                              "text": str(c.get("text") or ""), "like_count": int(c.get("like_count") or 0),
                              "commented_at": parse_datetime(c["timestamp"]) if c.get("timestamp") else None}
                             for c in record.get("_comments") or []]}

    # ------------------------------------------------------------------ publishing
    def publish_post(self, request: PublishRequest, checkpoint: Any) -> PublishResult:
        state = dict(request.state or {})
        account = request.account_external_id
        container = state.get("container_id")
        if not container:
            self._check_quota(account)
            container = self._create_container(account, request, state, checkpoint)
        status = self.http.get(f"/{container}", action="container_status",
                               params={"fields": "status_code"}).json().get("status_code")
        if status == "IN_PROGRESS":
            return PublishResult(done=False)
        if status == "PUBLISHED":  # a previous attempt published it and lost the answer
            return self._find_published(request)
        if status != "FINISHED":  # ERROR, or EXPIRED (not published within 24 h): that container is spent
            checkpoint({"container_id": None, "children": []})  # a retry by the operator makes new ones
            raise ProviderError(f"Instagram could not prepare the media (container {status}).", transient=False)
        media_id = str(self.http.post(f"/{account}/media_publish", action="media_publish",
                                      data={"creation_id": container}).json()["id"])
        checkpoint({"media_id": media_id})
        return self._published(media_id)

    def _check_quota(self, account: str) -> None:
        body = self.http.get(f"/{account}/content_publishing_limit", action="publishing_limit",
                             params={"fields": "quota_usage,config"}).json()
        for row in body.get("data") or []:
            total = (row.get("config") or {}).get("quota_total")
            if total is not None and int(row.get("quota_usage") or 0) >= int(total):
                raise ProviderError(f"The account has used its {total} posts of the last 24 hours; "
                                    "try again later.", transient=False)

    def _create_container(self, account: str, request: PublishRequest, state: dict[str, Any],
                          checkpoint: Any) -> str:
        form: dict[str, Any] = {"caption": request.caption} if request.kind != "story" else {}
        if request.kind == "carousel":
            children = list(state.get("children") or [])
            for url in request.media_urls[len(children):]:
                children.append(self._container(account, {**self._media_field(url), "is_carousel_item": "true"}))
                checkpoint({"children": children})
            form.update(media_type="CAROUSEL", children=",".join(children))
        else:
            form.update(self._media_field(request.media_urls[0], kind=request.kind))
        container = self._container(account, form)
        checkpoint({"container_id": container})
        return container

    @staticmethod
    def _media_field(url: str, *, kind: str = "") -> dict[str, str]:
        is_video = media_type_of(url).startswith("video/")
        field = {"video_url": url} if is_video else {"image_url": url}
        if kind in KIND_MEDIA_TYPE:
            field["media_type"] = KIND_MEDIA_TYPE[kind]
        elif is_video:
            field["media_type"] = "VIDEO"
        return field

    def _container(self, account: str, form: dict[str, Any]) -> str:
        return str(self.http.post(f"/{account}/media", action="create_container", data=form).json()["id"])

    def _published(self, media_id: str) -> PublishResult:
        body = self.http.get(f"/{media_id}", action="get_media", params={"fields": "permalink,timestamp"}).json()
        return PublishResult(done=True, external_id=media_id, permalink=str(body.get("permalink") or ""),
                             published_at=parse_datetime(body["timestamp"]) if body.get("timestamp") else None)

    def _find_published(self, request: PublishRequest) -> PublishResult:
        if request.state and request.state.get("media_id"):
            return self._published(str(request.state["media_id"]))
        body = self.http.get("/me/media", action="list_media",
                             params={"fields": "id,caption,permalink,timestamp", "limit": 10}).json()
        for item in body.get("data") or []:
            if (item.get("caption") or "") == request.caption:
                return PublishResult(done=True, external_id=str(item["id"]), permalink=str(item.get("permalink") or ""),
                                     published_at=parse_datetime(item["timestamp"]) if item.get("timestamp") else None)
        return PublishResult(done=True)  # published, not listed yet: the next sync finds it
