"""Connector for YouTube (Data API v3): a channel, its uploads with statistics and comment threads, and
resumable video uploads.

Connect: Google OAuth 2.0 with PKCE (`access_type=offline&prompt=consent`, so a refresh token comes back each
time), scopes `youtube.readonly`, `youtube.upload`, `yt-analytics.readonly`; the code and refresh grants are plain
RFC 6749 at `https://oauth2.googleapis.com/token`. Account discovery: `GET /channels?part=snippet,statistics,
contentDetails&mine=true`; the channel id and its uploads playlist go to `config`.

Videos: the uploads playlist (`GET /playlistItems`, 50 a page, `pageToken` → `nextPageToken`), each page's
statistics in one `GET /videos?part=statistics&id=a,b,…` (today's reading of views, likes, comments), and for a
video with comments its newest comment threads (`GET /commentThreads?videoId=`, one page). The per-day history of
YouTube Analytics is not read yet (the statistics give one reading a day from the daily sync).

Upload (resumable protocol): `POST https://www.googleapis.com/upload/youtube/v3/videos?uploadType=resumable&
part=snippet,status` with the video resource and `X-Upload-Content-Length`/`-Type` answers the session URI in
`Location`, which is checkpointed; the bytes are fetched from the post's media URL through the SSRF guard
(connectors/media.py) and sent with `PUT`. A retry (a timeout mid-upload) asks the session how much arrived
(`Content-Range: bytes */N` → `308` with `Range: bytes=0-n`) and sends the rest; a session that already
holds the whole file answers the video. Quota errors (`403 quotaExceeded`, `400 uploadLimitExceeded`) fail the
post with YouTube's reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import requests
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.errors import ApplicationError
from connectors.base import AuthKind, ConnectionResult, Connector, OAuthMeta, Page, RateLimitPolicy
from connectors.capabilities import PostLimits, PublishRequest, PublishResult, SocialChannel, SocialPublisher
from connectors.errors import ProviderError, connection_failure
from connectors.http import elapsed_ms
from connectors.media import fetch_media
from connectors.oauth2 import StandardOAuth2

UPLOAD_URL = "https://www.googleapis.com/upload/youtube/v3/videos"
PAGE_SIZE = 50
COMMENTS_PAGE = 20
SCOPE = "https://www.googleapis.com/auth/"


class YouTubeConnector(StandardOAuth2, SocialChannel, SocialPublisher, Connector):
    key = "youtube"
    display_name = "YouTube"
    integration_type = "social"
    auth_kind = AuthKind.OAUTH2
    base_url = "https://www.googleapis.com/youtube/v3"
    oauth = OAuthMeta(
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token",
        revoke_url="https://oauth2.googleapis.com/revoke",
        default_scopes=(f"{SCOPE}youtube.readonly", f"{SCOPE}youtube.upload", f"{SCOPE}yt-analytics.readonly"),
        pkce=True,
        extra_authorize_params={"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"},
    )
    rate_limit = RateLimitPolicy(requests=10, per_seconds=1.0)
    docs_url = "https://developers.google.com/youtube/v3/guides/using_resumable_upload_protocol"
    provider_settings = {"CLIENT_ID": "", "CLIENT_SECRET": ""}
    post_limits = PostLimits(caption_max=5000, title_max=100,
                             media_types={"video": ("video/mp4", "video/quicktime", "video/webm")},
                             media_count={"video": (1, 1)})

    @property
    def config(self) -> dict[str, Any]:
        return self.integration.config if isinstance(self.integration.config, dict) else {}

    # ------------------------------------------------------------------ connect
    def _channel(self) -> dict[str, Any]:
        body = self.http.get("/channels", action="get_channel",
                             params={"part": "snippet,statistics,contentDetails", "mine": "true"}).json()
        items = body.get("items") or []
        if not items:
            raise ProviderError("This Google account has no YouTube channel.", transient=False)
        return items[0]

    def account_display_name(self) -> str:
        channel = self._channel()
        uploads = ((channel.get("contentDetails") or {}).get("relatedPlaylists") or {}).get("uploads", "")
        self.integration.config = {**self.config, "channel_id": channel["id"], "uploads_playlist": uploads}
        return str((channel.get("snippet") or {}).get("title") or "")

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            channel = self._channel()
        except ApplicationError as exc:
            return ConnectionResult(ok=False, latency_ms=elapsed_ms(started),
                                    detail=f"{connection_failure('YouTube', exc)}: {exc.message}")
        return ConnectionResult(ok=True, latency_ms=elapsed_ms(started),
                                detail=f"YouTube {channel.get('snippet', {}).get('title', '?')}")

    # ------------------------------------------------------------------ channel and videos
    def iter_social_accounts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        yield Page([self._channel()])

    def normalize_social_account(self, record: dict[str, Any]) -> dict[str, Any]:
        snippet, stats = record.get("snippet") or {}, record.get("statistics") or {}
        subscribers = stats.get("subscriberCount")
        return {"external_id": str(record["id"]), "handle": str(snippet.get("customUrl") or ""),
                "name": str(snippet.get("title") or ""),
                "followers": int(subscribers) if subscribers is not None else None,
                "picture_url": str(((snippet.get("thumbnails") or {}).get("default") or {}).get("url") or "")}

    def iter_posts(self, *, since: datetime | None = None, cursor: str | None = None) -> Iterator[Page]:
        playlist = self.config.get("uploads_playlist") or ""
        if not playlist:
            self.account_display_name()
            playlist = self.config["uploads_playlist"]
        channel = str(self.config.get("channel_id") or "")
        while True:
            params: dict[str, Any] = {"part": "snippet,contentDetails", "playlistId": playlist,
                                      "maxResults": PAGE_SIZE}
            if cursor:
                params["pageToken"] = cursor
            body = self.http.get("/playlistItems", action="list_uploads", params=params).json()
            items = body.get("items") or []
            stats = self._statistics([i["contentDetails"]["videoId"] for i in items])
            records = []
            for item in items:
                video_id = item["contentDetails"]["videoId"]
                video_stats = stats.get(video_id, {})
                comments = self._comments(video_id) if int(video_stats.get("commentCount") or 0) else []
                records.append({**item, "_account": channel, "_statistics": video_stats, "_comments": comments})
            cursor = body.get("nextPageToken")
            yield Page(records, next_cursor=cursor)
            if not cursor:
                return

    def _statistics(self, video_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not video_ids:
            return {}
        body = self.http.get("/videos", action="video_statistics",
                             params={"part": "statistics", "id": ",".join(video_ids)}).json()
        return {item["id"]: item.get("statistics") or {} for item in body.get("items") or []}

    def _comments(self, video_id: str) -> list[dict[str, Any]]:
        try:
            body = self.http.get("/commentThreads", action="list_comment_threads", params={
                "part": "snippet", "videoId": video_id, "maxResults": COMMENTS_PAGE, "order": "time"}).json()
        except ProviderError as exc:
            if exc.status_code == 403:  # comments disabled on the video
                return []
            raise
        return body.get("items") or []

    def normalize_post(self, record: dict[str, Any]) -> dict[str, Any]:
        snippet, stats = record.get("snippet") or {}, record.get("_statistics") or {}
        video_id = record["contentDetails"]["videoId"]
        published = record["contentDetails"].get("videoPublishedAt") or snippet.get("publishedAt")
        comments = []
        for thread in record.get("_comments") or []:
            top = ((thread.get("snippet") or {}).get("topLevelComment") or {})
            top_snippet = top.get("snippet") or {}
            comments.append({"external_id": str(top.get("id") or thread["id"]),
                             "author": str(top_snippet.get("authorDisplayName") or ""),
                             "text": str(top_snippet.get("textOriginal") or top_snippet.get("textDisplay") or ""),
                             "like_count": int(top_snippet.get("likeCount") or 0),
                             "commented_at": parse_datetime(top_snippet["publishedAt"])
                             if top_snippet.get("publishedAt") else None})
        return {"external_id": str(video_id), "account_external_id": str(record.get("_account") or ""),
                "kind": "video", "title": str(snippet.get("title") or "")[:300],
                "caption": str(snippet.get("description") or ""),
                "permalink": f"https://www.youtube.com/watch?v={video_id}",
                "published_at": parse_datetime(published) if published else None,
                "metrics": {"date": timezone.localdate(), "views": int(stats.get("viewCount") or 0),
                            "likes": int(stats.get("likeCount") or 0),
                            "comments": int(stats.get("commentCount") or 0)} if stats else None,
                "comments": comments}

    # ------------------------------------------------------------------ upload
    def publish_post(self, request: PublishRequest, checkpoint: Any) -> PublishResult:
        media = fetch_media(request.media_urls[0])
        size = len(media.content)
        session = (request.state or {}).get("upload_url")
        offset = 0
        if session:
            probe = self.http.put(session, action="upload_status", data=b"",
                                  headers={"Content-Range": f"bytes */{size}"})
            if probe.status_code in (200, 201):
                return self._uploaded(probe)
            offset = _received(probe)
        else:
            title = request.title or (request.caption.splitlines() or [""])[0][:100] or "Untitled"
            started = self.http.post(UPLOAD_URL, action="upload_start", params={
                "uploadType": "resumable", "part": "snippet,status"}, headers={
                "X-Upload-Content-Length": str(size), "X-Upload-Content-Type": media.content_type},
                json={"snippet": {"title": title, "description": request.caption, "categoryId": "22"},
                      "status": {"privacyStatus": "public", "selfDeclaredMadeForKids": False}})
            session = started.headers.get("Location") or ""
            if not session:
                raise ProviderError("YouTube started no upload session (no Location).", transient=False)
            checkpoint({"upload_url": session})
        headers = {"Content-Type": media.content_type}
        if offset:
            headers["Content-Range"] = f"bytes {offset}-{size - 1}/{size}"
        response = self.http.put(session, action="upload_bytes", data=media.content[offset:], headers=headers)
        if response.status_code == 308:  # the session holds part of it: the job comes back and resumes
            return PublishResult(done=False)
        return self._uploaded(response)

    @staticmethod
    def _uploaded(response: requests.Response) -> PublishResult:
        video = response.json()
        published = (video.get("snippet") or {}).get("publishedAt")
        return PublishResult(done=True, external_id=str(video["id"]),
                             permalink=f"https://www.youtube.com/watch?v={video['id']}",
                             published_at=parse_datetime(published) if published else None)


def _received(probe: requests.Response) -> int:
    """How many bytes a 308 says the session holds (`Range: bytes=0-n` → n+1; none → 0)."""
    value = probe.headers.get("Range", "")
    if value.startswith("bytes=") and "-" in value:
        return int(value.split("-", 1)[1]) + 1
    return 0
