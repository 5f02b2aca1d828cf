"""The YouTube connector against recorded answers (tests/fixtures/youtube/): Google OAuth with PKCE and offline
access, refresh and a refused refresh (pending_auth), the channel and its uploads playlist paged by pageToken with
statistics and comment threads, and the resumable upload (session → bytes; a retry probes and sends the rest)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.utils import timezone

from connectors.errors import AuthExpired, ProviderUnavailable, RefreshFailed
from connectors.sessions import close_sessions
from social.models import Comment, Post, PostMetrics, SocialAccount
from social.services import PublishPending, post_publish
from syncjobs.resources import ImportSource, resource_import
from tests.connectors.support import Recorded, sent_json, sent_query
from tests.factories import IntegrationFactory

recorded = Recorded("youtube")
API = "https://www.googleapis.com/youtube/v3"
TOKEN = "https://oauth2.googleapis.com/token"
UPLOAD = "https://www.googleapis.com/upload/youtube/v3/videos"
SESSION = f"{UPLOAD}?uploadType=resumable&upload_id=xa298sd_f&part=snippet,status"
CHANNEL = "UCacmeChannel0000000001"
CALLBACK = "https://switchyard.example/api/oauth/callback/youtube/"
MEDIA = "https://media.acme.example/new-season.mp4"
VIDEO_BYTES = b"\x00\x00\x00\x18ftypmp42-video-bytes"


@pytest.fixture
def integration(db, public_dns, sleeps, settings):
    settings.PROVIDER_SETTINGS = {"youtube": {"CLIENT_ID": "yt-client.apps.googleusercontent.com",
                                              "CLIENT_SECRET": "yt-secret"}}
    yield IntegrationFactory(provider="youtube", type="social", code="youtube", status="active",
                             access_token="ya29.a0Example_access_token_1234",
                             refresh_token="1//0gExample_refresh_token_5678",
                             expires_at=timezone.now() + timedelta(minutes=50),
                             config={"channel_id": CHANNEL, "uploads_playlist": "UUacmeChannel0000000001"})
    close_sessions()


@pytest.fixture
def account(integration):
    return SocialAccount.objects.create(organization=integration.organization, integration=integration,
                                        external_id=CHANNEL, handle="@acmeshop")


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


@responses.activate
def test_connect_uses_pkce_and_offline_access_then_discovers_the_channel(integration, connector):
    integration.config = {}
    url = connector.authorize_url(state="s1", redirect_uri=CALLBACK, scopes=connector.oauth.default_scopes,
                                  code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    query = {k: v[0] for k, v in parse_qs(url.split("?", 1)[1]).items()}
    assert (query["access_type"], query["prompt"], query["code_challenge_method"]) == ("offline", "consent", "S256")
    assert connector.describe()["oauth"]["pkce"] is True

    recorded.replay("POST", TOKEN, "oauth_token__ok")
    recorded.replay("GET", f"{API}/channels", "channels__mine")
    tokens = connector.exchange_code("4/0Acode", redirect_uri=CALLBACK, code_verifier="v" * 43)
    assert form(responses.calls[0]) == {"grant_type": "authorization_code", "code": "4/0Acode",
                                        "redirect_uri": CALLBACK, "code_verifier": "v" * 43,
                                        "client_id": "yt-client.apps.googleusercontent.com",
                                        "client_secret": "yt-secret"}
    assert tokens.refresh_token == "1//0gExample_refresh_token_5678"
    integration.access_token = tokens.access_token
    assert connector.account_display_name() == "Acme Shop"
    assert sent_query(responses.calls[1]) == {"part": "snippet,statistics,contentDetails", "mine": "true"}
    assert integration.config == {"channel_id": CHANNEL, "uploads_playlist": "UUacmeChannel0000000001"}


@responses.activate
def test_refresh_and_a_refused_refresh(integration, connector):
    recorded.replay("POST", TOKEN, "oauth_refresh__ok")
    tokens = connector.refresh_access_token()
    assert form(responses.calls[0])["grant_type"] == "refresh_token"
    assert tokens.access_token == "ya29.a0Refreshed_access_token_9999"

    responses.reset()
    recorded.replay("GET", f"{API}/channels", "unauthorized")
    recorded.replay("POST", TOKEN, "oauth_refresh__invalid_grant")
    with pytest.raises((RefreshFailed, AuthExpired)):
        list(connector.iter_social_accounts())
    integration.refresh_from_db()
    assert integration.status == "pending_auth"


@responses.activate
def test_uploads_page_by_page_token_with_statistics_and_comment_threads(integration, connector, account):
    recorded.replay("GET", f"{API}/playlistItems", "playlist__page1")
    recorded.replay("GET", f"{API}/videos", "videos_statistics__page1")
    recorded.replay("GET", f"{API}/commentThreads", "comment_threads__ok")
    recorded.replay("GET", f"{API}/playlistItems", "playlist__page2")
    recorded.replay("GET", f"{API}/videos", "videos_statistics__page2")

    pages = list(connector.iter_posts())
    playlist_calls = [sent_query(c) for c in responses.calls if "/playlistItems" in c.request.url]
    assert playlist_calls[0] == {"part": "snippet,contentDetails", "playlistId": "UUacmeChannel0000000001",
                                 "maxResults": "50"}
    assert playlist_calls[1]["pageToken"] == "EAAaBlBUOkNBVQ"
    assert sent_query(responses.calls[1]) == {"part": "statistics", "id": "vid00000001,vid00000002"}
    assert sent_query(responses.calls[2])["videoId"] == "vid00000001"  # only the video with comments

    result = resource_import(integration, "posts", [i for p in pages for i in p.items], source=ImportSource.SYNC,
                             connector=connector)
    assert (result.created, result.failed) == (3, [])
    video = Post.objects.get(external_id="vid00000001")
    assert (video.title, video.permalink) == ("Winter drop", "https://www.youtube.com/watch?v=vid00000001")
    assert (PostMetrics.objects.get(post=video).views, PostMetrics.objects.get(post=video).likes) == (5400, 310)
    assert list(Comment.objects.filter(post=video).order_by("commented_at").values_list("author", "text")) == [
        ("@ana", "Love it"), ("@ion", "When in stock?")]


def upload_post(account, **fields) -> Post:
    return Post.objects.create(organization=account.organization, account=account, kind="video",
                               title="New season", caption="Our new season", media_urls=[MEDIA],
                               status="publishing", **fields)


@responses.activate
def test_a_resumable_upload_starts_a_session_then_sends_the_bytes(account):
    responses.add("GET", MEDIA, body=VIDEO_BYTES, content_type="video/mp4")
    recorded.replay("POST", UPLOAD, "upload_start__ok")
    recorded.replay("PUT", SESSION, "upload__done")

    post = post_publish(post_id=upload_post(account).pk)

    start, put = responses.calls[1], responses.calls[2]
    assert sent_query(start) == {"uploadType": "resumable", "part": "snippet,status"}
    assert start.request.headers["X-Upload-Content-Length"] == str(len(VIDEO_BYTES))
    assert start.request.headers["X-Upload-Content-Type"] == "video/mp4"
    assert sent_json(start) == {"snippet": {"title": "New season", "description": "Our new season",
                                            "categoryId": "22"},
                                "status": {"privacyStatus": "public", "selfDeclaredMadeForKids": False}}
    assert put.request.body == VIDEO_BYTES and "Content-Range" not in put.request.headers
    assert (post.status, post.external_id) == ("published", "vidNEW00001")
    assert post.publish_state == {"upload_url": SESSION}


@responses.activate
def test_an_upload_cut_by_a_timeout_resumes_from_what_the_session_holds(account):
    responses.add("GET", MEDIA, body=VIDEO_BYTES, content_type="video/mp4")
    recorded.replay("POST", UPLOAD, "upload_start__ok")
    responses.add("PUT", SESSION, body=requests.ReadTimeout("timed out"))
    post = upload_post(account)
    with pytest.raises(ProviderUnavailable):
        post_publish(post_id=post.pk)

    responses.reset()
    responses.add("GET", MEDIA, body=VIDEO_BYTES, content_type="video/mp4")
    recorded.replay("PUT", SESSION, "upload__incomplete")  # the probe: 4 bytes arrived
    recorded.replay("PUT", SESSION, "upload__done")
    published = post_publish(post_id=post.pk)

    probe, rest = responses.calls[1], responses.calls[2]
    assert probe.request.headers["Content-Range"] == f"bytes */{len(VIDEO_BYTES)}"
    assert rest.request.headers["Content-Range"] == f"bytes 4-{len(VIDEO_BYTES) - 1}/{len(VIDEO_BYTES)}"
    assert rest.request.body == VIDEO_BYTES[4:]
    assert not any(c.request.method == "POST" for c in responses.calls)  # no second session, no second video
    assert published.status == "published" and published.external_id == "vidNEW00001"


@responses.activate
def test_a_partial_upload_comes_back_later_and_quota_fails_the_post(account):
    responses.add("GET", MEDIA, body=VIDEO_BYTES, content_type="video/mp4")
    recorded.replay("POST", UPLOAD, "upload_start__ok")
    recorded.replay("PUT", SESSION, "upload__incomplete")
    with pytest.raises(PublishPending):
        post_publish(post_id=upload_post(account).pk)

    responses.reset()
    responses.add("GET", MEDIA, body=VIDEO_BYTES, content_type="video/mp4")
    recorded.replay("POST", UPLOAD, "upload__quota_exceeded")
    failed = post_publish(post_id=upload_post(account, request_id="r-2").pk)
    assert failed.status == "failed" and "quota" in failed.error


@responses.activate
def test_media_behind_an_inward_address_is_never_fetched(account, monkeypatch):
    from connectors import outbound

    monkeypatch.setattr(outbound, "resolve", lambda host: [__import__("ipaddress").ip_address("10.0.0.5")])
    post = post_publish(post_id=upload_post(account).pk)
    assert post.status == "failed" and len(responses.calls) == 0
