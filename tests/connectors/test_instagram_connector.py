"""The Instagram connector against recorded answers (tests/fixtures/instagram/): connect (code → short token →
60-day token, account discovery), refresh and a refused token (pending_auth), media paging with insights into the
social records, and publishing (container → status → media_publish, carousels, a retry after a timeout)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.utils import timezone

from connectors.errors import AuthExpired, ProviderUnavailable, RefreshFailed
from connectors.sessions import close_sessions
from social.models import Post, PostMetrics, SocialAccount
from social.services import post_publish
from syncjobs.resources import ImportSource, resource_import
from tests.connectors.support import Recorded, sent_query
from tests.factories import IntegrationFactory

recorded = Recorded("instagram")
GRAPH = "https://graph.instagram.com"
USER = "17841400000000001"
CALLBACK = "https://switchyard.example/api/oauth/callback/instagram/"
# Calls made with the token prove the app secret ("ig-secret" below): hex HMAC-SHA256 of the token.
PROOF = {"appsecret_proof": hmac.new(b"ig-secret", b"IGAAlonglived4444555566667777", hashlib.sha256).hexdigest()}


@pytest.fixture
def integration(db, public_dns, sleeps, settings):
    settings.PROVIDER_SETTINGS = {"instagram": {"CLIENT_ID": "ig-client", "CLIENT_SECRET": "ig-secret"}}
    yield IntegrationFactory(provider="instagram", type="social", code="instagram", status="active",
                             access_token="IGAAlonglived4444555566667777",
                             refresh_token="IGAAlonglived4444555566667777", config={"user_id": USER})
    close_sessions()


@pytest.fixture
def account(integration):
    return SocialAccount.objects.create(organization=integration.organization, integration=integration,
                                        external_id=USER, handle="@acme.shop")


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def calls() -> list[tuple[str, str]]:
    return [(c.request.method, c.request.url.split("?")[0]) for c in responses.calls]


# ---------------------------------------------------------------- connect and refresh


@responses.activate
def test_connect_trades_the_code_for_a_60_day_token_and_discovers_the_account(integration, connector):
    integration.config = {}
    recorded.replay("POST", "https://api.instagram.com/oauth/access_token", "oauth_short_token__ok")
    recorded.replay("GET", f"{GRAPH}/access_token", "oauth_long_token__ok")
    recorded.replay("GET", f"{GRAPH}/me", "me__ok")

    tokens = connector.exchange_code("AQBcode", redirect_uri=CALLBACK)

    assert form(responses.calls[0]) == {"client_id": "ig-client", "client_secret": "ig-secret",
                                        "grant_type": "authorization_code", "redirect_uri": CALLBACK,
                                        "code": "AQBcode"}
    assert sent_query(responses.calls[1]) == {"grant_type": "ig_exchange_token", "client_secret": "ig-secret",
                                              "access_token": "IGAAshort0000111122223333"}
    assert tokens.access_token == tokens.refresh_token == "IGAAlonglived4444555566667777"
    assert timedelta(days=59) < tokens.expires_at - timezone.now() <= timedelta(days=60)
    integration.access_token = tokens.access_token
    assert connector.account_display_name() == "@acme.shop"
    assert integration.config == {"user_id": USER, "username": "acme.shop"}
    assert responses.calls[2].request.headers["Authorization"] == "Bearer IGAAlonglived4444555566667777"


def test_the_authorize_url_asks_for_the_business_scopes_comma_separated(integration, connector):
    url = connector.authorize_url(state="s1", redirect_uri=CALLBACK, scopes=connector.oauth.default_scopes)
    query = {k: v[0] for k, v in parse_qs(url.split("?", 1)[1]).items()}
    assert url.startswith("https://www.instagram.com/oauth/authorize?")
    assert query["client_id"] == "ig-client" and query["response_type"] == "code"
    assert query["scope"].split(",")[0] == "instagram_business_basic"


@responses.activate
def test_refresh_presents_the_long_lived_token(integration, connector):
    recorded.replay("GET", f"{GRAPH}/refresh_access_token", "refresh__ok")
    tokens = connector.refresh_access_token()
    assert sent_query(responses.calls[0]) == {"grant_type": "ig_refresh_token",
                                              "access_token": "IGAAlonglived4444555566667777"}
    assert tokens.access_token == tokens.refresh_token == "IGAArefreshed8888999900001111"
    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_a_refused_token_puts_the_integration_in_pending_auth(integration, connector):
    recorded.replay("GET", f"{GRAPH}/me/media", "token_invalid")
    recorded.replay("GET", f"{GRAPH}/refresh_access_token", "refresh__refused")
    with pytest.raises((RefreshFailed, AuthExpired)):
        list(connector.iter_posts())
    integration.refresh_from_db()
    assert integration.status == "pending_auth"
    assert "Refreshing the access token of instagram failed" in integration.last_error


# ---------------------------------------------------------------- media, insights


@responses.activate
def test_media_pages_by_the_after_cursor_with_insights_into_the_social_records(integration, connector, account):
    recorded.replay("GET", f"{GRAPH}/me/media", "media__page1")
    recorded.replay("GET", f"{GRAPH}/18000000000000001/insights", "insights__ok")
    recorded.replay("GET", f"{GRAPH}/18000000000000001/comments", "comments__page1")
    recorded.replay("GET", f"{GRAPH}/18000000000000001/comments", "comments__page2")
    recorded.replay("GET", f"{GRAPH}/18000000000000002/insights", "insights__not_enough_viewers")
    recorded.replay("GET", f"{GRAPH}/18000000000000002/comments", "comments__reel")
    recorded.replay("GET", f"{GRAPH}/me/media", "media__page2")
    recorded.replay("GET", f"{GRAPH}/18000000000000003/insights", "insights__empty")

    pages = list(connector.iter_posts())
    assert [p.next_cursor for p in pages] == ["QVFIUmJi", None]
    media_calls = [c for c in responses.calls if c.request.url.startswith(f"{GRAPH}/me/media")]
    assert "after" not in sent_query(media_calls[0]) and sent_query(media_calls[1])["after"] == "QVFIUmJi"
    assert sent_query(responses.calls[1])["metric"] == "views,reach,likes,comments,shares,saved"

    result = resource_import(integration, "posts", [item for page in pages for item in page.items],
                             source=ImportSource.SYNC, connector=connector)
    assert (result.created, result.failed) == (3, [])
    first = Post.objects.get(external_id="18000000000000001")
    assert (first.kind, first.permalink) == ("post", "https://www.instagram.com/p/AAA111/")
    metrics = PostMetrics.objects.get(post=first)
    assert (metrics.views, metrics.reach, metrics.likes, metrics.shares, metrics.saves) == (900, 610, 41, 7, 12)
    reel = Post.objects.get(external_id="18000000000000002")
    assert reel.kind == "reel" and PostMetrics.objects.get(post=reel).likes == 120  # no insights: the counts
    assert Post.objects.get(external_id="18000000000000003").kind == "carousel"


@responses.activate
def test_comments_of_media_page_by_the_after_cursor_into_comment_rows_through_the_import(integration, connector,
                                                                                         account):
    from social.models import Comment

    def pull(comments_first_page: str):
        recorded.replay("GET", f"{GRAPH}/me/media", "media__page1")
        recorded.replay("GET", f"{GRAPH}/18000000000000001/insights", "insights__ok")
        recorded.replay("GET", f"{GRAPH}/18000000000000001/comments", comments_first_page)
        recorded.replay("GET", f"{GRAPH}/18000000000000001/comments", "comments__page2")
        recorded.replay("GET", f"{GRAPH}/18000000000000002/insights", "insights__not_enough_viewers")
        recorded.replay("GET", f"{GRAPH}/18000000000000002/comments", "comments__reel")
        recorded.replay("GET", f"{GRAPH}/me/media", "media__page2")  # no comments there: none asked for
        recorded.replay("GET", f"{GRAPH}/18000000000000003/insights", "insights__empty")
        pages = list(connector.iter_posts())
        return resource_import(integration, "posts", [item for page in pages for item in page.items],
                               source=ImportSource.SYNC, connector=connector)

    result = pull("comments__page1")
    assert (result.created, result.failed) == (3, [])
    asked = [sent_query(c) for c in responses.calls if c.request.url.split("?")[0].endswith("/comments")]
    assert asked == [{"fields": "id,text,username,like_count,timestamp", "limit": "50", **PROOF},
                     {"fields": "id,text,username,like_count,timestamp", "limit": "50", "after": "QVFIUmMy", **PROOF},
                     {"fields": "id,text,username,like_count,timestamp", "limit": "50", **PROOF}]
    assert not [c for c in responses.calls if "18000000000000003/comments" in c.request.url]
    first = Comment.objects.filter(post__external_id="18000000000000001")
    assert [(c.external_id, c.author, c.text, c.like_count) for c in first] == [
        ("17850000000000001", "maria.ionescu", "Love this!", 2), ("17850000000000002", "dan_c", "Is it in size M?", 0),
        ("17850000000000003", "ioana.shop", "Ordered 🙌", 1)]
    assert first[0].commented_at.isoformat() == "2026-12-01T11:00:00+00:00"
    assert Comment.objects.get(post__external_id="18000000000000002").text == "Great video"

    responses.reset()  # the next sync: the same comments, one with more likes, are upserted, not added
    pull("comments__page1_edited")
    assert Comment.objects.count() == 4
    assert Comment.objects.get(external_id="17850000000000001").like_count == 7


@responses.activate
def test_account_discovery_imports_the_profile(integration, connector):
    recorded.replay("GET", f"{GRAPH}/me", "me__ok")
    [page] = list(connector.iter_social_accounts())
    result = resource_import(integration, "social_accounts", page.items, source=ImportSource.SYNC,
                             connector=connector)
    assert result.created == 1
    account = SocialAccount.objects.get(integration=integration)
    assert (account.external_id, account.handle, account.followers) == (USER, "@acme.shop", 1520)


# ---------------------------------------------------------------- publishing


def new_post(account, **fields) -> Post:
    values = {"kind": "post", "caption": "New season", "media_urls": ["https://cdn.acme.example/look.jpg"],
              "status": "publishing", "request_id": "req-1", **fields}
    return Post.objects.create(organization=account.organization, account=account, **values)


@responses.activate
def test_an_image_post_is_a_container_then_media_publish(account):
    recorded.replay("GET", f"{GRAPH}/{USER}/content_publishing_limit", "publishing_limit__ok")
    recorded.replay("POST", f"{GRAPH}/{USER}/media", "container__1")
    recorded.replay("GET", f"{GRAPH}/17900000000000001", "container_status__finished")
    recorded.replay("POST", f"{GRAPH}/{USER}/media_publish", "media_publish__ok")
    recorded.replay("GET", f"{GRAPH}/18000000000000009", "media_get__ok")

    post = post_publish(post_id=new_post(account).pk)

    assert calls() == [("GET", f"{GRAPH}/{USER}/content_publishing_limit"), ("POST", f"{GRAPH}/{USER}/media"),
                       ("GET", f"{GRAPH}/17900000000000001"), ("POST", f"{GRAPH}/{USER}/media_publish"),
                       ("GET", f"{GRAPH}/18000000000000009")]
    assert form(responses.calls[1]) == {"caption": "New season", "image_url": "https://cdn.acme.example/look.jpg"}
    assert sent_query(responses.calls[2]) == {"fields": "status_code", **PROOF}
    assert form(responses.calls[3]) == {"creation_id": "17900000000000001"}
    assert (post.status, post.external_id, post.permalink) == (
        "published", "18000000000000009", "https://www.instagram.com/p/ZZZ999/")


@responses.activate
def test_a_carousel_makes_item_containers_then_the_album(account):
    recorded.replay("GET", f"{GRAPH}/{USER}/content_publishing_limit", "publishing_limit__ok")
    recorded.replay("POST", f"{GRAPH}/{USER}/media", "container__1")
    recorded.replay("POST", f"{GRAPH}/{USER}/media", "container__2")
    recorded.replay("POST", f"{GRAPH}/{USER}/media", "container__3")
    recorded.replay("GET", f"{GRAPH}/17900000000000003", "container_status__finished")
    recorded.replay("POST", f"{GRAPH}/{USER}/media_publish", "media_publish__ok")
    recorded.replay("GET", f"{GRAPH}/18000000000000009", "media_get__ok")

    post = post_publish(post_id=new_post(account, kind="carousel", media_urls=[
        "https://cdn.acme.example/a.jpg", "https://cdn.acme.example/b.mp4"]).pk)

    containers = [form(c) for c in responses.calls if c.request.url.split("?")[0] == f"{GRAPH}/{USER}/media"]
    assert containers == [
        {"image_url": "https://cdn.acme.example/a.jpg", "is_carousel_item": "true"},
        {"video_url": "https://cdn.acme.example/b.mp4", "media_type": "VIDEO", "is_carousel_item": "true"},
        {"caption": "New season", "media_type": "CAROUSEL", "children": "17900000000000001,17900000000000002"},
    ]
    assert post.status == "published"
    assert post.publish_state["children"] == ["17900000000000001", "17900000000000002"]


@responses.activate
def test_a_reel_still_processing_comes_back_and_resumes_without_a_second_container(account):
    from social.services import PublishPending

    recorded.replay("GET", f"{GRAPH}/{USER}/content_publishing_limit", "publishing_limit__ok")
    recorded.replay("POST", f"{GRAPH}/{USER}/media", "container__1")
    recorded.replay("GET", f"{GRAPH}/17900000000000001", "container_status__in_progress")
    post = new_post(account, kind="reel", media_urls=["https://cdn.acme.example/reel.mp4"])
    with pytest.raises(PublishPending):
        post_publish(post_id=post.pk)
    assert form(responses.calls[1]) == {"caption": "New season", "video_url": "https://cdn.acme.example/reel.mp4",
                                        "media_type": "REELS"}

    responses.reset()
    recorded.replay("GET", f"{GRAPH}/17900000000000001", "container_status__finished")
    recorded.replay("POST", f"{GRAPH}/{USER}/media_publish", "media_publish__ok")
    recorded.replay("GET", f"{GRAPH}/18000000000000009", "media_get__ok")
    assert post_publish(post_id=post.pk).status == "published"
    assert ("POST", f"{GRAPH}/{USER}/media") not in calls()


@responses.activate
def test_a_publish_retried_after_a_timeout_creates_one_instagram_post(account):
    recorded.replay("GET", f"{GRAPH}/{USER}/content_publishing_limit", "publishing_limit__ok")
    recorded.replay("POST", f"{GRAPH}/{USER}/media", "container__1")
    recorded.replay("GET", f"{GRAPH}/17900000000000001", "container_status__finished")
    responses.add("POST", f"{GRAPH}/{USER}/media_publish", body=requests.ReadTimeout("read timed out"))
    post = new_post(account)
    with pytest.raises(ProviderUnavailable):  # Instagram published it; the answer never came
        post_publish(post_id=post.pk)

    responses.reset()
    recorded.replay("GET", f"{GRAPH}/17900000000000001", "container_status__published")
    recorded.replay("GET", f"{GRAPH}/me/media", "media_recent__ok")
    retried = post_publish(post_id=post.pk)

    assert ("POST", f"{GRAPH}/{USER}/media_publish") not in calls()
    assert ("POST", f"{GRAPH}/{USER}/media") not in calls()
    assert (retried.status, retried.external_id) == ("published", "18000000000000009")
    assert Post.objects.filter(account=account).count() == 1


@responses.activate
def test_a_used_up_daily_quota_or_a_failed_container_fails_the_post_with_the_reason(account):
    recorded.replay("GET", f"{GRAPH}/{USER}/content_publishing_limit", "publishing_limit__used_up")
    post = post_publish(post_id=new_post(account).pk)
    assert post.status == "failed" and "100 posts of the last 24 hours" in post.error
    assert calls() == [("GET", f"{GRAPH}/{USER}/content_publishing_limit")]

    responses.reset()
    recorded.replay("GET", f"{GRAPH}/17900000000000001", "container_status__error")
    broken = post_publish(post_id=new_post(account, request_id="req-2",
                                           publish_state={"container_id": "17900000000000001"}).pk)
    assert broken.status == "failed" and "container ERROR" in broken.error


@responses.activate
def test_an_operators_retry_after_a_failed_container_makes_a_new_one(account):
    recorded.replay("GET", f"{GRAPH}/17900000000000001", "container_status__error")
    post = post_publish(post_id=new_post(account, publish_state={"container_id": "17900000000000001"}).pk)
    assert post.status == "failed"

    Post.objects.filter(pk=post.pk).update(status="publishing", error="")  # the console's "Retry publishing"
    responses.reset()
    recorded.replay("GET", f"{GRAPH}/{USER}/content_publishing_limit", "publishing_limit__ok")
    recorded.replay("POST", f"{GRAPH}/{USER}/media", "container__2")
    recorded.replay("GET", f"{GRAPH}/17900000000000002", "container_status__finished")
    recorded.replay("POST", f"{GRAPH}/{USER}/media_publish", "media_publish__ok")
    recorded.replay("GET", f"{GRAPH}/18000000000000009", "media_get__ok")
    retried = post_publish(post_id=post.pk)

    assert ("GET", f"{GRAPH}/17900000000000001") not in calls()
    assert form(responses.calls[3]) == {"creation_id": "17900000000000002"}
    assert retried.status == "published"


def test_limits_are_checked_before_any_call(integration):
    from connectors.instagram.connector import InstagramConnector

    limits = InstagramConnector.post_limits
    assert limits.problems(kind="story", caption="", title="", media_urls=["https://cdn.acme.example/a.png"])
    assert "caption" in limits.problems(kind="post", caption="x" * 2201, title="",
                                        media_urls=["https://cdn.acme.example/a.jpg"])
    assert "media_urls" in limits.problems(kind="carousel", caption="", title="",
                                           media_urls=["https://cdn.acme.example/a.jpg"])
    assert limits.problems(kind="reel", caption="ok", title="", media_urls=["https://cdn.acme.example/a.mp4"]) == {}
