"""The TikTok connector against recorded answers (tests/fixtures/tiktok/): connect with `client_key`, a refresh
that rotates the refresh token, a refused refresh (pending_auth), cursor paging of videos into the social records,
and the direct post: creator info → init (PULL_FROM_URL) → status polling, resumed from its publish id."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.utils import timezone

from connectors.errors import AuthExpired, ProviderUnavailable, RefreshFailed
from connectors.sessions import close_sessions
from social.models import Post, PostMetrics, SocialAccount
from social.services import PublishPending, post_publish
from syncjobs.resources import ImportSource, resource_import
from tests.connectors.support import Recorded, sent_json, sent_query
from tests.factories import IntegrationFactory

recorded = Recorded("tiktok")
API = "https://open.tiktokapis.com"
TOKEN = f"{API}/v2/oauth/token/"
OPEN_ID = "-000OqOBk1F2ZU8YzIeUtsoIiCLx5xpHsv0s"
CALLBACK = "https://switchyard.example/api/oauth/callback/tiktok/"
VIDEO = "https://media.acme.example/drop.mp4"


@pytest.fixture
def integration(db, public_dns, sleeps, settings):
    settings.PROVIDER_SETTINGS = {"tiktok": {"CLIENT_KEY": "tt-key", "CLIENT_SECRET": "tt-secret"}}
    yield IntegrationFactory(provider="tiktok", type="social", code="tiktok", status="active",
                             access_token="act.example12345Example12345Example",
                             refresh_token="rft.example12345Example12345Example",
                             expires_at=timezone.now() + timedelta(hours=20), config={"open_id": OPEN_ID})
    close_sessions()


@pytest.fixture
def account(integration):
    return SocialAccount.objects.create(organization=integration.organization, integration=integration,
                                        external_id=OPEN_ID, handle="@acmeshop")


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def paths() -> list[str]:
    return [c.request.url.split("?")[0] for c in responses.calls]


@responses.activate
def test_connect_sends_the_client_key_and_discovers_the_creator(integration, connector):
    integration.config = {}
    url = connector.authorize_url(state="s1", redirect_uri=CALLBACK, scopes=connector.oauth.default_scopes)
    query = {k: v[0] for k, v in parse_qs(url.split("?", 1)[1]).items()}
    assert url.startswith("https://www.tiktok.com/v2/auth/authorize/?") and "client_id" not in query
    assert query["client_key"] == "tt-key"
    assert query["scope"] == "user.info.basic,user.info.stats,video.list,video.publish"

    recorded.replay("POST", TOKEN, "oauth_token__ok")
    recorded.replay("GET", f"{API}/v2/user/info/", "user_info__ok")
    tokens = connector.exchange_code("code-1", redirect_uri=CALLBACK)
    assert form(responses.calls[0]) == {"grant_type": "authorization_code", "code": "code-1",
                                        "redirect_uri": CALLBACK, "client_key": "tt-key",
                                        "client_secret": "tt-secret"}
    assert tokens.refresh_token == "rft.example12345Example12345Example"
    assert tokens.scope == ("user.info.basic", "video.list", "video.publish")
    integration.access_token = tokens.access_token
    assert connector.account_display_name() == "Acme Shop"
    assert sent_query(responses.calls[1])["fields"].startswith("open_id,union_id,avatar_url,display_name")
    assert integration.config == {"open_id": OPEN_ID, "username": "acmeshop"}


@responses.activate
def test_a_refresh_keeps_the_rotated_refresh_token(integration, connector):
    recorded.replay("POST", TOKEN, "oauth_refresh__rotated")
    tokens = connector.refresh_access_token()
    assert form(responses.calls[0]) == {"grant_type": "refresh_token",
                                        "refresh_token": "rft.example12345Example12345Example",
                                        "client_key": "tt-key", "client_secret": "tt-secret"}
    assert tokens.refresh_token == "rft.rotated67890Rotated67890Rotated"
    assert timedelta(hours=1) < tokens.expires_at - timezone.now() <= timedelta(hours=2)


@responses.activate
def test_a_refused_token_and_refresh_put_the_integration_in_pending_auth(integration, connector):
    recorded.replay("GET", f"{API}/v2/user/info/", "access_token_invalid")
    recorded.replay("POST", TOKEN, "oauth_refresh__invalid_grant")
    with pytest.raises((RefreshFailed, AuthExpired)):
        list(connector.iter_social_accounts())
    integration.refresh_from_db()
    assert integration.status == "pending_auth"
    assert "Refreshing the access token of tiktok failed" in integration.last_error


@responses.activate
def test_videos_page_by_cursor_into_posts_with_todays_counts(integration, connector, account):
    recorded.replay("POST", f"{API}/v2/video/list/", "video_list__page1")
    recorded.replay("POST", f"{API}/v2/video/list/", "video_list__page2")
    pages = list(connector.iter_posts())
    assert [sent_json(c) for c in responses.calls] == [{"max_count": 20},
                                                       {"max_count": 20, "cursor": 1764669600000}]
    assert sent_query(responses.calls[0])["fields"].split(",")[:3] == ["id", "title", "video_description"]
    assert [p.next_cursor for p in pages] == ["1764669600000", None]

    result = resource_import(integration, "posts", [i for p in pages for i in p.items], source=ImportSource.SYNC,
                             connector=connector)
    assert (result.created, result.failed) == (3, [])
    post = Post.objects.get(external_id="7300000000000000001")
    assert (post.kind, post.caption, post.title) == ("video", "Unboxing the winter drop", "Unboxing")
    assert post.published_at.isoformat() == "2025-12-03T10:00:00+00:00"
    metrics = PostMetrics.objects.get(post=post)
    assert (metrics.views, metrics.likes, metrics.comments, metrics.shares) == (12000, 900, 40, 12)


@responses.activate
def test_a_direct_post_is_creator_info_then_init_then_status(account):
    recorded.replay("POST", f"{API}/v2/post/publish/creator_info/query/", "creator_info__ok")
    recorded.replay("POST", f"{API}/v2/post/publish/video/init/", "publish_init__ok")
    recorded.replay("POST", f"{API}/v2/post/publish/status/fetch/", "publish_status__downloading")
    post = Post.objects.create(organization=account.organization, account=account, kind="video",
                               caption="Winter drop #acme", media_urls=[VIDEO], status="publishing")
    with pytest.raises(PublishPending):
        post_publish(post_id=post.pk)
    assert paths() == [f"{API}/v2/post/publish/creator_info/query/", f"{API}/v2/post/publish/video/init/",
                       f"{API}/v2/post/publish/status/fetch/"]
    assert sent_json(responses.calls[1]) == {
        "post_info": {"title": "Winter drop #acme", "privacy_level": "PUBLIC_TO_EVERYONE", "disable_comment": False},
        "source_info": {"source": "PULL_FROM_URL", "video_url": VIDEO}}
    assert sent_json(responses.calls[2]) == {"publish_id": "v_pub_url~v2.123456789"}

    responses.reset()  # the job comes back: it polls the same publish id, it does not init again
    recorded.replay("POST", f"{API}/v2/post/publish/status/fetch/", "publish_status__complete")
    published = post_publish(post_id=post.pk)
    assert paths() == [f"{API}/v2/post/publish/status/fetch/"]
    assert (published.status, published.external_id) == ("published", "7300000000000000009")


@responses.activate
def test_a_timeout_after_init_resumes_from_the_publish_id(account):
    recorded.replay("POST", f"{API}/v2/post/publish/creator_info/query/", "creator_info__unaudited")
    recorded.replay("POST", f"{API}/v2/post/publish/video/init/", "publish_init__ok")
    responses.add("POST", f"{API}/v2/post/publish/status/fetch/", body=requests.ReadTimeout("timed out"))
    post = Post.objects.create(organization=account.organization, account=account, kind="video", caption="x",
                               media_urls=[VIDEO], status="publishing", request_id="r-1")
    with pytest.raises(ProviderUnavailable):
        post_publish(post_id=post.pk)
    assert sent_json(responses.calls[1])["post_info"]["privacy_level"] == "SELF_ONLY"  # an unaudited app

    responses.reset()
    recorded.replay("POST", f"{API}/v2/post/publish/status/fetch/", "publish_status__failed")
    failed = post_publish(post_id=post.pk)
    assert paths() == [f"{API}/v2/post/publish/status/fetch/"]
    assert failed.status == "failed" and "url_ownership_unverified" in failed.error


@responses.activate
def test_an_init_whose_answer_was_lost_is_never_sent_twice(account):
    """TikTok takes no idempotency key: an init that went out and timed out may have created the post, so the job's
    retry must not init a second one; the post fails saying where to look instead."""
    recorded.replay("POST", f"{API}/v2/post/publish/creator_info/query/", "creator_info__ok")
    responses.add("POST", f"{API}/v2/post/publish/video/init/", body=requests.ReadTimeout("timed out"))
    post = Post.objects.create(organization=account.organization, account=account, kind="video", caption="x",
                               media_urls=[VIDEO], status="publishing", request_id="r-lost")
    with pytest.raises(ProviderUnavailable):
        post_publish(post_id=post.pk)

    responses.reset()
    recorded.replay("POST", f"{API}/v2/post/publish/creator_info/query/", "creator_info__ok")
    recorded.replay("POST", f"{API}/v2/post/publish/video/init/", "publish_init__ok")
    retried = post_publish(post_id=post.pk)
    assert paths() == []  # nothing sent again
    assert retried.status == "failed" and "check the TikTok profile" in retried.error


@responses.activate
def test_an_init_tiktok_refused_is_tried_afresh_by_the_retry(account):
    recorded.replay("POST", f"{API}/v2/post/publish/creator_info/query/", "creator_info__ok")
    responses.add("POST", f"{API}/v2/post/publish/video/init/", status=503, json={"error": {"code": "internal"}})
    post = Post.objects.create(organization=account.organization, account=account, kind="video", caption="x",
                               media_urls=[VIDEO], status="publishing", request_id="r-503")
    with pytest.raises(ProviderUnavailable):  # TikTok answered: it made nothing
        post_publish(post_id=post.pk)

    responses.reset()
    recorded.replay("POST", f"{API}/v2/post/publish/creator_info/query/", "creator_info__ok")
    recorded.replay("POST", f"{API}/v2/post/publish/video/init/", "publish_init__ok")
    recorded.replay("POST", f"{API}/v2/post/publish/status/fetch/", "publish_status__complete")
    assert post_publish(post_id=post.pk).status == "published"


@responses.activate
def test_a_publish_tiktok_failed_is_published_afresh_when_the_operator_retries(account):
    """FAILED is TikTok's final word on that publish id: the admin's retry (after the operator fixed the cause)
    must init a new publish, not poll the dead one for ever."""
    recorded.replay("POST", f"{API}/v2/post/publish/status/fetch/", "publish_status__failed")
    post = Post.objects.create(organization=account.organization, account=account, kind="video", caption="x",
                               media_urls=[VIDEO], status="publishing",
                               publish_state={"publish_id": "v_pub_url~v2.000000001"})
    assert post_publish(post_id=post.pk).status == "failed"

    Post.objects.filter(pk=post.pk).update(status="publishing", error="")  # what the admin's retry action does
    responses.reset()
    recorded.replay("POST", f"{API}/v2/post/publish/creator_info/query/", "creator_info__ok")
    recorded.replay("POST", f"{API}/v2/post/publish/video/init/", "publish_init__ok")
    recorded.replay("POST", f"{API}/v2/post/publish/status/fetch/", "publish_status__complete")
    published = post_publish(post_id=post.pk)
    assert (published.status, published.external_id) == ("published", "7300000000000000009")
    assert sent_json(responses.calls[2]) == {"publish_id": "v_pub_url~v2.123456789"}


@responses.activate
def test_a_refused_token_while_publishing_fails_the_post_and_needs_reauth(account):
    recorded.replay("POST", f"{API}/v2/post/publish/creator_info/query/", "access_token_invalid")
    recorded.replay("POST", TOKEN, "oauth_refresh__invalid_grant")
    post = Post.objects.create(organization=account.organization, account=account, kind="video", caption="x",
                               media_urls=[VIDEO], status="publishing", request_id="r-auth")
    failed = post_publish(post_id=post.pk)
    assert failed.status == "failed" and failed.error
    assert f"{API}/v2/post/publish/video/init/" not in paths()
    account.integration.refresh_from_db()
    assert account.integration.status == "pending_auth"
