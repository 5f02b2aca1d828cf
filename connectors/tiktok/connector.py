"""Connector for TikTok (Login Kit v2, Display API, Content Posting API): a creator's profile, videos with their
counts, and direct posting of a video. TikTok Shop is another provider (connectors/tiktok_shop/).

Connect: `https://www.tiktok.com/v2/auth/authorize/` with `client_key` (not `client_id`) and comma-separated
scopes (`user.info.basic`, `user.info.stats`, `video.list`, `video.publish`); TikTok takes a PKCE verifier only
from mobile and desktop apps, so a web connect sends none. The code goes to `POST
https://open.tiktokapis.com/v2/oauth/token/` (form: client_key, client_secret, code, grant_type, redirect_uri),
answering `open_id`, the access token and a refresh token; a refresh (`grant_type=refresh_token`) may rotate the
refresh token, and the new one is kept. Lifetimes differ between TikTok's pages (24 h or 2 h access tokens), so
`expires_in` decides. Account discovery: `GET /v2/user/info/?fields=…`.

Videos: `POST /v2/video/list/?fields=…` with `{"max_count": 20, "cursor": <ms>}` → `data{videos, cursor,
has_more}`. Every reply carries `error{code, message, log_id}`; a code other than `ok` is a failure even
under HTTP 200.

Publish (direct post, `video.publish`): `POST /v2/post/publish/creator_info/query/` (the privacy levels the
creator allows: public when offered, else the first one — an unaudited app gets SELF_ONLY only), then
`POST /v2/post/publish/video/init/` with `source: PULL_FROM_URL` (TikTok fetches the video from a URL on a
domain verified for the app, so our server never downloads it), whose `publish_id` is checkpointed, then
`POST /v2/post/publish/status/fetch/` until PUBLISH_COMPLETE (PROCESSING_*: the job comes back later; FAILED:
the post fails with `fail_reason`, and a later retry starts a new publish). A retry after a timeout polls the
checkpointed publish id instead of initialising a second post; an init whose own answer was lost is never sent
again (TikTok takes no idempotency key): the post fails and says to look at the profile.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import requests
from django.utils import timezone

from config.errors import ApplicationError, ValidationError
from connectors.base import AuthKind, ConnectionResult, Connector, OAuthMeta, Page, RateLimitPolicy, TokenSet
from connectors.capabilities import PostLimits, PublishRequest, PublishResult, SocialChannel, SocialPublisher
from connectors.errors import ProviderError, connection_failure
from connectors.http import elapsed_ms
from connectors.oauth2 import StandardOAuth2, token_set

TOKEN_URL = "https://open.tiktokapis.com/v2/oauth/token/"
USER_FIELDS = "open_id,union_id,avatar_url,display_name,username,follower_count,video_count"
VIDEO_FIELDS = "id,title,video_description,create_time,share_url,cover_image_url,view_count,like_count," \
               "comment_count,share_count"
PAGE_SIZE = 20  # TikTok's largest max_count
PROCESSING = ("PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD")
PRIVACY_PREFERENCE = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
INIT_LOST = ("TikTok's answer to the post was lost, so TikTok may have it: check the TikTok profile, then publish "
             "it again as a new post if it is not there.")


class TikTokConnector(StandardOAuth2, SocialChannel, SocialPublisher, Connector):
    key = "tiktok"
    display_name = "TikTok"
    integration_type = "social"
    auth_kind = AuthKind.OAUTH2
    base_url = "https://open.tiktokapis.com"
    oauth = OAuthMeta(
        authorize_url="https://www.tiktok.com/v2/auth/authorize/",
        token_url=TOKEN_URL,
        revoke_url="https://open.tiktokapis.com/v2/oauth/revoke/",
        default_scopes=("user.info.basic", "user.info.stats", "video.list", "video.publish"),
        scope_separator=",",
    )
    rate_limit = RateLimitPolicy(requests=10, per_seconds=1.0)  # 600/min per endpoint (sliding window)
    docs_url = "https://developers.tiktok.com/doc/content-posting-api-reference-direct-post"
    provider_settings = {"CLIENT_KEY": "", "CLIENT_SECRET": ""}
    post_limits = PostLimits(caption_max=2200, media_types={"video": ("video/mp4", "video/quicktime", "video/webm")},
                             media_count={"video": (1, 1)})

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    def oauth_client_credentials(self) -> tuple[str, str]:
        credentials = self.integration.credentials if isinstance(self.integration.credentials, dict) else {}
        if credentials.get("client_key"):
            return str(credentials["client_key"]), str(credentials.get("client_secret") or "")
        return self.setting("CLIENT_KEY"), self.setting("CLIENT_SECRET")

    # ------------------------------------------------------------------ connect
    def authorize_url(self, *, state: str, redirect_uri: str, scopes: tuple[str, ...] | list[str],
                      code_challenge: str = "", **params: str) -> str:
        """TikTok names the client `client_key`; a web app sends no PKCE challenge (TikTok ignores it)."""
        client_key, _ = self.oauth_client_credentials()
        query = {"client_key": client_key, "response_type": "code", "redirect_uri": redirect_uri, "state": state,
                 "scope": ",".join(scopes or self.oauth.default_scopes), **params}
        return f"{self.oauth.authorize_url}?{urlencode(query)}"

    def _client_auth(self, form: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        client_key, client_secret = self.oauth_client_credentials()
        return ({**form, "client_key": client_key, "client_secret": client_secret},
                {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"})

    def _token_call(self, form: dict[str, str], *, action: str) -> TokenSet:
        form, headers = self._client_auth(form)
        body = self.http.post(TOKEN_URL, action=action, data=form, headers=headers, authenticate=False).json()
        tokens = token_set(body, separator=",")
        if isinstance(body, dict) and body.get("open_id"):
            self.integration.config = {**self.config, "open_id": str(body["open_id"])}
        return tokens

    def revoke_token(self) -> bool:
        if not self.integration.access_token:
            return False
        form, headers = self._client_auth({"token": self.integration.access_token})
        self.http.post(self.oauth.revoke_url, action="revoke_token", data=form, headers=headers, authenticate=False)
        return True

    def account_display_name(self) -> str:
        user = self._user()
        self.integration.config = {**self.config, "open_id": str(user.get("open_id") or ""),
                                   "username": str(user.get("username") or "")}
        return str(user.get("display_name") or user.get("username") or "")

    def _user(self) -> dict[str, Any]:
        return self._data(self.http.get("/v2/user/info/", action="get_user", params={"fields": USER_FIELDS}))["user"]

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            user = self._user()
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('TikTok', exc)}: {exc.message}")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"TikTok {user.get('display_name', '?')}")

    @staticmethod
    def _data(response: requests.Response) -> dict[str, Any]:
        """The reply's `data`; ProviderError when its `error.code` is not `ok` (TikTok reports some under 200)."""
        body = response.json()
        error = body.get("error") or {}
        if error.get("code") not in (None, "", "ok"):
            raise ProviderError(f"TikTok refused the call: {error.get('code')}: {error.get('message', '')}"[:300],
                                provider_message=str(error.get("message") or "")[:300], transient=False,
                                status_code=response.status_code)
        return body.get("data") or {}

    # ------------------------------------------------------------------ accounts and videos
    def iter_social_accounts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        yield Page([self._user()])

    def normalize_social_account(self, record: dict[str, Any]) -> dict[str, Any]:
        return {"external_id": str(record["open_id"]),
                "handle": f"@{record['username']}" if record.get("username") else "",
                "name": str(record.get("display_name") or ""), "followers": record.get("follower_count"),
                "picture_url": str(record.get("avatar_url") or "")}

    def iter_posts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        open_id = str(self.config.get("open_id") or "")
        while True:
            body: dict[str, Any] = {"max_count": PAGE_SIZE}
            if cursor:
                body["cursor"] = int(cursor)
            data = self._data(self.http.post("/v2/video/list/", action="list_videos",
                                             params={"fields": VIDEO_FIELDS}, json=body))
            cursor = str(data["cursor"]) if data.get("has_more") and data.get("cursor") is not None else None
            yield Page([{**video, "_account": open_id} for video in data.get("videos") or []], next_cursor=cursor)
            if not cursor:
                return

    def normalize_post(self, record: dict[str, Any]) -> dict[str, Any]:
        created = record.get("create_time")
        return {"external_id": str(record["id"]), "account_external_id": str(record.get("_account") or ""),
                "kind": "video", "caption": str(record.get("video_description") or record.get("title") or ""),
                "title": str(record.get("title") or "")[:300], "permalink": str(record.get("share_url") or ""),
                "media_urls": [record["cover_image_url"]] if record.get("cover_image_url") else [],
                "published_at": datetime.fromtimestamp(int(created), tz=UTC) if created else None,
                "metrics": {"date": timezone.localdate(), "views": record.get("view_count") or 0,
                            "likes": record.get("like_count") or 0, "comments": record.get("comment_count") or 0,
                            "shares": record.get("share_count") or 0}}

    # ------------------------------------------------------------------ publishing
    def publish_post(self, request: PublishRequest, checkpoint: Any) -> PublishResult:
        state = request.state or {}
        publish_id = state.get("publish_id")
        if not publish_id:
            if state.get("init_sent"):
                raise ProviderError(INIT_LOST, transient=False)
            publish_id = self._init(request, checkpoint)
        status = self._data(self.http.post("/v2/post/publish/status/fetch/", action="publish_status",
                                           json={"publish_id": publish_id}))
        outcome = status.get("status")
        if outcome in PROCESSING:
            return PublishResult(done=False)
        if outcome == "FAILED":
            # TikTok's last word on this publish id: a later retry (the operator fixed the cause) starts afresh.
            checkpoint({"publish_id": "", "init_sent": False})
            raise ProviderError(f"TikTok could not publish the video: {status.get('fail_reason') or 'unknown'}.",
                                transient=False)
        post_ids = status.get("publicaly_available_post_id") or status.get("publicly_available_post_id") or []
        return PublishResult(done=True, external_id=str(post_ids[0]) if post_ids else "")

    def _init(self, request: PublishRequest, checkpoint: Any) -> str:
        """Creator info, then the init that creates the post; its publish id checkpointed.

        `init_sent` is checkpointed before the init goes out and cleared when TikTok's answer shows it made
        nothing (an error reply, a 5xx, a throttle): only an init whose answer never came (a read timeout, a
        dead worker) stays marked, and that one is never sent again (INIT_LOST)."""
        creator = self._data(self.http.post("/v2/post/publish/creator_info/query/", action="creator_info", json={}))
        options = creator.get("privacy_level_options") or []
        privacy = next((level for level in PRIVACY_PREFERENCE if level in options), None)
        if privacy is None:
            raise ValidationError("TikTok offers this creator no privacy level to post with.")
        checkpoint({"init_sent": True})
        try:
            data = self._data(self.http.post("/v2/post/publish/video/init/", action="publish_init", json={
                "post_info": {"title": request.caption, "privacy_level": privacy, "disable_comment": False},
                "source_info": {"source": "PULL_FROM_URL", "video_url": request.media_urls[0]},
            }))
        except ProviderError as exc:
            if exc.status_code is not None:  # TikTok answered: nothing was made
                checkpoint({"init_sent": False})
            raise
        publish_id = str(data["publish_id"])
        checkpoint({"publish_id": publish_id, "privacy_level": privacy})
        return publish_id
