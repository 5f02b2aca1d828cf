"""The X connector (key `twitter`) against recorded answers (tests/fixtures/twitter/): OAuth 2.0 with PKCE S256 and
Basic client auth, discovery by /2/users/me, a refresh that rotates the refresh token, a refused refresh
(pending_auth), user posts paged by pagination_token into posts with public metrics, x-rate-limit waits, the
weighted 280 checked before any call, and a publish that is not repeated when retried after a timeout."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.test import Client
from django.utils import timezone

from config.errors import ValidationError
from connectors.errors import AuthExpired, ProviderError, ProviderUnavailable, RateLimited, RefreshFailed
from connectors.sessions import close_sessions
from connectors.twitter import connector as module
from connectors.twitter.text import weighted_length
from integrations.health_selectors import integration_health
from integrations.models import Integration
from social.models import Post, PostMetrics, SocialAccount
from social.services import post_create, post_publish
from syncjobs.resources import ImportSource, resource_import
from tests.connectors.support import Recorded, sent_json, sent_query
from tests.factories import IntegrationFactory
from tests.integrations.oauth_fakes import REDIRECT_URI, callback_path, outcome

recorded = Recorded("twitter")
API = "https://api.x.com/2"
TOKEN = f"{API}/oauth2/token"
USER = "1580000000000000001"
TWEETS = f"{API}/users/{USER}/tweets"
CALLBACK = "https://switchyard.example/api/oauth/callback/twitter/"
NOW = 1780000000  # the clock the fixtures' x-rate-limit-reset values are measured against
TEXT = "Boots & coats, 20% off today: https://shop.acme.example/winter/boots-and-coats?utm_source=x"


@pytest.fixture
def integration(db, public_dns, sleeps, settings, monkeypatch):
    settings.PROVIDER_SETTINGS = {"twitter": {"CLIENT_ID": "x-client-id", "CLIENT_SECRET": "x-client-secret"}}
    monkeypatch.setattr(module, "clock", lambda: NOW)
    yield IntegrationFactory(provider="twitter", type="social", code="x", status="active",
                             access_token="bWRWa3gzdnk3WTFSSmRKZ3VUb0dBZ05fxAccessFirst",
                             refresh_token="dE1KTmlvSXZRMjVxRVNnN0dfxRefreshFirst",
                             expires_at=timezone.now() + timedelta(minutes=90),
                             config={"user_id": USER, "username": "acmeshop"})
    close_sessions()


@pytest.fixture
def account(integration):
    return SocialAccount.objects.create(organization=integration.organization, integration=integration,
                                        external_id=USER, handle="@acmeshop")


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


BASIC = "Basic " + base64.b64encode(b"x-client-id:x-client-secret").decode()


@responses.activate
def test_connect_uses_pkce_s256_and_basic_auth_then_discovers_the_user(integration, connector):
    integration.config = {}
    url = connector.authorize_url(state="s1", redirect_uri=CALLBACK, scopes=connector.oauth.default_scopes,
                                  code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert url.startswith("https://x.com/i/oauth2/authorize?")
    query = {k: v[0] for k, v in parse_qs(url.split("?", 1)[1]).items()}
    assert query == {"response_type": "code", "client_id": "x-client-id", "redirect_uri": CALLBACK, "state": "s1",
                     "scope": "tweet.read tweet.write users.read offline.access",
                     "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}
    assert connector.describe()["oauth"]["pkce"] is True

    recorded.replay("POST", TOKEN, "oauth_token__ok")
    recorded.replay("GET", f"{API}/users/me", "users_me__ok")
    got = connector.exchange_code("code-1", redirect_uri=CALLBACK, code_verifier="v" * 43)
    token_call = responses.calls[0]
    assert token_call.request.headers["Authorization"] == BASIC
    assert form(token_call) == {"grant_type": "authorization_code", "code": "code-1", "redirect_uri": CALLBACK,
                                "code_verifier": "v" * 43}  # the client is in the Basic header, not the form
    assert got.refresh_token == "dE1KTmlvSXZRMjVxRVNnN0dfxRefreshFirst"
    assert set(got.scope) == {"tweet.read", "tweet.write", "users.read", "offline.access"}
    integration.access_token = got.access_token
    assert connector.account_display_name() == "@acmeshop"
    assert sent_query(responses.calls[1]) == {"user.fields": "profile_image_url,public_metrics"}
    assert integration.config == {"user_id": USER, "username": "acmeshop"}
    assert connector.normalize_social_account(recorded("users_me__ok")["body"]["data"]) == {
        "external_id": USER, "handle": "@acmeshop", "name": "Acme Shop", "followers": 1520,
        "picture_url": "https://pbs.twimg.com/profile_images/1/acme_normal.jpg"}


@responses.activate
def test_an_expiring_token_is_refreshed_and_the_rotated_refresh_token_stored(integration, connector):
    integration.expires_at = timezone.now() + timedelta(seconds=30)  # X's tokens last 2 h; this one is ending
    integration.save()
    recorded.replay("POST", TOKEN, "oauth_refresh__rotated")
    recorded.replay("GET", f"{API}/users/me", "users_me__ok")
    list(connector.iter_social_accounts())

    refresh = responses.calls[0]
    assert refresh.request.headers["Authorization"] == BASIC
    assert form(refresh) == {"grant_type": "refresh_token", "refresh_token": "dE1KTmlvSXZRMjVxRVNnN0dfxRefreshFirst"}
    assert responses.calls[1].request.headers["Authorization"] == "Bearer Tk9HNzFEeWxBX2JqRzZGTExAccessRotated"
    integration.refresh_from_db()
    assert integration.refresh_token == "Ym9iTGVmdFlBTU5fUXhUVExRefreshRotated"
    assert timedelta(hours=1) < integration.expires_at - timezone.now() <= timedelta(hours=2)


@responses.activate
def test_a_refused_token_and_refresh_put_the_integration_in_needs_reauth(integration, connector):
    recorded.replay("GET", f"{API}/users/me", "unauthorized")
    recorded.replay("POST", TOKEN, "oauth_refresh__invalid")
    with pytest.raises((RefreshFailed, AuthExpired)):
        list(connector.iter_social_accounts())
    integration.refresh_from_db()
    assert integration.status == "pending_auth"
    assert "Refreshing the access token of x failed" in integration.last_error
    assert integration_health(integration).state == "needs_reauth"


@responses.activate
def test_without_offline_access_a_refused_token_asks_for_a_reconnect_without_a_token_call(integration, connector):
    integration.refresh_token = ""
    integration.save()
    recorded.replay("GET", f"{API}/users/me", "unauthorized")
    with pytest.raises(RefreshFailed):
        list(connector.iter_social_accounts())
    assert [c.request.url.split("?")[0] for c in responses.calls] == [f"{API}/users/me"]
    integration.refresh_from_db()
    assert integration.status == "pending_auth" and "offline.access" in integration.last_error


@responses.activate
def test_posts_page_by_pagination_token_into_posts_with_public_metrics(integration, connector, account):
    recorded.replay("GET", TWEETS, "tweets__page1")
    recorded.replay("GET", TWEETS, "tweets__page2")
    pages = list(connector.iter_posts())

    assert sent_query(responses.calls[0]) == {"tweet.fields": "public_metrics,created_at,author_id",
                                              "max_results": "100"}
    assert sent_query(responses.calls[1])["pagination_token"] == "7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i"
    assert [p.next_cursor for p in pages] == ["7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i", None]

    result = resource_import(integration, "posts", [i for p in pages for i in p.items], source=ImportSource.SYNC,
                             connector=connector)
    assert (result.created, result.failed) == (3, [])
    post = Post.objects.get(external_id="1860000000000000002")
    assert post.caption == "Winter drop is live: boots & coats https://t.co/AbCdEf1234"
    assert post.permalink == "https://x.com/acmeshop/status/1860000000000000002"
    assert post.published_at.isoformat() == "2026-11-30T09:15:00+00:00"
    metrics = PostMetrics.objects.get(post=post)
    assert (metrics.views, metrics.likes, metrics.comments, metrics.shares, metrics.saves) == (5400, 210, 4, 15, 9)


@responses.activate
def test_a_sync_reads_no_more_posts_than_its_budget(integration, connector):
    integration.config = {**integration.config, "max_posts": 2}
    recorded.replay("GET", TWEETS, "tweets__page1")
    pages = list(connector.iter_posts())
    assert sent_query(responses.calls[0])["max_results"] == "5"  # X's smallest page
    assert len(responses.calls) == 1 and pages[-1].next_cursor is None


@responses.activate
def test_rate_limits_become_waits(integration, connector, sleeps):
    recorded.replay("GET", TWEETS, "tweets__rate_limited")  # reset in 30 s
    recorded.replay("GET", TWEETS, "tweets__page1_window_spent")  # remaining 0, reset in 20 s
    recorded.replay("GET", TWEETS, "tweets__page2")
    pages = list(connector.iter_posts())
    assert sleeps == [30, 20]  # the 429 waited out, then the spent window before page 2
    assert len(pages) == 2 and len(responses.calls) == 3

    responses.reset()
    recorded.replay("GET", TWEETS, "tweets__rate_limited_long")  # 14 minutes: not slept on by a worker
    with pytest.raises(RateLimited) as caught:
        list(connector.iter_posts())
    assert caught.value.retry_after == 840


def test_the_weighted_length_counts_as_x_does():
    assert weighted_length("a" * 280) == 280
    assert weighted_length("日本語") == 6  # CJK weighs 2
    assert weighted_length("https://example.com/" + "a" * 200) == 23  # any URL is 23 (t.co)
    assert weighted_length("👨‍👩‍👧‍👦") == 2  # one emoji of seven code points
    assert weighted_length("👍🏽 🇷🇴") == 5  # a skin tone rides on its emoji; a flag is one emoji
    assert weighted_length("café") == weighted_length("cafe\u0301") == 4  # NFC first


@responses.activate
def test_a_post_over_the_weighted_limit_is_refused_before_any_call(account):
    with pytest.raises(ValidationError) as caught:
        post_create(account=account, kind="post", caption="日本語" * 47, request_id="r-long")  # 141 × 2 = 282
    assert "counts 282" in caught.value.details["caption"][0]
    with pytest.raises(ValidationError) as caught:
        post_create(account=account, kind="post", caption="Look", media_urls=["https://cdn.acme.example/a.jpg"])
    assert "media_urls" in caught.value.details
    assert not Post.objects.exists() and len(responses.calls) == 0

    long_url = "Sale: https://shop.acme.example/" + "a" * 300  # 306 characters, 29 as X counts them
    post, created = post_create(account=account, kind="post", caption=long_url, enqueue=False)
    assert created and post.status == "publishing"


@responses.activate
def test_publish_posts_the_text_and_keeps_the_id(account):
    recorded.replay("POST", f"{API}/tweets", "create_tweet__created")
    post = Post.objects.create(organization=account.organization, account=account, kind="post", caption=TEXT,
                               status="publishing", request_id="r-1")
    published = post_publish(post_id=post.pk)

    assert len(responses.calls) == 1 and sent_json(responses.calls[0]) == {"text": TEXT}
    assert (published.status, published.external_id) == ("published", "1870000000000000005")
    assert published.permalink == "https://x.com/acmeshop/status/1870000000000000005"
    assert published.publish_state["tweet_id"] == "1870000000000000005" and "sent_at" in published.publish_state


@responses.activate
def test_a_publish_retried_after_a_timeout_finds_the_post_instead_of_posting_twice(account):
    responses.add("POST", f"{API}/tweets", body=requests.ReadTimeout("timed out"))
    post = Post.objects.create(organization=account.organization, account=account, kind="post", caption=TEXT,
                               status="publishing", request_id="r-1")
    with pytest.raises(ProviderUnavailable):
        post_publish(post_id=post.pk)
    assert len(responses.calls) == 1  # a POST is not replayed by the HTTP client

    responses.reset()
    recorded.replay("GET", TWEETS, "tweets__recent_with_sent")  # X escaped & and wrapped the URL in t.co
    published = post_publish(post_id=post.pk)
    assert [c.request.method for c in responses.calls] == ["GET"]  # no second POST
    query = sent_query(responses.calls[0])
    assert query["max_results"] == "20" and query["start_time"].endswith("Z")
    assert (published.status, published.external_id) == ("published", "1870000000000000005")


@responses.activate
def test_a_retry_whose_first_attempt_never_landed_posts_once(account):
    post = Post.objects.create(organization=account.organization, account=account, kind="post", caption=TEXT,
                               status="publishing", request_id="r-1",
                               publish_state={"sent_at": timezone.now().isoformat()})
    recorded.replay("GET", TWEETS, "tweets__recent_without_sent")
    recorded.replay("POST", f"{API}/tweets", "create_tweet__created")
    published = post_publish(post_id=post.pk)
    assert [c.request.method for c in responses.calls] == ["GET", "POST"]
    assert published.status == "published"


@responses.activate
def test_duplicate_content_fails_a_first_attempt_but_waits_after_a_lost_one(account):
    recorded.replay("POST", f"{API}/tweets", "create_tweet__duplicate")
    first = post_publish(post_id=Post.objects.create(organization=account.organization, account=account,
                                                     kind="post", caption=TEXT, status="publishing").pk)
    assert first.status == "failed" and "duplicate content" in first.error

    responses.reset()
    recorded.replay("GET", TWEETS, "tweets__recent_without_sent")  # not listed yet
    recorded.replay("POST", f"{API}/tweets", "create_tweet__duplicate")
    retried = Post.objects.create(organization=account.organization, account=account, kind="post", caption=TEXT,
                                  status="publishing", publish_state={"sent_at": timezone.now().isoformat()})
    with pytest.raises(ProviderError) as caught:
        post_publish(post_id=retried.pk)
    assert caught.value.transient is True
    retried.refresh_from_db()
    assert retried.status == "publishing"



@responses.activate
def test_a_connect_through_the_oauth_flow_sends_the_verifier_of_its_challenge(admin_api, org, public_dns, settings):
    settings.PROVIDER_SETTINGS = {"twitter": {"CLIENT_ID": "x-client-id", "CLIENT_SECRET": "x-client-secret"}}
    settings.OAUTH_ALLOWED_REDIRECT_URIS = [REDIRECT_URI]
    answer = admin_api.post("/api/integrations/oauth/initiate/", {"provider": "twitter", "redirect_uri": REDIRECT_URI},
                            format="json")
    assert answer.status_code == 201, answer.json()
    query = {k: v[0] for k, v in parse_qs(answer.json()["authorization_url"].split("?", 1)[1]).items()}
    assert query["code_challenge_method"] == "S256"

    recorded.replay("POST", TOKEN, "oauth_token__ok")
    recorded.replay("GET", f"{API}/users/me", "users_me__ok")
    result = outcome(Client().get(callback_path("twitter"), {"state": query["state"], "code": "code-1"}))
    assert result["status"] == "success", result

    verifier = form(responses.calls[0])["code_verifier"]
    digest = hashlib.sha256(verifier.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]
    row = Integration.objects.get(organization=org, provider="twitter")
    assert (row.status, row.config["user_id"], row.metadata["account_name"]) == ("active", USER, "@acmeshop")
    assert row.refresh_token == "dE1KTmlvSXZRMjVxRVNnN0dfxRefreshFirst" and "offline.access" in row.scope
