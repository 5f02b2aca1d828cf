"""The Facebook Pages connector against recorded answers (tests/fixtures/facebook/): connect (code → short token →
long-lived token, page discovery with the page tokens kept encrypted and out of the call log), refresh and a
refused token (pending_auth), page and post insights on current metric names only, posts with cursor paging into
the social records, and publishing (exact bodies, `{page}_{post}` ids, a retry after a timeout, 506, errors)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.db import connection
from django.utils import timezone

from connectors.errors import AuthExpired, ProviderUnavailable, RefreshFailed
from connectors.sessions import close_sessions
from integrations.models import Integration, IntegrationLog
from social.models import Post, PostMetrics, SocialAccount
from social.services import post_publish
from syncjobs.resources import ImportSource, resource_import
from tests.connectors.support import Recorded, sent_query
from tests.factories import IntegrationFactory

recorded = Recorded("facebook")
GRAPH = "https://graph.facebook.com/v27.0"
PAGE, PAGE2 = "104000000000001", "104000000000002"
USER_TOKEN = "EAAFbLongUserToken0002"
PAGE_TOKEN, PAGE2_TOKEN = "EAAFbPageTokenAcme1111", "EAAFbPageTokenOutlet2222"
CALLBACK = "https://switchyard.example/api/oauth/callback/facebook/"


def proof(token: str) -> dict[str, str]:
    """The appsecret_proof a call made with `token` carries: hex HMAC-SHA256 of that token under the app secret."""
    return {"appsecret_proof": hmac.new(b"fb-app-secret", token.encode(), hashlib.sha256).hexdigest()}


# Gone from every Graph version (pages-api deprecated metrics): asking for them is an invalid-metric error.
REMOVED = ("impressions", "page_fans", "page_fan_adds", "post_impressions_unique", "page_impressions_unique")


@pytest.fixture
def integration(db, public_dns, sleeps, settings):
    settings.PROVIDER_SETTINGS = {"facebook": {"CLIENT_ID": "fb-app-id", "CLIENT_SECRET": "fb-app-secret"}}
    yield IntegrationFactory(provider="facebook", type="social", code="facebook", status="active",
                             access_token=USER_TOKEN, refresh_token=USER_TOKEN,
                             expires_at=timezone.now() + timedelta(days=50),
                             config={"page_ids": [PAGE]}, credentials={"page_tokens": {PAGE: PAGE_TOKEN}})
    close_sessions()


@pytest.fixture
def account(integration):
    return SocialAccount.objects.create(organization=integration.organization, integration=integration,
                                        external_id=PAGE, name="Acme Shop")


def form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


def calls() -> list[tuple[str, str]]:
    return [(c.request.method, c.request.url.split("?")[0]) for c in responses.calls]


def insight_metrics() -> list[str]:
    return [sent_query(c)["metric"] for c in responses.calls if c.request.url.split("?")[0].endswith("/insights")]


def logged() -> str:
    return json.dumps(list(IntegrationLog.objects.values("endpoint", "request", "response", "error_message")))


# ---------------------------------------------------------------- connect and refresh


def test_the_authorize_url_is_the_facebook_login_dialog_with_the_pages_scopes(integration, connector):
    url = connector.authorize_url(state="s1", redirect_uri=CALLBACK, scopes=connector.oauth.default_scopes)
    query = {k: v[0] for k, v in parse_qs(url.split("?", 1)[1]).items()}
    assert url.startswith("https://www.facebook.com/v27.0/dialog/oauth?")
    assert query == {"client_id": "fb-app-id", "redirect_uri": CALLBACK, "state": "s1", "response_type": "code",
                     "scope": "pages_show_list,pages_manage_posts,pages_read_engagement,read_insights"}


@responses.activate
def test_connect_trades_the_code_for_a_long_lived_token_and_discovers_the_pages(integration, connector):
    integration.config, integration.credentials = {}, {"verify_token": "vt-1"}
    integration.save()
    recorded.replay("GET", f"{GRAPH}/oauth/access_token", "oauth__short_token")
    recorded.replay("GET", f"{GRAPH}/oauth/access_token", "oauth__long_token")
    recorded.replay("GET", f"{GRAPH}/me/accounts", "pages__page1")
    recorded.replay("GET", f"{GRAPH}/me/accounts", "pages__page2")
    recorded.replay("GET", f"{GRAPH}/me", "me__user")

    tokens = connector.exchange_code("AQDcode", redirect_uri=CALLBACK)
    assert sent_query(responses.calls[0]) == {"client_id": "fb-app-id", "client_secret": "fb-app-secret",
                                              "redirect_uri": CALLBACK, "code": "AQDcode"}
    assert sent_query(responses.calls[1]) == {"grant_type": "fb_exchange_token", "client_id": "fb-app-id",
                                              "client_secret": "fb-app-secret",
                                              "fb_exchange_token": "EAAFbShortUserToken0001"}
    assert tokens.access_token == tokens.refresh_token == USER_TOKEN
    assert timedelta(days=59) < tokens.expires_at - timezone.now() <= timedelta(days=60)

    integration.access_token = tokens.access_token
    assert connector.account_display_name() == "Ana Popescu"
    assert sent_query(responses.calls[3])["after"] == "QVFIUkFjbWU"  # me/accounts paged by the after cursor
    assert responses.calls[2].request.headers["Authorization"] == f"Bearer {USER_TOKEN}"
    assert integration.config == {"page_ids": [PAGE, PAGE2]}
    assert [(a.kind, a.id) for a in connector.routed_accounts()] == [("meta.page", PAGE), ("meta.page", PAGE2)]

    stored = Integration.objects.get(pk=integration.pk)
    assert stored.credentials == {"verify_token": "vt-1", "page_tokens": {PAGE: PAGE_TOKEN, PAGE2: PAGE2_TOKEN}}
    assert PAGE_TOKEN not in json.dumps([stored.config, stored.metadata])
    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute(f"SELECT credentials FROM {Integration._meta.db_table} WHERE id = %s", [integration.pk])
        assert PAGE_TOKEN not in str(cursor.fetchone()[0])
    listed = IntegrationLog.objects.filter(action="list_pages").order_by("pk")
    assert listed.count() == 2
    assert listed[0].response["json"]["data"][0]["access_token"] == "[REDACTED]"  # logged, token taken out
    assert PAGE_TOKEN not in logged() and PAGE2_TOKEN not in logged() and USER_TOKEN not in logged()


@responses.activate
def test_refresh_exchanges_the_long_lived_token_again(integration, connector):
    recorded.replay("GET", f"{GRAPH}/oauth/access_token", "oauth__refreshed_token")
    tokens = connector.refresh_access_token()
    assert sent_query(responses.calls[0]) == {"grant_type": "fb_exchange_token", "client_id": "fb-app-id",
                                              "client_secret": "fb-app-secret", "fb_exchange_token": USER_TOKEN}
    assert tokens.access_token == tokens.refresh_token == "EAAFbLongUserToken0003"
    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_a_refused_token_puts_the_integration_in_pending_auth(integration, connector):
    recorded.replay("GET", f"{GRAPH}/{PAGE}/posts", "token_invalid")
    recorded.replay("GET", f"{GRAPH}/oauth/access_token", "oauth__expired_token")
    with pytest.raises((RefreshFailed, AuthExpired)):
        list(connector.iter_posts())
    assert calls() == [("GET", f"{GRAPH}/{PAGE}/posts"), ("GET", f"{GRAPH}/oauth/access_token")]
    integration.refresh_from_db()
    assert integration.status == "pending_auth"
    assert "Refreshing the access token of facebook failed" in integration.last_error
    assert PAGE_TOKEN not in integration.last_error and PAGE_TOKEN not in logged()


@responses.activate
def test_a_page_token_refused_while_the_users_is_valid_puts_the_integration_in_error(integration, connector):
    recorded.replay("GET", f"{GRAPH}/{PAGE}/posts", "token_invalid")
    recorded.replay("GET", f"{GRAPH}/oauth/access_token", "oauth__refreshed_token")
    recorded.replay("GET", f"{GRAPH}/{PAGE}/posts", "token_invalid")
    with pytest.raises(AuthExpired):
        list(connector.iter_posts())
    integration.refresh_from_db()
    assert integration.status == "error" and "reconnect the integration as an admin of the page" in \
        integration.last_error


# ---------------------------------------------------------------- pages, posts, insights


@responses.activate
def test_page_discovery_imports_each_page_with_its_follows(integration, connector):
    recorded.replay("GET", f"{GRAPH}/me/accounts", "pages__page1")
    recorded.replay("GET", f"{GRAPH}/{PAGE}/insights", "page_insights__ok")
    recorded.replay("GET", f"{GRAPH}/me/accounts", "pages__page2")
    recorded.replay("GET", f"{GRAPH}/{PAGE2}/insights", "page_insights__outlet")

    pages = list(connector.iter_social_accounts())
    assert [p.next_cursor for p in pages] == ["QVFIUkFjbWU", None]
    assert all("access_token" not in item for page in pages for item in page.items)
    assert [sent_query(c) for c in responses.calls if "/insights" in c.request.url] == [  # each page's own proof
        {"metric": "page_follows", "period": "day", **proof(PAGE_TOKEN)},
        {"metric": "page_follows", "period": "day", **proof(PAGE2_TOKEN)}]
    assert sent_query(responses.calls[0])["appsecret_proof"] == proof(USER_TOKEN)["appsecret_proof"]
    assert responses.calls[1].request.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert responses.calls[3].request.headers["Authorization"] == f"Bearer {PAGE2_TOKEN}"

    result = resource_import(integration, "social_accounts", [i for p in pages for i in p.items],
                             source=ImportSource.SYNC, connector=connector)
    assert (result.created, result.failed) == (2, [])
    acme = SocialAccount.objects.get(external_id=PAGE)
    assert (acme.name, acme.handle, acme.followers, acme.picture_url) == (
        "Acme Shop", "@acmeshop", 2402, "https://scontent.example/acme.jpg")
    assert acme.metadata == {}
    assert SocialAccount.objects.get(external_id=PAGE2).followers == 415
    assert PAGE2_TOKEN not in logged()


@responses.activate
def test_posts_page_by_the_after_cursor_with_current_insights_into_the_social_records(integration, connector,
                                                                                      account):
    recorded.replay("GET", f"{GRAPH}/{PAGE}/posts", "posts__page1")
    recorded.replay("GET", f"{GRAPH}/{PAGE}_900000000000001/insights", "post_insights__1")
    recorded.replay("GET", f"{GRAPH}/{PAGE}_900000000000002/insights", "post_insights__2")
    recorded.replay("GET", f"{GRAPH}/{PAGE}/posts", "posts__page2")
    recorded.replay("GET", f"{GRAPH}/{PAGE}_900000000000003/insights", "post_insights__3")

    pages = list(connector.iter_posts())
    assert [p.next_cursor for p in pages] == [json.dumps({"page": PAGE, "after": "QVFIUlBvc3Qy"}), None]
    listed = [c for c in responses.calls if c.request.url.startswith(f"{GRAPH}/{PAGE}/posts")]
    assert "after" not in sent_query(listed[0]) and sent_query(listed[1])["after"] == "QVFIUlBvc3Qy"
    assert all(c.request.headers["Authorization"] == f"Bearer {PAGE_TOKEN}" for c in responses.calls)
    assert insight_metrics() == ["post_media_view,post_total_media_view_unique"] * 3

    result = resource_import(integration, "posts", [item for page in pages for item in page.items],
                             source=ImportSource.SYNC, connector=connector)
    assert (result.created, result.failed) == (3, [])
    sale = Post.objects.get(external_id=f"{PAGE}_900000000000001")
    assert (sale.account, sale.kind, sale.caption, sale.media_urls, sale.permalink) == (
        account, "post", "Winter sale starts today", ["https://scontent.example/winter.jpg"],
        f"https://www.facebook.com/{PAGE}/posts/900000000000001")
    metrics = PostMetrics.objects.get(post=sale)
    assert (metrics.views, metrics.reach, metrics.likes, metrics.comments, metrics.shares) == (4310, 2875, 57, 6, 3)
    assert Post.objects.get(external_id=f"{PAGE}_900000000000002").kind == "video"
    assert PostMetrics.objects.get(post__external_id=f"{PAGE}_900000000000003").views == 0


@responses.activate
def test_no_removed_insights_metric_is_ever_asked_for(integration, connector, account):
    recorded.replay("GET", f"{GRAPH}/me/accounts", "pages__page2")
    recorded.replay("GET", f"{GRAPH}/{PAGE2}/insights", "page_insights__outlet")
    recorded.replay("GET", f"{GRAPH}/{PAGE}/posts", "posts__page2")
    recorded.replay("GET", f"{GRAPH}/{PAGE}_900000000000003/insights", "post_insights__3")
    recorded.replay("GET", f"{GRAPH}/{PAGE2}/posts", "posts__empty")
    list(connector.iter_social_accounts())
    list(connector.iter_posts())
    asked = [name for metrics in insight_metrics() for name in metrics.split(",")]
    assert set(asked) == {"page_follows", "post_media_view", "post_total_media_view_unique"}
    assert not [name for name in asked if "impressions" in name or name in REMOVED or name.startswith("page_fan")]


@responses.activate
def test_an_invalid_metric_answer_is_raised_not_taken_for_no_data(integration, connector):
    from connectors.errors import ProviderError

    recorded.replay("GET", f"{GRAPH}/{PAGE}/posts", "posts__page2")
    recorded.replay("GET", f"{GRAPH}/{PAGE}_900000000000003/insights", "error__invalid_metric")
    with pytest.raises(ProviderError, match="valid insights metric"):
        list(connector.iter_posts())


@responses.activate
def test_a_page_the_user_no_longer_manages_is_left_out_of_the_sync(integration, connector):
    integration.config = {"page_ids": [PAGE, "104000000000099"]}
    recorded.replay("GET", f"{GRAPH}/me/accounts", "pages__page2")  # the user manages the outlet page now
    recorded.replay("GET", f"{GRAPH}/{PAGE}/posts", "posts__empty")
    recorded.replay("GET", f"{GRAPH}/{PAGE2}/posts", "posts__empty")
    assert [page.items for page in connector.iter_posts()] == [[], []]
    assert [c.request.headers["Authorization"] for c in responses.calls[1:]] == [
        f"Bearer {PAGE_TOKEN}", f"Bearer {PAGE2_TOKEN}"]


@responses.activate
def test_a_throttled_call_waits_and_is_retried(integration, connector, sleeps):
    recorded.replay("GET", f"{GRAPH}/{PAGE}/posts", "error__throttled")
    recorded.replay("GET", f"{GRAPH}/{PAGE}/posts", "posts__empty")
    [page] = list(connector.iter_posts())
    assert page.items == [] and len(sleeps) == 1
    assert len(responses.calls) == 2


# ---------------------------------------------------------------- publishing


def new_post(account, **fields) -> Post:
    values = {"kind": "post", "caption": "Fresh stock is in: https://shop.acme.example/new", "media_urls": [],
              "status": "publishing", "request_id": "req-1", **fields}
    return Post.objects.create(organization=account.organization, account=account, **values)


@responses.activate
def test_a_text_post_goes_to_the_page_feed_with_its_link(account):
    recorded.replay("POST", f"{GRAPH}/{PAGE}/feed", "publish_feed__ok")
    recorded.replay("GET", f"{GRAPH}/{PAGE}_900000000000009", "post_get__ok")

    post = post_publish(post_id=new_post(account).pk)

    assert calls() == [("POST", f"{GRAPH}/{PAGE}/feed"), ("GET", f"{GRAPH}/{PAGE}_900000000000009")]
    assert form(responses.calls[0]) == {"message": "Fresh stock is in: https://shop.acme.example/new",
                                        "link": "https://shop.acme.example/new"}
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert sent_query(responses.calls[1]) == {"fields": "id,permalink_url,created_time", **proof(PAGE_TOKEN)}
    assert (post.status, post.external_id, post.permalink) == (
        "published", f"{PAGE}_900000000000009", f"https://www.facebook.com/{PAGE}/posts/900000000000009")
    assert post.publish_state == {"sent": True, "post_id": f"{PAGE}_900000000000009"}


@responses.activate
def test_an_image_post_goes_to_the_page_photos_by_url(account):
    recorded.replay("POST", f"{GRAPH}/{PAGE}/photos", "publish_photo__ok")
    recorded.replay("GET", f"{GRAPH}/{PAGE}_900000000000010", "post_get__photo")

    post = post_publish(post_id=new_post(account, caption="New season",
                                         media_urls=["https://cdn.acme.example/look.jpg"]).pk)

    assert form(responses.calls[0]) == {"url": "https://cdn.acme.example/look.jpg", "caption": "New season"}
    assert (post.status, post.external_id) == ("published", f"{PAGE}_900000000000010")


@responses.activate
def test_a_publish_retried_after_a_timeout_creates_one_facebook_post(account):
    responses.add("POST", f"{GRAPH}/{PAGE}/feed", body=requests.ReadTimeout("read timed out"))
    post = new_post(account)
    with pytest.raises(ProviderUnavailable):  # Facebook posted it; the answer never came
        post_publish(post_id=post.pk)
    assert calls() == [("POST", f"{GRAPH}/{PAGE}/feed")]  # a POST is not replayed by the client

    responses.reset()
    recorded.replay("GET", f"{GRAPH}/{PAGE}/posts", "posts_recent__with_ours")
    recorded.replay("GET", f"{GRAPH}/{PAGE}_900000000000009", "post_get__ok")
    retried = post_publish(post_id=post.pk)

    assert ("POST", f"{GRAPH}/{PAGE}/feed") not in calls()
    assert sent_query(responses.calls[0]) == {"fields": "id,message,created_time", "limit": "10", **proof(PAGE_TOKEN)}
    assert (retried.status, retried.external_id, retried.attempts) == ("published", f"{PAGE}_900000000000009", 2)
    assert Post.objects.filter(account=account).count() == 1


@responses.activate
def test_a_retry_whose_first_attempt_never_reached_facebook_posts_once(account):
    post = new_post(account, publish_state={"sent": True})
    recorded.replay("GET", f"{GRAPH}/{PAGE}/posts", "posts_recent__without_ours")
    recorded.replay("POST", f"{GRAPH}/{PAGE}/feed", "publish_feed__ok")
    recorded.replay("GET", f"{GRAPH}/{PAGE}_900000000000009", "post_get__ok")
    assert post_publish(post_id=post.pk).status == "published"
    assert calls().count(("POST", f"{GRAPH}/{PAGE}/feed")) == 1


@responses.activate
def test_a_duplicate_post_answer_adopts_the_post_already_on_the_page(account):
    recorded.replay("POST", f"{GRAPH}/{PAGE}/feed", "error__duplicate_post")
    recorded.replay("GET", f"{GRAPH}/{PAGE}/posts", "posts_recent__with_ours")
    recorded.replay("GET", f"{GRAPH}/{PAGE}_900000000000009", "post_get__ok")
    post = post_publish(post_id=new_post(account).pk)
    assert (post.status, post.external_id, post.error) == ("published", f"{PAGE}_900000000000009", "")


@responses.activate
def test_a_duplicate_post_answer_without_the_post_listed_fails_it(account):
    recorded.replay("POST", f"{GRAPH}/{PAGE}/feed", "error__duplicate_post")
    recorded.replay("GET", f"{GRAPH}/{PAGE}/posts", "posts_recent__without_ours")
    post = post_publish(post_id=new_post(account).pk)
    assert post.status == "failed" and "duplicate" in post.error


@responses.activate
def test_a_refused_permission_fails_the_post_with_the_grants_to_give(account):
    recorded.replay("POST", f"{GRAPH}/{PAGE}/feed", "error__permission")
    post = post_publish(post_id=new_post(account).pk)
    assert post.status == "failed"
    assert "pages_manage_posts" in post.error and "hasn't authorized the application" in post.error
    assert len(responses.calls) == 1
    account.integration.refresh_from_db()
    assert account.integration.status == "active"


def test_a_post_over_the_limits_is_refused_before_any_call(account):
    from config.errors import ValidationError
    from social.services import post_create

    with pytest.raises(ValidationError) as refused:
        post_create(account=account, kind="reel", caption="x", media_urls=["https://cdn.acme.example/a.mp4"])
    assert "kind" in refused.value.details
    with pytest.raises(ValidationError) as refused:
        post_create(account=account, kind="post", caption="x", media_urls=["https://cdn.acme.example/a.mp4"])
    assert "media_urls" in refused.value.details
    assert not Post.objects.exists()
